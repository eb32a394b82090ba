// Managed images on Azure (fake-azure-compute through the official client; machines booted by
// the Azure machines fake, their data on the VM's OS disk folder): the controller's image
// rotation deallocates a ready sentry, copies its OS disk into a snapshot and makes an image
// of it, and starts it again; the next scale-up boots that image and starts from the chain
// height the source had. Then, on the provider: a second bake leaves the first image while a
// VM boots from it (keep 1), a retried bake makes nothing twice, and once that VM is gone the
// first image goes with its snapshot. Logs the join time from a blank disk and from the image
// (the fake's machines, not Azure's: mostly their boot and poll time, the chain being short).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import pino from 'pino';
import { loadConfigFile } from '../../src/config/load.ts';
import { Controller } from '../../src/controller/controller.ts';
import { type AzureProvider, IMAGE_TAGS, TAGS } from '../../src/providers/azure/azure-provider.ts';
import { createRuntime } from '../../src/runtime/runtime.ts';
import { assertAzureConsistent, liveVms, makeAzureFleet, RESOURCE_GROUP } from '../support/azure-fleet.ts';
import { scaledToThree } from '../support/cloud-scale-scenario.ts';
import { type FakeAzureCompute, startFakeAzureCompute } from '../support/fake-azure-compute.ts';
import { waitFor } from '../support/fleet.ts';

const silent = pino({ level: process.env.AZURE_TEST_LOG ?? 'silent' });

let fake: FakeAzureCompute;
before(async () => {
  fake = await startFakeAzureCompute({ pollsToFinish: 3, finishAfterMs: 1500 });
});
after(() => fake?.stop());

test('a sentry baked into a managed image; a new VM boots it at its height; keep spares an image in use; a retried bake makes nothing twice', async (t) => {
  const family = 'sentry-img';
  const fleet = await makeAzureFleet(
    fake,
    { min: 1, capacity: 2, max: 3 },
    `family: ${family}, every: 1h, keep: 1`,
  );
  const controller = new Controller({
    runtime: createRuntime(loadConfigFile(fleet.configFile).config),
    log: silent,
  });
  await controller.start();
  t.after(async () => {
    await controller.stop();
    await fleet.cleanup();
  });
  const rt = await fleet.inspect();
  const cloud = rt.providers.get('cloud') as AzureProvider;
  const images = () => fake.images(RESOURCE_GROUP).filter((i) => i.wire.tags?.[IMAGE_TAGS.family] === family);
  const snapshots = () =>
    fake.snapshots(RESOURCE_GROUP).filter((s) => s.wire.tags?.[IMAGE_TAGS.family] === family);

  // Join time of each sentry: from its create action to the node first seen ready.
  const joinMs = new Map<string, number>();
  const record = async () => {
    const nodes = await rt.store.listNodes({ pool: 'sentries' }).catch(() => []);
    for (const n of nodes) {
      if (n.state !== 'ready' || joinMs.has(n.id)) continue;
      const create = (await rt.store.listActions({ pool: 'sentries', limit: 1000 })).find(
        (a) => a.kind === 'create' && a.nodeId === n.id,
      );
      if (create) joinMs.set(n.id, Date.now() - create.startedAt);
    }
  };
  const watch = setInterval(record, 100);
  t.after(() => clearInterval(watch));

  // 1. The rotation (every 1h, none yet: at once) bakes one image from a ready sentry.
  const bakes = async () =>
    (await rt.store.listActions({ pool: 'sentries', limit: 1000 })).filter((a) => a.kind === 'snapshot');
  await waitFor(
    'a scheduled bake and two ready sentries again',
    async () =>
      (await bakes()).some((a) => a.outcome === 'succeeded') &&
      (await rt.store.listNodes({ pool: 'sentries' })).filter((n) => n.state === 'ready' && !n.maintenance)
        .length === 2,
    90_000,
  );
  const bake = (await bakes()).find((a) => a.outcome === 'succeeded')!;
  assert.match(bake.outcomeDetail ?? '', /^image sentry-img-a-[0-9a-f]+ of sentries-/);
  const validators = (await rt.store.listNodes({ pool: 'validator' })).map((n) => n.id);
  assert.ok(!validators.includes(bake.nodeId!), 'never the validator');
  assert.equal(images().length, 1);
  const first = images()[0]!;
  assert.equal(first.wire.properties.provisioningState, 'Succeeded');
  assert.equal(first.wire.tags?.[IMAGE_TAGS.provider], 'cloud');
  assert.equal(first.wire.tags?.[TAGS.action], bake.id);
  assert.deepEqual(
    snapshots().map((s) => s.wire.name),
    [first.wire.name],
    'made from its own snapshot',
  );
  const imageHeight = JSON.parse(readFileSync(path.join(first.dir, 'chain.json'), 'utf8')).height as number;
  assert.ok(imageHeight > 0, 'the image holds the synced chain of its source');
  const blank = new Set(liveVms(fake, fleet.scaleSet).map((vm) => vm.name));
  for (const name of blank) assert.equal(fleet.machines.bootHeights().get(name), 0, 'booted blank');

  // 2. A scale-up (a controller started on the new size) boots the image and starts at its height.
  await controller.stop();
  const again = await scaledToThree(t, fleet, rt, silent, 90_000);
  clearInterval(watch);
  await record();
  await again.stop();
  const booted = liveVms(fake, fleet.scaleSet).find((vm) => !blank.has(vm.name))!;
  const storage = booted.properties.storageProfile as { imageReference?: { id?: string } };
  assert.equal(storage.imageReference?.id, first.wire.id, 'the new VM boots the baked image');
  const bootHeight = fleet.machines.bootHeights().get(booted.name) ?? 0;
  assert.ok(bootHeight >= imageHeight, `booted at ${bootHeight}, the image's ${imageHeight}`);
  await assertAzureConsistent(rt, fake, fleet);
  const newNode = booted.tags![TAGS.node]!;
  const ms = (ids: string[]) => ids.map((id) => joinMs.get(id)).filter((x) => x !== undefined);
  t.diagnostic(
    `join (create action to ready) on the fake's machines: blank disk ${ms(
      liveVms(fake, fleet.scaleSet)
        .filter((vm) => blank.has(vm.name))
        .map((vm) => vm.tags![TAGS.node]!),
    ).join(', ')} ms from height 0; baked image ${ms([newNode]).join(', ')} ms from height ${bootHeight}`,
  );

  // 3. On the provider: keep 1 spares the first image while a VM boots from it.
  const instances = await cloud.list();
  const source = instances.find((i) => i.id !== booted.name && i.running)!;
  await cloud.stop(source);
  const second = await cloud.images!.bake(source, 'a-retried');
  assert.deepEqual(second, { image: `${family}-a-retried`, retired: [] }, 'the first image is in use');
  assert.equal(images().length, 2);
  // A retried bake finds its snapshot and image: no second of either, no new PUT.
  const puts = () =>
    fake.calls.filter(
      (c) => c.operation === 'snapshots.createOrUpdate' || c.operation === 'images.createOrUpdate',
    ).length;
  const before = puts();
  assert.deepEqual(await cloud.images!.bake(source, 'a-retried'), second);
  assert.equal(puts(), before, 'nothing made twice');
  assert.equal(images().length, 2);
  assert.equal(snapshots().length, 2);
  assert.deepEqual(
    (await cloud.images!.list()).map((i) => i.name),
    [`${family}-a-retried`, first.wire.name],
    'newest first',
  );

  // A quota error names the call, the pool, the field; no secret in it.
  fake.inject({
    operation: 'snapshots.createOrUpdate',
    status: 409,
    code: 'QuotaExceeded',
    message: 'Operation could not be completed as it results in exceeding approved snapshots quota.',
  });
  const quota = await cloud.images!.bake(source, 'a-quota').then(
    () => assert.fail('a bake over quota succeeded'),
    (e: Error) => e.message,
  );
  assert.match(
    quota,
    /snapshots\.createOrUpdate on scale set sentries-\w+ \(pool sentries, node .*, image sentry-img-a-quota; providers\[\]\.images\) failed: QuotaExceeded \(HTTP 409\)/,
  );
  assert.ok(!quota.includes(fake.servicePrincipal.clientSecret));
  await cloud.start(source);

  // 4. Once no VM boots the first image, the next bake (a retry) retires it with its snapshot.
  const bootedInstance = (await cloud.list()).find((i) => i.id === booted.name)!;
  await cloud.destroy(bootedInstance);
  await waitFor('the VM of the first image to be gone', () => !fake.diskDir(RESOURCE_GROUP, booted.name));
  assert.deepEqual(await cloud.images!.bake(source, 'a-retried'), {
    image: `${family}-a-retried`,
    retired: [first.wire.name],
  });
  assert.deepEqual(
    images().map((i) => i.wire.name),
    [`${family}-a-retried`],
  );
  assert.deepEqual(
    snapshots().map((s) => s.wire.name),
    [`${family}-a-retried`],
  );
  // A VM that is gone: the error says so.
  await assert.rejects(
    cloud.images!.bake(bootedInstance, 'a-gone'),
    /virtualMachines\.get: VM .* is gone \(pool sentries/,
  );
});
