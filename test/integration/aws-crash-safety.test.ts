// Kills the controller (SIGKILL) between intent and outcome of actions on an AWS pool (moto,
// machines booted by the machines fake), restarts it, and checks that no instance is
// orphaned or launched twice: every instance carries its action id as a tag, and the
// restart settles each open intent against the listing. One case dies between RunInstances
// and AttachInstances, the window the provider's design leaves. The AMI rotation is killed
// after its EBS snapshot, after registering the AMI and after the new launch template version:
// the restart starts the stopped source again, and the next rotation leaves exactly `keep` AMIs,
// the template's default booting the newest, and no snapshot without its AMI.

import assert from 'node:assert/strict';
import { describe, type TestContext, test } from 'node:test';
import type { Runtime } from '../../src/runtime/runtime.ts';
import {
  type AwsFleet,
  type AwsFleetOptions,
  type AwsFleetSize,
  amiFamily,
  assertAwsConsistent,
  groupMembers,
  liveInstances,
  makeAwsFleet,
} from '../support/aws-fleet.ts';
import { crashAt, runUntil } from '../support/fleet.ts';
import { motoForFile } from '../support/moto-group.ts';

const moto = motoForFile();

const converged = (rt: Runtime, fleet: AwsFleet, capacity: number) => async () => {
  const sentries = await rt.store.listNodes({ pool: 'sentries' });
  const group = await groupMembers(fleet.endpoint, fleet.group);
  return (
    sentries.length === capacity &&
    sentries.every((n) => n.state === 'ready' && n.registered) &&
    (await rt.store.openActions()).length === 0 &&
    group.members.length === capacity &&
    (await liveInstances(fleet.endpoint, fleet.group)).length === capacity
  );
};

async function fleetAt(
  t: TestContext,
  size: AwsFleetSize,
  o: AwsFleetOptions = {},
): Promise<{ fleet: AwsFleet; rt: Runtime }> {
  const fleet = await makeAwsFleet(moto.server()!.url, size, o);
  // Cleaned up before the next test resets moto, while its group still exists.
  t.after(() => fleet.cleanup());
  const rt = await fleet.inspect();
  await runUntil(fleet.configFile, `${size.capacity} ready sentries`, converged(rt, fleet, size.capacity));
  return { fleet, rt };
}

describe('crash safety on AWS: SIGKILL between intent and outcome, then restart', { skip: moto.skip }, () => {
  for (const point of ['create:after-intent', 'create:after-run-instances', 'create:after-provider'])
    test(`scaling up: killed at ${point}`, async (t) => {
      const { fleet, rt } = await fleetAt(t, { min: 1, capacity: 1, max: 3 });
      fleet.resize({ min: 1, capacity: 2, max: 3 });
      await crashAt(fleet.configFile, point);
      const launched = (await liveInstances(fleet.endpoint, fleet.group)).length;
      assert.equal(launched, point === 'create:after-intent' ? 1 : 2, 'what had been launched when it died');
      // One more scale-up after the restart: a launch that was never attached joins the group first.
      fleet.resize({ min: 1, capacity: 3, max: 3 });
      await runUntil(
        fleet.configFile,
        'the pool to converge at 3 after the restart',
        converged(rt, fleet, 3),
      );
      await assertAwsConsistent(rt, fleet);
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
      await assertAwsConsistent(rt, fleet);
      const removals = (await rt.store.listActions({ pool: 'sentries', limit: 1000 })).filter(
        (a) => a.kind === 'remove',
      );
      assert.equal(removals.length, 1, 'the removal ran once, resumed not repeated');
      assert.equal(removals[0]!.outcome, 'finished-after-restart');
      assert.equal((await groupMembers(fleet.endpoint, fleet.group)).desired, 1, 'decremented once');
    });

  for (const point of [
    'image:after-ebs-snapshot',
    'image:after-register-image',
    'image:after-template-version',
  ])
    test(`AMI rotation: killed at ${point}`, async (t) => {
      const family = `crash-${point.replace(/[^a-z]/g, '')}`.slice(0, 40);
      // Three sentries, so one may be stopped for the AMI while ready > min even on a busy host.
      const size = { min: 1, capacity: 3, max: 3 };
      // No schedule while the pool forms, so the first bake is the one that dies.
      const { fleet, rt } = await fleetAt(t, size, { family, images: 'keep: 1' });
      fleet.setImages('every: 1s, keep: 1');
      await crashAt(fleet.configFile, point);
      const stopped = await rt.store.listNodes({ pool: 'sentries' });
      const source = stopped.find((n) => n.maintenance);
      assert.ok(source, 'a source was stopped for the AMI when it died');
      const before = new Set((await amiFamily(fleet.endpoint, family, fleet.template)).amis.map((a) => a.id));
      // Bakes follow each other every second, so some node is nearly always stopped for one:
      // what counts is that the source the dead controller left stopped runs again.
      let sourceRan = false;
      await runUntil(fleet.configFile, 'the stopped source running again and a new AMI', async () => {
        if (fleet.machines.running().includes(source.instanceId ?? '')) sourceRan = true;
        const now = await amiFamily(fleet.endpoint, family, fleet.template);
        return (
          sourceRan &&
          now.amis.some((a) => !before.has(a.id)) &&
          (await liveInstances(fleet.endpoint, fleet.group)).length === 3
        );
      });
      // A controller stopping lets its bake finish; with no schedule left, the pool settles.
      fleet.setImages('keep: 1');
      await runUntil(fleet.configFile, 'every sentry ready', converged(rt, fleet, 3));
      await assertAwsConsistent(rt, fleet);
      const state = await amiFamily(fleet.endpoint, family, fleet.template);
      assert.equal(state.amis.length, 1, 'keep 1 leaves one AMI');
      assert.equal(state.bootedByDefault, state.amis[0]!.id, "the template's default boots it");
      assert.deepEqual(state.snapshots, [state.amis[0]!.snapshot], 'no snapshot without its AMI');
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
