// Glance images under the controller on the OpenStack test bed (seed 003's packer images): on
// the provider's schedule a ready sentry is stopped (os-stop), Nova's createImage makes an image
// of its server, the machines fake uploads the server's data dir into it as a hypervisor would
// (Nova's fake driver uploads nothing), and the sentry is started again; `keep: 1` leaves one
// image, and new servers boot the newest, starting from the chain the source had. The figures
// (create → ready from the baked image and from the blank one, same run) are printed as
// diagnostics, never asserted.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pino from 'pino';
import { loadConfigFile } from '../../src/config/load.ts';
import { Controller } from '../../src/controller/controller.ts';
import { IMAGE_PROPS } from '../../src/providers/openstack/openstack-provider.ts';
import { createRuntime } from '../../src/runtime/runtime.ts';
import type { StoredNode } from '../../src/store/store.ts';
import { waitFor } from '../support/fleet.ts';
import { openstackForFile } from '../support/openstack.ts';
import { makeOpenstackFleet, type OpenstackFleet } from '../support/openstack-fleet.ts';

const os = openstackForFile();
const silent = pino({ level: process.env.OPENSTACK_TEST_LOG ?? 'silent' });

interface GlanceImage {
  readonly id: string;
  readonly name: string;
  readonly status: string;
  readonly created_at: string;
}

/** The family's images in the test's project, as the admin sees them (every status). */
async function imagesOf(family: string, provider: string): Promise<GlanceImage[]> {
  const bed = os.bed();
  const r = await fetch(
    `${bed.urls.glance}/v2/images?${IMAGE_PROPS.family}=${family}&${IMAGE_PROPS.provider}=${provider}&sort=created_at:desc`,
    { headers: { 'x-auth-token': await bed.token() } },
  );
  if (!r.ok) throw new Error(`list images: HTTP ${r.status}: ${await r.text()}`);
  return ((await r.json()) as { images: GlanceImage[] }).images;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Runs a controller on the fleet's config until `until` holds, then stops it. */
async function runController(fleet: OpenstackFleet, what: string, until: () => Promise<boolean>) {
  const controller = new Controller({
    runtime: createRuntime(loadConfigFile(fleet.configFile).config),
    log: silent,
  });
  await controller.start();
  try {
    await waitFor(what, until, 240_000);
  } finally {
    await controller.stop();
  }
}

describe('Glance images on OpenStack', { skip: os.skip }, () => {
  test('scheduled bakes make images of a stopped sentry, keep 1 prunes, new servers boot the newest with its data', async (t) => {
    const family = 'sentry-img';
    // A slow catch-up (20 blocks/s against the validator's 5): a sentry from the blank image
    // syncs the whole chain, one from a baked image only what came after the bake.
    const fleet = await makeOpenstackFleet(os.bed(), { min: 1, capacity: 2, max: 6 }, undefined, {
      images: `family: ${family}, every: 3s, keep: 1`,
      syncRate: 20,
      // A baked sentry's process starts again only once its server is ACTIVE again and the
      // machines fake has seen it: 1.2 s of failed checks (the default) would replace it.
      failTolerance: 200,
    });
    t.after(async () => {
      const token = await os.bed().token();
      for (const s of await fleet.servers().catch(() => []))
        await fetch(`${os.bed().urls.nova}/servers/${s.id}`, {
          method: 'DELETE',
          headers: { 'x-auth-token': token },
        });
      for (const i of await imagesOf(family, fleet.provider).catch(() => []))
        await fetch(`${os.bed().urls.glance}/v2/images/${i.id}`, {
          method: 'DELETE',
          headers: { 'x-auth-token': token },
        });
      await waitFor("the test's servers gone", async () => (await fleet.servers()).length === 0, 120_000);
      await fleet.cleanup();
    });
    const rt = await fleet.inspect();
    const ready = (n: number) => async () => {
      const live = await rt.store.listNodes({ pool: 'sentries' });
      return live.length === n && live.every((x) => x.state === 'ready' && x.registered && !x.maintenance);
    };
    const made = new Set<string>();
    await runController(fleet, 'two scheduled bakes, keep 1 leaving one image', async () => {
      for (const i of await imagesOf(family, fleet.provider)) made.add(i.id);
      const bakes = (await rt.store.listActions({ pool: 'sentries', limit: 1000 })).filter(
        (a) => a.kind === 'snapshot' && a.outcome === 'succeeded',
      );
      const images = await imagesOf(family, fleet.provider);
      return (
        bakes.length >= 2 &&
        made.size >= 2 &&
        images.length === 1 &&
        images[0]!.status === 'active' &&
        (await ready(2)())
      );
    });
    const bakes = (await rt.store.listActions({ pool: 'sentries', limit: 1000 })).filter(
      (a) => a.kind === 'snapshot' && a.outcome === 'succeeded',
    );
    for (const b of bakes)
      assert.match(b.outcomeDetail ?? '', new RegExp(`^image ${family}-a-[0-9a-z]+ of sentries-`));
    const [kept] = await imagesOf(family, fleet.provider);
    assert.ok(kept, 'one image kept');
    assert.ok(
      [...made].some((id) => id !== kept.id),
      'an older image was made, and keep 1 deleted it (only the kept one is listed)',
    );
    assert.ok(fleet.machines.uploaded().includes(kept.id), "the kept image holds a server's data dir");

    // No more bakes from here: the image a new sentry boots is then known.
    const before = new Set((await rt.store.listNodes({ pool: 'sentries' })).map((n) => n.id));
    fleet.setImages(`family: ${family}, keep: 1`);
    fleet.resize({ min: 1, capacity: 4, max: 6 });
    await runController(fleet, 'four ready sentries, two from the image', ready(4));
    const fromImage = (await rt.store.listNodes({ pool: 'sentries' })).filter((n) => !before.has(n.id));
    assert.equal(fromImage.length, 2);
    const servers = await fleet.servers();
    for (const n of fromImage) {
      const server = servers.find((s) => s.id === n.instanceId)!;
      assert.equal(
        typeof server.image === 'object' ? server.image.id : server.image,
        kept.id,
        `${n.id} booted the newest image`,
      );
      assert.equal(fleet.machines.restoredFrom(server.id), kept.id, `${n.id}'s data dir came from the image`);
    }
    assert.deepEqual(
      (await imagesOf(family, fleet.provider)).map((i) => i.id),
      [kept.id],
      'nothing baked or pruned since',
    );

    // The same joins from the blank image (images dropped), for the figures.
    const before2 = new Set((await rt.store.listNodes({ pool: 'sentries' })).map((n) => n.id));
    fleet.setImages(undefined);
    fleet.resize({ min: 1, capacity: 6, max: 6 });
    await runController(fleet, 'six ready sentries, two from the blank image', ready(6));
    const blank = (await rt.store.listNodes({ pool: 'sentries' })).filter((n) => !before2.has(n.id));
    assert.equal(blank.length, 2);
    for (const n of blank)
      assert.equal(fleet.machines.restoredFrom(n.instanceId!), undefined, `${n.id} started empty`);

    const joins = (nodes: StoredNode[]) =>
      nodes.map((n) => ((n.readyAt ?? Number.NaN) - n.joinStartedAt) / 1000);
    t.diagnostic(
      `create → ready of a sentry (s): from the baked image ${joins(fromImage)
        .map((x) => x.toFixed(1))
        .join(', ')} (median ${median(joins(fromImage)).toFixed(1)}); from the blank image ${joins(blank)
        .map((x) => x.toFixed(1))
        .join(', ')} (median ${median(joins(blank)).toFixed(1)})`,
    );
  });
});
