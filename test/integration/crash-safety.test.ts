// Kills the controller (SIGKILL, no cleanup) at each point of each action, restarts it, and
// checks that nothing is orphaned, duplicated or lost and that the pool converges.

import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import type { Runtime } from '../../src/runtime/runtime.ts';
import { crashAt, fastFleetConfig, makeFleet, runUntil, waitFor } from '../support/fleet.ts';

const fleets: { cleanup(): Promise<void> }[] = [];
after(async () => {
  for (const f of fleets) await f.cleanup();
});

/** No open intent; every running instance belongs to exactly one live node record and back. */
async function assertConsistent(rt: Runtime): Promise<void> {
  assert.deepEqual(
    (await rt.store.openActions()).map((a) => `${a.kind} ${a.id}`),
    [],
    'every intent has an outcome',
  );
  const instances = (await rt.providers.get('here')!.list()).filter((i) => i.running);
  const live = await rt.store.listNodes();
  const byNode = new Map<string, number>();
  for (const i of instances) byNode.set(i.nodeId, (byNode.get(i.nodeId) ?? 0) + 1);
  for (const [node, count] of byNode) assert.equal(count, 1, `node ${node} has ${count} instances`);
  for (const i of instances) {
    const record = live.find((n) => n.id === i.nodeId);
    assert.ok(record, `instance ${i.id} (${i.nodeId}) is an orphan: no live node record`);
    assert.equal(
      record.instanceId,
      i.id,
      `node ${i.nodeId} records instance ${record.instanceId}, runs ${i.id}`,
    );
  }
  for (const n of live) assert.ok(byNode.has(n.id), `live node ${n.id} (${n.state}) has no running instance`);
}

const converged = (rt: Runtime, capacity: number) => async () => {
  const sentries = await rt.store.listNodes({ pool: 'sentries' });
  const validators = await rt.store.listNodes({ pool: 'validator' });
  return (
    validators.length === 1 &&
    sentries.length === capacity &&
    sentries.every((n) => n.state === 'ready' && n.registered) &&
    (await rt.store.openActions()).length === 0
  );
};

describe('crash safety: SIGKILL at every point of an action, then restart', () => {
  for (const point of [
    'create:after-intent',
    'create:after-node-record',
    'create:after-provider',
    'register:after-intent',
  ])
    test(`creating: killed at ${point}`, async () => {
      const fleet = makeFleet(fastFleetConfig({ min: 1, capacity: 2, max: 3 }));
      fleets.push(fleet);
      const rt = await fleet.inspect();
      await crashAt(fleet.configFile, point);
      await runUntil(fleet.configFile, 'the pool to converge after the restart', converged(rt, 2));
      await assertConsistent(rt);
      const outcomes = (await rt.store.listActions({ limit: 1000 })).map((a) => a.outcome);
      assert.ok(
        outcomes.some((o) => o === 'adopted' || o === 'abandoned'),
        'the interrupted action was settled on restart',
      );
    });

  for (const point of ['remove:after-intent', 'remove:after-deregister', 'remove:after-destroy'])
    test(`scaling down: killed at ${point}`, async () => {
      const fleet = makeFleet(fastFleetConfig({ min: 1, capacity: 2, max: 3 }));
      fleets.push(fleet);
      const rt = await fleet.inspect();
      await runUntil(fleet.configFile, 'two ready sentries', converged(rt, 2));
      // Lower capacity: the idle pool now scales down by one, and the controller dies mid-way.
      writeFileSync(fleet.configFile, fastFleetConfig({ min: 1, capacity: 1, max: 3 }));
      await crashAt(fleet.configFile, point);
      await runUntil(fleet.configFile, 'the pool to converge at capacity 1', converged(rt, 1));
      await assertConsistent(rt);
      const removals = (await rt.store.listActions({ pool: 'sentries', limit: 1000 })).filter(
        (a) => a.kind === 'remove',
      );
      assert.equal(removals.length, 1, 'the removal ran once, resumed not repeated');
      assert.equal(removals[0]!.outcome, 'finished-after-restart');
    });

  test('scaling down: killed at remove:after-deregister, the node’s process gone meanwhile: the resumed removal removes its data dir', async () => {
    const fleet = makeFleet(fastFleetConfig({ min: 1, capacity: 2, max: 3 }));
    fleets.push(fleet);
    const rt = await fleet.inspect();
    const provider = rt.providers.get('here')!;
    await runUntil(fleet.configFile, 'two ready sentries', converged(rt, 2));
    writeFileSync(fleet.configFile, fastFleetConfig({ min: 1, capacity: 1, max: 3 }));
    await crashAt(fleet.configFile, 'remove:after-deregister');
    const removal = (await rt.store.openActions()).find((a) => a.kind === 'remove');
    assert.ok(removal?.nodeId, 'a removal was interrupted');
    const node = (await rt.store.getNode(removal.nodeId))!;
    assert.ok(node.dataDir && existsSync(node.dataDir), `its data dir ${node.dataDir} is there`);
    // While no controller runs, the node's process dies (killed for memory, say): its
    // instance leaves the listing, its data stays.
    const instance = (await provider.list()).find((i) => i.nodeId === node.id && i.running)!;
    process.kill(-Number(instance.id.split(':')[0]), 'SIGKILL');
    await waitFor(
      'its process to be gone',
      async () => !(await provider.list()).some((i) => i.nodeId === node.id && i.running),
    );
    await runUntil(fleet.configFile, 'the pool to converge at capacity 1', converged(rt, 1));
    await assertConsistent(rt);
    const outcome = (await rt.store.listActions({ pool: 'sentries', limit: 1000 })).find(
      (a) => a.id === removal.id,
    )?.outcome;
    assert.equal(outcome, 'finished-after-restart');
    assert.equal(existsSync(node.dataDir), false, `the resumed removal removed ${node.dataDir}`);
  });

  test('rejoining: killed at rejoin:after-intent', async () => {
    // A sentry that cannot catch up (1 block/s against 5, from 10,000 blocks behind: never
    // level with the tip, not even at its first probe) always times out its 1 ms join, so the
    // rejoin, and its crash point, are certain however loaded the machine is.
    const fleet = makeFleet(
      fastFleetConfig(
        { min: 1, capacity: 1, max: 2 },
        { joinTimeout: '1ms', sentrySyncRate: 1, validatorStartHeight: 10_000 },
      ),
    );
    fleets.push(fleet);
    const rt = await fleet.inspect();
    await crashAt(fleet.configFile, 'rejoin:after-intent');
    writeFileSync(fleet.configFile, fastFleetConfig({ min: 1, capacity: 1, max: 2 }));
    await runUntil(fleet.configFile, 'the pool to converge after the restart', converged(rt, 1));
    await assertConsistent(rt);
  });
});
