// Three `rampart up` replicas on one etcd, with real simnode processes: exactly one acts;
// SIGKILL of the leader hands leadership to another, which carries on from the stored
// cooldown clocks and fail markers; no action is ever executed twice or by two replicas
// (checked from the action log and the process table).

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { followPool } from '../../src/cli/commands/load.ts';
import { LoadGenerator } from '../../src/nodes/simnode/load-generator.ts';
import type { Runtime } from '../../src/runtime/runtime.ts';
import {
  etcdFleetConfig,
  type Replica,
  startReplica,
  stopReplica,
  watchedFleet,
} from '../support/etcd-fleet.ts';
import { makeFleet } from '../support/fleet.ts';
import { startEtcd } from '../support/servers.ts';

const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const fn of cleanups.reverse()) await fn();
});

test('three replicas: one acts; SIGKILL of the leader hands over; nothing runs twice; clocks and markers survive', async (t) => {
  const etcd = await startEtcd(t);
  if (!etcd) return;
  const fleet = makeFleet(
    etcdFleetConfig({
      endpoints: etcd.endpoints,
      leaseTtl: '3s',
      sentries: { min: 1, capacity: 1, max: 3 },
      // One scale-up, then the cooldown holds for the rest of the test (and across handover).
      scaleUpCooldown: '10m',
      scaleDownPeriod: '10m',
      failTolerance: 1000,
    }),
  );
  cleanups.push(() => fleet.cleanup());
  const replicas: Replica[] = [];
  cleanups.push(async () => {
    for (const r of replicas) await stopReplica(r, 'SIGKILL');
  });
  const rt: Runtime = await fleet.inspect();
  const provider = rt.providers.get('here')!;
  const output = () => replicas.map((r) => `--- ${r.name}\n${r.run.output().slice(-3000)}`).join('\n');

  /** Never two instances of one node, never above max: checked at every poll. */
  const { violations, until } = watchedFleet(provider, 3, output);
  const leaders = () => replicas.filter((r) => r.alive && r.leading());
  const sentries = () => rt.store.listNodes({ pool: 'sentries' });
  const readySentries = async () =>
    (await sentries()).filter((n) => n.state === 'ready' && n.registered && n.host && n.ports);

  // Three replicas, started one after the other: the first leads, the others stand by.
  for (const name of ['r1', 'r2', 'r3']) {
    replicas.push(startReplica(name, fleet.configFile));
    await until(
      `${name} to campaign`,
      () => replicas.at(-1)!.logged(/campaigning for leadership/).length > 0,
    );
  }
  await until(
    'two replicas standing by',
    () => replicas.filter((r) => r.logged(/standing by/).length > 0).length === 2,
  );
  await until('validator and a ready, registered sentry', async () => (await readySentries()).length === 1);
  assert.equal(leaders().length, 1, 'exactly one replica leads');
  const [first] = leaders();

  // Load: one sentry cannot serve it; the pool scales up once, then the cooldown holds.
  const load = new LoadGenerator({ rate: 60 });
  const follow = followPool(rt.store, 'sentries', load, 300);
  load.start();
  cleanups.push(() => {
    follow.stop();
    load.stop();
  });
  await until('the scale-up, and the cooldown holding the next one', async () => {
    const decisions = await rt.store.listDecisions({ pool: 'sentries' });
    return (
      (await readySentries()).length === 2 &&
      decisions.some((d) => d.decision === 'scale-up') &&
      decisions.some((d) => d.reasons.some((r) => r.code === 'cooldown'))
    );
  });

  // A fail marker on one sentry, written under the leader's term as the leader would.
  const term = await rt.store.currentTerm();
  const marked = (await readySentries())[0]!;
  await rt.store.putNode({ ...marked, failMarker: 500 }, term);
  await until('the leader to carry the marker on (healthy checks take 1 off)', async () => {
    const m = (await rt.store.getNode(marked.id))?.failMarker ?? 0;
    return m < 500 && m > 400;
  });
  const clocksBefore = (await rt.store.getPool('sentries'))!.clocks;
  assert.ok(clocksBefore.lastScaleUpAt !== undefined);

  // SIGKILL the leader: another replica takes over and carries on.
  const killedAt = Date.now();
  await stopReplica(first!, 'SIGKILL');
  const markerAtKill = (await rt.store.getNode(marked.id))!.failMarker;
  const handover = await until(
    'a decision under a newer term',
    async () =>
      (await rt.store.listDecisions({ pool: 'sentries', since: killedAt })).find((d) => d.term > term),
    60_000,
  );
  assert.ok(handover);
  const second = replicas.find((r) => r.terms().includes(handover.term));
  assert.ok(second && second !== first, 'a standby took over');
  assert.equal(leaders().length, 1, 'still exactly one leader');

  // The cooldown still holds (no second scale-up) and the marker went on from where it was.
  await until('the new leader to hold on the stored cooldown', async () =>
    (await rt.store.listDecisions({ pool: 'sentries', since: killedAt })).some(
      (d) => d.term > term && d.reasons.some((r) => r.code === 'cooldown'),
    ),
  );
  const after = await rt.store.listDecisions({ pool: 'sentries', since: killedAt });
  assert.ok(!after.some((d) => d.decision === 'scale-up'), 'no scale-up during the cooldown');
  assert.equal((await rt.store.getPool('sentries'))!.clocks.lastScaleUpAt, clocksBefore.lastScaleUpAt);
  const markerAfter = (await rt.store.getNode(marked.id))!.failMarker;
  assert.ok(markerAfter > 300 && markerAfter <= markerAtKill, `marker ${markerAtKill} → ${markerAfter}`);

  // The pool still converges, with every intent settled.
  await until('the pool settled under the new leader', async () => {
    const ready = await readySentries();
    const validators = await rt.store.listNodes({ pool: 'validator' });
    return ready.length === 2 && validators.length === 1 && (await rt.store.openActions()).length === 0;
  });
  follow.stop();
  load.stop();

  // The action log: each term is one replica's; terms never interleave; nothing twice.
  const owners = new Map<number, string>();
  for (const r of replicas)
    for (const tm of r.terms()) {
      assert.ok(!owners.has(tm), `term ${tm} led by both ${owners.get(tm)} and ${r.name}`);
      owners.set(tm, r.name);
    }
  const actions = await rt.store.listActions({ limit: 100_000 });
  assert.ok(actions.length > 0);
  assert.equal(new Set(actions.map((a) => a.id)).size, actions.length, 'no action id twice');
  for (const a of actions)
    assert.ok(owners.has(a.term), `action ${a.id} under term ${a.term}, led by no replica`);
  const byStart = [...actions].sort((x, y) => x.startedAt - y.startedAt);
  for (let i = 1; i < byStart.length; i++)
    assert.ok(byStart[i]!.term >= byStart[i - 1]!.term, 'actions of an older term never follow a newer one');
  const creates = actions.filter((a) => a.kind === 'create').map((a) => a.nodeId);
  assert.equal(new Set(creates).size, creates.length, 'no node created twice');
  assert.deepEqual(violations, []);

  // The survivors stop cleanly.
  assert.deepEqual(
    replicas.filter((r) => !r.alive && r !== first).map((r) => r.name),
    [],
    `no replica died on its own:\n${output()}`,
  );
  for (const r of replicas.filter((x) => x.alive)) {
    const { code } = await stopReplica(r);
    assert.equal(code, 0, `${r.name} stops cleanly:\n${r.run.output().slice(-2000)}`);
  }
});
