// The pure parts of the StatefulSet provider: reading Rampart's record off the StatefulSet,
// a pod's status in plain words, the sizes and modes of a replica's volume, and the order
// its replicas can be removed in.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeClient } from '../../kube/kube-client.ts';
import type { Instance } from '../provider.ts';
import type { KubeVolumesConfig } from './config.ts';
import { quantityBytes, scaleDownMode } from './replica-volumes.ts';
import {
  podStatus,
  REPLICAS_ANNOTATION,
  readRecord,
  type StatefulSet,
  StatefulSetProvider,
} from './stateful-set-provider.ts';

const sts = (annotation?: string): StatefulSet => ({
  metadata: {
    name: 'sentry',
    namespace: 'chain',
    ...(annotation === undefined ? {} : { annotations: { [REPLICAS_ANNOTATION]: annotation } }),
  },
  spec: { replicas: 2 },
});

test('the record: absent is empty; anything but ordinals to node records is refused, never taken as empty', () => {
  assert.deepEqual(readRecord(sts()), {});
  const entry = { nodeId: 'sentries-a', actionId: 'a-1', pool: 'sentries', createdAt: 1 };
  assert.deepEqual(readRecord(sts(JSON.stringify({ 1: entry }))), { 1: entry });
  for (const bad of ['not json', '["sentry-1"]', '{"one": {}}', '{"1": {"nodeId": 3}}', 'null'])
    assert.throws(
      () => readRecord(sts(bad)),
      /chain\/sentry: annotation rampart\.dev\/replicas .* will not guess/,
    );
});

test('a pod’s status: only a Failed pod is unhealthy; Pending says why', () => {
  assert.deepEqual(podStatus(undefined), { ready: false, healthy: true, detail: 'pod not created yet' });
  const pod = (status: object, extra: object = {}) => ({ metadata: { name: 'sentry-1', ...extra }, status });
  assert.deepEqual(
    podStatus(
      pod({
        phase: 'Pending',
        conditions: [
          { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes' },
        ],
      }),
    ),
    { ready: false, healthy: true, detail: 'pod Pending: Unschedulable 0/3 nodes' },
  );
  assert.equal(
    podStatus(
      pod({ phase: 'Pending', containerStatuses: [{ state: { waiting: { reason: 'ImagePullBackOff' } } }] }),
    ).detail,
    'pod Pending: ImagePullBackOff',
  );
  assert.deepEqual(podStatus(pod({ phase: 'Failed', reason: 'Evicted' })), {
    ready: false,
    healthy: false,
    detail: 'pod Failed: Evicted',
  });
  assert.deepEqual(podStatus(pod({ phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] })), {
    ready: true,
    healthy: true,
    detail: 'pod Ready',
  });
  assert.equal(
    podStatus(
      pod({
        phase: 'Running',
        conditions: [{ type: 'Ready', status: 'False', reason: 'ContainersNotReady' }],
      }),
    ).detail,
    'pod Ready=False (ContainersNotReady)',
  );
  assert.equal(podStatus(pod({ phase: 'Running' }, { deletionTimestamp: 'x' })).detail, 'pod terminating');
});

test('quantities in bytes, for a restored claim at least as large as its snapshot', () => {
  assert.equal(quantityBytes('1Gi'), 2 ** 30);
  assert.equal(quantityBytes('500M'), 5e8);
  assert.equal(quantityBytes('1.5Ki'), 1536);
  assert.equal(quantityBytes('1e9'), 1e9);
  assert.equal(quantityBytes('1024'), 1024);
  assert.equal(quantityBytes('10Gb'), undefined);
  assert.equal(quantityBytes(undefined), undefined);
});

test('scale-down keeps data unless told: snapshot with CSI restores, else retain; delete only when written', () => {
  const v = (x: Partial<KubeVolumesConfig>) =>
    ({ claim: 'data', restore: 'none', timeout: 1, ...x }) as KubeVolumesConfig;
  assert.equal(scaleDownMode(v({ restore: 'volume-snapshot' })), 'snapshot');
  assert.equal(scaleDownMode(v({ restore: 'job' })), 'retain');
  assert.equal(scaleDownMode(v({ restore: 'none' })), 'retain');
  assert.equal(scaleDownMode(v({ restore: 'volume-snapshot', onScaleDown: 'delete' })), 'delete');
});

test('removal order: highest ordinal first (10 above 9), another StatefulSet’s instances last', () => {
  const provider = new StatefulSetProvider({
    name: 'cluster',
    client: {} as KubeClient,
    namespace: 'chain',
    statefulSet: 'web',
  });
  const instance = (id: string): Instance => ({
    id,
    nodeId: `node-${id}`,
    pool: 'sentries',
    actionId: 'a',
    host: 'h',
    ports: {},
    running: true,
    createdAt: 0,
  });
  const listed = ['chain/web-2', 'chain/other-7', 'chain/web-10', 'chain/web-1', 'chain/web-9'].map(instance);
  assert.deepEqual(
    provider.removalOrder(listed).map((i) => i.id),
    ['chain/web-10', 'chain/web-9', 'chain/web-2', 'chain/web-1', 'chain/other-7'],
  );
  assert.deepEqual(
    listed.map((i) => i.id),
    ['chain/web-2', 'chain/other-7', 'chain/web-10', 'chain/web-1', 'chain/web-9'],
    'the given list is left as it was',
  );
});
