// Metric change → sentry registered with the validator, for a StatefulSet of CometBFT sentries
// driven from its floor (2) to 50 replicas by one step in the metric it scales on. The real
// kube-apiserver and kwok; the fake kubelet runs each pod as a real CometBFT process on its own
// loopback pod IP (the chart of deploy/helm/cometbft-sentries, each claim restored from the
// newest VolumeSnapshot); a real CometBFT validator outside the cluster, run by Rampart's local
// provider, and a public full node. The metric is pod CPU from the metrics API (the test bed's
// fake metrics server): every pod goes from 0.2 to 0.95 cores at once, and the pool's rule
// (avg > 0.8, step REPLICAS - 2) asks for the whole pool in one decision.
//
// Per new sentry: metric change → registered (Rampart's register action succeeded: the
// validator's config.toml lists it as a persistent, private, unconditional peer and it was
// told to dial it), and metric change → peer connected (the sentry in the validator's
// /net_info, polled every 250 ms). Totals: to the last one registered and connected. And how
// many CometBFT processes the fake kubelet ran (and restarted), and the load average.
//
// `npm run bench -- kube-sentries` (50 replicas); `-- --quick` 8; `-- --replicas N`.
// stdout: one JSON line per sentry, then a summary. Progress on stderr.

import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { loadConfigFile } from '../src/config/load.ts';
import { Controller } from '../src/controller/controller.ts';
import { getTomlValue, setTomlValues, splitList } from '../src/nodes/cometbft/config-toml.ts';
import { createRuntime } from '../src/runtime/runtime.ts';
import { createNetwork, rpcResult } from '../test/support/cometbft-net.ts';
import { fakeKubelet } from '../test/support/fake-kubelet.ts';
import { aggregatorFlags, startFakeMetricsServer } from '../test/support/fake-metrics-server.ts';
import { fakeSnapshotController } from '../test/support/fake-snapshot-controller.ts';
import { fakeVolumeProvisioner } from '../test/support/fake-volume-provisioner.ts';
import { createNamespace, installCrds, KWOK_FAST_POD_ANNOTATIONS, startKube } from '../test/support/kube.ts';
import { helmTemplate, SENTRIES_CHART } from '../test/support/kube-chart.ts';
import { findBinary } from '../test/support/servers.ts';

const BENCH = 'kube-sentries';
const argv = process.argv.slice(2);
const QUICK = argv.includes('--quick') || process.env.RAMPART_BENCH_QUICK === '1';
const replicasFlag = argv.indexOf('--replicas');
const REPLICAS = Number(
  replicasFlag >= 0 ? argv[replicasFlag + 1] : (process.env.RAMPART_BENCH_REPLICAS ?? (QUICK ? 8 : 50)),
);
const FLOOR = 2;
if (!Number.isInteger(REPLICAS) || REPLICAS <= FLOOR || REPLICAS > 200)
  throw new Error(`--replicas must be a whole number from ${FLOOR + 1} to 200 (a /24 of loopback pod IPs)`);
/** Longest wait for the whole pool, from the metric change. */
const DEADLINE_MS = Number(process.env.RAMPART_BENCH_DEADLINE_MS ?? (QUICK ? 300_000 : 1_200_000));
const NS = 'chain';
const STS = 'sentry';
const PEERS_CONFIG_MAP = 'sentry-peers';
const log = (m: string) => process.stderr.write(`${BENCH}: ${new Date().toISOString().slice(11, 19)} ${m}\n`);
const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

/** Median, p90 and max (nearest rank), in whole ms. */
function stats(xs: readonly number[]): { median: number; p90: number; max: number } | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const rank = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
  return { median: Math.round(rank(0.5)), p90: Math.round(rank(0.9)), max: Math.round(s.at(-1)!) };
}

async function until<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  ms: number,
): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await sleep(200);
  }
  throw new Error(
    `timed out after ${ms / 1000} s waiting for ${what}${last ? ` (${(last as Error).message})` : ''}`,
  );
}

const cometbft = findBinary('cometbft');
if (!cometbft) throw new Error('cometbft is not installed: bash scripts/testbed/cometbft.sh');
const cleanups: (() => unknown)[] = [];
const hooks = {
  after: (fn: () => unknown) => void cleanups.push(fn),
  skip: (m?: string) => log(`skipped: ${m}`),
};
const dir = mkdtempSync(join(tmpdir(), 'rampart-bench-kube-sentries-'));
// The test bed's waits use unref'd timers: something must hold the event loop meanwhile.
const keepAlive = setInterval(() => undefined, 1000);
let cleaned: Promise<void> | undefined;
const cleanup = () =>
  (cleaned ??= (async () => {
    for (const fn of cleanups.reverse())
      await Promise.resolve()
        .then(fn)
        .catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    clearInterval(keepAlive);
  })());
// Interrupted, it still stops what it started (50 CometBFT processes, the validator). `on`, not
// `once`: the test bed's own handler kills the control plane and raises the signal again, which
// this one then holds until the rest is stopped.
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.on(signal, () => {
    if (cleaned) return;
    log(`${signal}: stopping everything`);
    void cleanup().then(() => process.exit(130));
  });
try {
  log(`${REPLICAS} replicas; load average ${load()}`);
  // The chain: one validator (Rampart runs it) and a public full node. 1 s blocks: 50 sentries
  // following the chain on 2 cores is the load this measures under, not the block rate.
  const net = await createNetwork({ validators: 1, fullNodes: 1, timeoutCommit: '1s' });
  cleanups.push(() => net.cleanup());
  const publicNode = net.fullNodes[0]!;
  // The public node stands for the rest of the chain, where sentries find many peers to sync
  // from. Alone, with CometBFT's default 40 inbound peers, it lets ~40 sentries sync and the
  // rest wait (a first 50-replica run stalled at 39 registered).
  const publicToml = join(publicNode.home, 'config', 'config.toml');
  writeFileSync(
    publicToml,
    setTomlValues(readFileSync(publicToml, 'utf8'), { p2p: { max_num_inbound_peers: REPLICAS + 20 } }),
  );
  await net.start(publicNode);
  const validatorHome = net.validators[0]!.home;

  const podNet = `127.${100 + Math.floor(Math.random() * 150)}.${Math.floor(Math.random() * 250)}`;
  const kube = await startKube(hooks, { podCidr: `${podNet}.0/24`, apiserverArgs: aggregatorFlags(dir) });
  if (!kube) throw new Error('the Kubernetes test bed is not built: bash scripts/testbed/kubernetes.sh');
  const metrics = await startFakeMetricsServer(kube);
  cleanups.push(() => metrics.stop());
  await installCrds(kube, ['volumesnapshots', 'volumesnapshotcontents', 'volumesnapshotclasses']);
  await createNamespace(kube, NS);
  const [statefulSet] = helmTemplate(
    STS,
    NS,
    {
      peersConfigMap: PEERS_CONFIG_MAP,
      storage: { size: '1Gi' },
      // kube-controller-manager would publish the loopback pod IPs as endpoints, which the API refuses.
      headlessService: false,
      terminationGracePeriodSeconds: 1,
      podAnnotations: KWOK_FAST_POD_ANNOTATIONS,
    },
    SENTRIES_CHART,
  ).filter((m) => m.kind === 'StatefulSet');
  await kube.ok('POST', `/apis/apps/v1/namespaces/${NS}/statefulsets`, { body: statefulSet });
  await kube.createNode('kwok-a', { pods: REPLICAS + 10 });
  // A snapshot of the pool from before: each new claim starts from the newest one.
  await kube.ok('POST', `/apis/snapshot.storage.k8s.io/v1/namespaces/${NS}/volumesnapshots`, {
    body: {
      apiVersion: 'snapshot.storage.k8s.io/v1',
      kind: 'VolumeSnapshot',
      metadata: { name: 'seed', labels: { 'rampart.dev/pool': 'sentries', 'rampart.dev/statefulset': STS } },
      spec: { source: { persistentVolumeClaimName: 'data-sentry-old' } },
    },
  });
  const provisioner = fakeVolumeProvisioner(kube, NS);
  const snapshots = fakeSnapshotController(kube, NS);
  /** Pods that ever had a process, the most running at once, restarts. */
  const ran = new Set<string>();
  let mostAtOnce = 0;
  const kubelet = fakeKubelet(kube, NS, { root: join(dir, 'kubelet'), path: [dirname(cometbft)] });
  cleanups.push(async () => {
    provisioner.stop();
    snapshots.stop();
    await kubelet.stop();
  });
  const processes = setInterval(() => {
    let now = 0;
    for (const [pod, p] of kubelet.pods())
      if (p.pid !== undefined) {
        ran.add(pod);
        now++;
      }
    mostAtOnce = Math.max(mostAtOnce, now);
  }, 250);
  cleanups.push(() => clearInterval(processes));

  let cpu = 0.2;
  const setCpu = () =>
    metrics.setAll(
      'pods',
      Array.from(
        { length: REPLICAS + 5 },
        (_, i) => [`${NS}/${STS}-${i}`, { cpu, memory: 2 ** 28 }] as const,
      ),
    );
  setCpu();

  const home = join(dir, 'rampart');
  mkdirSync(home);
  // Rampart leaves its nodes running when it stops: the validator goes with the fleet.
  cleanups.push(async () => {
    const rt = createRuntime(loadConfigFile(join(home, 'rampart.yaml')).config);
    for (const i of await rt.providers.get('here')!.list())
      await rt.providers
        .get('here')!
        .destroy(i)
        .catch(() => undefined);
  });
  const tokenFile = join(home, 'token');
  copyFileSync(kube.adminTokenFile, tokenFile);
  const cluster = `{ server: "${kube.url}", caFile: ${kube.caFile}, tokenFile: ${tokenFile} }`;
  const configFile = join(home, 'rampart.yaml');
  writeFileSync(
    configFile,
    `version: 1
controller:
  evaluationInterval: 1s
  store: { kind: sqlite, path: ${join(home, 'state.db')} }
metrics:
  - { name: k8s, kind: kubernetes, cluster: ${cluster}, timeout: 5s }
providers:
  - { name: here, kind: local, dataDir: ${join(home, 'nodes')} }
  - name: cluster
    kind: kubernetes
    cluster: ${cluster}
    namespace: ${NS}
    workload:
      statefulSet: ${STS}
      address: pod-ip
      configMap: ${PEERS_CONFIG_MAP}
      volumes: { claim: data, restore: volume-snapshot, onScaleDown: snapshot, snapshotEvery: 1h, timeout: 120s }
pools:
  - name: validator
    role: validator
    provider: here
    node: { kind: cometbft, home: ${validatorHome} }
    health: { checkInterval: 1s }
  - name: sentries
    role: sentry
    provider: cluster
    node: { kind: cometbft, validatorPool: validator, peers: ["${publicNode.p2pAddress}"], maxLagBlocks: 10 }
    size: { min: ${FLOOR}, capacity: ${FLOOR}, max: ${REPLICAS} }
    scaleIn: { select: newest }
    scaleUp:
      cooldown: 0s
      rules: [ { metric: "k8s:cpu", aggregate: avg, comparator: ">", threshold: 0.8, step: ${REPLICAS - FLOOR} } ]
    # failTolerance 120 (default 20): a sentry lagging on an overloaded 2-core machine is
    # replaced by default, and each replacement's restore and sync loads it further.
    health: { checkInterval: 1s, failTolerance: 120, joinTimeout: ${Math.round(DEADLINE_MS / 1000)}s }
`,
  );
  const rt = createRuntime(loadConfigFile(configFile).config);
  const controller = new Controller({
    runtime: rt,
    log: process.env.RAMPART_BENCH_LOG
      ? pino({ level: 'debug' }, pino.destination(process.env.RAMPART_BENCH_LOG))
      : pino({ level: 'silent' }),
  });
  await controller.start();
  cleanups.push(() => controller.stop().catch(() => undefined));

  const sentries = () => rt.store.listNodes({ pool: 'sentries' });
  const validatorRpc = async () => {
    const v = (await rt.store.listNodes({ pool: 'validator' }))[0];
    return v?.ports?.rpc === undefined ? undefined : `http://127.0.0.1:${v.ports.rpc}`;
  };
  const validatorPeers = async (): Promise<string[]> => {
    const url = await validatorRpc();
    if (!url) return [];
    const info = await rpcResult(url, '/net_info');
    return ((info.peers as { node_info: { moniker: string } }[] | undefined) ?? []).map(
      (p) => p.node_info.moniker,
    );
  };
  const validatorPersistentPeers = () =>
    splitList(
      getTomlValue(
        readFileSync(join(validatorHome, 'config', 'config.toml'), 'utf8'),
        'p2p',
        'persistent_peers',
      ),
    );

  const t0 = Date.now();
  await until(
    `the floor: ${FLOOR} ready sentries, registered and the validator's peers`,
    async () => {
      const ready = (await sentries()).filter((n) => n.state === 'ready' && n.registered);
      const peers = await validatorPeers();
      return ready.length === FLOOR && ready.every((n) => peers.includes(n.id));
    },
    300_000,
  );
  log(`floor of ${FLOOR} wired in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  // snapshotEvery: with no snapshot of its own yet, the controller snapshots a serving sentry at once.
  await until(
    'a VolumeSnapshot of a serving sentry',
    async () =>
      (
        await kube.ok<{ items: { metadata: { name: string }; status?: { readyToUse?: boolean } }[] }>(
          'GET',
          `/apis/snapshot.storage.k8s.io/v1/namespaces/${NS}/volumesnapshots`,
        )
      ).items.some((s) => s.metadata.name !== 'seed' && s.status?.readyToUse),
    120_000,
  ).catch((e) => log(`${(e as Error).message}: new sentries restore the seed snapshot`));
  await sleep(3000);
  const floorIds = new Set((await sentries()).map((n) => n.id));

  // The validator's peers as they come, polled.
  const connectedAt = new Map<string, number>();
  const peerPoll = setInterval(async () => {
    try {
      const at = Date.now();
      for (const p of await validatorPeers()) if (!connectedAt.has(p)) connectedAt.set(p, at);
    } catch {
      // The validator busy: the next poll.
    }
  }, 250);
  cleanups.push(() => clearInterval(peerPoll));

  log(`step: every pod's CPU 0.2 → 0.95 cores; load average ${load()}`);
  const loadBefore = load();
  cpu = 0.95;
  setCpu();
  const changedAt = Date.now();
  // Done when every sentry has been registered and connected once (a sentry that later lags
  // behind on a loaded machine leaves the ready set: counted at the end, apart).
  let reached = true;
  let lastLine = '';
  const registeredIds = async () =>
    new Set(
      (await rt.store.listActions({ pool: 'sentries', limit: 10_000 }))
        .filter((a) => a.kind === 'register' && a.outcome === 'succeeded' && a.nodeId !== undefined)
        .map((a) => a.nodeId!),
    );
  await until(
    `${REPLICAS} sentries registered and the validator's peers`,
    async () => {
      const live = await sentries();
      const everRegistered = await registeredIds();
      const registered = live.filter((n) => everRegistered.has(n.id));
      const peered = registered.filter((n) => connectedAt.has(n.id));
      const readyNow = live.filter((n) => n.state === 'ready' && n.registered).length;
      const line = `${live.length} sentries, ${registered.length} registered, ${peered.length} connected, ${readyNow} ready and registered now, ${kubelet.pods().size} processes`;
      if (line !== lastLine) {
        lastLine = line;
        log(`  ${line} (${((Date.now() - changedAt) / 1000).toFixed(0)} s)`);
      }
      return registered.length === REPLICAS && peered.length === REPLICAS;
    },
    DEADLINE_MS,
  ).catch((e) => {
    reached = false;
    log((e as Error).message);
  });
  const loadAfter = load();

  // Per new sentry, from the action journal (create, register) and the peer poll.
  const actions = await rt.store.listActions({ pool: 'sentries', limit: 10_000 });
  const persistent = validatorPersistentPeers();
  const live = await sentries();
  const rows: {
    nodeId: string;
    scaleRequestMs: number;
    readyMs?: number;
    registeredMs?: number;
    connectedMs?: number;
  }[] = [];
  for (const c of actions.filter(
    (a) => a.kind === 'create' && a.cause === 'scale-up' && a.startedAt >= changedAt,
  )) {
    if (c.nodeId === undefined || floorIds.has(c.nodeId)) continue;
    const reg = actions.find(
      (a) => a.kind === 'register' && a.nodeId === c.nodeId && a.outcome === 'succeeded',
    );
    const node = live.find((n) => n.id === c.nodeId);
    const inConfig = node?.host !== undefined && persistent.some((p) => p.endsWith(`@${node.host}:26656`));
    const readyAt = live.find((n) => n.id === c.nodeId)?.readyAt;
    const row = {
      nodeId: c.nodeId,
      scaleRequestMs: c.startedAt - changedAt,
      // Caught up (within maxLagBlocks of the chain): what registration waits for.
      ...(readyAt !== undefined ? { readyMs: readyAt - changedAt } : {}),
      ...(reg?.outcomeAt !== undefined && inConfig ? { registeredMs: reg.outcomeAt - changedAt } : {}),
      ...(connectedAt.has(c.nodeId) ? { connectedMs: connectedAt.get(c.nodeId)! - changedAt } : {}),
    };
    rows.push(row);
    process.stdout.write(`${JSON.stringify({ bench: BENCH, ...row })}\n`);
  }
  const registered = rows.flatMap((r) => (r.registeredMs === undefined ? [] : [r.registeredMs]));
  const ready = rows.flatMap((r) => (r.readyMs === undefined ? [] : [r.readyMs]));
  // Rampart's own part: caught up → registered.
  const readyToRegistered = rows.flatMap((r) =>
    r.readyMs === undefined || r.registeredMs === undefined ? [] : [r.registeredMs - r.readyMs],
  );
  const connected = rows.flatMap((r) => (r.connectedMs === undefined ? [] : [r.connectedMs]));
  const restarts = [...kubelet.pods().values()].reduce((s, p) => s + p.restarts, 0);
  // At the end: ready, registered and in the validator's config.toml persistent_peers.
  const wiredAtEnd = live.filter(
    (n) =>
      n.state === 'ready' &&
      n.registered &&
      n.host !== undefined &&
      persistent.some((p) => p.endsWith(`@${n.host}:26656`)),
  ).length;
  process.stdout.write(
    `${JSON.stringify({
      bench: BENCH,
      summary: true,
      replicas: REPLICAS,
      floor: FLOOR,
      reached,
      newSentries: rows.length,
      firstScaleRequestMs: rows.length ? Math.min(...rows.map((r) => r.scaleRequestMs)) : undefined,
      readyMs: { ...stats(ready), count: ready.length },
      readyToRegisteredMs: stats(readyToRegistered),
      registeredMs: {
        ...stats(registered),
        count: registered.length,
        totalMs: registered.length ? Math.max(...registered) : undefined,
      },
      connectedMs: {
        ...stats(connected),
        count: connected.length,
        totalMs: connected.length ? Math.max(...connected) : undefined,
      },
      wiredAtEnd,
      cometbftProcesses: { pods: ran.size, mostAtOnce, restarts },
      evaluationIntervalMs: 1000,
      loadAverage: { before: loadBefore, after: loadAfter },
      cores: cpus().length,
    })}\n`,
  );
} finally {
  await cleanup();
}
