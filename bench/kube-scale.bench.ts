// Metric change → scale request on a 1,000-node simulated cluster: a real kube-apiserver
// with 1,000 kwok Nodes and a StatefulSet pool of 1,000 Rampart replicas (one pod per Node),
// pod CPU from the metrics API (the test bed's fake metrics server, behind the real API
// server's aggregation layer). Each run sets every pod busy and times until the controller
// asks the provider for a new replica. Anchor: the cluster autoscaler's scale-up latency SLO
// (30 s below 100 nodes, 60 s up to 1,000). Target: under 2 s at 1,000 nodes.
//
// The pool's records are seeded as though Rampart had created the 1,000 replicas (creating
// them one at a time would take the benchmark hours and measure nothing more). The figure
// includes the wait for the next tick (evaluationInterval 1 s), so its floor is about half
// an interval; the `tick` figures are one observe + decide over the whole cluster alone.
//
// stdout: one JSON line per run, then a summary with medians. Progress on stderr.
// RAMPART_BENCH_NODES (default 1000; `--quick`: 100), RAMPART_BENCH_RUNS (default 7; quick 3).

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { loadConfigFile } from '../src/config/load.ts';
import { Controller } from '../src/controller/controller.ts';
import { observe } from '../src/controller/observe.ts';
import { createRuntime } from '../src/runtime/runtime.ts';
import { SqliteStore } from '../src/store/sqlite-store.ts';
import type { StoredNode } from '../src/store/store.ts';
import { aggregatorFlags, startFakeMetricsServer } from '../test/support/fake-metrics-server.ts';
import { createNamespace, KWOK_FAST_POD_ANNOTATIONS, startKube } from '../test/support/kube.ts';

const BENCH = 'kube-scale';
const QUICK = process.argv.includes('--quick') || process.env.RAMPART_BENCH_QUICK === '1';
const NODES = Number(process.env.RAMPART_BENCH_NODES ?? (QUICK ? 100 : 1000));
const RUNS = Number(process.env.RAMPART_BENCH_RUNS ?? (QUICK ? 3 : 7));
const NS = 'bench';
const STS = 'sentry';
const log = (m: string) => process.stderr.write(`${BENCH}: ${m}\n`);

async function until<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  ms: number,
): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const v = await Promise.resolve()
      .then(check)
      .catch(() => undefined);
    if (v) return v;
    await sleep(100);
  }
  throw new Error(`timed out after ${ms / 1000} s waiting for ${what}`);
}

async function mapLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const cleanups: (() => unknown)[] = [];
const hooks = {
  after: (fn: () => unknown) => void cleanups.push(fn),
  skip: (m?: string) => log(`skipped: ${m}`),
};
const dir = mkdtempSync(join(tmpdir(), 'rampart-bench-kube-'));
// The test bed's waits use unref'd timers: something must hold the event loop meanwhile.
const keepAlive = setInterval(() => undefined, 1000);
try {
  const t0 = Date.now();
  const kube = await startKube(hooks, { apiserverArgs: aggregatorFlags(dir) });
  if (!kube) throw new Error('the Kubernetes test bed is not built: bash scripts/testbed/kubernetes.sh');
  const metrics = await startFakeMetricsServer(kube);
  cleanups.push(() => metrics.stop());
  await createNamespace(kube, NS);
  log(`creating ${NODES} kwok Nodes…`);
  const nodeNames = Array.from({ length: NODES }, (_, i) => `kwok-${String(i).padStart(4, '0')}`);
  await mapLimit(nodeNames, 16, (n) => kube.createNode(n, { pods: 8 }));

  // The pool as Rampart would have left it: the record on the StatefulSet and in the store.
  const now = Date.now();
  const record: Record<string, unknown> = {};
  const nodeIds = Array.from({ length: NODES }, (_, i) => `sentries-b${String(i).padStart(4, '0')}`);
  nodeIds.forEach((nodeId, i) => {
    record[String(i)] = {
      nodeId,
      actionId: `seed-${i}`,
      pool: 'sentries',
      createdAt: now - (NODES - i) * 1000,
    };
  });
  log(`creating the StatefulSet with ${NODES} replicas…`);
  await kube.ok('POST', `/apis/apps/v1/namespaces/${NS}/statefulsets`, {
    body: {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: STS, annotations: { 'rampart.dev/replicas': JSON.stringify(record) } },
      spec: {
        replicas: NODES,
        serviceName: STS,
        podManagementPolicy: 'Parallel',
        selector: { matchLabels: { app: STS } },
        template: {
          metadata: { labels: { app: STS }, annotations: KWOK_FAST_POD_ANNOTATIONS },
          spec: {
            containers: [{ name: 'node', image: 'sentry' }],
            // One pod per Node, as sentries are spread.
            topologySpreadConstraints: [
              {
                maxSkew: 1,
                topologyKey: 'kubernetes.io/hostname',
                whenUnsatisfiable: 'ScheduleAnyway',
                labelSelector: { matchLabels: { app: STS } },
              },
            ],
          },
        },
      },
    },
  });
  await until(
    `${NODES} ready replicas`,
    async () => {
      const s = await kube.ok<{ status?: { readyReplicas?: number } }>(
        'GET',
        `/apis/apps/v1/namespaces/${NS}/statefulsets/${STS}`,
      );
      log(`  ${s.status?.readyReplicas ?? 0}/${NODES} ready`);
      return (s.status?.readyReplicas ?? 0) >= NODES;
    },
    1_800_000,
  );
  log(`cluster up in ${((Date.now() - t0) / 1000).toFixed(0)} s`);

  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, kube.adminToken, { mode: 0o600 });
  const cluster = `{ server: '${kube.url}', caFile: ${kube.caFile}, tokenFile: ${tokenFile} }`;
  const configFile = join(dir, 'rampart.yaml');
  writeFileSync(
    configFile,
    `version: 1
controller:
  evaluationInterval: 1s
  store: { kind: sqlite, path: ${join(dir, 'state.db')} }
metrics:
  - { name: k8s, kind: kubernetes, cluster: ${cluster}, timeout: 10s }
providers:
  - { name: cluster, kind: kubernetes, cluster: ${cluster}, namespace: ${NS}, workload: { statefulSet: ${STS} } }
pools:
  - name: sentries
    role: sentry
    provider: cluster
    node: { kind: kube-pod }
    size: { min: 1, capacity: ${NODES}, max: ${NODES + RUNS + 5} }
    scaleIn: { select: newest }
    scaleUp:
      cooldown: 0s
      rules: [{ metric: k8s:cpu, aggregate: avg, comparator: '>', threshold: 0.8 }]
    health: { checkInterval: 1s, failTolerance: 1000000 }
`,
  );
  const seed = new SqliteStore(join(dir, 'state.db'));
  await seed.open();
  const term = await seed.newTerm('bench seed');
  await mapLimit(nodeIds, 32, (id) => {
    const i = nodeIds.indexOf(id);
    const node: StoredNode = {
      id,
      pool: 'sentries',
      provider: 'cluster',
      state: 'ready',
      createdAt: now - (NODES - i) * 1000,
      readyAt: now,
      joinStartedAt: now - (NODES - i) * 1000,
      joinAttempts: 0,
      failMarker: 0,
      actionId: `seed-${i}`,
      registered: false,
      instanceId: `${NS}/${STS}-${i}`,
      host: `${STS}-${i}.${STS}.${NS}.svc`,
      ports: {},
      updatedAt: now,
    };
    return seed.putNode(node, term);
  });
  await seed.close();
  const rt = createRuntime(loadConfigFile(configFile).config);

  // Pod CPU as the metrics API reports it, for every pod of the pool.
  let cpu = 0.5;
  const setAll = () => {
    for (let i = 0; i < NODES + RUNS + 5; i++)
      metrics.set('pods', `${NS}/${STS}-${i}`, { cpu, memory: 2 ** 28 });
  };
  setAll();

  // One observe over the whole cluster, alone (decide is the core's: see the decide bench).
  await rt.store.open();
  const ticks: number[] = [];
  for (let i = 0; i < 5; i++) {
    const a = performance.now();
    const o = await observe(rt);
    ticks.push(performance.now() - a);
    const pool = o.pools.get('sentries');
    if (i === 0)
      log(
        `observed ${pool?.nodes.length} nodes, ${pool?.instances.size} instances, ${o.samples.length} samples`,
      );
  }

  // Times each provider.create, the scale request.
  const requests: number[] = [];
  const provider = rt.providers.get('cluster')!;
  const create = provider.create.bind(provider);
  (provider as { create: typeof provider.create }).create = async (req) => {
    requests.push(Date.now());
    return create(req);
  };
  await rt.store.close();
  const controller = new Controller({ runtime: rt, log: pino({ level: 'silent' }) });
  await controller.start();
  cleanups.push(() => controller.stop());
  await sleep(3000);
  if (requests.length > 0)
    throw new Error(`the controller scaled before the metric changed (${requests.length})`);

  const latencies: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    // A random phase against the tick, as a real metric change has.
    await sleep(Math.random() * 1000);
    const before = requests.length;
    cpu = 0.95;
    setAll();
    const changedAt = Date.now();
    const at = await until('the scale request', () => requests[before], 60_000);
    cpu = 0.5;
    setAll();
    const latencyMs = at - changedAt;
    latencies.push(latencyMs);
    process.stdout.write(`${JSON.stringify({ bench: BENCH, nodes: NODES, run: run + 1, latencyMs })}\n`);
    // The new replica joins (kwok makes its pod Ready) before the next run.
    await until(
      'the new replica ready',
      async () =>
        (await rt.store.listNodes({ pool: 'sentries' })).filter((n) => n.state === 'ready').length >=
        NODES + run + 1,
      120_000,
    );
  }
  process.stdout.write(
    `${JSON.stringify({
      bench: BENCH,
      summary: true,
      nodes: NODES,
      runs: RUNS,
      latencyMedianMs: Math.round(median(latencies)),
      latencyMaxMs: Math.max(...latencies),
      tickMedianMs: Math.round(median(ticks)),
      evaluationIntervalMs: 1000,
      targetMs: 2000,
      anchorMs: NODES <= 100 ? 30_000 : 60_000,
    })}\n`,
  );
} finally {
  for (const fn of cleanups.reverse()) await fn();
  rmSync(dir, { recursive: true, force: true });
  clearInterval(keepAlive);
}
