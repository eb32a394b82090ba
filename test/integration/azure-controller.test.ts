// The whole controller with its sentry pool on Azure (fake-azure-compute through the official
// clients, a service principal from mounted files; machines booted by the Azure machines
// fake): the pool grows under load to max and shrinks after to capacity, on a metric; each
// scale-in deletes exactly the VM of the node the controller chose.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pino from 'pino';
import { loadConfigFile } from '../../src/config/load.ts';
import { Controller } from '../../src/controller/controller.ts';
import { LoadGenerator } from '../../src/nodes/simnode/load-generator.ts';
import { TAGS } from '../../src/providers/azure/azure-provider.ts';
import { createRuntime } from '../../src/runtime/runtime.ts';
import { assertAzureConsistent, liveVms, makeAzureFleet } from '../support/azure-fleet.ts';
import { type FakeAzureCompute, startFakeAzureCompute } from '../support/fake-azure-compute.ts';
import { waitFor } from '../support/fleet.ts';

const silent = pino({ level: 'silent' });

let fake: FakeAzureCompute;
before(async () => {
  fake = await startFakeAzureCompute({ pollsToFinish: 3, finishAfterMs: 1500 });
});
after(() => fake?.stop());

test('a pool on Azure scales up on load to max and back down to capacity, deleting the chosen VMs', async (t) => {
  const max = 4;
  const fleet = await makeAzureFleet(fake, { min: 1, capacity: 2, max });
  const config = loadConfigFile(fleet.configFile).config;
  const controller = new Controller({ runtime: createRuntime(config), log: silent });
  await controller.start();
  t.after(async () => {
    await controller.stop();
    await fleet.cleanup();
  });
  const rt = await fleet.inspect();
  const cloud = rt.providers.get('cloud')!;

  const violations: string[] = [];
  const check = () => {
    const live = liveVms(fake, fleet.scaleSet);
    if (live.length > max) violations.push(`${live.length} VMs > max ${max}`);
  };
  const ready = async () =>
    (await rt.store.listNodes({ pool: 'sentries' })).filter((n) => n.state === 'ready');

  await waitFor('two ready sentries on Azure', async () => {
    check();
    return (await ready()).filter((n) => n.registered).length === 2;
  });

  const load = new LoadGenerator({ rate: 120 });
  const follow = setInterval(async () => {
    const ids = new Set((await ready()).map((n) => n.id));
    const instances = (await cloud.list().catch(() => [])).filter((i) => ids.has(i.nodeId) && i.host);
    load.setTargets(instances.map((i) => `http://${i.host}:${i.ports.rpc}`));
  }, 300);
  load.start();
  try {
    await waitFor(
      `the pool to reach max (${max} ready)`,
      async () => {
        check();
        return (await ready()).length === max;
      },
      90_000,
    );
  } finally {
    load.stop();
    clearInterval(follow);
  }
  const atMax = liveVms(fake, fleet.scaleSet)
    .map((vm) => vm.name)
    .sort();
  assert.equal(atMax.length, max);
  assert.deepEqual(
    [
      ...new Set(liveVms(fake, fleet.scaleSet).flatMap((vm) => (vm.zones as string[] | undefined) ?? [])),
    ].sort(),
    ['1', '2'],
    "spread over the scale set's zones",
  );

  await waitFor(
    'the pool to return to capacity (2)',
    async () => {
      check();
      const live = await rt.store.listNodes({ pool: 'sentries' });
      return (
        live.length === 2 &&
        live.every((n) => n.state === 'ready') &&
        liveVms(fake, fleet.scaleSet).length === 2
      );
    },
    90_000,
  );
  await controller.stop();
  assert.deepEqual(violations, []);

  const decisions = await rt.store.listDecisions({ pool: 'sentries', limit: 1000 });
  assert.ok(
    decisions
      .filter((d) => d.decision === 'scale-up')
      .some((d) => d.reasons.some((r) => /simnode_utilization_ratio = [\d.]+ > 0\.7/.test(r.text))),
  );
  const removals = (await rt.store.listActions({ pool: 'sentries', limit: 1000 })).filter(
    (a) => a.kind === 'remove',
  );
  assert.equal(removals.length, 2, 'two scale-ins');
  for (const r of removals) assert.equal(r.outcome, 'succeeded');
  const removedNodes = new Set(removals.map((r) => r.nodeId));
  const remaining = liveVms(fake, fleet.scaleSet);
  for (const vm of remaining)
    assert.ok(
      !removedNodes.has(vm.tags?.[TAGS.node] ?? ''),
      `VM of removed node ${vm.tags?.[TAGS.node]} still runs`,
    );
  const deletes = fake.calls.filter((c) => c.operation === 'virtualMachineScaleSets.deleteInstances');
  assert.equal(deletes.length, 2, 'one deleteInstances per scale-in, each naming its VM');
  assert.equal(
    atMax.filter((n) => !remaining.some((vm) => vm.name === n)).length,
    2,
    'exactly two VMs deleted',
  );
  assert.ok(
    fake.calls.some((c) => c.operation === 'token' && c.status === 200),
    'the service principal logged in',
  );
  await assertAzureConsistent(rt, fake, fleet);
});
