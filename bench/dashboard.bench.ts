// The dashboard's cost (JSON lines on stdout, progress on stderr), on a SQLite store holding a
// day of a pool's history and a controller's memory holding the last hour of a pool of NODES
// ready nodes (one point every 2 s, as the demo ticks):
//
//   api        GET /pools/sentries/series for 15 min, 1 h, 24 h (a day: 23 h from the store,
//              the last hour from memory) and 1 h with each node's line (nodes=1): median ms
//              and bytes over RUNS requests;
//   page       the pool page in Debian's Chromium (1366×768): bytes the page loads (every
//              response: HTML, CSS, JS, uPlot, API answers) and the time from navigation to
//              the first chart drawn (the size chart's canvas) and to every chart drawn, for
//              the default 15 min, 24 h, and 1 h with each node's line; medians over RUNS loads.
//
// No controller runs: the memory is fed the ticks directly (ControllerTelemetry's series), so
// the figures are the API's and the page's, not the fleet's. Times are the page's own (from
// navigation start), bytes the resources' transfer sizes. Run from a checkout of a Rampart
// from before the store kept samples (copy this file into its bench/), it measures that
// dashboard instead (the last hour in memory, 15 min and the overview only): the baseline.
// Env: RAMPART_BENCH_NODES (default 1000), RAMPART_BENCH_RUNS (default 5), RAMPART_CHROMIUM.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { chromium } from 'playwright-core';
import { ControllerTelemetry } from '../src/api/controller-telemetry.ts';
import * as poolSeries from '../src/api/pool-series.ts';
import { startApiServer } from '../src/api/server.ts';
import { loadConfigFile } from '../src/config/load.ts';
import type { Sample } from '../src/core/types.ts';
import { SqliteStore } from '../src/store/sqlite-store.ts';

const BENCH = 'dashboard';
const NODES = Number(process.env.RAMPART_BENCH_NODES ?? 1000);
const RUNS = Number(process.env.RAMPART_BENCH_RUNS ?? 5);
const CHROMIUM = process.env.RAMPART_CHROMIUM ?? '/usr/bin/chromium';
const TICK_MS = 2000;
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const log = (msg: string) => process.stderr.write(`[${BENCH}] ${msg}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const emit = (o: Record<string, unknown>) =>
  process.stdout.write(`${JSON.stringify({ bench: BENCH, ...o })}\n`);

// A Rampart from before the store kept samples: the baseline, measured the same way.
const baseline = !('storedSample' in poolSeries);
const storedSample = (poolSeries as Record<string, unknown>).storedSample as (
  pool: string,
  term: number,
  p: Record<string, unknown>,
) => unknown;
const dir = mkdtempSync(path.join(tmpdir(), 'rampart-bench-dashboard-'));
const configFile = path.join(dir, 'rampart.yaml');
writeFileSync(
  configFile,
  `version: 1
controller:
  evaluationInterval: 2s
  store: { kind: sqlite, path: state.db }
metrics:
  - { name: nodes, kind: scrape, staleAfter: 10s }
providers:
  - { name: here, kind: local, dataDir: nodes }
pools:
  - name: validator
    role: validator
    provider: here
    node: { kind: simnode }
  - name: sentries
    role: sentry
    provider: here
    node: { kind: simnode, validatorPool: validator }
    size: { min: 2, capacity: 3, max: ${Math.max(8, NODES + 10)} }
    scaleUp:
      rules: [ { metric: "nodes:simnode_utilization_ratio", aggregate: avg, comparator: ">", threshold: 0.7, step: 2 } ]
    scaleDown:
      rules: [ { metric: "nodes:node_cpu_idle_percent", aggregate: avg, comparator: ">", threshold: 60 } ]
${
  baseline
    ? ''
    : `    traffic:
      - { metric: "nodes:simnode_offered_load_tx_per_second", label: offered load, unit: tx/s }
`
}`,
);
const { config } = loadConfigFile(configFile);
const store = new SqliteStore(path.join(dir, 'state.db'));
await store.open();
const term = await store.newTerm('bench');
const now = Date.now();

// The load over the day: a slow wave, each node a little off the pool's average.
const load = (t: number) => 0.5 + 0.35 * Math.sin((2 * Math.PI * t) / (40 * 60_000));
const ids = Array.from({ length: NODES }, (_, i) => `sentries-${String(i).padStart(5, '0')}`);

// 1. The store: 23 hours of samples every PERSIST_EVERY_MS (what the controller persists; 10 s
// in a checkout from before it was exported), and a decision
// that changed the size every 5 minutes.
log(`writing a day of samples and decisions to ${store.file}`);
const started = performance.now();
const persistEvery =
  ((poolSeries as Record<string, unknown>).PERSIST_EVERY_MS as number | undefined) ?? 10_000;
for (let t = now - DAY_MS; !baseline && t < now - HOUR_MS; t += persistEvery) {
  const point = {
    at: t,
    ready: NODES,
    live: NODES,
    desired: NODES,
    decision: 'steady',
    values: [load(t), 100 * (1 - load(t))],
    traffic: [load(t) * 50 * NODES],
  };
  await (store as unknown as { recordSample(s: unknown): Promise<void> }).recordSample(
    storedSample('sentries', term, point),
  );
}
for (let t = now - DAY_MS; t < now; t += 300_000)
  await store.recordDecision({
    pool: 'sentries',
    at: t,
    term,
    decision: 'scale-up',
    ready: NODES - 2,
    live: NODES - 2,
    desired: NODES,
    reasons: [
      { code: 'rule-fired', text: 'scaleUp.rules[0]: avg nodes:simnode_utilization_ratio = 0.8 > 0.7 → +2' },
    ],
    actions: ['create 2'],
  });
// Every node live and ready, with the status the controller last wrote: the pages list them.
for (const id of ids)
  await store.putNode(
    {
      id,
      pool: 'sentries',
      provider: 'here',
      state: 'ready',
      createdAt: now - DAY_MS,
      joinStartedAt: now - DAY_MS,
      joinAttempts: 0,
      failMarker: 0,
      actionId: 'a-bench',
      registered: true,
      updatedAt: now,
    },
    term,
  );
await store.putPoolStatus({
  pool: 'sentries',
  at: now,
  term,
  body: {
    decision: 'steady',
    ready: NODES,
    live: NODES,
    desired: NODES,
    reasons: [],
    nodes: ids.map((id) => ({
      id,
      state: 'ready',
      height: 1000,
      peers: 8,
      catchingUp: false,
      failMarker: 0,
      registered: true,
      connected: true,
      detail: null,
    })),
  },
});
log(`store filled in ${Math.round(performance.now() - started)} ms`);

// 2. The memory: the last hour, every tick, each node's own samples.
const telemetry = new ControllerTelemetry(config);
const fedAt = performance.now();
let previous: Sample[] = [];
for (let t = now - HOUR_MS; t <= now; t += TICK_MS) {
  const samples: Sample[] = [];
  ids.forEach((id, i) => {
    const u = Math.min(1, Math.max(0, load(t) + 0.1 * Math.sin(i + t / 60_000)));
    samples.push({ ref: 'nodes:simnode_utilization_ratio', node: id, at: t, value: u });
    samples.push({ ref: 'nodes:node_cpu_idle_percent', node: id, at: t, value: 100 * (1 - u) });
    samples.push({ ref: 'nodes:simnode_offered_load_tx_per_second', node: id, at: t, value: u * 50 });
  });
  const status = {
    decision: 'steady',
    ready: NODES,
    live: NODES,
    desired: NODES,
    nodes: ids.map((id) => ({ id, state: 'ready' })),
  };
  telemetry.series.record('sentries', t, status, {
    current: samples,
    previous,
    staleAfter: () => 10_000,
  });
  previous = samples;
}
const feedMs = performance.now() - fedAt;
(globalThis as { gc?: () => void }).gc?.();
emit({
  figure: 'memory-feed',
  nodes: NODES,
  ticks: HOUR_MS / TICK_MS + 1,
  msPerTick: Number((feedMs / (HOUR_MS / TICK_MS + 1)).toFixed(2)),
  heapMiB: Math.round(process.memoryUsage().heapUsed / 2 ** 20),
  // Typed arrays (the per-node values) live outside the heap.
  arrayBuffersMiB: Math.round(process.memoryUsage().arrayBuffers / 2 ** 20),
});

const api = await startApiServer({
  config,
  log: pino({ level: 'silent' }),
  runtime: { store, providers: new Map(), snapshotStores: new Map() },
  telemetry,
  listen: '127.0.0.1:0',
});

// 3. The API.
const ranges = [
  { name: '15min', from: now - 15 * 60_000, nodes: false },
  { name: '1h', from: now - HOUR_MS, nodes: false },
  ...(baseline
    ? []
    : [
        { name: '24h', from: now - DAY_MS, nodes: false },
        { name: '1h-each-node', from: now - HOUR_MS, nodes: true },
      ]),
];
for (const r of ranges) {
  const ms: number[] = [];
  let bytes = 0;
  let points = 0;
  let lines = 0;
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    const res = await fetch(
      baseline
        ? `${api.url}/api/v1/pools/sentries/series?since=${r.from}`
        : `${api.url}/api/v1/pools/sentries/series?from=${r.from}&to=${now}${r.nodes ? '&nodes=1' : ''}`,
    );
    const text = await res.text();
    ms.push(performance.now() - t0);
    bytes = Buffer.byteLength(text);
    const body = JSON.parse(text) as { points: unknown[]; nodeLines?: unknown[] };
    points = body.points.length;
    lines = body.nodeLines?.length ?? 0;
  }
  emit({
    figure: 'api-series',
    baseline,
    range: r.name,
    nodes: NODES,
    medianMs: Math.round(median(ms)),
    bytes,
    points,
    nodeLines: lines,
  });
}

// 4. The page.
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
const views = [
  { name: 'pool-15min', hash: '#/pools/sentries' },
  ...(baseline
    ? []
    : [
        { name: 'pool-24h', hash: '#/pools/sentries?last=24h' },
        { name: 'pool-1h-each-node', hash: '#/pools/sentries?last=1h&nodes=1' },
      ]),
  { name: 'overview', hash: '#/' },
];
// The overview's first render: a pool card's chart (before sparklines, its size gauge), and
// every card's.
const CARD_CHART = baseline ? '.pool-card .gauge' : '.pool-card .sparkline canvas';
for (const v of views) {
  const first: number[] = [];
  const all: number[] = [];
  const weights: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    // The page's CSP forbids eval, which the probes use (the CSP is checked in the tests).
    const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, bypassCSP: true });
    const page = await context.newPage();
    await page.goto(`${api.url}/${v.hash}`);
    // Polled on every animation frame in the page: the page's own clock, from navigation start.
    const seen = (selector: string, count: number) =>
      page
        .waitForFunction(
          `document.querySelectorAll(${JSON.stringify(selector)}).length >= ${count} && performance.now()`,
          undefined,
          { timeout: 60_000, polling: 'raf' },
        )
        .then((h) => h.jsonValue() as Promise<number>);
    if (v.name === 'overview') {
      first.push(await seen(CARD_CHART, 1));
      all.push(await seen(baseline ? '.pool-card' : CARD_CHART, 2));
    } else {
      first.push(await seen(baseline ? '#chart-size svg' : '#chart-size canvas', 1));
      all.push(await seen(baseline ? 'figure svg' : 'figure canvas', baseline ? 3 : 4));
    }
    weights.push(
      (await page.evaluate(`performance.getEntriesByType('navigation')
        .concat(performance.getEntriesByType('resource'))
        .reduce((a, e) => a + e.encodedBodySize, 0)`)) as number,
    );
    await context.close();
  }
  emit({
    figure: 'page',
    baseline,
    view: v.name,
    nodes: NODES,
    firstChartMs: Math.round(median(first)),
    allChartsMs: Math.round(median(all)),
    bytes: median(weights),
  });
}
await browser.close();
await api.close();
await store.close();
rmSync(dir, { recursive: true, force: true });
