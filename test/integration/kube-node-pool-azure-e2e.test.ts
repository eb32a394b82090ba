// Seed 001 end to end on Azure: the whole controller with a Kubernetes worker node pool on
// the machines of an Azure scale set (fake-azure-compute through the official clients, a
// service principal from mounted files), on a real API server with kwok, scaled on the
// Nodes' CPU from metrics.k8s.io (the test bed's fake metrics-server behind the API server's
// aggregation layer). The pool grows under load to max, each new VM's Node registering with
// its azure:/// providerID; when the load goes, it shrinks to capacity by cordon, evictions
// under a PodDisruptionBudget, Node delete, and only then the instance's delete.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { TokenCredential } from '@azure/identity';
import pino from 'pino';
import { loadConfigFile } from '../../src/config/load.ts';
import { Controller } from '../../src/controller/controller.ts';
import { AzureProvider } from '../../src/providers/azure/azure-provider.ts';
import { createRuntime } from '../../src/runtime/runtime.ts';
import { type FakeAzureCompute, startFakeAzureCompute } from '../support/fake-azure-compute.ts';
import { fakeKubeletJoin } from '../support/fake-kubelet-join.ts';
import {
  aggregatorFlags,
  type FakeMetricsServer,
  startFakeMetricsServer,
} from '../support/fake-metrics-server.ts';
import { waitFor } from '../support/fleet.ts';
import { createNamespace, KWOK_FAST_POD_ANNOTATIONS, kubeForFile } from '../support/kube.ts';

let metrics: FakeMetricsServer | undefined;
const dir = mkdtempSync(join(tmpdir(), 'rampart-seed-001-'));
const bed = kubeForFile(
  () => ({ apiserverArgs: aggregatorFlags(dir) }),
  async (k) => {
    metrics = await startFakeMetricsServer(k);
    bed.cleanup(() => metrics?.stop());
  },
);
let fake: FakeAzureCompute;
before(async () => {
  fake = await startFakeAzureCompute({ pollsToFinish: 2, finishAfterMs: 1000 });
});
after(async () => {
  await fake?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const RG = 'epiphany';

function configText(scaleSet: string): string {
  const k = bed.kube();
  const cluster = `{ server: "${k.url}", caFile: ${k.caFile}, tokenFile: ${k.adminTokenFile} }`;
  return `version: 1
controller:
  evaluationInterval: 300ms
  store: { kind: sqlite, path: state.db }
metrics:
  - { name: k8s, kind: kubernetes, cluster: ${cluster}, staleAfter: 30s }
providers:
  - name: worker-machines
    kind: azure
    subscriptionId: ${fake.subscriptionId}
    resourceGroup: ${RG}
    scaleSet: ${scaleSet}
    endpoint: ${fake.url}
    caFile: ${fake.caFile}
    credentials: { servicePrincipalDir: azure-sp, authorityHost: ${fake.url} }
    ports: {}
    retry: { attempts: 4, baseDelay: 50ms, maxDelay: 500ms, callTimeout: 3s, pollInterval: 100ms, operationTimeout: 30s }
  - name: workers
    kind: kubernetes
    cluster: ${cluster}
    nodePool: { machines: worker-machines, drainTimeout: 30s, evictionRetry: 300ms }
pools:
  - name: workers
    role: worker
    provider: workers
    node: { kind: kube-node }
    size: { min: 1, capacity: 1, max: 3 }
    scaleUp:
      cooldown: 1s
      rules: [ { metric: "k8s:cpu", aggregate: avg, comparator: ">", threshold: 2, step: 1 } ]
    scaleDown:
      period: 1s
      lockAttemptPeriod: 100ms
      rules: [ { metric: "k8s:cpu", aggregate: avg, comparator: "<", threshold: 0.5 } ]
    health: { checkInterval: 300ms, failTolerance: 20, joinTimeout: 60s }
`;
}

interface PodList {
  items: {
    metadata: { name: string };
    spec: { nodeName?: string };
    status: { phase?: string; conditions?: { type: string; status: string }[] };
  }[];
}
const isReady = (p: PodList['items'][number]) =>
  p.status.phase === 'Running' && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');

test('seed 001 on Azure: a worker node pool grows on Node CPU and shrinks by drain, Node delete, then instance delete', {
  skip: bed.skip,
}, async (t) => {
  const k = bed.kube();
  const scaleSet = `epiphany-workers-${Date.now().toString(36)}`;
  fake.addScaleSet({ resourceGroup: RG, name: scaleSet, orchestrationMode: 'Flexible' });
  const fleetDir = mkdtempSync(join(dir, 'fleet-'));
  const configFile = join(fleetDir, 'rampart.yaml');
  writeFileSync(configFile, configText(scaleSet));
  // The service principal as the Kubernetes secret mounts it: a folder, one file per key.
  mkdirSync(join(fleetDir, 'azure-sp'));
  writeFileSync(join(fleetDir, 'azure-sp', 'tenantId'), fake.tenantId);
  writeFileSync(join(fleetDir, 'azure-sp', 'clientId'), fake.servicePrincipal.clientId);
  writeFileSync(join(fleetDir, 'azure-sp', 'clientSecret'), fake.servicePrincipal.clientSecret);

  // Each VM's kubelet joins the cluster: a kwok Node named after the VM, with its providerID.
  const label = { 'rampart-test': scaleSet };
  const credential: TokenCredential = {
    getToken: async () => ({ token: fake.staticToken, expiresOnTimestamp: Date.now() + 3_600_000 }),
  };
  const watcher = new AzureProvider({
    name: 'kubelets',
    subscriptionId: fake.subscriptionId,
    resourceGroup: RG,
    scaleSet,
    credential,
    endpoint: fake.url,
    ca: fake.ca,
    ports: {},
  });
  const join_ = fakeKubeletJoin(k, watcher, {
    labels: label,
    providerID: (m) =>
      `azure:///subscriptions/${fake.subscriptionId}/resourceGroups/${RG}/providers/Microsoft.Compute/virtualMachines/${m.id}`,
    nodeName: (m) => m.host,
  });

  // metrics-server's view: every Node of the pool at `cpu` cores.
  let cpu = 0.1;
  let reporting = true;
  const reporter = (async () => {
    while (reporting) {
      const nodes = await k
        .ok<{ items: { metadata: { name: string } }[] }>(
          'GET',
          `/api/v1/nodes?labelSelector=rampart-test%3D${scaleSet}`,
        )
        .catch(() => ({ items: [] }));
      metrics!.setAll(
        'nodes',
        nodes.items.map((n) => [n.metadata.name, { cpu, memory: 2 ** 30 }] as const),
      );
      await new Promise((r) => setTimeout(r, 200));
    }
  })();

  // What the cluster looks like each time Azure is asked to delete an instance.
  const seen: { vm: string; node: number; podsOnNode: number }[] = [];
  const ns = `web-${Date.now().toString(36)}`;
  fake.beforeOperation('virtualMachineScaleSets.deleteInstances', async (_p, body) => {
    const vm = (body as { instanceIds: string[] }).instanceIds[0]!;
    const node = await k.request('GET', `/api/v1/nodes/${vm}`);
    const pods = await k.ok<PodList>('GET', `/api/v1/namespaces/${ns}/pods`);
    seen.push({ vm, node: node.status, podsOnNode: pods.items.filter((p) => p.spec.nodeName === vm).length });
  });

  const lines: string[] = [];
  const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
  const controller = new Controller({ runtime: createRuntime(loadConfigFile(configFile).config), log });
  const inspect = createRuntime(loadConfigFile(configFile).config);
  await inspect.store.open();
  t.after(async () => {
    reporting = false;
    await reporter;
    await controller.stop();
    await join_.stop();
    await inspect.store.close().catch(() => undefined);
    await k.ok('DELETE', `/api/v1/namespaces/${ns}`).catch(() => undefined);
    await k.ok('DELETE', `/api/v1/nodes?labelSelector=rampart-test%3D${scaleSet}`);
  });
  await controller.start();
  const ready = async () =>
    (await inspect.store.listNodes({ pool: 'workers' })).filter((n) => n.state === 'ready');
  const vms = () => fake.machines(RG, scaleSet).filter((m) => m.properties.provisioningState !== 'Deleting');

  await waitFor('one ready worker (capacity 1)', async () => (await ready()).length === 1, 90_000);

  // Workloads on the pool's Nodes, guarded by a budget.
  await createNamespace(k, ns);
  await k.ok('POST', `/apis/apps/v1/namespaces/${ns}/deployments`, {
    body: {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web' },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' }, annotations: { ...KWOK_FAST_POD_ANNOTATIONS } },
          spec: {
            nodeSelector: label,
            terminationGracePeriodSeconds: 1,
            // One pod per Node while there are Nodes for both: a hard constraint, since the
            // scheduler may otherwise place both on the Node whose not-ready taint went first.
            // A single Node is one domain (skew 0), so it still takes both.
            topologySpreadConstraints: [
              {
                maxSkew: 1,
                topologyKey: 'kubernetes.io/hostname',
                whenUnsatisfiable: 'DoNotSchedule',
                labelSelector: { matchLabels: { app: 'web' } },
              },
            ],
            containers: [{ name: 'web', image: 'registry.invalid/web:never-pulled' }],
          },
        },
      },
    },
  });
  await k.ok('POST', `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets`, {
    body: {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: 'web-pdb' },
      spec: { minAvailable: 1, selector: { matchLabels: { app: 'web' } } },
    },
  });

  // Load: 3 cores per Node, above the threshold of 2: the pool grows to max.
  cpu = 3;
  await waitFor('the pool to reach max (3 ready workers)', async () => (await ready()).length === 3, 120_000);
  assert.equal(vms().length, 3);
  for (const vm of vms()) {
    const node = await k.ok<{ spec: { providerID: string } }>('GET', `/api/v1/nodes/${vm.name}`);
    assert.match(node.spec.providerID, new RegExp(`^azure:///subscriptions/.*/virtualMachines/${vm.name}$`));
  }
  // Spread the pods over the new Nodes too: remove them so the scheduler places them afresh.
  await k.ok('DELETE', `/api/v1/namespaces/${ns}/pods?labelSelector=app%3Dweb&gracePeriodSeconds=0`);

  const webPods = () => k.ok<PodList>('GET', `/api/v1/namespaces/${ns}/pods?labelSelector=app%3Dweb`);
  await waitFor(
    'both web pods ready again',
    async () => (await webPods()).items.filter(isReady).length === 2,
  );
  const before = (await webPods()).items;
  assert.equal(
    new Set(before.map((p) => p.spec.nodeName)).size,
    2,
    'the two pods on two Nodes: one of them will go',
  );
  await waitFor('the budget to see them', async () => {
    const pdb = await k.ok<{ status?: { currentHealthy?: number } }>(
      'GET',
      `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets/web-pdb`,
    );
    return pdb.status?.currentHealthy === 2;
  });

  // The load goes: the pool shrinks back to capacity, one drained Node at a time, while the
  // budget keeps a web pod ready throughout.
  let fewestReady = 2;
  let watching = true;
  const watch = (async () => {
    while (watching) {
      const pods = await webPods().catch(() => undefined);
      if (pods) fewestReady = Math.min(fewestReady, pods.items.filter(isReady).length);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  cpu = 0.1;
  try {
    await waitFor(
      'the pool to return to capacity (1)',
      async () =>
        (await ready()).length === 1 &&
        vms().length === 1 &&
        (await inspect.store.openActions()).length === 0,
      120_000,
    );
  } finally {
    watching = false;
    await watch;
  }
  assert.ok(
    fewestReady >= 1,
    `the budget allows one disruption; ${fewestReady} web pods were ready at one point`,
  );
  const survivor = vms()[0]!.name;
  const evicted = before.filter((p) => p.spec.nodeName !== survivor);
  assert.ok(evicted.length >= 1);
  const now = (await webPods()).items.map((p) => p.metadata.name);
  for (const p of evicted)
    assert.ok(!now.includes(p.metadata.name), `pod ${p.metadata.name} was evicted from its Node`);
  const removals = (await inspect.store.listActions({ pool: 'workers', limit: 1000 })).filter(
    (a) => a.kind === 'remove',
  );
  assert.equal(removals.length, 2, 'two scale-ins');
  for (const r of removals) assert.equal(r.outcome, 'succeeded');
  assert.equal(seen.length, 2, 'one deleteInstances per scale-in');
  for (const s of seen) {
    assert.equal(s.node, 404, `Node ${s.vm} was deleted before its instance`);
    assert.equal(s.podsOnNode, 0, `no pod was left on ${s.vm} when its instance went`);
  }
  const nodes = await k.ok<{ items: { metadata: { name: string } }[] }>(
    'GET',
    `/api/v1/nodes?labelSelector=rampart-test%3D${scaleSet}`,
  );
  assert.deepEqual(
    nodes.items.map((n) => n.metadata.name),
    vms().map((vm) => vm.name),
    'the one Node left is the one VM left',
  );
  await waitFor('both web pods ready on the remaining Node', async () => {
    const pods = await webPods();
    return (
      pods.items.filter(isReady).length === 2 && pods.items.every((p) => p.spec.nodeName === vms()[0]?.name)
    );
  });
  const decisions = await inspect.store.listDecisions({ pool: 'workers', limit: 1000 });
  assert.ok(
    decisions.some((d) => d.decision === 'scale-up' && d.reasons.some((r) => /k8s:cpu/.test(r.text))),
    'scaled up on the Nodes’ CPU',
  );
  assert.ok(!lines.join('').includes(fake.servicePrincipal.clientSecret), 'the secret is never logged');
});
