// Rampart's own deployment against the real API server: the Helm chart lints and renders,
// and every object it renders (with defaults, and with every option on) is accepted by a
// server-side dry run, as are the Kustomize overlays; the configs they carry validate; the
// chart refuses two replicas without Lease coordination; and the chart's RBAC, applied for
// real, allows exactly what Rampart needs and refuses the rest.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { CLI } from '../support/fleet.ts';
import { createNamespace, installCrds, kubeForFile } from '../support/kube.ts';
import {
  applyObject,
  CHART,
  helmTemplate,
  installRampartChart,
  KUSTOMIZE_OVERLAYS,
  type KubeManifest,
  kustomizeBuild,
  REPO,
} from '../support/kube-chart.ts';
import { findBinary } from '../support/servers.ts';

let dir: string;
const bed = kubeForFile(undefined, async (k) => {
  await installCrds(k, ['servicemonitors', 'prometheusrules']);
  dir = mkdtempSync(join(tmpdir(), 'rampart-kube-deploy-'));
  bed.cleanup(() => rmSync(dir, { recursive: true, force: true }));
});
const { skip } = bed;

/** `rampart validate` on a config text: exit status and output. */
function validate(text: string, name: string): { status: number | null; output: string } {
  const file = join(dir, name);
  writeFileSync(file, text);
  const r = spawnSync(process.execPath, [CLI, 'validate', '-c', file], { encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

async function dryRunAll(objects: KubeManifest[], namespace: string): Promise<void> {
  for (const ns of new Set([
    namespace,
    ...objects.map((o) => o.metadata.namespace).filter((n) => n !== undefined),
  ]))
    await createNamespace(bed.kube(), ns!);
  for (const o of objects) await applyObject(bed.kube(), o, namespace, { dryRun: true });
}

const everything = {
  replicaCount: 2,
  serviceMonitor: { enabled: true },
  prometheusRule: { enabled: true },
  rbac: { nodePools: true, namespaces: ['chain'] },
  existingSecrets: ['rampart-api-tls'],
  secretEnv: [{ name: 'AWS_ACCESS_KEY_ID', secret: 'rampart-aws', key: 'access-key-id' }],
  config: { controller: { coordination: { kind: 'kubernetes' } } },
};

test('the chart lints; its values schema is the config schema of today; its rules are deploy/prometheus’s', {
  skip,
}, () => {
  const helm = findBinary('helm')!;
  execFileSync(helm, ['lint', CHART, '--strict'], {
    stdio: 'pipe',
    env: { ...process.env, HELM_CACHE_HOME: join(dir, 'h') },
  });
  const check = spawnSync(process.execPath, [join(REPO, 'scripts', 'helm-values-schema.ts'), '--check'], {
    encoding: 'utf8',
  });
  assert.equal(check.status, 0, check.stderr);
  assert.equal(
    readFileSync(join(CHART, 'files', 'rampart-rules.yaml'), 'utf8'),
    readFileSync(join(REPO, 'deploy', 'prometheus', 'rampart-rules.yaml'), 'utf8'),
    'the chart carries the same alert rules as deploy/prometheus/rampart-rules.yaml',
  );
});

test('rendered with defaults and with every option, each object passes a server-side dry run', {
  skip,
}, async () => {
  for (const [release, values] of [
    ['plain', {}],
    ['full', everything],
  ] as const) {
    const objects = helmTemplate(release, `ns-${release}`, values);
    const kinds = new Set(objects.map((o) => o.kind));
    for (const k of [
      'StatefulSet',
      'ConfigMap',
      'ServiceAccount',
      'Role',
      'RoleBinding',
      'ClusterRole',
      'Service',
    ])
      assert.ok(kinds.has(k), `${release}: renders a ${k}`);
    if (release === 'full')
      for (const k of ['ServiceMonitor', 'PrometheusRule', 'PodDisruptionBudget'])
        assert.ok(kinds.has(k), `full: renders a ${k}`);
    else assert.ok(!kinds.has('PodDisruptionBudget'), 'one replica: no disruption budget');
    await dryRunAll(objects, `ns-${release}`);
    // Its config is one Rampart accepts, and its pod is locked down.
    const config = objects.find((o) => o.kind === 'ConfigMap') as unknown as { data: Record<string, string> };
    const v = validate(config.data['rampart.yaml']!, `${release}.yaml`);
    assert.equal(v.status, 0, v.output);
    const sts = objects.find((o) => o.kind === 'StatefulSet') as unknown as {
      spec: {
        template: {
          spec: {
            securityContext: Record<string, unknown>;
            containers: { securityContext: Record<string, unknown> }[];
          };
        };
      };
    };
    assert.equal(sts.spec.template.spec.securityContext.runAsNonRoot, true);
    assert.equal(sts.spec.template.spec.containers[0]!.securityContext.readOnlyRootFilesystem, true);
  }
});

test('two replicas without Lease coordination are refused at render time; a wrong config by the schema', {
  skip,
}, () => {
  assert.throws(
    () => helmTemplate('bad', 'ns-bad', { replicaCount: 2 }),
    /replicaCount 2 needs config\.controller\.coordination\.kind: kubernetes/,
  );
  // Helm replaces a list rather than merging it: the bad pool is the default pool with one field wrong.
  const defaults = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as {
    config: { pools: { size: Record<string, unknown> }[] };
  };
  const pool = defaults.config.pools[0]!;
  assert.throws(
    () =>
      helmTemplate('bad', 'ns-bad', {
        config: { pools: [{ ...pool, size: { ...pool.size, max: 'many' } }] },
      }),
    (e: Error) => {
      assert.match(e.message, /values don't meet the specifications of the schema/);
      assert.match(e.message, /\/config\/pools\/0\/size\/max': got string, want integer/);
      assert.doesNotMatch(e.message, /missing properties/, 'only the wrong field is reported');
      return true;
    },
  );
  // The same pool with a number renders: the refusal above is about `max` alone.
  assert.ok(
    helmTemplate('good', 'ns-good', { config: { pools: [{ ...pool, size: { ...pool.size, max: 7 } }] } }),
  );
});

test('the Kustomize overlays build, pass a dry run, and carry valid configs; mainnet needs TLS', {
  skip,
}, async () => {
  for (const overlay of ['dev', 'testnet', 'mainnet']) {
    const objects = kustomizeBuild(overlay);
    const ns = objects.find((o) => o.metadata.namespace)?.metadata.namespace;
    assert.equal(ns, `rampart-${overlay}`);
    await dryRunAll(objects, ns!);
    const v = validate(
      readFileSync(join(KUSTOMIZE_OVERLAYS, overlay, 'rampart.yaml'), 'utf8'),
      `${overlay}.yaml`,
    );
    assert.equal(v.status, 0, v.output);
    const replicas = (
      objects.find((o) => o.kind === 'StatefulSet') as unknown as { spec: { replicas: number } }
    ).spec.replicas;
    assert.equal(replicas, overlay === 'dev' ? 1 : 2);
  }
  const base = validate(
    readFileSync(join(REPO, 'deploy', 'kustomize', 'base', 'rampart.yaml'), 'utf8'),
    'base.yaml',
  );
  assert.equal(base.status, 0, base.output);
  const mainnet = readFileSync(join(KUSTOMIZE_OVERLAYS, 'mainnet', 'rampart.yaml'), 'utf8');
  const withoutTls = mainnet.replace(/^ {4}tls: .*\n/m, '');
  assert.notEqual(withoutTls, mainnet);
  const v = validate(withoutTls, 'mainnet-no-tls.yaml');
  assert.equal(v.status, 2);
  assert.match(v.output, /controller\.api\.tls: TLS is required \(controller\.api\.requireTls\)/);
});

test('the chart’s RBAC, for real: what Rampart needs is allowed, the rest refused', { skip }, async () => {
  const k = bed.kube();
  const { serviceAccountDir } = await installRampartChart(k, {
    namespace: 'rampart',
    release: 'rampart',
    values: { rbac: { namespaces: ['chain'] } },
  });
  await createNamespace(k, 'elsewhere');
  for (const ns of ['chain', 'elsewhere'])
    await k.ok('POST', `/apis/apps/v1/namespaces/${ns}/statefulsets`, {
      body: {
        apiVersion: 'apps/v1',
        kind: 'StatefulSet',
        metadata: { name: 'sentry' },
        spec: {
          replicas: 0,
          serviceName: 'sentry',
          selector: { matchLabels: { app: 'sentry' } },
          template: {
            metadata: { labels: { app: 'sentry' } },
            spec: { containers: [{ name: 'n', image: 'n' }] },
          },
        },
      },
    });
  const token = readFileSync(join(serviceAccountDir, 'token'), 'utf8');
  const as = (method: string, path: string, body?: unknown, contentType?: string) =>
    k.request(method, path, { token, body, contentType });
  const merge = 'application/merge-patch+json';
  const allowed = [
    await as('GET', '/apis/apps/v1/namespaces/chain/statefulsets/sentry'),
    await as('PATCH', '/apis/apps/v1/namespaces/chain/statefulsets/sentry', { spec: { replicas: 0 } }, merge),
    await as('GET', '/api/v1/namespaces/chain/pods'),
    await as('GET', '/api/v1/namespaces/chain/persistentvolumeclaims'),
    await as('GET', '/apis/batch/v1/namespaces/chain/jobs'),
    // workload.configMap: the pods' node ids and peers; address: service, a Service per replica.
    await as('POST', '/api/v1/namespaces/chain/configmaps', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'sentry-peers' },
      data: {},
    }),
    await as('PATCH', '/api/v1/namespaces/chain/configmaps/sentry-peers', { data: { 'node-0': 'n' } }, merge),
    await as('GET', '/api/v1/namespaces/chain/services'),
    await as('POST', '/apis/coordination.k8s.io/v1/namespaces/rampart/leases', {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'rampart' },
      spec: {},
    }),
  ];
  for (const r of allowed) assert.ok(r.status >= 200 && r.status < 300, `${r.status} ${r.text}`);
  // Taking the Lease is a conditional update (PUT with its resourceVersion), as the coordination does.
  const lease = await as('GET', '/apis/coordination.k8s.io/v1/namespaces/rampart/leases/rampart');
  assert.equal(lease.status, 200, lease.text);
  const taken = lease.body as KubeManifest & { spec: Record<string, unknown> };
  const put = await as('PUT', '/apis/coordination.k8s.io/v1/namespaces/rampart/leases/rampart', {
    ...taken,
    spec: { ...taken.spec, holderIdentity: 'rampart-0', leaseDurationSeconds: 15 },
  });
  assert.equal(put.status, 200, put.text);
  assert.equal((put.body as { spec: { holderIdentity: string } }).spec.holderIdentity, 'rampart-0');
  const review = async (resource: Record<string, string>) =>
    (
      (await as('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SelfSubjectAccessReview',
        spec: { resourceAttributes: resource },
      })) as { body: { status: { allowed: boolean } } }
    ).body.status.allowed;
  assert.equal(await review({ group: 'metrics.k8s.io', resource: 'pods', verb: 'list' }), true);

  const refused = {
    'read secrets': await as('GET', '/api/v1/namespaces/chain/secrets'),
    'delete a ConfigMap': await as('DELETE', '/api/v1/namespaces/chain/configmaps/sentry-peers'),
    'delete the StatefulSet': await as('DELETE', '/apis/apps/v1/namespaces/chain/statefulsets/sentry'),
    'create pods': await as('POST', '/api/v1/namespaces/chain/pods', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'x' },
      spec: { containers: [{ name: 'x', image: 'x' }] },
    }),
    'delete a namespace': await as('DELETE', '/api/v1/namespaces/elsewhere'),
    'patch a StatefulSet elsewhere': await as(
      'PATCH',
      '/apis/apps/v1/namespaces/elsewhere/statefulsets/sentry',
      { spec: { replicas: 1 } },
      merge,
    ),
    'list nodes (no node pools)': await as('GET', '/api/v1/nodes'),
    'leases outside its namespace': await as('GET', '/apis/coordination.k8s.io/v1/namespaces/chain/leases'),
  };
  for (const [what, r] of Object.entries(refused))
    assert.equal(r.status, 403, `${what}: ${r.status} ${r.text}`);
  assert.equal(
    await review({ resource: 'pods', subresource: 'eviction', verb: 'create', namespace: 'chain' }),
    false,
  );

  // Node pools add exactly the drain: list/patch/delete Nodes, list pods, create evictions, list budgets.
  const nodes = await installRampartChart(k, {
    namespace: 'rampart-workers',
    release: 'workers',
    values: { rbac: { nodePools: true } },
  });
  const t2 = readFileSync(join(nodes.serviceAccountDir, 'token'), 'utf8');
  assert.equal((await k.request('GET', '/api/v1/nodes', { token: t2 })).status, 200);
  assert.equal((await k.request('GET', '/api/v1/pods', { token: t2 })).status, 200);
  assert.equal((await k.request('GET', '/apis/policy/v1/poddisruptionbudgets', { token: t2 })).status, 200);
  const r2 = await k.request<{ status: { allowed: boolean } }>(
    'POST',
    '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
    {
      token: t2,
      body: {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SelfSubjectAccessReview',
        spec: {
          resourceAttributes: {
            resource: 'pods',
            subresource: 'eviction',
            verb: 'create',
            namespace: 'chain',
          },
        },
      },
    },
  );
  assert.equal(r2.body.status.allowed, true);
  assert.equal((await k.request('GET', '/api/v1/namespaces/chain/secrets', { token: t2 })).status, 403);
});
