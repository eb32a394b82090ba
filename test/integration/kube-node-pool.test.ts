// The kubernetes node-pool provider against a real API server (with the controller-manager,
// scheduler and kwok) and moto's Auto Scaling: scale-up waits for the Node to be Ready,
// scale-down drains through the Eviction API and respects PodDisruptionBudgets, a blocked
// drain is undone and reported per pod, DaemonSet pods are left alone. A fake kubelet join
// registers each moto machine's Node (nothing boots on moto's machines).

import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import pino from 'pino';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { kubeNodeKind } from '../../src/nodes/kube/kube-kinds.ts';
import { AwsProvider } from '../../src/providers/aws/aws-provider.ts';
import {
  NODE_LOST_AFTER_MS,
  NodePoolProvider,
  nodeStatus,
} from '../../src/providers/kubernetes/node-pool-provider.ts';
import type { CreateRequest, Instance } from '../../src/providers/provider.ts';
import { shortId } from '../../src/runtime/action-journal.ts';
import { providerContract } from '../contracts/provider.contract.ts';
import { type FakeKubeletJoin, fakeKubeletJoin } from '../support/fake-kubelet-join.ts';
import { createNamespace, KWOK_FAST_POD_ANNOTATIONS, kubeForFile } from '../support/kube.ts';
import { createMotoGroup, motoClients, motoForFile, resetMoto } from '../support/moto-group.ts';
import { providerToken } from '../support/node-pool-access.ts';
import { pollUntil } from '../support/servers.ts';

const moto = motoForFile();
const bed = kubeForFile();
const skip = bed.skip || moto.skip;

interface Pool {
  readonly pool: NodePoolProvider;
  readonly machines: AwsProvider;
  /** A new provider object over the same group and cluster: what a restarted controller has. */
  fresh(): NodePoolProvider;
  readonly lines: string[];
  /** Label on this test's Nodes, for its pods' nodeSelector. */
  readonly label: Record<string, string>;
  join(): FakeKubeletJoin;
  /** Creates a namespace for the test's workloads, removed (pods at once) after the test. */
  namespace(prefix: string): Promise<string>;
}

/** A fresh moto group, an aws provider on it and a node pool over both; Nodes removed after the test. */
async function freshPool(
  t: { after(fn: () => unknown): void },
  over: { drainTimeoutMs?: number; evictionRetryMs?: number } = {},
): Promise<Pool> {
  const k = bed.kube();
  await resetMoto(moto.server()!.url);
  const group = `workers-${shortId()}`;
  await createMotoGroup(moto.server()!.url, { group, maxSize: 6 });
  const newMachines = () =>
    new AwsProvider({
      name: 'cloud',
      region: 'us-east-1',
      autoScalingGroup: group,
      endpoint: moto.server()!.url,
      ports: {},
      retry: { attempts: 3, baseDelayMs: 20, maxDelayMs: 200, callTimeoutMs: 5000 },
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
  const newPool = (m: AwsProvider) =>
    new NodePoolProvider({
      name: 'workers-kube',
      client,
      machines: m,
      drainTimeoutMs: over.drainTimeoutMs ?? 30_000,
      evictionRetryMs: over.evictionRetryMs ?? 300,
      log: pino({ level: 'debug' }, sink),
    });
  const pool = newPool(machines);
  const label = { 'rampart-test': group };
  const joins: FakeKubeletJoin[] = [];
  const namespaces: string[] = [];
  t.after(async () => {
    for (const j of joins) await j.stop();
    // moto hands the next test's machines the same addresses, so the same Node names: no pod
    // of this test may stay bound to a name (pods are bound by Node name, not uid).
    for (const ns of namespaces) {
      await k.ok('DELETE', `/api/v1/namespaces/${ns}`);
      await k.ok('DELETE', `/api/v1/namespaces/${ns}/pods?gracePeriodSeconds=0`);
    }
    await k.ok('DELETE', `/api/v1/nodes?labelSelector=rampart-test%3D${group}`);
    client.close();
  });
  return {
    pool,
    machines,
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
      const j = fakeKubeletJoin(k, machines, { labels: label });
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

/** moto's state of a machine, read directly. */
async function machineState(id: string): Promise<string | undefined> {
  const { ec2 } = motoClients(moto.server()!.url);
  const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
  ec2.destroy();
  return out.Reservations?.[0]?.Instances?.[0]?.State?.Name;
}

interface PodList {
  items: {
    metadata: { name: string; uid: string; ownerReferences?: { kind: string }[] };
    spec: { nodeName?: string };
    status: { phase?: string; conditions?: { type: string; status: string }[] };
  }[];
}
const isReady = (p: PodList['items'][number]) =>
  p.status.phase === 'Running' && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');

function pods(ns: string, app: string): Promise<PodList> {
  return bed.kube().ok<PodList>('GET', `/api/v1/namespaces/${ns}/pods?labelSelector=app%3D${app}`);
}

/** A Deployment of `replicas` pods of app `web`, one per Node (anti-affinity), on this test's Nodes. */
async function deployWeb(ns: string, replicas: number, nodeLabel: Record<string, string>): Promise<void> {
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
            nodeSelector: nodeLabel,
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
}

async function createPdb(ns: string, name: string, app: string, spec: Record<string, number>): Promise<void> {
  await bed.kube().ok('POST', `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets`, {
    body: {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name },
      spec: { ...spec, selector: { matchLabels: { app } } },
    },
  });
}

/** Waits until `count` pods of app are Ready on distinct Nodes; answers them. */
async function readyPods(ns: string, app: string, count: number): Promise<PodList['items']> {
  const last = await pollUntil(
    () => pods(ns, app),
    (l) => l.items.filter(isReady).length === count && l.items.length === count,
    60_000,
    200,
  );
  const ready = last.items.filter(isReady);
  assert.equal(
    ready.length,
    count,
    JSON.stringify(last.items.map((p) => [p.metadata.name, p.spec.nodeName])),
  );
  return ready;
}

/** The PDB's status has caught up with its pods (the disruption controller runs asynchronously). */
async function pdbSettled(ns: string, name: string, healthy: number): Promise<void> {
  const last = await pollUntil(
    () =>
      bed
        .kube()
        .ok<{ status?: { currentHealthy?: number; observedGeneration?: number } }>(
          'GET',
          `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets/${name}`,
        ),
    (b) => b.status?.currentHealthy === healthy,
    30_000,
    200,
  );
  assert.equal(last.status?.currentHealthy, healthy, JSON.stringify(last.status));
}

test('a Node status: not ready while unregistered, NotReady or drained; given up after minutes NotReady', () => {
  const now = Date.parse('2026-01-01T12:00:00Z');
  const node = (status: string, since: string, annotations?: Record<string, string>) => ({
    metadata: { name: 'ip-10-0-1-5.ec2.internal', annotations },
    status: { conditions: [{ type: 'Ready', status, lastTransitionTime: since }] },
  });
  assert.deepEqual(nodeStatus(undefined, now), {
    ready: false,
    healthy: true,
    detail: 'machine running; its Node has not registered yet',
  });
  assert.equal(nodeStatus(node('True', '2026-01-01T11:00:00Z'), now).ready, true);
  const drained = nodeStatus(node('True', '2026-01-01T11:00:00Z', { 'rampart.dev/draining': 'x' }), now);
  assert.deepEqual([drained.ready, drained.healthy], [false, true]);
  const fresh = nodeStatus(node('Unknown', new Date(now - 60_000).toISOString()), now);
  assert.deepEqual([fresh.ready, fresh.healthy], [false, true]);
  const lost = nodeStatus(node('False', new Date(now - NODE_LOST_AFTER_MS - 1000).toISOString()), now);
  assert.deepEqual([lost.ready, lost.healthy], [false, false]);
  assert.match(lost.detail, /Ready=False for more than 5 minutes/);
});

test('scale-up: the machine launches, its Node registers, and only a Ready Node makes it ready', {
  skip,
}, async (t) => {
  const p = await freshPool(t);
  const made = await p.pool.create(request());
  assert.equal(made.running, true);
  assert.deepEqual(made.status, {
    ready: false,
    healthy: true,
    detail: 'machine running; its Node has not registered yet',
  });
  assert.equal(await machineState(made.id), 'running');
  const before = (await p.pool.list()).find((i) => i.id === made.id);
  assert.equal(before?.status?.ready, false, 'no Node yet: not ready');

  p.join();
  const [ready] = await readyInstances(p.pool, 1);
  assert.equal(ready!.id, made.id);
  assert.equal(ready!.nodeId, made.nodeId);
  assert.match(ready!.host, /^ip-10-0-1-\d+\.ec2\.internal$/);
  assert.deepEqual(ready!.names, [ready!.host]);
  const node = await bed.kube().ok<{
    spec: { providerID: string };
    status: { conditions: { type: string; status: string }[] };
  }>('GET', `/api/v1/nodes/${ready!.host}`);
  assert.equal(node.spec.providerID, `aws:///us-east-1a/${made.id}`);
  assert.equal(node.status.conditions.find((c) => c.type === 'Ready')?.status, 'True');
});

test('scale-down of two Nodes holding a Deployment: evictions respect the PDB, then Nodes and machines go', {
  skip,
}, async (t) => {
  const p = await freshPool(t);
  for (let i = 0; i < 4; i++) await p.pool.create(request());
  p.join();
  const instances = await readyInstances(p.pool, 4);
  const ns = await p.namespace('drain');
  await deployWeb(ns, 2, p.label);
  await createPdb(ns, 'web-pdb', 'web', { minAvailable: 1 });
  const placed = await readyPods(ns, 'web', 2);
  await pdbSettled(ns, 'web-pdb', 2);
  const holding = instances.filter((i) => placed.some((pod) => pod.spec.nodeName === i.host));
  assert.equal(holding.length, 2, 'one pod on each of two Nodes');

  // The spares are cordoned until the budget has refused an eviction, so the first evicted pod's
  // replacement stays Pending and the second eviction must wait: however the two drains
  // interleave, one of them meets a budget of 0 (no race with the replacement becoming Ready).
  const spare = instances.filter((i) => !holding.includes(i)).map((i) => i.host);
  const setSchedulable = (on: boolean) =>
    Promise.all(
      spare.map((host) =>
        bed.kube().ok('PATCH', `/api/v1/nodes/${host}`, {
          body: { spec: { unschedulable: on ? null : true } },
          contentType: 'application/merge-patch+json',
        }),
      ),
    );
  await setSchedulable(false);

  // Watch the Deployment while both Nodes drain at once: the budget keeps one pod Ready.
  let fewestReady = 2;
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      const l = await pods(ns, 'web');
      fewestReady = Math.min(fewestReady, l.items.filter(isReady).length);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  const refused = () =>
    p.lines.some((l) => /refused: PodDisruptionBudget drain-\w+\/web-pdb allows 0 disruptions/.test(l));
  try {
    const drains = Promise.allSettled(holding.map((i) => p.pool.destroy(i)));
    let settled = false;
    void drains.then(() => {
      settled = true;
    });
    // Bounded by the drains themselves: they give up after their 30 s timeout.
    await pollUntil(
      async () => refused() || settled,
      (done) => done,
      60_000,
      50,
    );
    assert.ok(refused(), 'the second eviction waited for the budget');
    await setSchedulable(true);
    for (const r of await drains) if (r.status === 'rejected') throw r.reason;
  } finally {
    watching = false;
    await watcher;
    await setSchedulable(true);
  }
  assert.ok(fewestReady >= 1, `the PDB allows one disruption; ${fewestReady} pods were Ready at one point`);
  for (const i of holding) {
    const gone = await bed.kube().request('GET', `/api/v1/nodes/${i.host}`);
    assert.equal(gone.status, 404, `Node ${i.host} is deleted`);
    assert.match((await machineState(i.id)) ?? 'terminated', /terminated|shutting-down/);
  }
  const moved = await readyPods(ns, 'web', 2);
  assert.deepEqual(moved.map((pod) => pod.spec.nodeName).sort(), spare.sort(), 'rescheduled onto the spares');
  assert.deepEqual(
    (await p.pool.list()).map((i) => i.id).sort(),
    instances
      .filter((i) => !holding.includes(i))
      .map((i) => i.id)
      .sort(),
  );
  // Idempotent: a second removal of a gone node is not an error.
  await p.pool.destroy(holding[0]!);
});

test('a drain the PDB blocks is undone: destroy names the pod and budget, the Node keeps serving', {
  skip,
}, async (t) => {
  const p = await freshPool(t, { drainTimeoutMs: 3000, evictionRetryMs: 500 });
  for (let i = 0; i < 2; i++) await p.pool.create(request());
  p.join();
  const instances = await readyInstances(p.pool, 2);
  const ns = await p.namespace('blocked');
  await deployWeb(ns, 2, p.label);
  await createPdb(ns, 'web-pdb', 'web', { maxUnavailable: 0 });
  const placed = await readyPods(ns, 'web', 2);
  await pdbSettled(ns, 'web-pdb', 2);
  const victim = instances[0]!;
  const pod = placed.find((x) => x.spec.nodeName === victim.host)!;

  const err = await p.pool.destroy(victim).then(
    () => assert.fail('the drain should have been refused'),
    (e: Error) => e,
  );
  assert.match(err.message, new RegExp(`Node ${victim.host.replaceAll('.', '\\.')}`));
  assert.match(err.message, new RegExp(`machine ${victim.id}`));
  assert.match(err.message, /gave up after 3000 ms/);
  assert.ok(
    err.message.includes(
      `pod ${ns}/${pod.metadata.name}: PodDisruptionBudget ${ns}/web-pdb allows 0 disruptions (2 healthy, 2 desired)`,
    ),
    err.message,
  );
  const node = await bed.kube().ok<{
    metadata: { annotations?: Record<string, string> };
    spec: { unschedulable?: boolean };
  }>('GET', `/api/v1/nodes/${victim.host}`);
  assert.notEqual(node.spec.unschedulable, true, 'uncordoned');
  assert.equal(node.metadata.annotations?.['rampart.dev/draining'], undefined);
  assert.equal(await machineState(victim.id), 'running');
  const still = await pods(ns, 'web');
  assert.ok(
    still.items.some((x) => x.metadata.uid === pod.metadata.uid && isReady(x)),
    'the pod still runs',
  );
  const listed = (await p.pool.list()).find((i) => i.id === victim.id);
  assert.equal(listed?.status?.ready, true, 'serving again');
});

test('DaemonSet pods are not evicted: a budget that blocks them all does not hold the drain', {
  skip,
}, async (t) => {
  const p = await freshPool(t, { drainTimeoutMs: 5000, evictionRetryMs: 300 });
  const made = await p.pool.create(request());
  p.join();
  const [victim] = await readyInstances(p.pool, 1);
  const ns = await p.namespace('daemons');
  await bed.kube().ok('POST', `/apis/apps/v1/namespaces/${ns}/daemonsets`, {
    body: {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'agent' },
      spec: {
        selector: { matchLabels: { app: 'agent' } },
        template: {
          metadata: { labels: { app: 'agent' }, annotations: { ...KWOK_FAST_POD_ANNOTATIONS } },
          spec: {
            nodeSelector: p.label,
            containers: [{ name: 'agent', image: 'registry.invalid/agent:never-pulled' }],
          },
        },
      },
    },
  });
  await createPdb(ns, 'agent-pdb', 'agent', { minAvailable: 1 });
  const [agent] = await readyPods(ns, 'agent', 1);
  assert.equal(agent!.spec.nodeName, victim!.host);
  await pdbSettled(ns, 'agent-pdb', 1);

  await p.pool.destroy(victim!);
  assert.ok(
    !p.lines.some((l) => l.includes(`${ns}/`)),
    `no eviction of the DaemonSet pod:\n${p.lines.join('')}`,
  );
  assert.equal((await bed.kube().request('GET', `/api/v1/nodes/${victim!.host}`)).status, 404);
  assert.match((await machineState(made.id)) ?? 'terminated', /terminated|shutting-down/);
});

// The provider contract every provider passes, on a fresh moto group per case; the fake
// kubelet join registers each machine's Node, so a removal drains and deletes it.
providerContract(
  'kubernetes (node pool on kwok, machines on moto)',
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
