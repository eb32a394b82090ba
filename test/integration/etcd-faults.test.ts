// Rampart on a three-member etcd cluster (loopback, data on tmpfs) while members fail: with
// one member stopped it keeps working; with all three stopped it holds — no scaling, no
// removal — says so (its log, `rampart status`), and resumes when they return.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Runtime } from '../../src/runtime/runtime.ts';
import { etcdFleetConfig, type Replica, startReplica, stopReplica } from '../support/etcd-fleet.ts';
import { makeFleet, runCli, waitFor } from '../support/fleet.ts';
import { startEtcdCluster } from '../support/servers.ts';

const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const fn of cleanups.reverse()) await fn();
});

test('etcd members fail: one down, Rampart works on; all down, it holds and reports; back, it resumes', async (t) => {
  const etcd = await startEtcdCluster(t, 3);
  if (!etcd) return;
  const fleet = makeFleet(
    etcdFleetConfig({
      endpoints: etcd.endpoints,
      leaseTtl: '5s',
      timeout: '1s',
      sentries: { min: 2, capacity: 2, max: 3 },
    }),
  );
  cleanups.push(() => fleet.cleanup());
  const replicas: Replica[] = [startReplica('r1', fleet.configFile)];
  cleanups.push(async () => {
    for (const r of replicas) await stopReplica(r, 'SIGKILL');
  });
  await waitFor('r1 to lead', () => replicas[0]!.leading(), 30_000);
  replicas.push(startReplica('r2', fleet.configFile));
  const rt: Runtime = await fleet.inspect();
  const provider = rt.providers.get('here')!;
  const output = () => replicas.map((r) => `--- ${r.name}\n${r.run.output().slice(-4000)}`).join('\n');
  const until = async <T>(what: string, check: () => Promise<T> | T, ms = 60_000) => {
    try {
      return await waitFor(what, check, ms);
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${output()}`);
    }
  };
  const runningSentries = async () =>
    (await provider.list()).filter((i) => i.pool === 'sentries' && i.running);
  const converged = async () => {
    const sentries = await rt.store.listNodes({ pool: 'sentries' });
    return (
      sentries.length === 2 &&
      sentries.every((n) => n.state === 'ready' && n.registered) &&
      (await runningSentries()).length === 2 &&
      (await rt.store.openActions()).length === 0
    );
  };
  await until('two ready sentries', converged);

  // One member of three stopped: a sentry dies, and is replaced while the member is down.
  const member = etcd.members[0]!;
  await member.stop();
  const stoppedAt = Date.now();
  const [victim] = await runningSentries();
  await provider.destroy(victim!);
  await until('the dead sentry replaced with one member down', async () => {
    const nodes = await rt.store.listNodes({ pool: 'sentries' });
    return !nodes.some((n) => n.id === victim!.nodeId) && (await converged());
  });
  const replacement = (await rt.store.listActions({ pool: 'sentries', since: stoppedAt })).find(
    (a) => a.kind === 'create',
  );
  assert.ok(replacement && replacement.outcome === 'succeeded', 'a creation ran while the member was down');
  await member.start();
  await etcd.waitHealthy();
  await until('still converged with the member back', converged);

  // All three stopped: the leader stops acting and says so; nothing is created or removed.
  const instancesBefore = (await provider.list()).filter((i) => i.running).map((i) => i.id);
  const actionsBefore = new Set((await rt.store.listActions({ limit: 100_000 })).map((a) => a.id));
  await rt.store.close();
  await Promise.all(etcd.members.map((m) => m.stop()));
  const downAt = Date.now();
  await until(
    'a replica to report etcd unreachable',
    () => replicas.some((r) => r.logged(/etcd unreachable/).length > 0),
    30_000,
  );
  await until('no replica leading', () => replicas.every((r) => !r.leading()), 30_000);
  const status = runCli(['status', '-c', fleet.configFile]);
  const statusExit = await status.exited;
  assert.equal(statusExit.code, 1);
  assert.match(status.output(), /etcd unreachable/);
  assert.match(status.output(), /holds \(no scaling, no removal\)/);
  // A sentry dies during the outage: nobody replaces it, nothing else changes, while etcd is down.
  const [victim2] = await runningSentries();
  await provider.destroy(victim2!);
  const during = instancesBefore.filter((id) => id !== victim2!.id).sort();
  for (let i = 0; i < 10; i++) {
    await sleep(300);
    assert.deepEqual(
      (await provider.list())
        .filter((x) => x.running)
        .map((x) => x.id)
        .sort(),
      during,
      'no instance created or removed while etcd is down',
    );
  }

  // etcd returns: a replica leads again and the pool converges.
  const restartAt = Date.now();
  await Promise.all(etcd.members.map((m) => m.start()));
  await etcd.waitHealthy();
  await rt.store.open();
  await until('a replica leading again', () => replicas.some((r) => r.leading()), 60_000);
  await until('the dead sentry replaced after etcd returned', async () => {
    const nodes = await rt.store.listNodes({ pool: 'sentries' });
    return !nodes.some((n) => n.id === victim2!.nodeId) && (await converged());
  });
  const fresh = (await rt.store.listActions({ limit: 100_000 })).filter((a) => !actionsBefore.has(a.id));
  assert.ok(fresh.some((a) => a.kind === 'create'));
  for (const a of fresh)
    assert.ok(a.startedAt < downAt || a.startedAt >= restartAt, `action ${a.id} ran while etcd was down`);
  assert.ok(
    replicas.some((r) => r.logged(/etcd reachable again/).length > 0),
    output(),
  );

  assert.deepEqual(
    replicas.filter((r) => !r.alive).map((r) => r.name),
    [],
    `no replica died on its own:\n${output()}`,
  );
  for (const r of replicas.filter((x) => x.alive)) {
    const { code } = await stopReplica(r);
    assert.equal(code, 0, `${r.name} stops cleanly:\n${r.run.output().slice(-2000)}`);
  }
});
