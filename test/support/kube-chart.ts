// Renders Rampart's Helm chart and Kustomize overlays with the test bed's binaries, applies
// their objects to the real API server, and hands out the chart's ServiceAccount as a
// folder a `rampart up` process reads as its in-cluster identity — so the chart's RBAC is
// exactly what Rampart gets in the tests.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { createNamespace, type KubeControlPlane } from './kube.ts';
import { findBinary } from './servers.ts';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CHART = join(REPO, 'deploy', 'helm', 'rampart');
/** The chart of a CometBFT sentry StatefulSet that Rampart scales. */
export const SENTRIES_CHART = join(REPO, 'deploy', 'helm', 'cometbft-sentries');
export const KUSTOMIZE_OVERLAYS = join(REPO, 'deploy', 'kustomize', 'overlays');

export interface KubeManifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  [k: string]: unknown;
}

function binary(name: 'helm' | 'kustomize'): string {
  const b = findBinary(name);
  if (!b) throw new Error(`${name} is not installed; run bash scripts/testbed/kubernetes.sh`);
  return b;
}

export function parseManifests(text: string): KubeManifest[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as KubeManifest | null)
    .filter((o): o is KubeManifest => o !== null && typeof o === 'object' && 'kind' in o);
}

/** `helm template` of a chart (Rampart's by default); throws with helm's message when rendering fails. */
export function helmTemplate(
  release: string,
  namespace: string,
  values: unknown = {},
  chart = CHART,
): KubeManifest[] {
  const dir = mkdtempSync(join(tmpdir(), 'rampart-helm-'));
  try {
    const file = join(dir, 'values.json');
    writeFileSync(file, JSON.stringify(values));
    const out = execFileSync(
      binary('helm'),
      ['template', release, chart, '--namespace', namespace, '-f', file],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, HELM_CACHE_HOME: join(dir, 'cache'), HELM_CONFIG_HOME: join(dir, 'config') },
      },
    );
    return parseManifests(out);
  } catch (e) {
    const stderr = (e as { stderr?: string }).stderr;
    throw new Error(`helm template failed: ${stderr ?? (e as Error).message}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `kustomize build` of an overlay. */
export function kustomizeBuild(overlay: string): KubeManifest[] {
  return parseManifests(
    execFileSync(binary('kustomize'), ['build', join(KUSTOMIZE_OVERLAYS, overlay)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
}

const RESOURCES: Readonly<Record<string, { path: string; namespaced: boolean }>> = {
  Namespace: { path: '/api/v1/namespaces', namespaced: false },
  ServiceAccount: { path: '/api/v1/serviceaccounts', namespaced: true },
  ConfigMap: { path: '/api/v1/configmaps', namespaced: true },
  Secret: { path: '/api/v1/secrets', namespaced: true },
  Service: { path: '/api/v1/services', namespaced: true },
  StatefulSet: { path: '/apis/apps/v1/statefulsets', namespaced: true },
  Deployment: { path: '/apis/apps/v1/deployments', namespaced: true },
  Role: { path: '/apis/rbac.authorization.k8s.io/v1/roles', namespaced: true },
  RoleBinding: { path: '/apis/rbac.authorization.k8s.io/v1/rolebindings', namespaced: true },
  ClusterRole: { path: '/apis/rbac.authorization.k8s.io/v1/clusterroles', namespaced: false },
  ClusterRoleBinding: { path: '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', namespaced: false },
  PodDisruptionBudget: { path: '/apis/policy/v1/poddisruptionbudgets', namespaced: true },
  ServiceMonitor: { path: '/apis/monitoring.coreos.com/v1/servicemonitors', namespaced: true },
  PrometheusRule: { path: '/apis/monitoring.coreos.com/v1/prometheusrules', namespaced: true },
};

/** The collection path an object is POSTed to. */
export function collectionPath(o: KubeManifest, namespace: string): string {
  const r = RESOURCES[o.kind];
  if (!r) throw new Error(`no API path known for kind ${o.kind} (${o.metadata.name})`);
  if (!r.namespaced) return r.path;
  const [, base, resource] = /^(.*)\/([^/]+)$/.exec(r.path)!;
  return `${base}/namespaces/${o.metadata.namespace ?? namespace}/${resource}`;
}

/** Creates `o` (dryRun: validated and admitted by the API server, not stored). Throws with the answer. */
export async function applyObject(
  kube: KubeControlPlane,
  o: KubeManifest,
  namespace: string,
  opts: { dryRun?: boolean } = {},
): Promise<void> {
  const path = `${collectionPath(o, namespace)}${opts.dryRun ? '?dryRun=All&fieldValidation=Strict' : ''}`;
  const r = await kube.request('POST', path, { body: o });
  if (r.status === 409 && !opts.dryRun) return;
  if (r.status !== 201 && r.status !== 200)
    throw new Error(`${o.kind} ${o.metadata.name}: HTTP ${r.status} ${r.text}`);
}

const IDENTITY_KINDS = new Set([
  'ServiceAccount',
  'Role',
  'RoleBinding',
  'ClusterRole',
  'ClusterRoleBinding',
]);

/**
 * Renders the chart and applies its ServiceAccount and RBAC objects for real (not the
 * StatefulSet: kwok runs no containers); returns a folder holding `token` (a TokenRequest
 * token of the chart's ServiceAccount), `ca.crt` and `namespace`, for
 * RAMPART_SERVICE_ACCOUNT_DIR. Removed after the test process exits.
 */
export async function installRampartChart(
  kube: KubeControlPlane,
  opts: { namespace: string; release: string; values?: Record<string, unknown> },
): Promise<{ serviceAccountDir: string; objects: KubeManifest[]; serviceAccount: string }> {
  const objects = helmTemplate(opts.release, opts.namespace, opts.values ?? {});
  const namespaces = new Set([opts.namespace]);
  for (const o of objects) if (o.metadata.namespace) namespaces.add(o.metadata.namespace);
  for (const ns of namespaces) await createNamespace(kube, ns);
  for (const o of objects) if (IDENTITY_KINDS.has(o.kind)) await applyObject(kube, o, opts.namespace);
  const sa = objects.find((o) => o.kind === 'ServiceAccount');
  if (!sa) throw new Error('the chart rendered no ServiceAccount');
  const dir = mkdtempSync(join(tmpdir(), 'rampart-sa-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'token'), await kube.serviceAccountToken(opts.namespace, sa.metadata.name), {
    mode: 0o600,
  });
  writeFileSync(join(dir, 'ca.crt'), readFileSync(kube.caFile));
  writeFileSync(join(dir, 'namespace'), opts.namespace);
  return { serviceAccountDir: dir, objects, serviceAccount: sa.metadata.name };
}
