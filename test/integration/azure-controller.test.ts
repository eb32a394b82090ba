// The whole controller with its sentry pool on Azure (fake-azure-compute through the official
// clients, a service principal from mounted files; machines booted by the Azure machines
// fake), through the scenario every cloud runs (test/support/cloud-scale-scenario.ts): the
// pool grows under load to max and shrinks after to capacity, on a metric; each scale-in
// deletes exactly the VM of the node the controller chose, one deleteInstances each.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pino from 'pino';
import { loadConfigFile } from '../../src/config/load.ts';
import { Controller } from '../../src/controller/controller.ts';
import { TAGS } from '../../src/providers/azure/azure-provider.ts';
import { createRuntime } from '../../src/runtime/runtime.ts';
import { assertAzureConsistent, liveVms, makeAzureFleet } from '../support/azure-fleet.ts';
import { cloudScaleScenario } from '../support/cloud-scale-scenario.ts';
import { type FakeAzureCompute, startFakeAzureCompute } from '../support/fake-azure-compute.ts';

const silent = pino({ level: 'silent' });

let fake: FakeAzureCompute;
before(async () => {
  fake = await startFakeAzureCompute({ pollsToFinish: 3, finishAfterMs: 1500 });
});
after(() => fake?.stop());

test('a pool on Azure scales up on load to max and back down to capacity, deleting the chosen VMs', async (t) => {
  const fleet = await makeAzureFleet(fake, { min: 1, capacity: 2, max: 4 });
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
    machines: 'VMs',
    members: () => liveVms(fake, fleet.scaleSet).map((vm) => ({ name: vm.name, node: vm.tags?.[TAGS.node] })),
    atMax: () =>
      assert.deepEqual(
        [
          ...new Set(liveVms(fake, fleet.scaleSet).flatMap((vm) => (vm.zones as string[] | undefined) ?? [])),
        ].sort(),
        ['1', '2'],
        "spread over the scale set's zones",
      ),
  });
  await controller.stop();
  const deletes = fake.calls.filter((c) => c.operation === 'virtualMachineScaleSets.deleteInstances');
  assert.equal(deletes.length, 2, 'one deleteInstances per scale-in, each naming its VM');
  assert.ok(
    fake.calls.some((c) => c.operation === 'token' && c.status === 200),
    'the service principal logged in',
  );
  await assertAzureConsistent(rt, fake, fleet);
});
