// AMI rotation on moto under the controller: on the provider's schedule a ready sentry (never
// the validator, only while ready > min) is stopped, its root volume snapshotted, an AMI
// registered from the snapshot and a launch template version booting it made the default,
// then the sentry starts again. Two scheduled rotations make two AMIs, `keep: 1` leaves one
// (and its snapshot only), and the next scale-up boots the newest. A launch template used at a
// pinned version is refused before anything is made.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { startApiServer } from '../../src/api/server.ts';
import { loadConfigFile } from '../../src/config/load.ts';
import { Controller } from '../../src/controller/controller.ts';
import { AwsProvider } from '../../src/providers/aws/aws-provider.ts';
import { createRuntime } from '../../src/runtime/runtime.ts';
import { amiFamily, assertAwsConsistent, liveInstances, makeAwsFleet } from '../support/aws-fleet.ts';
import { launchBrowser } from '../support/browser.ts';
import { scaledToThree } from '../support/cloud-scale-scenario.ts';
import { runCli, waitFor } from '../support/fleet.ts';
import { createMotoGroup, motoForFile, resetMoto } from '../support/moto-group.ts';
import { requireBinary } from '../support/servers.ts';

const moto = motoForFile();
const silent = pino({ level: process.env.AWS_TEST_LOG ?? 'silent' });

test('two scheduled rotations make two AMIs, keep 1 leaves one, and new sentries boot the newest', {
  skip: moto.skip,
}, async (t) => {
  const family = 'sentry-rot';
  const fleet = await makeAwsFleet(
    moto.server().url,
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
  const made = new Set<string>();
  await waitFor(
    'two scheduled rotations',
    async () => {
      for (const a of (await amiFamily(fleet.endpoint, family, fleet.template)).amis) made.add(a.id);
      const bakes = (await rt.store.listActions({ pool: 'sentries', limit: 1000 })).filter(
        (a) => a.kind === 'snapshot' && a.outcome === 'succeeded',
      );
      return bakes.length >= 2 && made.size >= 2;
    },
    120_000,
  );
  await controller.stop();
  const state = await amiFamily(fleet.endpoint, family, fleet.template);
  assert.equal(state.amis.length, 1, 'keep 1 leaves one AMI');
  const newest = state.amis[0]!;
  assert.equal(state.bootedByDefault, newest.id, "the template's default version boots the newest AMI");
  assert.deepEqual(state.snapshots, [newest.snapshot], 'only the kept AMI’s snapshot is left');
  const bakes = (await rt.store.listActions({ pool: 'sentries', limit: 1000 })).filter(
    (a) => a.kind === 'snapshot',
  );
  for (const b of bakes.filter((x) => x.outcome === 'succeeded'))
    assert.match(b.outcomeDetail ?? '', /^image ami-[0-9a-f]+ \(sentry-rot-a-[0-9a-f]+\) of sentries-/);
  const validators = new Set((await rt.store.listNodes({ pool: 'validator' })).map((n) => n.id));
  for (const b of bakes) assert.ok(!validators.has(b.nodeId ?? ''), 'never the validator');

  // A scale-up now boots the newest AMI (no more rotations from here, so it is known).
  fleet.setImages('keep: 1');
  const again = await scaledToThree(t, fleet, rt, silent, 120_000);
  await again.stop();
  const youngest = (await liveInstances(fleet.endpoint, fleet.group)).sort(
    (a, b) => (b.LaunchTime?.getTime() ?? 0) - (a.LaunchTime?.getTime() ?? 0),
  )[0]!;
  assert.equal(youngest.ImageId, newest.id, 'the newest AMI booted');
  await assertAwsConsistent(rt, fleet);

  // The operator bakes one by hand: this process leads (no controller runs)...
  const byHand = await cli(['snapshot', 'create', '-c', fleet.configFile, '--images', 'sentries']);
  assert.equal(byHand.code, 0, byHand.output);
  const third = await amiFamily(fleet.endpoint, family, fleet.template);
  assert.equal(third.amis.length, 1, 'keep 1 after a bake by hand');
  assert.notEqual(third.amis[0]!.id, newest.id, 'a new AMI');
  assert.equal(third.bootedByDefault, third.amis[0]!.id);
  assert.match(
    byHand.output,
    new RegExp(`image ${third.amis[0]!.id} \\(sentry-rot-a-[0-9a-f]+\\) of sentries-`),
  );
  // ...and lists it, as the API does for the dashboard.
  const listed = await cli(['snapshot', 'list', '-c', fleet.configFile, '--json']);
  assert.equal(listed.code, 0, listed.output);
  const doc = JSON.parse(listed.output) as { images: { pool: string; images: { id: string }[] }[] };
  assert.deepEqual(
    doc.images.map((b) => [b.pool, b.images.map((i) => i.id)]),
    [['sentries', [third.amis[0]!.id]]],
  );
  const api = await startApiServer({
    config: rt.config,
    log: silent,
    runtime: rt,
    listen: '127.0.0.1:0',
    writeWaitMs: 300,
  });
  t.after(() => api.close());
  const answer = (await (await fetch(`${api.url}/api/v1/snapshots`)).json()) as {
    images: { pool: string; providerKind: string; keep: number; images: { id: string | null }[] }[];
  };
  assert.deepEqual(
    answer.images.map((b) => [b.pool, b.providerKind, b.keep, b.images.map((i) => i.id)]),
    [['sentries', 'aws', 1, [third.amis[0]!.id]]],
  );

  // The dashboard's Snapshots page shows it, within the page's Content-Security-Policy.
  const chromium = requireBinary(t, 'chromium');
  if (chromium) {
    const browser = await launchBrowser(t, chromium, { enforceCsp: true });
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
    await page.goto(`${api.url}/#/snapshots`);
    const row = page.locator('[data-images="sentries"] tbody tr');
    await row.first().waitFor({ timeout: 60_000 });
    assert.equal(await row.count(), 1);
    const text = (await row.first().textContent()) ?? '';
    assert.match(text, new RegExp(third.amis[0]!.id));
    assert.match(text, /newest: new nodes boot it/);
    await browser.screenshot(page, 'snapshots-images');
    assert.deepEqual(pageErrors, [], 'no page error, no CSP violation');
  }

  // With a controller running, the command asks it.
  const leading = new Controller({
    runtime: createRuntime(loadConfigFile(fleet.configFile).config),
    log: silent,
  });
  await leading.start(); // resolves once it leads: the command finds it
  t.after(() => leading.stop());
  // The bake by hand stopped and restarted its source: a source may be taken only while
  // another ready sentry serves (min 1), so the request waits until that one is back.
  await waitFor(
    'two ready sentries after the bake by hand',
    async () =>
      (await rt.store.listNodes({ pool: 'sentries' })).filter(
        (n) => n.state === 'ready' && n.registered && !n.maintenance,
      ).length >= 2,
    120_000,
  );
  const asked = await cli(['snapshot', 'create', '-c', fleet.configFile, '--images', 'sentries']);
  await leading.stop();
  assert.equal(asked.code, 0, asked.output);
  assert.match(asked.output, /asked the running controller/);
  const fourth = await amiFamily(fleet.endpoint, family, fleet.template);
  assert.equal(fourth.amis.length, 1);
  assert.notEqual(fourth.amis[0]!.id, third.amis[0]!.id, 'the controller baked a new AMI');
});

/** Runs the CLI to its end. */
async function cli(args: string[]): Promise<{ code: number | null; output: string }> {
  const run = runCli(args);
  const { code } = await run.exited;
  return { code, output: run.output() };
}

test('a launch template used at a pinned version is refused, and nothing is made', {
  skip: moto.skip,
}, async () => {
  const endpoint = moto.server().url;
  await resetMoto(endpoint);
  const { template } = await createMotoGroup(endpoint, { group: 'pinned', maxSize: 2 });
  const provider = new AwsProvider({
    name: 'cloud',
    region: 'us-east-1',
    autoScalingGroup: 'pinned',
    launchTemplate: { name: template, version: '1' },
    endpoint,
    ports: { rpc: 26657 },
    images: { family: 'pinned', keep: 1, timeout: 5000 },
  });
  const instance = {
    id: 'i-0000000000000000',
    nodeId: 'sentries-1',
    pool: 'sentries',
    actionId: 'a-1',
    host: '',
    ports: {},
    running: false,
    createdAt: 0,
  };
  await assert.rejects(
    provider.images!.bake(instance, 'a-1'),
    /launch template pinned-template is used at version 1, pinned: new instances would not boot the baked AMIs of family pinned; use \$Default or \$Latest/,
  );
  const state = await amiFamily(endpoint, 'pinned', template);
  assert.deepEqual([state.amis.length, state.snapshots.length], [0, 0], 'no snapshot, no AMI');
});
