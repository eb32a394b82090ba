// Snapshot pruning and the restore source decided against canned listings (the end-to-end case runs on kwok in
// test/integration/kube-workload.test.ts): which of the pool's VolumeSnapshots go.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeClient } from '../../kube/kube-client.ts';
import {
  NODE_ANNOTATION,
  RELEASED_BY_ANNOTATION,
  RESTORE_SOURCE_LABEL,
  ReplicaVolumes,
} from './replica-volumes.ts';

const at = (s: number) => new Date(Date.UTC(2026, 11, 4, 9, 0, s)).toISOString();
const snapshot = (name: string, second: number, status: object, extra: object = {}, ours = true) => ({
  metadata: {
    name,
    uid: `uid-${name}`,
    ...(ours ? { annotations: { [NODE_ANNOTATION]: `node-of-${name}` } } : {}),
    ...extra,
  },
  status: { creationTime: at(second), ...status },
});
const ready = { readyToUse: true };
const poolVolumes = (client: KubeClient, keepSnapshots: number) =>
  new ReplicaVolumes({
    client,
    namespace: 'chain',
    statefulSet: 'sentry',
    pool: 'sentries',
    volumes: { claim: 'data', restore: 'volume-snapshot', timeout: 1000, keepSnapshots },
  });

test('beyond the newest keepSnapshots ready ones, ready and failed snapshots go — but not those still needed', async () => {
  const snapshots = [
    snapshot('in-progress', 9, {}),
    snapshot('newest-ready', 8, ready),
    snapshot('failed', 7, { readyToUse: false, error: { message: 'driver said no' } }),
    snapshot('awaiting-release', 6, ready),
    snapshot('restoring', 5, ready),
    snapshot('old', 4, ready),
    snapshot('deleting', 3, ready, { deletionTimestamp: at(10) }),
    snapshot('old-not-ready', 2, {}),
    snapshot('operators', 1, ready, {}, false),
  ];
  const claims = [
    // The replica of awaiting-release is gone but its claim is not yet released.
    {
      metadata: {
        name: 'data-sentry-4',
        annotations: { [RELEASED_BY_ANNOTATION]: 'node-of-awaiting-release' },
      },
    },
    // Being restored from `restoring` (dataSourceRef), not bound yet.
    {
      metadata: { name: 'data-sentry-5' },
      spec: { dataSourceRef: { kind: 'VolumeSnapshot', name: 'restoring' } },
      status: { phase: 'Pending' },
    },
    // Restored from `old` long ago: bound, so `old` is no longer needed.
    {
      metadata: { name: 'data-sentry-1' },
      spec: { dataSource: { kind: 'VolumeSnapshot', name: 'old' } },
      status: { phase: 'Bound' },
    },
  ];
  const calls: string[] = [];
  const client = {
    list: async (path: string, opts?: { labelSelector?: string }) => {
      calls.push(`list ${path} ${opts?.labelSelector ?? ''}`.trim());
      return path.includes('volumesnapshots') ? snapshots : claims;
    },
    delete: async (path: string, opts?: { preconditions?: { uid: string } }) => {
      calls.push(`delete ${path} uid=${opts?.preconditions?.uid}`);
    },
  } as unknown as KubeClient;
  const volumes = poolVolumes(client, 1);
  assert.deepEqual(await volumes.pruneSnapshots(), ['failed', 'old']);
  assert.deepEqual(
    calls.filter((c) => c.startsWith('delete')),
    [
      'delete /apis/snapshot.storage.k8s.io/v1/namespaces/chain/volumesnapshots/failed uid=uid-failed',
      'delete /apis/snapshot.storage.k8s.io/v1/namespaces/chain/volumesnapshots/old uid=uid-old',
    ],
  );
  assert.match(
    calls[0]!,
    /^list \/apis\/snapshot\.storage\.k8s\.io\/v1\/namespaces\/chain\/volumesnapshots rampart\.dev\/pool=sentries/,
  );
});

test('nothing beyond the kept ones: no claim is even listed', async () => {
  const calls: string[] = [];
  const client = {
    list: async (path: string) => {
      calls.push(path);
      return path.includes('volumesnapshots') ? [snapshot('a', 2, ready), snapshot('b', 1, ready)] : [];
    },
  } as unknown as KubeClient;
  const volumes = poolVolumes(client, 2);
  assert.deepEqual(await volumes.pruneSnapshots(), []);
  assert.equal(calls.length, 1);
});

test('a removal snapshot of a replica that was not serving is never the restore source, and never pushes one out', async () => {
  const unserved = { labels: { [RESTORE_SOURCE_LABEL]: 'false' } };
  const snapshots = [
    snapshot('failed-replica', 9, ready, unserved),
    snapshot('never-ready-replica', 8, ready, unserved),
    snapshot('served', 7, ready),
    snapshot('older-failed-replica', 6, ready, unserved),
    snapshot('older-served', 5, ready),
  ];
  const deleted: string[] = [];
  const client = {
    list: async (path: string) => (path.includes('volumesnapshots') ? snapshots : []),
    delete: async (path: string) => {
      deleted.push(path.split('/').at(-1)!);
    },
  } as unknown as KubeClient;
  const volumes = poolVolumes(client, 1);
  assert.equal((await volumes.newestSnapshot())?.metadata.name, 'served');
  assert.deepEqual(
    (await volumes.snapshots()).map((s) => s.name),
    ['served', 'older-served'],
  );
  // One of each kind kept: the newest source and the newest of the others.
  assert.deepEqual(await volumes.pruneSnapshots(), [
    'never-ready-replica',
    'older-failed-replica',
    'older-served',
  ]);
  assert.deepEqual(deleted, ['never-ready-replica', 'older-failed-replica', 'older-served']);
});
