// The `kubernetes` metric source through the real API server's aggregation layer (the API itself
// served by the test bed's fake metrics-server: nothing real can serve it here): pod and Node
// usage reach the right nodes with the item's time, RBAC on metrics.k8s.io is enforced (a
// namespaced grant is enough for pods), and a failing or unavailable metrics API is an error of
// the source, not a crash.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { KubernetesMetricsSource } from '../../src/metrics/kubernetes.ts';
import type { MetricTarget } from '../../src/metrics/metric-source.ts';
import {
  aggregatorFlags,
  type FakeMetricsServer,
  startFakeMetricsServer,
} from '../support/fake-metrics-server.ts';
import { createNamespace, kubeForFile } from '../support/kube.ts';
import { pollUntil } from '../support/servers.ts';

// One control plane and one fake for the whole file; the tests run in order, the last stops the fake.
let fake: FakeMetricsServer | undefined;
const dir = mkdtempSync(join(tmpdir(), 'rampart-kube-metrics-'));
const bed = kubeForFile(
  () => ({ apiserverArgs: aggregatorFlags(dir) }),
  async (k) => {
    fake = await startFakeMetricsServer(k);
    bed.cleanup(() => fake?.stop());
  },
);
after(() => rmSync(dir, { recursive: true, force: true }));
const { skip } = bed;

const API = '/apis/metrics.k8s.io/v1beta1';
let tokens = 0;
/** A source that reads through the API server as the holder of `token`. */
function source(token: string): KubernetesMetricsSource {
  const tokenFile = join(dir, `token-${++tokens}`);
  writeFileSync(tokenFile, token, { mode: 0o600 });
  return new KubernetesMetricsSource({
    name: 'k8s',
    client: new KubeClient({ server: bed.kube().url, caFile: bed.kube().caFile, tokenFile }),
    timeoutMs: 5000,
  });
}
/** As observe builds them: the kubernetes provider's pods and node pool's Nodes. */
const podTarget = (nodeId: string, ns: string, pod: string): MetricTarget => ({
  nodeId,
  host: '10.244.0.7',
  aliases: [pod, `${ns}/${pod}`],
});
const nodeTarget = (nodeId: string, node: string): MetricTarget => ({ nodeId, host: node, aliases: [node] });

test('pod and Node usage reach their nodes through the API server, each with its item time', {
  skip,
}, async () => {
  const f = fake!;
  const scraped = Date.parse('2026-11-22T09:58:20Z');
  f.set('pods', 'chain/sentry-0', {
    containers: { node: { cpu: '250m', memory: '100Mi' }, exporter: { cpu: '500000000n', memory: '28Mi' } },
    at: scraped,
  });
  // The same pod name in another namespace: some other team's.
  f.set('pods', 'other/sentry-0', { cpu: 3, memory: 2 ** 30 });
  f.set('pods', 'chain/sentry-1', { cpu: 0.125, memory: 64 * 2 ** 20, at: scraped + 5000 });
  f.setAll('nodes', [
    ['kwok-a', { cpu: 2.5, memory: 4 * 2 ** 30, at: scraped - 60_000 }],
    ['kwok-b', { cpu: '1500m', memory: '1G', at: scraped }],
  ]);
  const targets = [
    podTarget('sentries-a', 'chain', 'sentry-0'),
    podTarget('sentries-b', 'chain', 'sentry-1'),
    // Its pod has not been scraped yet: no sample.
    podTarget('sentries-c', 'chain', 'sentry-2'),
    nodeTarget('workers-a', 'kwok-a'),
    nodeTarget('workers-b', 'kwok-b'),
  ];
  f.takeRequests();
  const r = await source(bed.kube().adminToken).collect(['k8s:cpu', 'k8s:memory'], targets);
  assert.deepEqual(r.errors, []);
  const got = new Map(r.samples.map((s) => [`${s.node} ${s.ref}`, [s.value, s.at]]));
  assert.deepEqual(Object.fromEntries(got), {
    'sentries-a k8s:cpu': [0.75, scraped],
    'sentries-a k8s:memory': [128 * 2 ** 20, scraped],
    'sentries-b k8s:cpu': [0.125, scraped + 5000],
    'sentries-b k8s:memory': [64 * 2 ** 20, scraped + 5000],
    'workers-a k8s:cpu': [2.5, scraped - 60_000],
    'workers-a k8s:memory': [4 * 2 ** 30, scraped - 60_000],
    'workers-b k8s:cpu': [1.5, scraped],
    'workers-b k8s:memory': [1e9, scraped],
  });
  // Through the aggregator, as the caller: one list of the pods' namespace, one of Nodes.
  const served = f.takeRequests();
  assert.deepEqual(served.map((q) => q.path).sort(), [`${API}/namespaces/chain/pods`, `${API}/nodes`]);
  assert.deepEqual(
    served.map((q) => q.user),
    ['admin', 'admin'],
  );

  // A pod that is gone from the API loses its samples; the others keep theirs.
  f.remove('pods', 'chain/sentry-1');
  const later = await source(bed.kube().adminToken).collect(['k8s:cpu'], targets);
  assert.deepEqual(later.samples.map((s) => s.node).sort(), ['sentries-a', 'workers-a', 'workers-b']);
});

test('RBAC: no metrics.k8s.io rule is a 403 error and no samples; a namespaced Role is enough for pods', {
  skip,
}, async () => {
  const k = bed.kube();
  const f = fake!;
  f.clear();
  f.set('pods', 'chain/sentry-0', { cpu: 0.5, memory: 2 ** 20 });
  f.set('nodes', 'kwok-a', { cpu: 1, memory: 2 ** 30 });
  await createNamespace(k, 'rampart');
  await createNamespace(k, 'chain');
  await k.ok('POST', '/api/v1/namespaces/rampart/serviceaccounts', {
    body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'reader' } },
  });
  const saToken = await k.serviceAccountToken('rampart', 'reader');
  const targets = [podTarget('s0', 'chain', 'sentry-0'), nodeTarget('w0', 'kwok-a')];
  f.takeRequests();

  const refused = await source(saToken).collect(['k8s:cpu'], targets);
  assert.deepEqual(refused.samples, []);
  const messages = refused.errors.map((e) => e.message).sort();
  assert.equal(messages.length, 2);
  assert.match(
    messages[0]!,
    /^Node metrics: .* 403 Forbidden: .*system:serviceaccount:rampart:reader.*nodes\.metrics\.k8s\.io/,
  );
  assert.match(
    messages[1]!,
    /^pod metrics: .*namespaces\/chain\/pods: 403 Forbidden: .*pods\.metrics\.k8s\.io/,
  );
  for (const m of messages) assert.ok(!m.includes(saToken), 'the token never reaches a message');
  assert.deepEqual(f.takeRequests(), [], 'the API server refused before proxying');

  // A Role in the pods' namespace only: pods are read, Nodes (cluster-scoped) still refused.
  const rbac = '/apis/rbac.authorization.k8s.io/v1';
  await k.ok('POST', `${rbac}/namespaces/chain/roles`, {
    body: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'pod-metrics' },
      rules: [{ apiGroups: ['metrics.k8s.io'], resources: ['pods'], verbs: ['get', 'list'] }],
    },
  });
  await k.ok('POST', `${rbac}/namespaces/chain/rolebindings`, {
    body: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'pod-metrics' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-metrics' },
      subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace: 'rampart' }],
    },
  });
  const reader = source(saToken);
  const podsOnly = await pollUntil(
    () => reader.collect(['k8s:cpu'], targets),
    (r) => r.samples.length > 0,
    10_000,
    250,
  );
  assert.deepEqual(
    podsOnly.samples.map((s) => [s.node, s.value]),
    [['s0', 0.5]],
  );
  assert.equal(podsOnly.errors.length, 1);
  assert.match(podsOnly.errors[0]!.message, /^Node metrics: .*403/);
  assert.ok(f.takeRequests().some((q) => q.user === 'system:serviceaccount:rampart:reader'));
});

test('metrics-server failing, then unavailable: an error of the source, no samples, no throw', {
  skip,
}, async () => {
  const f = fake!;
  f.clear();
  f.set('nodes', 'kwok-a', { cpu: 1, memory: 2 ** 30 });
  const admin = source(bed.kube().adminToken);
  const targets = [nodeTarget('w0', 'kwok-a')];

  f.fail(500);
  const failing = await admin.collect(['k8s:cpu'], targets);
  assert.deepEqual(failing.samples, []);
  assert.equal(failing.errors.length, 1);
  assert.equal(failing.errors[0]!.target, undefined, 'an error of the whole source');
  assert.match(
    failing.errors[0]!.message,
    /^Node metrics: kubernetes GET \/apis\/metrics\.k8s\.io\/v1beta1\/nodes: 500 /,
  );
  f.fail(undefined);
  assert.equal((await admin.collect(['k8s:cpu'], targets)).samples.length, 1, 'back once it answers');

  await f.stop();
  const gone = await admin.collect(['k8s:cpu'], targets);
  assert.deepEqual(gone.samples, []);
  assert.equal(gone.errors.length, 1);
  assert.match(
    gone.errors[0]!.message,
    /^Node metrics: kubernetes GET \/apis\/metrics\.k8s\.io\/v1beta1\/nodes: 503 /,
  );
  assert.match(gone.errors[0]!.message, /APIService v1beta1\.metrics\.k8s\.io is not available/);
});
