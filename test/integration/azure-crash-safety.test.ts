// Kills the controller (SIGKILL) between intent and outcome of actions on an Azure pool
// (fake-azure-compute; machines booted by the Azure machines fake), restarts it, and checks
// that no VM is orphaned or created twice: every VM carries its action id as a tag and is
// named after its node, and the restart settles each open intent against the listing. One
// case dies after Azure accepted the VM and before its creation finished; one in an image bake
// between the disk's snapshot and the image: the source runs again, the next bakes leave
// `keep` images and sweep the snapshot the dead bake left without its image.

import assert from 'node:assert/strict';
import { after, before, describe, type TestContext, test } from 'node:test';
import { IMAGE_TAGS } from '../../src/providers/azure/azure-provider.ts';
import type { Runtime } from '../../src/runtime/runtime.ts';
import {
  type AzureFleet,
  type AzureFleetSize,
  assertAzureConsistent,
  liveVms,
  makeAzureFleet,
  RESOURCE_GROUP,
} from '../support/azure-fleet.ts';
import { type FakeAzureCompute, startFakeAzureCompute } from '../support/fake-azure-compute.ts';
import { crashAt, runUntil } from '../support/fleet.ts';

let fake: FakeAzureCompute;
before(async () => {
  fake = await startFakeAzureCompute({ pollsToFinish: 3, finishAfterMs: 1500 });
});
after(() => fake?.stop());

const converged = (rt: Runtime, fleet: AzureFleet, capacity: number) => async () => {
  const sentries = await rt.store.listNodes({ pool: 'sentries' });
  return (
    sentries.length === capacity &&
    sentries.every((n) => n.state === 'ready' && n.registered) &&
    (await rt.store.openActions()).length === 0 &&
    liveVms(fake, fleet.scaleSet).length === capacity
  );
};

async function fleetAt(
  t: TestContext,
  size: AzureFleetSize,
  images = '',
): Promise<{ fleet: AzureFleet; rt: Runtime }> {
  const fleet = await makeAzureFleet(fake, size, images);
  t.after(() => fleet.cleanup());
  const rt = await fleet.inspect();
  await runUntil(fleet.configFile, `${size.capacity} ready sentries`, converged(rt, fleet, size.capacity));
  return { fleet, rt };
}

describe('crash safety on Azure: SIGKILL between intent and outcome, then restart', () => {
  for (const point of ['create:after-intent', 'create:after-vm-accepted', 'create:after-provider'])
    test(`scaling up: killed at ${point}`, async (t) => {
      const { fleet, rt } = await fleetAt(t, { min: 1, capacity: 1, max: 3 });
      fleet.resize({ min: 1, capacity: 2, max: 3 });
      await crashAt(fleet.configFile, point);
      assert.equal(
        liveVms(fake, fleet.scaleSet).length,
        point === 'create:after-intent' ? 1 : 2,
        'what had been created when it died',
      );
      fleet.resize({ min: 1, capacity: 3, max: 3 });
      await runUntil(
        fleet.configFile,
        'the pool to converge at 3 after the restart',
        converged(rt, fleet, 3),
      );
      await assertAzureConsistent(rt, fake, fleet);
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
      await assertAzureConsistent(rt, fake, fleet);
      const removals = (await rt.store.listActions({ pool: 'sentries', limit: 1000 })).filter(
        (a) => a.kind === 'remove',
      );
      assert.equal(removals.length, 1, 'the removal ran once, resumed not repeated');
      assert.equal(removals[0]!.outcome, 'finished-after-restart');
    });

  test('image rotation: killed between the disk snapshot and the image', async (t) => {
    const family = 'crash-img';
    // Three sentries, so one may be stopped for the image while ready > min even on a busy host.
    // No schedule while the pool forms, so the first bake is the one that dies.
    const { fleet, rt } = await fleetAt(
      t,
      { min: 1, capacity: 3, max: 3 },
      `family: ${family}, keep: 1, timeout: 3s`,
    );
    fleet.setImages(`family: ${family}, every: 1s, keep: 1, timeout: 3s`);
    await crashAt(fleet.configFile, 'image:after-disk-snapshot');
    const ofFamily = <T extends { wire: { tags?: Record<string, string> } }>(xs: T[]) =>
      xs.filter((x) => x.wire.tags?.[IMAGE_TAGS.family] === family);
    assert.equal(ofFamily(fake.snapshots(RESOURCE_GROUP)).length, 1, 'the snapshot was made');
    assert.equal(ofFamily(fake.images(RESOURCE_GROUP)).length, 0, 'the image was not');
    const source = (await rt.store.listNodes({ pool: 'sentries' })).find((n) => n.maintenance);
    assert.ok(source, 'a source was stopped for the image when it died');
    const orphan = ofFamily(fake.snapshots(RESOURCE_GROUP))[0]!.wire.name;
    // Bakes follow each other every second: what counts is that the source the dead
    // controller left stopped runs again, and that a later bake swept the orphan.
    let sourceRan = false;
    await runUntil(fleet.configFile, 'the source running again, a new image, the orphan swept', async () => {
      if (fleet.machines.running().includes(source.instanceId!)) sourceRan = true;
      const snapshots = ofFamily(fake.snapshots(RESOURCE_GROUP)).map((s) => s.wire.name);
      const images = ofFamily(fake.images(RESOURCE_GROUP));
      return (
        sourceRan &&
        images.length === 1 &&
        !snapshots.includes(orphan) &&
        snapshots.every((s) => images.some((i) => i.wire.tags?.[IMAGE_TAGS.snapshot] === s)) &&
        liveVms(fake, fleet.scaleSet).length === 3
      );
    });
    await assertAzureConsistent(rt, fake, fleet);
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
