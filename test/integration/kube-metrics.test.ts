// The `kubernetes` metric source through the real API server's aggregation layer (the API
// itself served by the test bed's fake metrics-server: nothing real can serve it here):
// pod and Node usage reach the right nodes, RBAC on metrics.k8s.io is enforced, and an
// unavailable metrics API is an error of the source, not a crash.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { KubernetesMetricsSource } from '../../src/metrics/kubernetes.ts';
import { aggregatorFlags, startFakeMetricsServer } from '../support/fake-metrics-server.ts';
import { createNamespace, startKube } from '../support/kube.ts';
import { findBinary } from '../support/servers.ts';

const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const fn of cleanups.reverse()) await fn();
});
const skip =
  findBinary('kube-apiserver') === undefined && process.env.RAMPART_ALLOW_SKIP === '1'
    ? 'the Kubernetes test bed is not built (RAMPART_ALLOW_SKIP=1)'
    : false;

test('metrics.k8s.io through the API server: mapping, RBAC, unavailability', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rampart-kube-metrics-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const kube = await startKube(t, { apiserverArgs: aggregatorFlags(dir) });
  if (!kube) return;
  const fake = await startFakeMetricsServer(kube);
  cleanups.push(() => fake.stop());

  const tokenFile = (name: string, token: string) => {
    const f = join(dir, name);
    writeFileSync(f, token, { mode: 0o600 });
    return f;
  };
  const source = (token: string, name = 'admin') =>
    new KubernetesMetricsSource({
      name: 'k8s',
      client: new KubeClient({ server: kube.url, caFile: kube.caFile, tokenFile: tokenFile(name, token) }),
      timeoutMs: 5000,
    });

  fake.set('pods', 'chain/sentry-1', { cpu: 0.75, memory: 128 * 2 ** 20 });
  fake.set('pods', 'other/sentry-1', { cpu: 3, memory: 2 ** 30 });
  fake.set('nodes', 'ip-10-0-1-5.ec2.internal', { cpu: 2.5, memory: 4 * 2 ** 30 });
  const targets = [
    { nodeId: 'sentries-a', host: '10.244.0.7', aliases: ['sentry-1', 'chain/sentry-1'] },
    { nodeId: 'workers-b', host: 'ip-10-0-1-5.ec2.internal', aliases: ['ip-10-0-1-5.ec2.internal'] },
    { nodeId: 'workers-c', host: 'ip-10-0-1-6.ec2.internal' },
  ];
  const before = Date.now();
  const r = await source(kube.adminToken).collect(['k8s:cpu', 'k8s:memory'], targets);
  assert.deepEqual(r.errors, []);
  const value = (node: string, ref: string) => r.samples.find((s) => s.node === node && s.ref === ref)?.value;
  assert.equal(value('sentries-a', 'k8s:cpu'), 0.75, 'the namespaced pod, not its namesake elsewhere');
  assert.equal(value('sentries-a', 'k8s:memory'), 128 * 2 ** 20);
  assert.equal(value('workers-b', 'k8s:cpu'), 2.5);
  assert.equal(value('workers-b', 'k8s:memory'), 4 * 2 ** 30);
  assert.equal(r.samples.filter((s) => s.node === 'workers-c').length, 0, 'no item, no sample');
  // The item's timestamp (whole seconds), not the time of the collect.
  for (const s of r.samples) assert.ok(s.at % 1000 === 0 && s.at >= before - 1000, String(s.at));

  // RBAC: a ServiceAccount needs get/list on pods.metrics.k8s.io.
  await createNamespace(kube, 'rampart');
  await kube.ok('POST', '/api/v1/namespaces/rampart/serviceaccounts', {
    body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'reader' } },
  });
  const saToken = await kube.serviceAccountToken('rampart', 'reader');
  const refused = await source(saToken, 'sa').collect(['k8s:cpu'], targets);
  assert.equal(refused.samples.length, 0);
  assert.match(refused.errors.map((e) => e.message).join('\n'), /403 Forbidden/);
  assert.doesNotMatch(refused.errors.map((e) => e.message).join('\n'), new RegExp(saToken.slice(-20)));
  await kube.ok('POST', '/apis/rbac.authorization.k8s.io/v1/clusterroles', {
    body: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'metrics-reader' },
      rules: [{ apiGroups: ['metrics.k8s.io'], resources: ['pods', 'nodes'], verbs: ['get', 'list'] }],
    },
  });
  await kube.ok('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
    body: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'metrics-reader' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'metrics-reader' },
      subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace: 'rampart' }],
    },
  });
  let allowed = await source(saToken, 'sa2').collect(['k8s:cpu'], targets);
  for (let i = 0; i < 20 && allowed.errors.length > 0; i++) {
    await new Promise((res) => setTimeout(res, 250));
    allowed = await source(saToken, 'sa2').collect(['k8s:cpu'], targets);
  }
  assert.deepEqual(allowed.errors, []);
  assert.equal(allowed.samples.length, 2);

  // The metrics API gone: an error of the source, no samples, no throw.
  await fake.stop();
  const gone = await source(kube.adminToken, 'admin2').collect(['k8s:cpu'], targets);
  assert.equal(gone.samples.length, 0);
  assert.equal(gone.errors.length, 1);
  assert.match(gone.errors[0]!.message, /pods from metrics\.k8s\.io: .*(503|502|unavailable)/i);
});
