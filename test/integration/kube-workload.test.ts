// The StatefulSet provider against the real API server with kwok: Rampart's replicas are
// recorded on the StatefulSet, the operator's are never touched, only the highest ordinal
// goes, a removed replica's volume is snapshotted (and the snapshot ready) before it goes,
// a new replica restores the newest snapshot, and a restore Job fills a hostPath volume
// before its replica is added. Storage and snapshots are the test bed's named fakes.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { KubeVolumesConfig } from '../../src/config/schema.ts';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { kubePodKind } from '../../src/nodes/kube/kube-kinds.ts';
import type { NodeKind } from '../../src/nodes/node-kind.ts';
import {
  REPLICAS_ANNOTATION,
  StatefulSetProvider,
} from '../../src/providers/kubernetes/stateful-set-provider.ts';
import type { CreateRequest } from '../../src/providers/provider.ts';
import { providerContract } from '../contracts/provider.contract.ts';
import { fakeSnapshotController } from '../support/fake-snapshot-controller.ts';
import { fakeVolumeProvisioner } from '../support/fake-volume-provisioner.ts';
import { waitFor } from '../support/fleet.ts';
import {
  createNamespace,
  installCrds,
  type KubeControlPlane,
  KWOK_FAST_POD_ANNOTATIONS,
  startKube,
} from '../support/kube.ts';
import { findBinary } from '../support/servers.ts';

let kube: KubeControlPlane | undefined;
const cleanups: (() => unknown)[] = [];
const hooks = { after: (fn: () => unknown) => void cleanups.push(fn), skip: () => undefined };
after(async () => {
  for (const fn of cleanups.reverse()) await fn();
});
const installed = findBinary('kube-apiserver') !== undefined || process.env.RAMPART_ALLOW_SKIP !== '1';
const skip = installed ? false : 'the Kubernetes test bed is not built (RAMPART_ALLOW_SKIP=1)';
let client: KubeClient;
before(async () => {
  if (!installed) return;
  kube = await startKube(hooks);
  await installCrds(kube!, ['volumesnapshots', 'volumesnapshotcontents', 'volumesnapshotclasses']);
  await kube!.createNode('kwok-a');
  const dir = mkdtempSync(join(tmpdir(), 'rampart-kube-workload-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'token'), kube!.adminToken);
  client = new KubeClient({ server: kube!.url, caFile: kube!.caFile, tokenFile: join(dir, 'token') });
  cleanups.push(() => client.close());
});

async function statefulSet(k: KubeControlPlane, ns: string, name: string): Promise<void> {
  await createNamespace(k, ns);
  await k.ok('POST', `/apis/apps/v1/namespaces/${ns}/statefulsets`, {
    body: {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name },
      spec: {
        replicas: 1,
        serviceName: name,
        podManagementPolicy: 'Parallel',
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name }, annotations: KWOK_FAST_POD_ANNOTATIONS },
          spec: { containers: [{ name: 'node', image: 'sentry' }] },
        },
        volumeClaimTemplates: [
          {
            metadata: { name: 'data' },
            spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
          },
        ],
      },
    },
  });
}

const request = (nodeId: string, snapshot?: CreateRequest['launch']['snapshot']): CreateRequest => ({
  nodeId,
  pool: 'sentries',
  actionId: `act-${nodeId}`,
  term: 1,
  kind: {} as NodeKind,
  launch: { role: 'sentry', upstream: [], options: { kind: 'kube-pod' }, snapshot },
});

const volumes = (v: Partial<KubeVolumesConfig>): KubeVolumesConfig => ({
  claim: 'data',
  restore: 'volume-snapshot',
  timeout: 20_000,
  ...v,
});

interface Sts {
  metadata: { annotations?: Record<string, string> };
  spec: { replicas: number };
}

test('scale a StatefulSet: record, readiness, highest ordinal only, snapshot before removal, restore after', {
  skip,
}, async () => {
  const k = kube!;
  const ns = 'snapshots';
  await statefulSet(k, ns, 'sentry');
  const provisioner = fakeVolumeProvisioner(k, ns);
  const snapshots = fakeSnapshotController(k, ns);
  cleanups.push(
    () => provisioner.stop(),
    () => snapshots.stop(),
  );
  const provider = (v: Partial<KubeVolumesConfig> = {}) =>
    new StatefulSetProvider({
      name: 'cluster',
      client,
      namespace: ns,
      statefulSet: 'sentry',
      volumes: volumes(v),
      pool: 'sentries',
    });
  const p = provider();
  const sts = () => k.ok<Sts>('GET', `/apis/apps/v1/namespaces/${ns}/statefulsets/sentry`);
  const claim = (n: number) =>
    k.request<{ spec: { dataSource?: { name: string } } }>(
      'GET',
      `/api/v1/namespaces/${ns}/persistentvolumeclaims/data-sentry-${n}`,
    );

  assert.deepEqual(await p.list(), [], 'the operator’s replica is not Rampart’s');
  const a = await p.create(request('sentries-a'));
  const b = await p.create(request('sentries-b'));
  assert.equal(a.id, `${ns}/sentry-1`);
  assert.equal(b.id, `${ns}/sentry-2`);
  assert.equal((await sts()).spec.replicas, 3);
  const record = JSON.parse((await sts()).metadata.annotations![REPLICAS_ANNOTATION]!);
  assert.deepEqual(Object.keys(record).sort(), ['1', '2']);
  assert.equal(record['2'].nodeId, 'sentries-b');
  // kwok makes the pods Ready once the fake provisioner has bound their claims.
  const listed = (await waitFor('both replicas ready', async () => {
    const l = await p.list();
    return l.length === 2 && l.every((i) => i.status?.ready) ? l : undefined;
  }))!;
  assert.deepEqual(
    listed.map((i) => [i.nodeId, i.names]),
    [
      ['sentries-a', ['sentry-1', `${ns}/sentry-1`]],
      ['sentries-b', ['sentry-2', `${ns}/sentry-2`]],
    ],
  );

  // Only the highest ordinal may go.
  await assert.rejects(
    p.destroy(listed[0]!),
    /removes only its highest ordinal \(sentry-2\); refusing to remove sentry-1/,
  );
  assert.equal((await sts()).spec.replicas, 3);

  // A snapshot that never becomes ready: the scale-down is given up, nothing removed.
  snapshots.pause(true);
  await assert.rejects(
    provider({ timeout: 1500 }).destroy(listed[1]!),
    /VolumeSnapshot .* not done within 2 s.*nothing was removed/,
  );
  assert.equal((await sts()).spec.replicas, 3);
  assert.equal((await claim(2)).status, 200, 'the volume is kept');
  snapshots.pause(false);

  // Removal: the snapshot is ready before the replica goes; the claim is deleted after.
  await p.destroy(listed[1]!);
  assert.equal((await sts()).spec.replicas, 2);
  const snapshot = `data-sentry-2-sentries-b`;
  assert.ok(snapshots.readied.includes(snapshot), snapshots.readied.join(','));
  assert.equal((await claim(2)).status, 404, 'the claim went once its snapshot was ready');
  await p.destroy(listed[1]!); // a retried removal is done, not an error

  // A new replica of that ordinal restores the newest ready snapshot.
  await p.create(request('sentries-c'));
  const restored = await claim(2);
  assert.equal(restored.status, 200);
  assert.equal(restored.body.spec.dataSource?.name, snapshot);

  // retain keeps the claim of a removed replica; the next replica of that ordinal reuses it.
  const r = provider({ restore: 'none', onScaleDown: 'retain' });
  const c = (await r.list()).find((i) => i.nodeId === 'sentries-c')!;
  await r.destroy(c);
  assert.equal((await claim(2)).status, 200);
});

test('restore Job: a hostPath volume is filled before its replica is added', { skip }, async () => {
  const k = kube!;
  const ns = 'restorejob';
  await statefulSet(k, ns, 'mpc');
  const provisioner = fakeVolumeProvisioner(k, ns);
  cleanups.push(() => provisioner.stop());
  const p = new StatefulSetProvider({
    name: 'cluster',
    client,
    namespace: ns,
    statefulSet: 'mpc',
    pool: 'mpc',
    volumes: volumes({
      restore: 'job',
      timeout: 60_000,
      job: { image: 'rampart-restore:1', command: ['restore', '/data'] },
    }),
  });
  // Watch the StatefulSet while the Job runs: replicas must not change before it completed.
  const events: string[] = [];
  let watching = true;
  const watch = (async () => {
    while (watching) {
      const s = await k.ok<Sts>('GET', `/apis/apps/v1/namespaces/${ns}/statefulsets/mpc`);
      const j = await k.request<{
        status?: { conditions?: { type: string; status: string }[] };
        spec: { template: { spec: { containers: { env: { name: string; value: string }[] }[] } } };
      }>('GET', `/apis/batch/v1/namespaces/${ns}/jobs/mpc-1-restore`);
      if (j.status === 200) {
        const env = j.body.spec.template.spec.containers[0]!.env;
        events.push(`job:${env.find((e) => e.name === 'RAMPART_SNAPSHOT_URL')?.value}`);
        if (j.body.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True'))
          events.push('complete');
      }
      events.push(`replicas:${s.spec.replicas}`);
      await new Promise((res) => setTimeout(res, 100));
    }
  })();
  const url = 's3://snapshots/chain/sentries/snap-1/';
  await p.create(request('mpc-a', { id: 'snap-1', height: 1200, url, restoreInto: async () => undefined }));
  watching = false;
  await watch;
  const firstJob = events.indexOf(`job:${url}`);
  const firstScaled = events.indexOf('replicas:2');
  assert.ok(firstJob >= 0, `the Job ran with RAMPART_SNAPSHOT_URL: ${events.slice(-5).join(' ')}`);
  assert.ok(
    firstScaled === -1 ||
      firstScaled > events.indexOf('complete') ||
      (events.indexOf('complete') === -1 && firstScaled === -1),
    `replicas went up only after the Job completed: ${[...new Set(events)].join(' ')}`,
  );
  assert.equal((await k.ok<Sts>('GET', `/apis/apps/v1/namespaces/${ns}/statefulsets/mpc`)).spec.replicas, 2);
  const pvc = await k.ok<{ metadata: { labels: Record<string, string> } }>(
    'GET',
    `/api/v1/namespaces/${ns}/persistentvolumeclaims/data-mpc-1`,
  );
  assert.equal(pvc.metadata.labels['rampart.dev/restore'], 'done');
  const job = await k.request('GET', `/apis/batch/v1/namespaces/${ns}/jobs/mpc-1-restore`);
  assert.ok(
    job.status === 404 ||
      (job.body as { metadata: { deletionTimestamp?: string } }).metadata.deletionTimestamp,
    'the Job is deleted once done',
  );
});

// The provider contract every provider passes, on a fresh StatefulSet per case.
let contractCases = 0;
providerContract('kubernetes (StatefulSet on kwok)', async () => {
  if (!installed) return undefined;
  const ns = `contract-${++contractCases}`;
  await statefulSet(kube!, ns, 'sentry');
  await kube!.ok('PATCH', `/apis/apps/v1/namespaces/${ns}/statefulsets/sentry`, {
    contentType: 'application/merge-patch+json',
    body: { spec: { replicas: 0 } },
  });
  return {
    provider: () =>
      new StatefulSetProvider({
        name: 'cluster',
        client,
        namespace: ns,
        statefulSet: 'sentry',
        pool: 'sentries',
      }),
    kind: kubePodKind,
    cleanup: async () => {
      await kube!.request('DELETE', `/api/v1/namespaces/${ns}`);
    },
  };
});
