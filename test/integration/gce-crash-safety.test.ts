// Kills the controller (SIGKILL) between intent and outcome of actions on a GCE pool (fake-gce,
// machines booted by the machines fake), restarts it, and checks that no instance is orphaned
// or created twice: every instance carries its action id in its group's per-instance
// metadata, and the restart settles each open intent against the group's listing. One case
// dies right after createInstances, before the instance runs. The image rotation is killed
// after its intent, with the source stopped, between the disk snapshot and the image, and
// after the bake: the restart starts the
// source again, and the next rotation leaves exactly `keep` images and no stray snapshot.

import assert from 'node:assert/strict';
import { describe, type TestContext, test } from 'node:test';
import type { Runtime } from '../../src/runtime/runtime.ts';
import { crashAt, runUntil } from '../support/fleet.ts';
import { fakeGceForFile } from '../support/gce-bed.ts';
import {
  assertGceConsistent,
  type GceFleet,
  type GceFleetOptions,
  type GceFleetSize,
  liveMembers,
  makeGceFleet,
} from '../support/gce-fleet.ts';

const bed = fakeGceForFile();

const converged = (rt: Runtime, fleet: GceFleet, capacity: number) => async () => {
  const sentries = await rt.store.listNodes({ pool: 'sentries' });
  return (
    sentries.length === capacity &&
    sentries.every((n) => n.state === 'ready' && n.registered) &&
    (await rt.store.openActions()).length === 0 &&
    liveMembers(fleet).length === capacity
  );
};

async function fleetAt(
  t: TestContext,
  size: GceFleetSize,
  o: GceFleetOptions = {},
): Promise<{ fleet: GceFleet; rt: Runtime }> {
  const fleet = await makeGceFleet(bed.fake(), size, o);
  t.after(() => fleet.cleanup());
  const rt = await fleet.inspect();
  await runUntil(fleet.configFile, `${size.capacity} ready sentries`, converged(rt, fleet, size.capacity));
  return { fleet, rt };
}

describe('crash safety on GCE: SIGKILL between intent and outcome, then restart', () => {
  for (const point of ['create:after-intent', 'create:after-create-instances', 'create:after-provider'])
    test(`scaling up: killed at ${point}`, async (t) => {
      const { fleet, rt } = await fleetAt(t, { min: 1, capacity: 1, max: 3 });
      fleet.resize({ min: 1, capacity: 2, max: 3 });
      await crashAt(fleet.configFile, point);
      assert.equal(
        liveMembers(fleet).length,
        point === 'create:after-intent' ? 1 : 2,
        'what the group held when it died',
      );
      fleet.resize({ min: 1, capacity: 3, max: 3 });
      await runUntil(
        fleet.configFile,
        'the pool to converge at 3 after the restart',
        converged(rt, fleet, 3),
      );
      await assertGceConsistent(rt, fleet);
      const creates = (await rt.store.listActions({ pool: 'sentries', limit: 1000 })).filter(
        (a) => a.kind === 'create',
      );
      const settled = creates.filter((a) => a.outcome === 'adopted' || a.outcome === 'abandoned');
      assert.equal(settled.length, 1, 'the interrupted create was settled on restart, once');
      assert.equal(settled[0]!.outcome, point === 'create:after-intent' ? 'abandoned' : 'adopted');
    });

  for (const point of ['remove:after-deregister', 'remove:after-destroy'])
    test(`scaling down: killed at ${point}`, async (t) => {
      const { fleet, rt } = await fleetAt(t, { min: 1, capacity: 2, max: 3 });
      fleet.resize({ min: 1, capacity: 1, max: 3 });
      await crashAt(fleet.configFile, point);
      await runUntil(fleet.configFile, 'the pool to converge at capacity 1', converged(rt, fleet, 1));
      await assertGceConsistent(rt, fleet);
      const removals = (await rt.store.listActions({ pool: 'sentries', limit: 1000 })).filter(
        (a) => a.kind === 'remove',
      );
      assert.equal(removals.length, 1, 'the removal ran once, resumed not repeated');
      assert.equal(removals[0]!.outcome, 'finished-after-restart');
    });

  for (const point of [
    'snapshot:after-intent',
    'image:after-stop',
    'image:after-disk-snapshot',
    'image:after-bake',
  ])
    test(`image rotation: killed at ${point}`, async (t) => {
      const fake = bed.fake();
      const family = `crash-${point.replace(/[^a-z]/g, '')}`.slice(0, 40);
      // Three sentries, so one may be stopped for the image while ready > min even on a busy host.
      const size = { min: 1, capacity: 3, max: 3 };
      // No schedule while the pool forms, so the first bake is the one that dies.
      const { fleet, rt } = await fleetAt(t, size, { family, images: 'keep: 1' });
      fleet.setImages('every: 1s, keep: 1');
      await crashAt(fleet.configFile, point);
      const stopped = await rt.store.listNodes({ pool: 'sentries' });
      assert.ok(
        stopped.some((n) => n.maintenance),
        'a source was stopped for the image when it died',
      );
      const baked = () =>
        [...fake.images.values()]
          .filter((i) => i.family === family && i.labels['rampart-family'])
          .map((i) => i.name);
      const before = new Set(baked());
      const source = stopped.find((n) => n.maintenance)!;
      // Bakes follow each other every second, so some node is nearly always stopped for one:
      // what counts is that the source the dead controller left stopped runs again.
      let sourceRan = false;
      await runUntil(fleet.configFile, 'the stopped source running again and a new image', async () => {
        const vm = [...fake.instances.values()].find((i) => i.name === source.instanceId);
        if (vm?.status === 'RUNNING' && fleet.machines.running().includes(vm.name)) sourceRan = true;
        return sourceRan && baked().some((i) => !before.has(i)) && liveMembers(fleet).length === 3;
      });
      await assertGceConsistent(rt, fleet);
      assert.equal(baked().length, 1, 'keep 1 leaves one image');
      const images = new Set([...fake.images.values()].map((i) => i.sourceSnapshot?.split('/').pop()));
      const strays = [...fake.snapshots.values()].filter(
        (s) => s.labels['rampart-family'] === family && !images.has(s.name),
      );
      assert.deepEqual(
        strays.map((s) => s.name),
        [],
        'no snapshot without its image',
      );
      const bakes = (await rt.store.listActions({ pool: 'sentries', limit: 1000 })).filter(
        (a) => a.kind === 'snapshot',
      );
      assert.equal(
        bakes.filter((a) => a.outcome === 'abandoned').length,
        1,
        'the interrupted bake was settled once',
      );
    });
});
