// Rampart's rights in a test namespace, exactly as deployed: a ServiceAccount bound to the
// Role of deploy/kustomize/base/rbac.yaml, and a token for it, so a provider under test can do
// what a deployed Rampart can and nothing more.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { KubeClientOptions } from '../../src/kube/kube-client.ts';
import { type KubeControlPlane, waitForRbac } from './kube.ts';

/** The namespaced rules Rampart's deployment grants it (the Role of the kustomize base). */
export function deployedRules(): unknown[] {
  const file = join(import.meta.dirname, '../../deploy/kustomize/base/rbac.yaml');
  const role = parseAllDocuments(readFileSync(file, 'utf8'))
    .map((d) => d.toJS() as { kind: string; rules: unknown[] })
    .find((d) => d.kind === 'Role');
  assert.ok(role, `${file} has a Role`);
  return role.rules;
}

/**
 * Connection options of a ServiceAccount of `ns` bound to the deployed Role: the provider
 * under test can do exactly what a deployed Rampart can.
 */
export async function deployedRoleConnection(
  k: KubeControlPlane,
  ns: string,
  dir: string,
): Promise<KubeClientOptions> {
  await k.ok('POST', `/api/v1/namespaces/${ns}/serviceaccounts`, {
    body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'rampart' } },
  });
  await k.ok('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/roles`, {
    body: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'rampart' },
      rules: deployedRules(),
    },
  });
  await k.ok('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`, {
    body: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'rampart' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'rampart' },
      subjects: [{ kind: 'ServiceAccount', name: 'rampart', namespace: ns }],
    },
  });
  // The binding reaches the authorizer a moment later: the first request must not race it.
  await waitForRbac(k, `system:serviceaccount:${ns}:rampart`, ns, [
    { group: 'apps', resource: 'statefulsets', verb: 'get' },
  ]);
  const tokenFile = join(dir, `${ns}-token`);
  writeFileSync(tokenFile, await k.serviceAccountToken(ns, 'rampart', 3600));
  return { server: k.url, caFile: k.caFile, tokenFile };
}
