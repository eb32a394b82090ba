// What a controller may do to the instances the platform runs: a node its own tick removed is
// never wired back to the validator, one turning ready is wired before anything slower runs,
// and a store that knows less than the platform (emptied, another file) never takes the
// running fleet, validator included, for orphans.
// Real SQLite store and embedded coordination; the fleet itself is held in memory (a fake).

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, test } from 'node:test';
import type { Controller } from '../../src/controller/controller.ts';
import { StoreBehindFleetError } from '../../src/controller/fleet-ownership.ts';
import type { Runtime } from '../../src/runtime/runtime.ts';
import { memoryFleet } from '../support/fake-memory-fleet.ts';

/** Starts a controller and waits for the tick its own loop runs at once; later ticks are the test's. */
async function started(controller: Controller): Promise<void> {
  const first = controller.nextTick();
  await controller.start();
  await first;
}

async function nodesOf(rt: Runtime, pool: string) {
  return await rt.store.listNodes({ pool });
}

test('a node that becomes ready in the tick that removes it is never registered with the validator', async () => {
  const fleet = memoryFleet();
  after(() => fleet.cleanup());
  const rt = fleet.runtime();
  const controller = fleet.controller(rt);
  // Every node that exists now probes ready: the validator and the first sentry join at once.
  fleet.kind.ready.add('validator');
  const readyAll = async () => {
    for (const n of await rt.store.listNodes()) fleet.kind.ready.add(n.id);
  };
  await started(controller);
  try {
    for (let i = 0; i < 4; i++) {
      await readyAll();
      await controller.tick();
    }
    const [validator] = await nodesOf(rt, 'validator');
    assert.ok(validator, 'the validator was started');
    const [first] = await nodesOf(rt, 'sentries');
    assert.equal(first?.state, 'ready');
    assert.equal(first?.registered, true);

    // The operator asks for 3: two sentries join, and stay catching up for now.
    const state = (await rt.store.getPool('sentries'))!;
    await rt.store.putPool(
      { ...state, manualSize: { size: 3, by: 'the test', at: Date.now() } },
      controller.term,
    );
    await controller.tick();
    const joining = (await nodesOf(rt, 'sentries')).filter((n) => n.id !== first!.id);
    assert.equal(joining.length, 2, 'two sentries were created');
    // Then back to 1 while they join: nothing is removed before they are ready.
    await rt.store.putPool(
      { ...(await rt.store.getPool('sentries'))!, manualSize: { size: 1, by: 'the test', at: Date.now() } },
      controller.term,
    );
    await controller.tick();
    assert.equal((await nodesOf(rt, 'sentries')).length, 3);

    // Both turn ready in the same tick that removes the newest of them.
    for (const n of joining) fleet.kind.ready.add(n.id);
    await controller.tick();

    const all = await rt.store.listNodes({ pool: 'sentries', all: true });
    const gone = all.filter((n) => n.state === 'gone');
    assert.equal(
      gone.length,
      1,
      `one sentry was removed: ${all.map((n) => `${n.id}=${n.state}`).join(', ')}`,
    );
    const removed = gone[0]!;
    assert.equal(removed.registered, false, 'the removed node is not recorded as registered');
    const wired = fleet.kind.wired.get(validator!.id) ?? new Set();
    assert.ok(!wired.has(removed.id), `the validator holds no peer for removed ${removed.id}`);
    const actions = await rt.store.listActions({ pool: 'sentries' });
    const removal = actions.find((a) => a.kind === 'remove' && a.nodeId === removed.id);
    assert.ok(removal, 'the removal is recorded');
    assert.ok(
      !actions.some(
        (a) => a.kind === 'register' && a.nodeId === removed.id && a.startedAt >= removal.startedAt,
      ),
      'no registration of the removed node after its removal',
    );
    // The other newcomer was registered as usual: the test can tell registration happened.
    const kept = joining.find((n) => n.id !== removed.id)!;
    assert.ok(wired.has(kept.id), `${kept.id} is wired to the validator`);
  } finally {
    await controller.stop();
  }
});

/** A fleet running under one store, its controller stopped: validator and one sentry. */
async function runningFleet() {
  const fleet = memoryFleet();
  after(() => fleet.cleanup());
  fleet.kind.ready.add('validator');
  const rt = fleet.runtime();
  const controller = fleet.controller(rt);
  await started(controller);
  for (let i = 0; i < 3; i++) {
    for (const n of await rt.store.listNodes()) fleet.kind.ready.add(n.id);
    await controller.tick();
  }
  await controller.stop();
  const running = await fleet.provider.list();
  assert.equal(running.length, 2, 'a validator and a sentry run');
  return { fleet, running };
}

test("a sentry turning ready is stored ready and registered in one write, before the tick's slower actions run", async () => {
  const fleet = memoryFleet({ capacity: 2 });
  after(() => fleet.cleanup());
  const rt = fleet.runtime();
  const controller = fleet.controller(rt);
  fleet.kind.ready.add('validator');
  await started(controller);
  try {
    // Two sentries join and stay catching up.
    for (let i = 0; i < 3 && (await nodesOf(rt, 'sentries')).length < 2; i++) await controller.tick();
    const [a, b] = await nodesOf(rt, 'sentries');
    assert.ok(a && b, 'two sentries were created');
    assert.equal(a.state === 'ready' || b.state === 'ready', false);

    // In one tick, a turns ready and b's instance vanishes: b is replaced by a creation. What
    // the store says of a while that creation runs is what every reader (the API, the
    // dashboard, a failover) sees meanwhile.
    const seen: string[] = [];
    const create = fleet.provider.create.bind(fleet.provider);
    fleet.provider.create = async (req) => {
      const now = await rt.store.getNode(a.id);
      seen.push(`${now?.state} ${now?.registered ? 'registered' : 'unregistered'}`);
      return await create(req);
    };
    const registrations: string[] = [];
    const register = fleet.kind.register.bind(fleet.kind);
    fleet.kind.register = async (node, upstream) => {
      registrations.push(node.id);
      await register(node, upstream);
    };
    fleet.kind.ready.add(a.id);
    for (const [id, i] of fleet.provider.instances)
      if (i.nodeId === b.id) fleet.provider.instances.delete(id);
    await controller.tick();

    assert.deepEqual(
      seen,
      ['ready registered'],
      'a is ready and registered before the replacement is created',
    );
    const [validator] = await nodesOf(rt, 'validator');
    assert.ok(fleet.kind.wired.get(validator!.id)?.has(a.id), `${a.id} is wired to the validator`);
    // Once: the tick's view of the validator's peers predates the registration, and is no
    // reason to dial it again in the same tick.
    assert.deepEqual(registrations, [a.id]);
  } finally {
    await controller.stop();
  }
});

test('a new, empty store refuses to act on a running fleet, names what runs, and changes nothing', async () => {
  const { fleet, running } = await runningFleet();
  const fresh = fleet.runtime(path.join(fleet.dir, 'new-state.db'));
  const controller = fleet.controller(fresh);
  await assert.rejects(controller.start(), (e: Error) => {
    assert.ok(e instanceof StoreBehindFleetError, String(e));
    assert.match(e.message, /new-state\.db knows less than the platform/);
    assert.match(e.message, /rampart up --adopt/);
    for (const i of running) {
      assert.ok(e.message.includes(i.nodeId), `names ${i.nodeId}`);
      assert.ok(e.message.includes(`term ${i.term}`), `names the term ${i.nodeId} carries`);
    }
    return true;
  });
  await controller.stop();
  assert.deepEqual(
    (await fleet.provider.list()).map((i) => i.id).sort(),
    running.map((i) => i.id).sort(),
    'every instance still runs',
  );
  const check = fleet.runtime(path.join(fleet.dir, 'new-state.db'));
  await check.store.open();
  assert.equal((await check.store.listActions()).length, 0, 'nothing was recorded');
  await check.store.close();
});

test("--adopt records the running fleet as the new store's nodes, and starts no second validator", async () => {
  const { fleet, running } = await runningFleet();
  const rt = fleet.runtime(path.join(fleet.dir, 'adopting.db'));
  const controller = fleet.controller(rt, { adopt: true });
  await started(controller);
  try {
    await controller.tick();
    const nodes = await rt.store.listNodes();
    assert.deepEqual(nodes.map((n) => n.id).sort(), running.map((i) => i.nodeId).sort());
    assert.ok(
      nodes.every((n) => n.state === 'ready'),
      'adopted nodes turn ready as they probe',
    );
    assert.equal((await fleet.provider.list()).length, 2, 'nothing created, nothing destroyed');
    const events = await rt.store.listEvents();
    assert.equal(events.filter((e) => /rampart up --adopt/.test(e.text)).length, 2);
  } finally {
    await controller.stop();
  }
  // The next plain `up` on that store is at home: it acts without refusing.
  const again = fleet.controller(fleet.runtime(path.join(fleet.dir, 'adopting.db')));
  await started(again);
  await again.stop();
});

test('a store emptied under the running controller stops it acting; nothing is destroyed', async () => {
  const fleet = memoryFleet();
  after(() => fleet.cleanup());
  fleet.kind.ready.add('validator');
  const rt = fleet.runtime();
  const controller = fleet.controller(rt);
  await started(controller);
  try {
    for (let i = 0; i < 3; i++) {
      for (const n of await rt.store.listNodes()) fleet.kind.ready.add(n.id);
      await controller.tick();
    }
    const before = (await fleet.provider.list()).map((i) => i.id).sort();
    assert.equal(before.length, 2);
    // Everything the store knew is gone, as after a wiped etcd prefix or a restored empty file.
    const db = (rt.store as unknown as { db: import('node:sqlite').DatabaseSync }).db;
    db.exec(
      "DELETE FROM nodes; DELETE FROM actions; DELETE FROM pools; UPDATE meta SET value = '0' WHERE key = 'term'",
    );
    await assert.rejects(controller.tick(), StoreBehindFleetError);
    assert.deepEqual((await fleet.provider.list()).map((i) => i.id).sort(), before);
  } finally {
    await controller.stop();
  }
});

test('an orphan this store made is still removed at start; a validator never is', async () => {
  const { fleet, running } = await runningFleet();
  const rt = fleet.runtime();
  await rt.store.open();
  // The records of both nodes are gone (pruned, lost); the actions that made them are not.
  const db = (rt.store as unknown as { db: import('node:sqlite').DatabaseSync }).db;
  db.exec('DELETE FROM nodes');
  await rt.store.close();
  const controller = fleet.controller(fleet.runtime());
  await started(controller);
  await controller.stop();
  const validator = running.find((i) => i.pool === 'validator')!;
  const sentry = running.find((i) => i.pool === 'sentries')!;
  const after = await fleet.provider.list();
  assert.ok(
    after.some((i) => i.id === validator.id),
    'the validator still runs',
  );
  assert.ok(!after.some((i) => i.id === sentry.id), 'the orphaned sentry was removed');
  const check = fleet.runtime();
  await check.store.open();
  const v = await check.store.getNode(validator.nodeId);
  assert.equal(v?.instanceId, validator.id, 'the validator is a node of the store again');
  const cleanup = (await check.store.listActions()).find((a) => a.kind === 'cleanup');
  assert.equal(cleanup?.nodeId, sentry.nodeId);
  assert.equal(cleanup?.outcome, 'succeeded');
  await check.store.close();
});

test("a member the platform holds that Rampart did not make: left running if it predates Rampart's first tick of the pool, removed as an orphan if it came after", async () => {
  const fleet = memoryFleet();
  after(() => fleet.cleanup());
  fleet.kind.ready.add('validator');
  const unmanaged = (id: string, createdAt: number) =>
    fleet.provider.instances.set(id, {
      id,
      nodeId: `unmanaged-${id}`,
      pool: 'sentries',
      actionId: '',
      host: '127.0.0.1',
      ports: { rpc: 1 },
      running: true,
      createdAt,
    });
  // The operator's own member, there before Rampart ever ran (seed 003's stack).
  unmanaged('operators-own', Date.now() - 3_600_000);
  const rt = fleet.runtime();
  const controller = fleet.controller(rt);
  await started(controller);
  try {
    for (let i = 0; i < 3; i++) {
      for (const n of await rt.store.listNodes()) fleet.kind.ready.add(n.id);
      await controller.tick();
    }
    const since = (await rt.store.getPool('sentries'))?.actingSince;
    assert.ok(since !== undefined && since <= Date.now(), 'the pool records when Rampart first acted on it');
    // The group launches one by itself afterwards (a resize by hand, a replacement).
    unmanaged('launched-later', Date.now());
    await controller.tick();
    const ids = (await fleet.provider.list()).map((i) => i.id);
    assert.ok(ids.includes('operators-own'), 'the member that predates Rampart still runs');
    assert.ok(!ids.includes('launched-later'), 'the one the group launched later was removed');
    const cleanups = (await rt.store.listActions()).filter((a) => a.kind === 'cleanup');
    assert.deepEqual(
      cleanups.map((a) => a.nodeId),
      ['unmanaged-launched-later'],
    );
  } finally {
    await controller.stop();
  }
});
