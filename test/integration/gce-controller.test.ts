// The whole controller with its sentry pool on GCE (fake-gce through the official client;
// machines booted by the machines fake), through the scenario every cloud runs
// (test/support/cloud-scale-scenario.ts): the pool grows under load 2 -> 4 and shrinks back to
// 2 on a metric, each scale-in deleting exactly the instance of the node the controller chose;
// then a machine that dies while GCE still says RUNNING is replaced.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { loadConfigFile } from '../../src/config/load.ts';
import { Controller } from '../../src/controller/controller.ts';
import { createRuntime } from '../../src/runtime/runtime.ts';
import { cloudScaleScenario } from '../support/cloud-scale-scenario.ts';
import { waitFor } from '../support/fleet.ts';
import { fakeGceForFile } from '../support/gce-bed.ts';
import { assertGceConsistent, liveMembers, makeGceFleet } from '../support/gce-fleet.ts';

const bed = fakeGceForFile();
const silent = pino({ level: 'silent' });

test('a pool on GCE scales 2 -> 4 -> 2 on load, removing the chosen instances, and replaces a dead machine', async (t) => {
  const fleet = await makeGceFleet(bed.fake(), { min: 1, capacity: 2, max: 4 });
  const config = loadConfigFile(fleet.configFile).config;
  const controller = new Controller({ runtime: createRuntime(config), log: silent });
  await controller.start();
  t.after(async () => {
    await controller.stop();
    await fleet.cleanup();
  });
  const rt = await fleet.inspect();
  const { remaining, violations, check } = await cloudScaleScenario({
    rt,
    machines: 'instances',
    members: () => liveMembers(fleet),
  });

  // A machine dies (its process killed) while GCE still says RUNNING: the node fails its
  // health checks and the controller replaces it with a new instance.
  const victim = remaining[0]!;
  fleet.machines.crash(victim.name);
  await waitFor(
    `the dead ${victim.name} replaced`,
    async () => {
      await check();
      const live = await rt.store.listNodes({ pool: 'sentries' });
      return (
        live.length === 2 &&
        live.every((n) => n.state === 'ready' && n.registered) &&
        !live.some((n) => n.id === victim.node) &&
        !liveMembers(fleet).some((m) => m.name === victim.name)
      );
    },
    120_000,
  );
  await controller.stop();
  assert.deepEqual(violations, []);
  await assertGceConsistent(rt, fleet);
});
