// The whole controller with its sentry pool on AWS (moto; machines booted by the machines
// fake), through the scenario every cloud runs (test/support/cloud-scale-scenario.ts): the pool
// grows under load to max and shrinks after to capacity, on a metric; each scale-in terminates
// exactly the instance of the node the controller chose; the Auto Scaling group never holds
// more than max.

import { test } from 'node:test';
import pino from 'pino';
import { loadConfigFile } from '../../src/config/load.ts';
import { Controller } from '../../src/controller/controller.ts';
import { TAGS } from '../../src/providers/aws/aws-provider.ts';
import { createRuntime } from '../../src/runtime/runtime.ts';
import { assertAwsConsistent, groupMembers, liveInstances, makeAwsFleet } from '../support/aws-fleet.ts';
import { cloudScaleScenario } from '../support/cloud-scale-scenario.ts';
import { motoForFile } from '../support/moto-group.ts';

const moto = motoForFile();
const silent = pino({ level: 'silent' });

test('a pool on AWS scales up on load to max and back down to capacity, removing the chosen instances', {
  skip: moto.skip,
}, async (t) => {
  const fleet = await makeAwsFleet(moto.server()!.url, { min: 1, capacity: 2, max: 4 });
  const config = loadConfigFile(fleet.configFile).config;
  const controller = new Controller({ runtime: createRuntime(config), log: silent });
  await controller.start();
  t.after(async () => {
    await controller.stop();
    await fleet.cleanup();
  });
  const rt = await fleet.inspect();
  await cloudScaleScenario({
    rt,
    machines: 'instances',
    members: async () =>
      (await liveInstances(fleet.endpoint, fleet.group)).map((i) => ({
        name: i.InstanceId!,
        node: i.Tags?.find((tag) => tag.Key === TAGS.node)?.Value,
      })),
    check: async (violations) => {
      const g = await groupMembers(fleet.endpoint, fleet.group);
      if (g.members.length > 4) violations.push(`group holds ${g.members.length} > max 4`);
    },
  });
  await controller.stop();
  await assertAwsConsistent(rt, fleet);
});
