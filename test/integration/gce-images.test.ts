// Image rotation under the controller on fake-gce: on the provider's schedule a ready sentry
// (never the validator, only while ready > min) is stopped, its boot disk baked into an image
// of the family the template boots, and started again; two scheduled rotations make two
// images, `keep: 1` leaves one, and the next scale-up boots the newest, starting from the
// chain height the source had (the disk's copy).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { loadConfigFile } from '../../src/config/load.ts';
import { Controller } from '../../src/controller/controller.ts';
import { METADATA } from '../../src/providers/gce/gce-provider.ts';
import { createRuntime } from '../../src/runtime/runtime.ts';
import { scaledToThree } from '../support/cloud-scale-scenario.ts';
import { waitFor } from '../support/fleet.ts';
import { fakeGceForFile } from '../support/gce-bed.ts';
import { assertGceConsistent, liveMembers, makeGceFleet } from '../support/gce-fleet.ts';

const bed = fakeGceForFile();
const silent = pino({ level: process.env.GCE_TEST_LOG ?? 'silent' });

test('two scheduled rotations make two images, keep 1 leaves one, and new sentries boot the newest', async (t) => {
  const fake = bed.fake();
  const family = 'sentry-rot';
  const fleet = await makeGceFleet(
    fake,
    { min: 1, capacity: 2, max: 3 },
    { family, images: 'every: 2s, keep: 1' },
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
  const baked = () =>
    [...fake.images.values()].filter((i) => i.family === family && i.labels['rampart-family']);
  const made = new Set<string>();
  await waitFor(
    'two scheduled rotations',
    async () => {
      for (const i of baked()) made.add(i.name);
      const bakes = (await rt.store.listActions({ pool: 'sentries', limit: 1000 })).filter(
        (a) => a.kind === 'snapshot' && a.outcome === 'succeeded',
      );
      return bakes.length >= 2 && made.size >= 2;
    },
    120_000,
  );
  await waitFor('keep 1 to leave one image', () => baked().length === 1);
  const newest = baked()[0]!;
  assert.ok(made.size >= 2, 'two images were made');
  const bakes = (await rt.store.listActions({ pool: 'sentries', limit: 1000 })).filter(
    (a) => a.kind === 'snapshot',
  );
  for (const b of bakes.filter((x) => x.outcome === 'succeeded'))
    assert.match(b.outcomeDetail ?? '', /^image sentry-rot-a-[0-9a-f]+ of sentries-/);
  const sources = new Set(bakes.map((b) => b.nodeId));
  const validators = (await rt.store.listNodes({ pool: 'validator' })).map((n) => n.id);
  for (const v of validators) assert.ok(!sources.has(v), 'never the validator');

  // The image carries the source's chain: the disk as it was when stopped.
  const height = JSON.parse(readFileSync(path.join(newest.dir, 'chain.json'), 'utf8')).height as number;
  assert.ok(height > 0, 'the image holds a synced chain');

  // A scale-up now boots the newest image.
  await controller.stop();
  // No more rotations from here: the image a new sentry boots is then known.
  fleet.setImages('keep: 1');
  const again = await scaledToThree(t, fleet, rt, silent, 120_000);
  await again.stop();
  const newestNow = baked().sort((a, b) => Number(b.id) - Number(a.id))[0]!;
  const youngest = [...fake.instances.values()]
    .filter((i) => i.metadata[METADATA.group] === fleet.group)
    .sort((a, b) => Number(b.id) - Number(a.id))[0]!;
  assert.match(
    youngest.sourceImage ?? '',
    new RegExp(`/global/images/${newestNow.name}$`),
    'the newest image booted',
  );
  assert.equal(liveMembers(fleet).length, 3);
  await assertGceConsistent(rt, fleet);
});
