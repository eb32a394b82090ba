// The kubernetes node-pool provider on Azure machines (seed 001): a real API server (with the
// controller-manager, scheduler and kwok) and fake-azure-compute's Flexible scale set through
// the official clients. Each VM's Node registers with an `azure:///subscriptions/…` providerID
// (a fake kubelet join: the fake's VMs boot nothing); scale-down cordons, evicts through the
// Eviction API (PodDisruptionBudgets hold), deletes the Node and only then the instance, with
// deleteInstances naming it; a drain the budget blocks deletes nothing.

import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import type { TokenCredential } from '@azure/identity';
import pino from 'pino';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { kubeNodeKind } from '../../src/nodes/kube/kube-kinds.ts';
import { AzureProvider } from '../../src/providers/azure/azure-provider.ts';
import { machineIdOf, NodePoolProvider } from '../../src/providers/kubernetes/node-pool-provider.ts';
import type { CreateRequest, Instance } from '../../src/providers/provider.ts';
import { shortId } from '../../src/runtime/action-journal.ts';
import { providerContract } from '../contracts/provider.contract.ts';
import { type FakeAzureCompute, startFakeAzureCompute } from '../support/fake-azure-compute.ts';
import { type FakeKubeletJoin, fakeKubeletJoin } from '../support/fake-kubelet-join.ts';
import { createNamespace, KWOK_FAST_POD_ANNOTATIONS, kubeForFile } from '../support/kube.ts';
import { providerToken } from '../support/node-pool-access.ts';
import { pollUntil } from '../support/servers.ts';

const bed = kubeForFile();
const skip = bed.skip;
const RG = 'epiphany';

let fake: FakeAzureCompute;
before(async () => {
  fake = await startFakeAzureCompute({ pollsToFinish: 2, finishAfterMs: 1000 });
});
after(() => fake?.stop());

/** The providerID cloud-provider-azure's kubelet registers for a Flexible scale set's VM. */
const providerIdOf = (vmName: string) =>
  `azure:///subscriptions/${fake.subscriptionId}/resourceGroups/${RG}/providers/Microsoft.Compute/virtualMachines/${vmName}`;

interface Pool {
  readonly pool: NodePoolProvider;
  readonly scaleSet: string;
  fresh(): NodePoolProvider;
  readonly lines: string[];
  readonly label: Record<string, string>;
  join(): FakeKubeletJoin;
  namespace(prefix: string): Promise<string>;
}

async function freshPool(
  t: { after(fn: () => unknown): void },
  over: { drainTimeoutMs?: number; evictionRetryMs?: number } = {},
): Promise<Pool> {
  const k = bed.kube();
  const scaleSet = `aks-workers-${shortId()}`;
  fake.addScaleSet({ resourceGroup: RG, name: scaleSet, orchestrationMode: 'Flexible' });
  const credential: TokenCredential = {
    getToken: async () => ({ token: fake.staticToken, expiresOnTimestamp: Date.now() + 3_600_000 }),
  };
  const newMachines = () =>
    new AzureProvider({
      name: 'cloud',
      subscriptionId: fake.subscriptionId,
      resourceGroup: RG,
      scaleSet,
      credential,
      endpoint: fake.url,
      ca: fake.ca,
      ports: {},
      retry: {
        attempts: 3,
        baseDelayMs: 20,
        maxDelayMs: 200,
        callTimeoutMs: 5000,
        pollIntervalMs: 50,
        operationTimeoutMs: 20_000,
      },
      pool: 'workers',
    });
  const machines = newMachines();
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const client = new KubeClient({ server: k.url, caFile: k.caFile, tokenFile: await providerToken(k) });
  const newPool = (m: AzureProvider) =>
    new NodePoolProvider({
      name: 'workers-kube',
      client,
      machines: m,
      drainTimeoutMs: over.drainTimeoutMs ?? 30_000,
      evictionRetryMs: over.evictionRetryMs ?? 300,
      log: pino({ level: 'debug' }, sink),
    });
  const label = { 'rampart-test': scaleSet };
  const joins: FakeKubeletJoin[] = [];
  const namespaces: string[] = [];
  t.after(async () => {
    for (const j of joins) await j.stop();
    for (const ns of namespaces) {
      await k.ok('DELETE', `/api/v1/namespaces/${ns}`);
      await k.ok('DELETE', `/api/v1/namespaces/${ns}/pods?gracePeriodSeconds=0`);
    }
    await k.ok('DELETE', `/api/v1/nodes?labelSelector=rampart-test%3D${scaleSet}`);
    client.close();
  });
  return {
    pool: newPool(machines),
    scaleSet,
    fresh: () => newPool(newMachines()),
    lines,
    label,
    namespace: async (prefix) => {
      const ns = `${prefix}-${shortId()}`.toLowerCase();
      await createNamespace(k, ns);
      namespaces.push(ns);
      return ns;
    },
    join: () => {
      // The kubelet names its Node after the VM's computer name, which Rampart sets to the VM name.
      const j = fakeKubeletJoin(k, machines, {
        labels: label,
        providerID: (m: Instance) => providerIdOf(m.id),
        nodeName: (m: Instance) => m.host,
      });
      joins.push(j);
      return j;
    },
  };
}

function request(): CreateRequest {
  return {
    nodeId: `workers-${shortId()}`,
    pool: 'workers',
    actionId: `a-${shortId()}`,
    term: 1,
    kind: kubeNodeKind,
    launch: { role: 'worker', upstream: [], options: {} },
  };
}

async function readyInstances(pool: NodePoolProvider, count: number): Promise<Instance[]> {
  const last = await pollUntil(
    () => pool.list(),
    (l) => l.filter((i) => i.status?.ready).length === count,
    30_000,
    200,
  );
  const ready = last.filter((i) => i.status?.ready);
  assert.equal(ready.length, count, JSON.stringify(last.map((i) => [i.id, i.status])));
  return ready;
}

interface PodList {
  items: {
    metadata: { name: string; uid: string };
    spec: { nodeName?: string };
    status: { phase?: string; conditions?: { type: string; status: string }[] };
  }[];
}
const isReady = (p: PodList['items'][number]) =>
  p.status.phase === 'Running' && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
const pods = (ns: string): Promise<PodList> =>
  bed.kube().ok<PodList>('GET', `/api/v1/namespaces/${ns}/pods?labelSelector=app%3Dweb`);

/** A Deployment of `replicas` pods, one per Node, on this test's Nodes, and a budget over them. */
async function deployWeb(
  ns: string,
  replicas: number,
  label: Record<string, string>,
  pdb: Record<string, number>,
) {
  await bed.kube().ok('POST', `/apis/apps/v1/namespaces/${ns}/deployments`, {
    body: {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web' },
      spec: {
        replicas,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' }, annotations: { ...KWOK_FAST_POD_ANNOTATIONS } },
          spec: {
            nodeSelector: label,
            terminationGracePeriodSeconds: 1,
            affinity: {
              podAntiAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: [
                  { labelSelector: { matchLabels: { app: 'web' } }, topologyKey: 'kubernetes.io/hostname' },
                ],
              },
            },
            containers: [{ name: 'web', image: 'registry.invalid/web:never-pulled' }],
          },
        },
      },
    },
  });
  await bed.kube().ok('POST', `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets`, {
    body: {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: 'web-pdb' },
      spec: { ...pdb, selector: { matchLabels: { app: 'web' } } },
    },
  });
  const last = await pollUntil(
    () => pods(ns),
    (l) => l.items.filter(isReady).length === replicas,
    60_000,
    200,
  );
  assert.equal(last.items.filter(isReady).length, replicas);
  await pollUntil(
    () =>
      bed
        .kube()
        .ok<{ status?: { currentHealthy?: number } }>(
          'GET',
          `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets/web-pdb`,
        ),
    (b) => b.status?.currentHealthy === replicas,
    30_000,
    200,
  );
  return last.items.filter(isReady);
}

test('Azure providerIDs name the machine: a Flexible VM by its name, a Uniform instance by <set>_<id>', () => {
  assert.equal(
    machineIdOf(
      'azure:///subscriptions/s/resourceGroups/mc_rg/providers/Microsoft.Compute/virtualMachines/Workers-1A',
    ),
    'workers-1a',
  );
  assert.equal(
    machineIdOf(
      'azure:///subscriptions/s/resourceGroups/mc_rg/providers/Microsoft.Compute/virtualMachineScaleSets/aks-pool-vmss/virtualMachines/12',
    ),
    'aks-pool-vmss_12',
  );
  assert.equal(machineIdOf('aws:///us-east-1a/i-0abc'), 'i-0abc');
  assert.equal(machineIdOf(undefined), undefined);
});

test('scale-up on Azure: the VM is created in the scale set, its Node registers, only a Ready Node makes it ready', {
  skip,
}, async (t) => {
  const p = await freshPool(t);
  const made = await p.pool.create(request());
  assert.equal(made.running, true);
  assert.equal(made.status?.ready, false, 'no Node yet');
  p.join();
  const [ready] = await readyInstances(p.pool, 1);
  assert.equal(ready!.id, made.id);
  assert.equal(ready!.host, made.id, 'the Node is named after the VM');
  const node = await bed.kube().ok<{ spec: { providerID: string } }>('GET', `/api/v1/nodes/${ready!.host}`);
  assert.equal(node.spec.providerID, providerIdOf(made.id));
});

test('scale-down on Azure: the Node is cordoned, drained under its budget and deleted before deleteInstances names its VM', {
  skip,
}, async (t) => {
  const p = await freshPool(t);
  for (let i = 0; i < 3; i++) await p.pool.create(request());
  p.join();
  const instances = await readyInstances(p.pool, 3);
  const ns = await p.namespace('drain');
  const placed = await deployWeb(ns, 2, p.label, { minAvailable: 1 });
  const victim = instances.find((i) => placed.some((pod) => pod.spec.nodeName === i.host))!;
  const evicted = placed.find((pod) => pod.spec.nodeName === victim.host)!;

  // What the world looks like at the moment Azure is asked to delete the instance.
  const seen: { instanceIds?: string[]; nodeStatus?: number; podsOnNode?: number; readyPods?: number }[] = [];
  fake.beforeOperation('virtualMachineScaleSets.deleteInstances', async (_params, body) => {
    const node = await bed.kube().request('GET', `/api/v1/nodes/${victim.host}`);
    const l = await pods(ns);
    seen.push({
      instanceIds: (body as { instanceIds?: string[] }).instanceIds,
      nodeStatus: node.status,
      podsOnNode: l.items.filter((pod) => pod.spec.nodeName === victim.host).length,
      readyPods: l.items.filter(isReady).length,
    });
  });
  await p.pool.destroy(victim);
  assert.deepEqual(fake.hookErrors, []);
  assert.equal(seen.length, 1, 'one deleteInstances');
  assert.deepEqual(seen[0]!.instanceIds, [victim.id], 'naming exactly the chosen VM');
  assert.equal(seen[0]!.nodeStatus, 404, 'the Node was deleted before the instance');
  assert.equal(seen[0]!.podsOnNode, 0, 'its pods were gone before the instance');
  assert.ok((seen[0]!.readyPods ?? 0) >= 1, 'the budget kept one pod ready');
  assert.ok(
    p.lines.some((l) => l.includes(evicted.metadata.name)),
    `the pod ${evicted.metadata.name} was evicted:\n${p.lines.join('')}`,
  );
  const vms = fake.machines(RG, p.scaleSet).filter((m) => m.properties.provisioningState !== 'Deleting');
  assert.deepEqual(
    vms.map((m) => m.name).sort(),
    instances
      .filter((i) => i.id !== victim.id)
      .map((i) => i.id)
      .sort(),
  );
  await p.pool.destroy(victim);
});

test('a drain the budget blocks on Azure: the Node keeps serving and no instance is deleted', {
  skip,
}, async (t) => {
  const p = await freshPool(t, { drainTimeoutMs: 3000, evictionRetryMs: 500 });
  for (let i = 0; i < 2; i++) await p.pool.create(request());
  p.join();
  const instances = await readyInstances(p.pool, 2);
  const ns = await p.namespace('blocked');
  await deployWeb(ns, 2, p.label, { maxUnavailable: 0 });
  const victim = instances[0]!;
  const before = fake.calls.length;
  const err = await p.pool.destroy(victim).then(
    () => assert.fail('the drain should have been refused'),
    (e: Error) => e,
  );
  assert.match(err.message, new RegExp(`machine ${victim.id}`));
  assert.match(err.message, /PodDisruptionBudget .*web-pdb allows 0 disruptions/);
  assert.ok(
    !fake.calls.slice(before).some((c) => c.operation === 'virtualMachineScaleSets.deleteInstances'),
    'no instance deleted',
  );
  assert.equal((await p.pool.list()).find((i) => i.id === victim.id)?.status?.ready, true, 'serving again');
});

providerContract(
  'kubernetes (node pool on kwok, machines on fake-azure-compute)',
  async () => {
    const cleanups: (() => unknown)[] = [];
    const p = await freshPool({ after: (fn) => cleanups.push(fn) });
    p.join();
    return {
      provider: () => p.fresh(),
      kind: kubeNodeKind,
      cleanup: async () => {
        for (const fn of cleanups.reverse()) await fn();
      },
    };
  },
  { skip },
);
