// The store killed, truncated and swapped under a running fleet: real `rampart up` processes,
// real simnode processes, the real SQLite file and a real etcd. Whatever happens to the store,
// the validator process is never stopped, no node the platform runs is destroyed, and `up` on a
// store that knows less than the platform says what it refused and how to adopt.

import assert from 'node:assert/strict';
import { copyFileSync, rmSync, truncateSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { Etcd3 } from 'etcd3';
import { loadConfigFile } from '../../src/config/load.ts';
import type { Instance } from '../../src/providers/provider.ts';
import { createRuntime } from '../../src/runtime/runtime.ts';
import { etcdFleetConfig } from '../support/etcd-fleet.ts';
import { type CliRun, type Fleet, fastFleetConfig, makeFleet, runCli, waitFor } from '../support/fleet.ts';
import { startEtcd } from '../support/servers.ts';

const SIZE = { min: 1, capacity: 2, max: 3 };

async function instancesOf(fleet: Fleet): Promise<Instance[]> {
  const rt = createRuntime(loadConfigFile(fleet.configFile).config);
  return (await rt.providers.get('here')!.list()).filter((i) => i.running);
}

/** Ready nodes by pool, read through a runtime opened and closed for this one look. */
async function readyNodes(fleet: Fleet): Promise<{ validator: number; sentries: number }> {
  const rt = createRuntime(loadConfigFile(fleet.configFile).config);
  await rt.store.open();
  try {
    const nodes = await rt.store.listNodes();
    const ready = (pool: string) => nodes.filter((n) => n.pool === pool && n.state === 'ready').length;
    return { validator: ready('validator'), sentries: ready('sentries') };
  } finally {
    await rt.store.close();
  }
}

/** Starts `up` and waits for the validator and capacity sentries, ready and registered. */
async function upAndReady(fleet: Fleet, args: string[] = []): Promise<CliRun> {
  const run = runCli(['up', '-c', fleet.configFile, ...args]);
  try {
    await waitFor('a ready validator and 2 ready sentries', async () => {
      if (run.child.exitCode !== null) throw new Error('controller exited');
      const r = await readyNodes(fleet);
      return r.validator === 1 && r.sentries === 2;
    });
  } catch (e) {
    run.child.kill('SIGKILL');
    throw new Error(`${(e as Error).message}\n${run.output().slice(-3000)}`);
  }
  return run;
}

async function stop(run: CliRun, signal: NodeJS.Signals): Promise<void> {
  if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill(signal);
  await run.exited;
}

/**
 * Watches the fleet for a while (every instance of `before` must stay running at every look),
 * long enough for the controller to tick many times. Not a timed assertion: it fails on the
 * first instance that goes, whenever that is.
 */
async function holdsThroughout(fleet: Fleet, before: readonly Instance[], looks = 20): Promise<void> {
  for (let i = 0; i < looks; i++) {
    const now = new Set((await instancesOf(fleet)).map((x) => x.id));
    for (const b of before)
      assert.ok(now.has(b.id), `${b.nodeId} (${b.pool}, ${b.id}) was stopped at look ${i}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

function ids(instances: readonly Instance[]): string[] {
  return instances.map((i) => i.id).sort();
}

/** `up` on the faulty store: exit 2, naming the store, every running node, its term, and --adopt. */
async function assertRefused(fleet: Fleet, running: readonly Instance[], storeName: RegExp): Promise<void> {
  const run = runCli(['up', '-c', fleet.configFile]);
  const timer = setTimeout(() => run.child.kill('SIGKILL'), 60_000);
  const { code } = await run.exited;
  clearTimeout(timer);
  const out = run.output();
  assert.equal(code, 2, `up must refuse with exit 2; output:\n${out.slice(-3000)}`);
  assert.match(out, /knows less than the platform/);
  assert.match(out, storeName);
  assert.match(out, /rampart up --adopt/);
  for (const i of running) {
    assert.ok(out.includes(i.nodeId), `the refusal names ${i.nodeId}`);
    assert.ok(out.includes(`term ${i.term}`), `the refusal names the term ${i.nodeId} carries`);
  }
  assert.deepEqual(ids(await instancesOf(fleet)), ids(running), 'the refusal changed nothing');
}

function sqliteFleet(): Fleet {
  const fleet = makeFleet(fastFleetConfig(SIZE));
  after(() => fleet.cleanup());
  return fleet;
}

const dbOf = (fleet: Fleet) => path.join(fleet.dir, 'state.db');

test('an emptied store file: up refuses, naming what runs; --adopt takes the fleet as it is', async () => {
  const fleet = sqliteFleet();
  const first = await upAndReady(fleet);
  const running = await instancesOf(fleet);
  await stop(first, 'SIGKILL');
  truncateSync(dbOf(fleet), 0);
  rmSync(`${dbOf(fleet)}-wal`, { force: true });
  rmSync(`${dbOf(fleet)}-shm`, { force: true });

  await assertRefused(fleet, running, /state\.db/);

  const adopting = await upAndReady(fleet, ['--adopt']);
  try {
    assert.deepEqual(ids(await instancesOf(fleet)), ids(running), 'no node replaced, no second validator');
  } finally {
    await stop(adopting, 'SIGTERM');
  }
});

test('a store emptied, deleted or swapped under the running controller: nothing it runs is stopped', async (t) => {
  for (const fault of ['truncated', 'deleted', 'swapped'] as const) {
    const fleet = sqliteFleet();
    // The other store has acted too (its own fleet came and went): nothing of this fleet in it.
    let other: string | undefined;
    if (fault === 'swapped') {
      const donor = sqliteFleet();
      await stop(await upAndReady(donor), 'SIGTERM');
      const down = runCli(['down', '-c', donor.configFile]);
      assert.equal((await down.exited).code, 0, down.output());
      other = dbOf(donor);
    }
    const run = await upAndReady(fleet);
    const running = await instancesOf(fleet);
    if (fault === 'truncated') truncateSync(dbOf(fleet), 0);
    else if (fault === 'deleted')
      for (const f of ['', '-wal', '-shm']) rmSync(`${dbOf(fleet)}${f}`, { force: true });
    else copyFileSync(other!, dbOf(fleet));
    await holdsThroughout(fleet, running);
    await stop(run, 'SIGKILL');
    // Whatever the file holds now (SQLite may replay the killed controller's write-ahead log
    // onto it), the next `up` either refuses, or leads a store that knows every node it runs.
    const again = runCli(['up', '-c', fleet.configFile]);
    const outcome = await waitFor(`${fault}: the next up to refuse or lead`, () =>
      again.child.exitCode !== null ? 'exited' : again.output().includes('"msg":"leading"') ? 'leading' : '',
    ).catch((e) => {
      again.child.kill('SIGKILL');
      throw e;
    });
    t.diagnostic(`${fault}: the next up ${outcome}`);
    if (outcome === 'exited') {
      assert.equal(
        again.child.exitCode,
        2,
        `${fault}: up must refuse; output:\n${again.output().slice(-3000)}`,
      );
      assert.match(again.output(), /knows less than the platform|state\.db/);
    } else {
      await holdsThroughout(fleet, running);
      await stop(again, 'SIGTERM');
    }
    assert.deepEqual(ids(await instancesOf(fleet)), ids(running), `${fault}: every node still runs`);
  }
});

test('a store file of another fleet: up refuses, naming what runs', async () => {
  const donor = sqliteFleet();
  await stop(await upAndReady(donor), 'SIGTERM');
  const down = runCli(['down', '-c', donor.configFile]);
  assert.equal((await down.exited).code, 0, down.output());

  const fleet = sqliteFleet();
  await stop(await upAndReady(fleet), 'SIGTERM');
  const running = await instancesOf(fleet);
  copyFileSync(dbOf(donor), dbOf(fleet));
  await assertRefused(fleet, running, /state\.db/);
});

test('an etcd prefix wiped under the running controller: nothing it runs is stopped; up refuses', async (t) => {
  const etcd = await startEtcd(t);
  if (!etcd) return;
  const fleet = makeFleet(etcdFleetConfig({ endpoints: etcd.endpoints, sentries: SIZE }));
  after(() => fleet.cleanup());
  const run = await upAndReady(fleet);
  const running = await instancesOf(fleet);
  const store = loadConfigFile(fleet.configFile).config.controller.store;
  assert.equal(store.kind, 'etcd');
  const client = new Etcd3({ hosts: [...etcd.endpoints] });
  try {
    await client.delete().prefix(store.kind === 'etcd' ? store.prefix : '');
  } finally {
    client.close();
  }
  await holdsThroughout(fleet, running);
  await stop(run, 'SIGKILL');
  await assertRefused(fleet, running, /etcd store/);
});
