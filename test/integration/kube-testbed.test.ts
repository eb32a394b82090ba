// The Kubernetes test bed itself, against the real control plane it starts (etcd, the
// kube-apiserver with RBAC, the controller-manager, the scheduler and kwok): the pinned
// version answers, RBAC is enforced for a ServiceAccount, a kwok Node becomes Ready, and a
// StatefulSet's pods are scheduled onto it and run, also after scaling it up.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  KUBERNETES_VERSION,
  type KubeControlPlane,
  KWOK_FAST_POD_ANNOTATIONS,
  kubeForFile,
} from '../support/kube.ts';
import { pollUntil } from '../support/servers.ts';

// One control plane for the whole file; each test works in its own namespace and on its own node.
const bed = kubeForFile();
const { skip } = bed;

async function createNamespace(k: KubeControlPlane, name: string): Promise<void> {
  await k.ok('POST', '/api/v1/namespaces', {
    body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name } },
  });
}

test('the API server answers with the pinned version', { skip }, async () => {
  const k = bed.kube();
  assert.match(k.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const version = await k.ok<{ gitVersion: string; major: string; minor: string }>('GET', '/version');
  assert.equal(version.gitVersion, KUBERNETES_VERSION);
  const [, major, minor] = /^v(\d+)\.(\d+)\./.exec(KUBERNETES_VERSION) ?? [];
  assert.equal(version.major, major);
  assert.equal(version.minor, minor);
  // A wrong token is not authenticated at all.
  const anonymous = await k.request('GET', '/api/v1/namespaces', { token: 'not-a-token' });
  assert.equal(anonymous.status, 401, anonymous.text);
});

test('RBAC: a ServiceAccount may list pods only once a RoleBinding allows it', { skip }, async () => {
  const k = bed.kube();
  await createNamespace(k, 'rbac-smoke');
  await createNamespace(k, 'rbac-elsewhere');
  await k.ok('POST', '/api/v1/namespaces/rbac-smoke/serviceaccounts', {
    body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'probe' } },
  });
  const token = await k.serviceAccountToken('rbac-smoke', 'probe');

  const before = await k.request('GET', '/api/v1/namespaces/rbac-smoke/pods', { token });
  assert.equal(before.status, 403, before.text);
  assert.match(before.text, /system:serviceaccount:rbac-smoke:probe/);

  await k.ok('POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/rbac-smoke/roles', {
    body: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'pod-reader' },
      rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] }],
    },
  });
  await k.ok('POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/rbac-smoke/rolebindings', {
    body: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'probe-reads-pods' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-reader' },
      subjects: [{ kind: 'ServiceAccount', name: 'probe', namespace: 'rbac-smoke' }],
    },
  });
  // The authorizer reads roles from its informer cache: allow it a moment to see the binding.
  const allowed = await pollUntil(
    () => k.request<{ kind: string }>('GET', '/api/v1/namespaces/rbac-smoke/pods', { token }),
    (r) => r.status === 200,
    15_000,
    100,
  );
  assert.equal(allowed.status, 200, allowed.text);
  assert.equal(allowed.body.kind, 'PodList');
  // The binding is namespaced: elsewhere, and for what the role does not name, still refused.
  const elsewhere = await k.request('GET', '/api/v1/namespaces/rbac-elsewhere/pods', { token });
  assert.equal(elsewhere.status, 403, elsewhere.text);
  const secrets = await k.request('GET', '/api/v1/namespaces/rbac-smoke/secrets', { token });
  assert.equal(secrets.status, 403, secrets.text);
});

test('a kwok Node becomes Ready', { skip }, async () => {
  const k = bed.kube();
  await k.createNode('kwok-ready', { cpu: '4', memory: '8Gi' });
  await k.waitNodeReady('kwok-ready');
  const node = await k.ok<{
    status: { conditions: { type: string; status: string }[]; allocatable: Record<string, string> };
  }>('GET', '/api/v1/nodes/kwok-ready');
  assert.equal(node.status.conditions.find((c) => c.type === 'Ready')?.status, 'True');
  assert.equal(node.status.allocatable.cpu, '4');
  // kwok keeps the node's Lease, as a kubelet would: the node lifecycle controller reads it.
  const lease = await pollUntil(
    () =>
      k.request<{
        metadata: { ownerReferences?: { kind: string; name: string }[] };
        spec?: { renewTime?: string };
      }>('GET', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/kwok-ready'),
    (r) => r.status === 200 && r.body.spec?.renewTime !== undefined,
    15_000,
    200,
  );
  assert.equal(lease.status, 200, lease.text);
  assert.deepEqual(
    lease.body.metadata.ownerReferences?.map((o) => [o.kind, o.name]),
    [['Node', 'kwok-ready']],
  );
  assert.ok(lease.body.spec?.renewTime, lease.text);
});

interface PodList {
  items: {
    metadata: { name: string };
    spec: { nodeName?: string };
    status: { phase?: string; conditions?: { type: string; status: string }[] };
  }[];
}

const running = (list: PodList, count: number, node: string): boolean =>
  list.items.length === count &&
  list.items.every(
    (p) =>
      p.spec.nodeName === node &&
      p.status.phase === 'Running' &&
      p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true,
  );

const describe = (list: PodList): string =>
  JSON.stringify(list.items.map((p) => [p.metadata.name, p.spec.nodeName, p.status.phase]));

test('a StatefulSet of 2 runs 2 pods on the kwok node; scaled to 3 it runs a third', { skip }, async () => {
  const k = bed.kube();
  const ns = 'sts-smoke';
  const node = 'kwok-sts';
  await createNamespace(k, ns);
  await k.createNode(node);
  await k.waitNodeReady(node);
  await k.ok('POST', `/apis/apps/v1/namespaces/${ns}/statefulsets`, {
    body: {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'sentry' },
      spec: {
        replicas: 2,
        serviceName: 'sentry',
        selector: { matchLabels: { app: 'sentry' } },
        template: {
          metadata: { labels: { app: 'sentry' }, annotations: { ...KWOK_FAST_POD_ANNOTATIONS } },
          spec: {
            nodeSelector: { 'kubernetes.io/hostname': node },
            containers: [{ name: 'node', image: 'registry.invalid/cometbft:never-pulled' }],
          },
        },
      },
    },
  });
  const pods = () => k.ok<PodList>('GET', `/api/v1/namespaces/${ns}/pods?labelSelector=app%3Dsentry`);

  const two = await pollUntil(pods, (l) => running(l, 2, node), 60_000, 250);
  assert.ok(
    running(two, 2, node),
    `want 2 Running pods on ${node}, have ${describe(two)}\nscheduler:\n${k.logTail('kube-scheduler', 10)}\ncontroller-manager:\n${k.logTail('kube-controller-manager', 10)}`,
  );
  assert.deepEqual(two.items.map((p) => p.metadata.name).sort(), ['sentry-0', 'sentry-1']);

  // Scale through the scale subresource, as an autoscaler does.
  const scale = await k.ok<{ spec: { replicas: number } }>(
    'PATCH',
    `/apis/apps/v1/namespaces/${ns}/statefulsets/sentry/scale`,
    {
      body: { spec: { replicas: 3 } },
      contentType: 'application/merge-patch+json',
    },
  );
  assert.equal(scale.spec.replicas, 3);
  const three = await pollUntil(pods, (l) => running(l, 3, node), 60_000, 250);
  assert.ok(running(three, 3, node), `want 3 Running pods on ${node}, have ${describe(three)}`);
  assert.deepEqual(three.items.map((p) => p.metadata.name).sort(), ['sentry-0', 'sentry-1', 'sentry-2']);

  const sts = await pollUntil(
    () =>
      k.ok<{ status: { readyReplicas?: number } }>(
        'GET',
        `/apis/apps/v1/namespaces/${ns}/statefulsets/sentry`,
      ),
    (s) => s.status.readyReplicas === 3,
    30_000,
    250,
  );
  assert.equal(sts.status.readyReplicas, 3);
});
