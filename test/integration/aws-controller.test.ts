// The whole controller with its sentry pool on AWS (moto; machines booted by the machines
// fake): the pool grows under load to max and shrinks after to capacity, on a metric; each
// scale-in terminates exactly the instance of the node the controller chose.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { loadConfigFile } from '../../src/config/load.ts';
import { Controller } from '../../src/controller/controller.ts';
import { LoadGenerator } from '../../src/nodes/simnode/load-generator.ts';
import { TAGS } from '../../src/providers/aws/aws-provider.ts';
import { createRuntime } from '../../src/runtime/runtime.ts';
import { assertAwsConsistent, groupMembers, liveInstances, makeAwsFleet } from '../support/aws-fleet.ts';
import { waitFor } from '../support/fleet.ts';
import { motoForFile } from '../support/moto-group.ts';

const moto = motoForFile();

const silent = pino({ level: 'silent' });

test('a pool on AWS scales up on load to max and back down to capacity, removing the chosen instances', {
  skip: moto.skip,
}, async (t) => {
  const max = 4;
  const fleet = await makeAwsFleet(moto.server()!.url, { min: 1, capacity: 2, max });
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
  const check = async () => {
    const live = await liveInstances(fleet.endpoint, fleet.group);
    if (live.length > max) violations.push(`${live.length} instances > max ${max}`);
    const g = await groupMembers(fleet.endpoint, fleet.group);
    if (g.members.length > max) violations.push(`group holds ${g.members.length} > max ${max}`);
  };
  const ready = async () =>
    (await rt.store.listNodes({ pool: 'sentries' })).filter((n) => n.state === 'ready');

  await waitFor('two ready sentries on AWS', async () => {
    await check();
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
        await check();
        return (await ready()).length === max;
      },
      90_000,
    );
  } finally {
    load.stop();
    clearInterval(follow);
  }
  const atMax = (await liveInstances(fleet.endpoint, fleet.group)).map((i) => i.InstanceId!).sort();
  assert.equal(atMax.length, max);

  await waitFor(
    'the pool to return to capacity (2)',
    async () => {
      await check();
      const live = await rt.store.listNodes({ pool: 'sentries' });
      return live.length === 2 && live.every((n) => n.state === 'ready');
    },
    90_000,
  );
  await controller.stop();
  assert.deepEqual(violations, []);

  const decisions = await rt.store.listDecisions({ pool: 'sentries', limit: 1000 });
  const ups = decisions.filter((d) => d.decision === 'scale-up');
  assert.ok(ups.some((d) => d.reasons.some((r) => /simnode_utilization_ratio = [\d.]+ > 0\.7/.test(r.text))));
  const removals = (await rt.store.listActions({ pool: 'sentries', limit: 1000 })).filter(
    (a) => a.kind === 'remove',
  );
  assert.equal(removals.length, 2, 'two scale-ins');
  for (const r of removals) assert.equal(r.outcome, 'succeeded');

  // Exactly the instances of the removed nodes are gone; every other one still runs.
  const removedNodes = new Set(removals.map((r) => r.nodeId));
  const remaining = await liveInstances(fleet.endpoint, fleet.group);
  const remainingIds = new Set(remaining.map((i) => i.InstanceId!));
  const nodeOf = (i: { Tags?: { Key?: string; Value?: string }[] }) =>
    i.Tags?.find((tag) => tag.Key === TAGS.node)?.Value;
  for (const i of remaining)
    assert.ok(!removedNodes.has(nodeOf(i)), `instance of removed node ${nodeOf(i)} still runs`);
  assert.equal(
    atMax.filter((id) => !remainingIds.has(id)).length,
    2,
    'exactly two instances were terminated',
  );
  await assertAwsConsistent(rt, fleet);
});
