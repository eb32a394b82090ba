// Warm pools through the whole controller (`rampart up` as a child process, real simnode
// processes): a spare is kept synced and never wired to the validator, a restarted controller
// adopts it as a spare, a scale-up takes it and the pool refills behind it, spares are the first
// to go when max leaves no room, and a controller killed mid-take or mid-refill loses nothing.

import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { simnodeKind } from '../../src/nodes/simnode/simnode-kind.ts';
import type { Runtime } from '../../src/runtime/runtime.ts';
import type { StoredNode } from '../../src/store/store.ts';
import { crashAt, fastFleetConfig, makeFleet, runCli, runUntil } from '../support/fleet.ts';

const fleets: { cleanup(): Promise<void> }[] = [];
after(async () => {
  for (const f of fleets) await f.cleanup();
});

const SIZE = { min: 1, capacity: 2, max: 4, warm: 1 };

async function sentries(rt: Runtime): Promise<{ serving: StoredNode[]; spares: StoredNode[] }> {
  const all = await rt.store.listNodes({ pool: 'sentries' });
  return { serving: all.filter((n) => !n.warm), spares: all.filter((n) => n.warm) };
}

/** Every id the validator knows as a peer: connected ones and the ones it was asked to dial. */
async function validatorPeers(rt: Runtime): Promise<Set<string>> {
  const [v] = await rt.store.listNodes({ pool: 'validator' });
  if (!v?.host || !v.ports) return new Set();
  const connected = await simnodeKind
    .connectedPeers({ id: v.id, host: v.host, ports: v.ports })
    .catch(() => [] as string[]);
  const file = v.dataDir ? path.join(v.dataDir, 'peers.json') : undefined;
  const dialed =
    file && existsSync(file)
      ? ((JSON.parse(readFileSync(file, 'utf8')) as { peers?: { id: string }[] }).peers ?? []).map(
          (p) => p.id,
        )
      : [];
  return new Set([...connected, ...dialed]);
}

/** Polled beside every wait: a spare is never registered nor known to the validator. */
function spareWatch(rt: Runtime): { check(): Promise<void>; violations: string[] } {
  const violations: string[] = [];
  return {
    violations,
    async check() {
      const { spares } = await sentries(rt);
      const peers = await validatorPeers(rt);
      for (const s of spares) {
        if (s.registered) violations.push(`spare ${s.id} is recorded as registered`);
        if (peers.has(s.id)) violations.push(`spare ${s.id} is a peer of the validator`);
      }
    },
  };
}

const servingReady = (ns: readonly StoredNode[]) => ns.filter((n) => n.state === 'ready' && n.registered);

/** `serving` ready and registered sentries and one synced spare, nothing in flight. */
const settledAt = (rt: Runtime, serving: number, watch?: ReturnType<typeof spareWatch>) => async () => {
  await watch?.check();
  const s = await sentries(rt);
  return (
    s.serving.length === serving &&
    servingReady(s.serving).length === serving &&
    s.spares.length === 1 &&
    s.spares[0]!.state === 'ready' &&
    (await rt.store.openActions()).length === 0
  );
};

/** Asks the next controller for `size` serving sentries, as `rampart pool size` does. */
async function askSize(rt: Runtime, size: number): Promise<void> {
  await rt.store.addRequest({
    id: `r-size-${size}-${Date.now()}`,
    at: Date.now(),
    kind: 'pool-size',
    body: { pool: 'sentries', size },
    caller: 'warm-pool test',
  });
}

/** No open intent; every running instance belongs to exactly one live node record and back. */
async function assertConsistent(rt: Runtime): Promise<void> {
  assert.deepEqual(
    (await rt.store.openActions()).map((a) => `${a.kind} ${a.id}`),
    [],
  );
  const instances = (await rt.providers.get('here')!.list()).filter((i) => i.running);
  const live = await rt.store.listNodes();
  for (const i of instances) {
    const records = live.filter((n) => n.id === i.nodeId && n.instanceId === i.id);
    assert.equal(records.length, 1, `instance ${i.id} (${i.nodeId}) has ${records.length} live records`);
  }
  for (const n of live)
    assert.equal(
      instances.filter((i) => i.nodeId === n.id).length,
      1,
      `live node ${n.id} (${n.state}) runs exactly one instance`,
    );
}

async function createsByCause(rt: Runtime): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const a of await rt.store.listActions({ pool: 'sentries', limit: 1000 }))
    if (a.kind === 'create') out[a.cause] = (out[a.cause] ?? 0) + 1;
  return out;
}

describe('warm pool', () => {
  test('a spare is kept apart, adopted by a restarted controller, taken on scale-up and refilled; spares go first when max shrinks', async () => {
    const fleet = makeFleet(fastFleetConfig(SIZE));
    fleets.push(fleet);
    const rt = await fleet.inspect();
    const watch = spareWatch(rt);

    await runUntil(fleet.configFile, 'two serving sentries and one synced spare', settledAt(rt, 2, watch));
    const [spare] = (await sentries(rt)).spares;
    assert.ok(spare?.instanceId);
    // `rampart status` shows the spare apart from capacity.
    const status = runCli(['status', '-c', fleet.configFile]);
    await status.exited;
    assert.match(
      status.output(),
      /sentries \(sentry, here\): 2 ready \/ 2 live \+ 1 warm \(1 synced, keeps 1\)/,
    );
    assert.match(status.output(), new RegExp(`${spare.id} +ready .* warm`));

    // A new controller process finds the spare in the store and takes it for the scale-up.
    await askSize(rt, 3);
    const took = async () => {
      await watch.check();
      const taken = await rt.store.getNode(spare.id);
      const s = await sentries(rt);
      return (
        taken?.warm !== true &&
        taken?.registered === true &&
        (await validatorPeers(rt)).has(spare.id) &&
        (await settledAt(rt, 3)()) &&
        s.spares[0]!.id !== spare.id
      );
    };
    await runUntil(fleet.configFile, 'the spare serving and a new spare synced behind it', took);

    const taken = (await rt.store.getNode(spare.id))!;
    assert.equal(taken.instanceId, spare.instanceId, 'the spare was adopted and taken, not made again');
    const actions = (await rt.store.listActions({ pool: 'sentries', limit: 1000 })).filter(
      (a) => a.nodeId === spare.id,
    );
    const take = actions.find((a) => a.kind === 'take-warm');
    const register = actions.find((a) => a.kind === 'register');
    assert.equal(take?.outcome, 'succeeded');
    assert.ok(register && register.startedAt >= take.startedAt, 'registered only once taken');
    assert.deepEqual(
      await createsByCause(rt),
      { 'below-min': 2, 'warm-refill': 2 },
      'two serving nodes and two spares were ever created: the scale-up created none',
    );

    // max 3 leaves no room beside three serving nodes: the spare goes, no serving node does.
    const serving = (await sentries(rt)).serving.map((n) => n.id).sort();
    const [refilled] = (await sentries(rt)).spares;
    writeFileSync(fleet.configFile, fastFleetConfig({ ...SIZE, max: 3 }));
    await runUntil(fleet.configFile, 'the spare removed, three serving sentries kept', async () => {
      await watch.check();
      const s = await sentries(rt);
      return s.spares.length === 0 && servingReady(s.serving).length === 3;
    });
    assert.deepEqual((await sentries(rt)).serving.map((n) => n.id).sort(), serving);
    const removals = (await rt.store.listActions({ pool: 'sentries', limit: 1000 })).filter(
      (a) => a.kind === 'remove',
    );
    assert.deepEqual(
      removals.map((a) => `${a.nodeId} ${a.cause} ${a.outcome}`),
      [`${refilled!.id} warm-surplus succeeded`],
    );
    assert.deepEqual(watch.violations, []);
    await assertConsistent(rt);
  });

  for (const point of ['take-warm:after-record', 'create:after-provider'])
    test(`killed at ${point} during a take and its refill: nothing lost, nothing made twice`, async () => {
      const fleet = makeFleet(fastFleetConfig(SIZE));
      fleets.push(fleet);
      const rt = await fleet.inspect();
      const watch = spareWatch(rt);
      await runUntil(fleet.configFile, 'two serving sentries and one synced spare', settledAt(rt, 2, watch));
      const [spare] = (await sentries(rt)).spares;
      await askSize(rt, 3);
      // The take runs first in its tick, the refill's creation after it: a crash at
      // create:after-provider is the refill's.
      await crashAt(fleet.configFile, point);
      await runUntil(fleet.configFile, 'three serving sentries and one spare', settledAt(rt, 3, watch));
      await assertConsistent(rt);
      const taken = (await rt.store.getNode(spare!.id))!;
      assert.equal(taken.warm, undefined, 'the spare was taken');
      assert.equal(taken.registered, true);
      assert.deepEqual(watch.violations, []);
      const creates = await createsByCause(rt);
      assert.equal(creates['below-min'], 2);
      assert.equal(creates['manual-size'], undefined, 'the scale-up created no node: it took the spare');
      // A refill cut short before its instance existed is abandoned and made again; one whose
      // instance exists is adopted: either way one spare runs.
      assert.ok((creates['warm-refill'] ?? 0) >= 2);
    });
});
