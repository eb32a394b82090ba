// The gce provider against fake-gce through the official @google-cloud/compute client: the
// provider contract, identity in stateful metadata, exact scale-in, instances the group made
// by itself, the autoscaler check, regional groups, addresses, injected faults (429
// rateLimitExceeded, 5xx, errors inside operations, quota, answers lost after the call took
// effect): retried or reported, nothing left behind, no instance twice. Image rotation: two
// bakes make two images, the template's family boots the newest, keep 1 leaves one. No log line
// or error holds the access token, and the provider calls nothing fake-gce does not model.

import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, test } from 'node:test';
import pino from 'pino';
import { simnodeKind } from '../../src/nodes/simnode/simnode-kind.ts';
import { GceProvider, type GceProviderOptions, METADATA } from '../../src/providers/gce/gce-provider.ts';
import type { CreateRequest } from '../../src/providers/provider.ts';
import { shortId } from '../../src/runtime/action-journal.ts';
import { providerContract } from '../contracts/provider.contract.ts';
import { FAMILY, fakeGceForFile, freshGroup, REGION, ZONE } from '../support/gce-bed.ts';

const bed = fakeGceForFile();

/** Every log line and error message of this file: none may hold the access token. */
const transcript: string[] = [];
function capturingLog(): { log: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      transcript.push(String(chunk));
      done();
    },
  });
  return { log: pino({ level: 'debug' }, sink), lines };
}
async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    let m = e as Error | undefined;
    while (m) {
      transcript.push(m.message);
      m = m.cause as Error | undefined;
    }
    return e as Error;
  }
  throw new Error('expected a rejection');
}

const FAST = {
  attempts: 5,
  baseDelayMs: 20,
  maxDelayMs: 200,
  callTimeoutMs: 5000,
  operationTimeoutMs: 20_000,
  bootTimeoutMs: 20_000,
};

function makeProvider(group: string, over: Partial<GceProviderOptions> = {}): GceProvider {
  const fake = bed.fake();
  return new GceProvider({
    name: 'cloud',
    project: fake.project,
    zone: ZONE,
    group,
    endpoint: fake.url,
    ports: { rpc: 26657, metrics: 26660 },
    retry: FAST,
    pool: 'sentries',
    ...over,
  });
}

function request(over: Partial<CreateRequest> = {}): CreateRequest {
  return {
    nodeId: `sentries-${shortId()}`,
    pool: 'sentries',
    actionId: `a-${shortId()}`,
    term: 3,
    kind: simnodeKind,
    launch: { role: 'sentry', upstream: [], options: {} },
    ...over,
  };
}

/** The group's members as fake-gce holds them (not through the provider). */
function members(group: string, scope = `zones/${ZONE}`): string[] {
  return [...(bed.fake().groups.get(`${scope}/${group}`)?.members.keys() ?? [])].sort();
}

providerContract('gce (fake-gce)', async () => {
  const group = freshGroup(bed.fake());
  return { provider: () => makeProvider(group), kind: simnodeKind, cleanup: async () => undefined };
});

describe('gce provider on fake-gce', () => {
  after(() => {
    const fake = bed.fake();
    assert.deepEqual(fake.unmodelled, [], 'the provider called only what fake-gce models');
    assert.deepEqual(fake.unauthorized, [], 'every call carried the token ADC got from the metadata server');
    for (const line of transcript) assert.ok(!line.includes(fake.token), `the access token leaked: ${line}`);
  });

  test('an instance is created in the group with its identity as stateful metadata, its internal IP as address', async () => {
    const group = freshGroup(bed.fake());
    const req = request();
    const made = await makeProvider(group).create(req);
    const vm = bed.fake().instances.get(`${ZONE}/${made.id}`)!;
    assert.equal(made.id, req.nodeId, 'the instance is named after its node');
    assert.equal(made.host, vm.networkIP);
    assert.equal(vm.metadata[METADATA.node], req.nodeId);
    assert.equal(vm.metadata[METADATA.pool], 'sentries');
    assert.equal(vm.metadata[METADATA.action], req.actionId);
    assert.equal(vm.metadata[METADATA.term], '3');
    assert.deepEqual(members(group), [made.id]);
    const external = await makeProvider(group, { address: 'external' }).list();
    assert.equal(external[0]!.host, vm.natIP, 'address: external reads the access config');
  });

  test('scale-in deletes exactly the chosen instance; the group replaces nothing', async () => {
    const group = freshGroup(bed.fake());
    const p = makeProvider(group);
    const made = [];
    for (let i = 0; i < 3; i++) made.push(await p.create(request()));
    await p.destroy(made[1]!);
    assert.deepEqual(members(group), [made[0]!.id, made[2]!.id].sort());
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(members(group), [made[0]!.id, made[2]!.id].sort(), 'still two: nothing recreated it');
  });

  test('a VM lost behind the group (a host failure) is recreated by the group with the same identity', async () => {
    const group = freshGroup(bed.fake());
    const p = makeProvider(group);
    const made = await p.create(request());
    bed.fake().loseInstance(made.id);
    const during = (await p.list()).find((i) => i.id === made.id);
    assert.ok(!during?.running, 'not running while the group repairs it');
    let back: Awaited<ReturnType<GceProvider['list']>>[number] | undefined;
    for (let i = 0; i < 50 && !back?.running; i++) {
      await new Promise((r) => setTimeout(r, 100));
      back = (await p.list()).find((x) => x.id === made.id);
    }
    assert.equal(back?.running, true);
    assert.equal(back?.actionId, made.actionId, 'the per-instance config kept the identity');
  });

  test('instances the group made by itself are listed as unmanaged, so the orphan cleanup removes them', async () => {
    const fake = bed.fake();
    const group = freshGroup(fake);
    const p = makeProvider(group);
    const mine = await p.create(request());
    const igm = fake.groups.get(`zones/${ZONE}/${group}`)!;
    // What someone's `gcloud compute instance-groups managed resize --size 2` does.
    const res = await fetch(
      `${fake.url}/compute/v1/projects/${fake.project}/zones/${ZONE}/instanceGroupManagers/${group}/resize?size=2`,
      { method: 'POST', headers: { authorization: `Bearer ${fake.token}` } },
    );
    assert.equal(res.status, 200);
    let listed = await p.list();
    for (let i = 0; i < 30 && listed.length < 2; i++) {
      await new Promise((r) => setTimeout(r, 50));
      listed = await p.list();
    }
    const foreign = listed.find((i) => i.id !== mine.id)!;
    assert.match(foreign.nodeId, /^unmanaged-/);
    assert.equal(foreign.pool, 'sentries');
    assert.equal(foreign.actionId, '');
    await p.destroy(foreign);
    assert.deepEqual([...igm.members.keys()], [mine.id]);
  });

  test('an autoscaler that is on refuses the scale-up with a clear error; one that is off is fine', async () => {
    const fake = bed.fake();
    const on = freshGroup(fake, { autoscalerMode: 'ON' });
    const e = await rejection(makeProvider(on).create(request()));
    assert.match(e.message, /autoscaler .* in mode ON: Rampart scales this group itself/);
    assert.deepEqual(members(on), [], 'nothing was created');
    const off = freshGroup(fake, { autoscalerMode: 'OFF' });
    await makeProvider(off).create(request());
    assert.equal(members(off).length, 1);
  });

  test('a regional group spreads its instances over the region’s zones', async () => {
    const fake = bed.fake();
    const group = freshGroup(fake, { region: true });
    const p = makeProvider(group, { zone: undefined, region: REGION });
    const made = [];
    for (let i = 0; i < 3; i++) made.push(await p.create(request()));
    const zones = new Set(made.map((m) => [...fake.instances.values()].find((v) => v.name === m.id)!.zone));
    assert.equal(zones.size, 3, 'one instance per zone');
    await p.destroy(made[0]!);
    assert.deepEqual(members(group, `regions/${REGION}`), [made[1]!.id, made[2]!.id].sort());
    assert.equal((await makeProvider(group, { zone: undefined, region: REGION }).list()).length, 2);
  });

  describe('faults', () => {
    test('429 rateLimitExceeded and 503 are retried, logged, and make one instance', async () => {
      const fake = bed.fake();
      const group = freshGroup(fake);
      const { log, lines } = capturingLog();
      fake.inject({ method: 'InstanceGroupManagers.CreateInstances', kind: 'rate-limit', times: 2 });
      fake.inject({ method: 'InstanceGroupManagers.ListManagedInstances', kind: 'unavailable' });
      fake.inject({ method: 'ZoneOperations.Wait', kind: 'internal' });
      const made = await makeProvider(group, { log }).create(request());
      assert.deepEqual(members(group), [made.id]);
      assert.ok(
        lines.some((l) => /createInstances .*rateLimitExceeded \(HTTP 429\), try \d of 5/.test(l)),
        lines.join('\n'),
      );
      assert.ok(lines.some((l) => /HTTP 503/.test(l)));
    });

    test('an answer lost after the call took effect makes no second instance', async () => {
      const fake = bed.fake();
      const group = freshGroup(fake);
      fake.inject({ method: 'InstanceGroupManagers.CreateInstances', kind: 'lost-answer' });
      const req = request();
      const made = await makeProvider(group).create(req);
      assert.deepEqual(members(group), [made.id], 'one instance for the action');
      fake.inject({ method: 'InstanceGroupManagers.DeleteInstances', kind: 'lost-answer' });
      await makeProvider(group).destroy(made);
      assert.deepEqual(members(group), []);
    });

    test('an error inside an operation is retried when GCE says it may pass', async () => {
      const fake = bed.fake();
      const group = freshGroup(fake);
      const { log, lines } = capturingLog();
      fake.inject({ method: 'InstanceGroupManagers.CreateInstances', kind: 'operation-error' });
      const made = await makeProvider(group, { log }).create(request());
      assert.deepEqual(members(group), [made.id]);
      assert.ok(
        lines.some((l) => /createInstances .*INTERNALERROR \(HTTP 500\), try 1 of 5/.test(l)),
        lines.join('\n'),
      );
    });

    test('a quota error is reported with the group and the instance, and nothing is left behind', async () => {
      const fake = bed.fake();
      const group = freshGroup(fake);
      fake.inject({ method: 'InstanceGroupManagers.CreateInstances', kind: 'quota' });
      const req = request();
      const e = await rejection(makeProvider(group).create(req));
      assert.match(
        e.message,
        new RegExp(`group ${group} \\(node ${req.nodeId}.*QUOTA_EXCEEDED: Quota 'CPUS' exceeded`),
      );
      assert.match(e.message, /deleted .* from the group again, so nothing is left behind/);
      assert.deepEqual(members(group), []);
      assert.equal([...fake.instances.values()].filter((i) => i.name === req.nodeId).length, 0);
    });

    test('rate limits that outlast the retries are reported with the call, the tries and the time', async () => {
      const fake = bed.fake();
      const group = freshGroup(fake);
      fake.inject({ method: 'InstanceGroupManagers.CreateInstances', kind: 'rate-limit', times: 5 });
      const e = await rejection(makeProvider(group).create(request()));
      assert.match(
        e.message,
        /createInstances on managed instance group .*: rateLimitExceeded \(HTTP 429\).*gave up after 5 tries/,
      );
      assert.deepEqual(members(group), []);
    });
  });

  describe('images baked from a node', () => {
    test('two rotations make two images; the family boots the newest; keep 1 leaves one', async () => {
      const fake = bed.fake();
      fake.seedImage('sentry-base', FAMILY);
      const group = freshGroup(fake, { family: FAMILY });
      const p = makeProvider(group, { images: { family: FAMILY, retire: 'delete' } });
      const source = await p.create(request());
      const disk = fake.diskDir(source.id);
      writeFileSync(path.join(disk, 'chain.json'), '{"height":100}');
      await p.stop(source);
      const first = await p.bakeImage(source, 'r1', 3);
      await p.start(source);
      writeFileSync(path.join(disk, 'chain.json'), '{"height":200}');
      await p.stop(source);
      const second = await p.bakeImage(source, 'r2', 3);
      await p.start(source);
      const baked = (await p.listImages()).map((i) => i.name);
      assert.deepEqual(baked, [second.image, first.image], 'two images, newest first');
      // A new instance boots the family: the newest image, the disk as it was at the second bake.
      const fresh = await p.create(request());
      const vm = [...fake.instances.values()].find((v) => v.name === fresh.id)!;
      assert.match(vm.sourceImage ?? '', new RegExp(`/global/images/${second.image}$`));
      assert.match(
        String(
          await import('node:fs').then((fs) =>
            fs.readFileSync(path.join(fake.diskDir(fresh.id), 'chain.json')),
          ),
        ),
        /200/,
      );
      const third = await p.retireImages(1);
      assert.deepEqual(third, [first.image]);
      assert.deepEqual(
        (await p.listImages()).map((i) => i.name),
        [second.image],
        'keep 1 leaves one',
      );
      assert.ok(!fake.snapshots.has(first.image), "the retired image's snapshot went with it");
      assert.ok(fake.images.has('sentry-base'), 'an image Rampart did not bake is never touched');
      assert.ok(existsSync(fake.diskDir(source.id)));
    });

    test('deprecate keeps the old images but no new instance boots them', async () => {
      const fake = bed.fake();
      const family = `dep-${shortId()}`.toLowerCase();
      fake.seedImage(`${family}-base`, family);
      const group = freshGroup(fake, { family });
      const p = makeProvider(group, { images: { family, retire: 'deprecate' } });
      const source = await p.create(request());
      await p.stop(source);
      const a = await p.bakeImage(source, 'r1', 1);
      const b = await p.bakeImage(source, 'r2', 1);
      await p.start(source);
      assert.equal(fake.images.get(a.image)?.deprecated?.state, 'DEPRECATED');
      assert.equal(fake.images.get(b.image)?.deprecated, undefined);
      assert.deepEqual(b.retired, [a.image]);
    });

    test('a bake is refused when the template does not boot the family', async () => {
      const fake = bed.fake();
      const group = freshGroup(fake);
      const p = makeProvider(group, { images: { family: FAMILY, retire: 'delete' } });
      const source = await p.create(request());
      const e = await rejection(p.bakeImage(source, 'r1', 1));
      assert.match(
        e.message,
        /boots no image, not image family sentry: new instances would not take the baked images/,
      );
    });

    test('a bake retried after a lost answer makes one snapshot and one image', async () => {
      const fake = bed.fake();
      const family = `lost-${shortId()}`.toLowerCase();
      fake.seedImage(`${family}-base`, family);
      const group = freshGroup(fake, { family });
      const p = makeProvider(group, { images: { family, retire: 'delete' } });
      const source = await p.create(request());
      await p.stop(source);
      fake.inject({ method: 'Disks.CreateSnapshot', kind: 'lost-answer' });
      fake.inject({ method: 'Images.Insert', kind: 'rate-limit' });
      const made = await p.bakeImage(source, 'r1', 2);
      assert.deepEqual(
        (await p.listImages()).map((i) => i.name),
        [made.image],
      );
      assert.equal([...fake.snapshots.values()].filter((s) => s.name.startsWith(family)).length, 1);
    });
  });
});
