// `rampart down` against a running `rampart up` on the same SQLite store, with real
// processes: down asks the controller to stop, waits until its process is gone, removes every
// node and exits 0 — round after round, whatever the controller was doing when asked. A node
// it cannot remove does not stop it: the others go, and that one is named, exit 1.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { loadConfigFile } from '../../src/config/load.ts';
import { createRuntime } from '../../src/runtime/runtime.ts';
import { type Fleet, fastFleetConfig, makeFleet, runCli, runUntil, waitFor } from '../support/fleet.ts';

const fleets: Fleet[] = [];
const children: ChildProcess[] = [];
after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const f of fleets) await f.cleanup();
});

const STORE = '  store: { kind: sqlite, path: state.db }\n  api: { listen: "127.0.0.1:0" }';

/** When down is run: as soon as up leads (its first tick in flight), while it creates the fleet, once the fleet runs. */
const PHASES = ['leading', 'creating', 'running'] as const;

test('down while up runs: the controller stops first, every node goes, exit 0 (6 rounds)', async () => {
  const fleet = makeFleet(fastFleetConfig({ min: 2, capacity: 2, max: 3 }, { storeYaml: STORE }));
  fleets.push(fleet);
  // No connection to the store stays open here: the controller and down are its only users.
  const rt = createRuntime(loadConfigFile(fleet.configFile).config);
  const provider = rt.providers.get('here')!;
  const running = async () => (await provider.list()).filter((i) => i.running);
  const liveNodes = async () => {
    await rt.store.open();
    try {
      return await rt.store.listNodes();
    } finally {
      await rt.store.close();
    }
  };
  for (let round = 1; round <= 6; round++) {
    const phase = PHASES[(round - 1) % PHASES.length]!;
    const up = runCli(['up', '-c', fleet.configFile]);
    children.push(up.child);
    const wanted = { leading: 0, creating: 1, running: 3 }[phase];
    try {
      await waitFor(`round ${round}: ${wanted} node(s) running`, async () => {
        if (up.child.exitCode !== null) throw new Error(`up exited ${up.child.exitCode}`);
        return up.output().includes('"msg":"leading"') && (await running()).length >= wanted;
      });
    } catch (e) {
      throw new Error(`${(e as Error).message}\nup:\n${up.output().slice(-3000)}`);
    }
    const down = runCli(['down', '-c', fleet.configFile]);
    const { code } = await down.exited;
    const context = `round ${round} (${phase})\ndown:\n${down.output()}\nup:\n${up.output().slice(-3000)}`;
    assert.equal(code, 0, context);
    assert.match(down.output(), /asked the running controller \(pid \d+\) to stop/, context);
    const upEnded = await Promise.race([up.exited, sleep(2000).then(() => undefined)]);
    assert.deepEqual(
      upEnded,
      { code: 0, signal: null },
      `up had stopped, cleanly, when down ended; ${context}`,
    );
    assert.deepEqual(
      (await running()).map((i) => `${i.nodeId} (${i.id})`),
      [],
      `no node process left; ${context}`,
    );
    assert.deepEqual(
      (await liveNodes()).map((n) => `${n.id} ${n.state}`),
      [],
      `no live node record left; ${context}`,
    );
  }
});

test('down waits until the controller it stopped has exited, not only let go of its lock: its store may still be closing', async () => {
  const fleet = makeFleet(fastFleetConfig({ min: 1, capacity: 1, max: 1 }, { storeYaml: STORE }));
  fleets.push(fleet);
  const db = path.join(fleet.dir, 'state.db');
  // A named fake of a controller on slow storage: after it let go of its lock, closing its
  // store (the last connection checkpoints the write-ahead log, holding the database
  // exclusively) takes seconds — longer than SQLite's 5 s busy wait. A real controller
  // closes too fast here to be caught at it.
  const src = (f: string) =>
    JSON.stringify(pathToFileURL(path.join(import.meta.dirname, '../../src', f)).href);
  const script = `
    import { DatabaseSync } from 'node:sqlite';
    import { EmbeddedCoordination } from ${src('coordination/embedded.ts')};
    import { SqliteStore } from ${src('store/sqlite-store.ts')};
    const [db] = process.argv.slice(1);
    const store = new SqliteStore(db);
    await store.open();
    const coordination = new EmbeddedCoordination(store, db + '.lock');
    const leadership = await coordination.campaign('a slow-closing controller');
    process.on('SIGTERM', async () => {
      await leadership.resign();
      await coordination.close();
      await store.close();
      const closing = new DatabaseSync(db);
      closing.exec('PRAGMA locking_mode = EXCLUSIVE');
      closing.exec('BEGIN EXCLUSIVE');
      console.log('closing');
      setTimeout(() => {
        closing.exec('COMMIT');
        closing.close();
        process.exit(0);
      }, 6000);
    });
    console.log('leading');
    setInterval(() => {}, 1000);
  `;
  const controller = spawn(process.execPath, ['--input-type=module', '-e', script, db], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(controller);
  let said = '';
  controller.stdout!.on('data', (d) => (said += d));
  await waitFor('the fake controller to lead', () => said.includes('leading'));
  const exited = new Promise<number | null>((r) => controller.once('exit', (code) => r(code)));
  const down = runCli(['down', '-c', fleet.configFile]);
  const { code } = await down.exited;
  assert.equal(code, 0, `down:\n${down.output()}`);
  assert.ok(said.includes('closing'), 'the controller was asked to stop');
  assert.equal(
    await Promise.race([exited, sleep(1000).then(() => 'still running')]),
    0,
    'down ended only after the controller had exited',
  );
  assert.match(down.output(), new RegExp(`asked the running controller \\(pid ${controller.pid}\\) to stop`));
  assert.match(down.output(), /removed 0 node\(s\)/);
});

test('a node down cannot remove is named with its reason and exit 1; every other node still goes', async () => {
  const fleet = makeFleet(fastFleetConfig({ min: 3, capacity: 3, max: 3 }, { storeYaml: STORE }));
  fleets.push(fleet);
  const rt = createRuntime(loadConfigFile(fleet.configFile).config);
  const provider = rt.providers.get('here')!;
  const liveNodes = async () => {
    await rt.store.open();
    try {
      return await rt.store.listNodes();
    } finally {
      await rt.store.close();
    }
  };
  await runUntil(fleet.configFile, 'a validator and three sentries', async () => {
    const nodes = await liveNodes();
    return nodes.length === 4 && nodes.every((n) => n.state === 'ready');
  });
  // The first sentry by id (the order removals took) keeps a file nobody may delete, not even root.
  const stuck = (await liveNodes())
    .filter((n) => n.pool === 'sentries')
    .sort((a, b) => (a.id < b.id ? -1 : 1))[0]!;
  const pinned = path.join(stuck.dataDir!, 'launch.json');
  assert.equal(spawnSync('chattr', ['+i', pinned]).status, 0, 'chattr +i works here');
  try {
    const down = runCli(['down', '-c', fleet.configFile]);
    const { code } = await down.exited;
    const out = down.output();
    assert.equal(code, 1, out);
    assert.match(out, /removed 3 node\(s\)/, out);
    assert.match(
      out,
      new RegExp(
        `1 node\\(s\\) left behind:\\n  sentries/${stuck.id} \\(instance [^)]+\\): .*operation not permitted`,
        'i',
      ),
      out,
    );
    assert.deepEqual(
      (await liveNodes()).map((n) => n.id),
      [stuck.id],
      'every other node was removed, the stuck one is still on record',
    );
    assert.deepEqual(
      (await provider.list()).filter((i) => i.running && i.nodeId !== stuck.id).map((i) => i.nodeId),
      [],
      'no other node process is left',
    );
  } finally {
    spawnSync('chattr', ['-i', pinned]);
  }
});
