// The access a Kubernetes node pool's provider runs with in the node-pool tests: a
// ServiceAccount bound to exactly the rules the provider needs, its token in a file as in a pod.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createNamespace, type KubeControlPlane } from './kube.ts';
import { pollUntil } from './servers.ts';

/**
 * What the node-pool provider needs, and no more: the provider runs as a ServiceAccount bound
 * to this ClusterRole in every test, so a missing rule fails them.
 */
export const NODE_POOL_RULES = [
  { apiGroups: [''], resources: ['nodes'], verbs: ['list', 'patch', 'delete'] },
  { apiGroups: [''], resources: ['pods'], verbs: ['list'] },
  { apiGroups: [''], resources: ['pods/eviction'], verbs: ['create'] },
  { apiGroups: ['policy'], resources: ['poddisruptionbudgets'], verbs: ['list'] },
];

const tokenFiles = new Map<KubeControlPlane, string>();
/** A ServiceAccount bound to NODE_POOL_RULES; its token in a file, as in a pod. */
export async function providerToken(k: KubeControlPlane): Promise<string> {
  const known = tokenFiles.get(k);
  if (known !== undefined) return known;
  await createNamespace(k, 'rampart');
  await k.ok('POST', '/api/v1/namespaces/rampart/serviceaccounts', {
    body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'rampart' } },
  });
  await k.ok('POST', '/apis/rbac.authorization.k8s.io/v1/clusterroles', {
    body: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'rampart-node-pool' },
      rules: NODE_POOL_RULES,
    },
  });
  await k.ok('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
    body: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'rampart-node-pool' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'rampart-node-pool' },
      subjects: [{ kind: 'ServiceAccount', name: 'rampart', namespace: 'rampart' }],
    },
  });
  const token = await k.serviceAccountToken('rampart', 'rampart');
  // The authorizer sees the binding through its informer: wait until it applies.
  const seen = await pollUntil(
    () => k.request('GET', '/api/v1/nodes', { token }),
    (r) => r.status === 200,
    15_000,
    100,
  );
  assert.equal(seen.status, 200, seen.text);
  const file = join(k.dir, 'rampart.token');
  writeFileSync(file, token, { mode: 0o600 });
  tokenFiles.set(k, file);
  return file;
}
