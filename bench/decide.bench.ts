// The decision tick: the pure core deciding every pool once, for 10,000 nodes in 200 pools,
// with samples for every node. Prints one JSON line: median and p90 of the tick, resident
// memory, and the same for a 1-pool baseline measured in the same run (for the ratio).

import { type DecideInput, decidePool } from '../src/core/decide.ts';
import type { NodeRecord } from '../src/core/node-lifecycle.ts';
import type { PoolPolicy } from '../src/core/policy.ts';
import { emptyHistory, type PoolHistory, recordTick } from '../src/core/pool-history.ts';
import type { NodeProbe, Sample } from '../src/core/types.ts';

const POOLS = 200;
const NODES_PER_POOL = 50;
const TICKS = 60;
const NOW = 1_700_000_000_000;

function policy(name: string): PoolPolicy {
  const rule = (comparator: '>' | '<', threshold: number, metric: string) => ({
    kind: 'threshold' as const,
    metric,
    aggregate: 'avg' as const,
    comparator,
    threshold,
    step: { nodes: 1 },
    rate: false,
  });
  return {
    name,
    role: 'sentry',
    size: { min: 10, capacity: 40, max: 80 },
    scaleUp: { cooldown: 240_000, rules: [rule('>', 0.8, 'nodes:util'), rule('>', 30, 'nodes:peers')] },
    scaleDown: { period: 200_000, lockAttemptPeriod: 10_000, rules: [rule('<', 0.3, 'nodes:util')] },
    health: { checkInterval: 10_000, failTolerance: 20, joinRetries: 10, joinTimeout: 600_000 },
    scaleIn: { select: 'least-busy' },
  };
}

function inputs(pools: number, tick: number): DecideInput[] {
  const out: DecideInput[] = [];
  for (let p = 0; p < pools; p++) {
    const nodes: NodeRecord[] = [];
    const probes = new Map<string, NodeProbe>();
    const current: Sample[] = [];
    for (let i = 0; i < NODES_PER_POOL; i++) {
      const id = `p${p}-n${i}`;
      nodes.push({
        id,
        pool: `p${p}`,
        state: 'ready',
        createdAt: NOW - 1e6 + i,
        readyAt: NOW - 9e5,
        joinStartedAt: NOW - 1e6,
        joinAttempts: 0,
        failMarker: i % 7,
      });
      probes.set(id, { reachable: true, ready: true, healthy: i % 13 !== 0, height: 1000 + tick, peers: 20 });
      const util = ((p * 31 + i * 17 + tick) % 100) / 100;
      current.push({ ref: 'nodes:util', node: id, value: util, at: NOW - 1000 });
      current.push({ ref: 'nodes:peers', node: id, value: 10 + (i % 30), at: NOW - 1000 });
    }
    out.push({
      policy: policy(`p${p}`),
      now: NOW + tick * 10_000,
      nodes,
      probes,
      samples: { current, staleAfter: () => 30_000 },
      clocks: { lastScaleUpAt: NOW - 100_000, lastScaleDownAt: NOW - 300_000 },
    });
  }
  return out;
}

/**
 * The same pools remembering (issue 16): a target rule beside the threshold rules, peak hold,
 * hysteresis and prediction on, each pool carrying two days of history of a periodic need
 * (bursts every 4 minutes) from tick to tick, as the controller carries it.
 */
function remembering(input: DecideInput, memory = true): DecideInput {
  const target = {
    kind: 'target' as const,
    metric: 'nodes:util',
    aggregate: 'avg' as const,
    target: 0.6,
    tolerance: 0.1,
    rate: false,
  };
  let history: PoolHistory = emptyHistory();
  if (memory)
    for (let t = input.now - 2 * 86_400_000; t < input.now; t += t < input.now - 3_600_000 ? 60_000 : 10_000)
      history = recordTick(history, { now: t, need: (t / 1000) % 240 < 60 ? 60 : 30, ask: 40 });
  const scaleUp = { ...input.policy.scaleUp, rules: [...input.policy.scaleUp.rules, target] };
  if (!memory) return { ...input, policy: { ...input.policy, scaleUp } };
  return {
    ...input,
    policy: {
      ...input.policy,
      scaleUp,
      hold: { window: 'auto' },
      hysteresis: { band: 'auto' },
      predict: { horizon: 'auto', confidence: 0.6, trend: true },
    },
    history,
  };
}

function measure(pools: number, memory?: 'same-rules' | 'remembering'): { medianMs: number; p90Ms: number } {
  const times: number[] = [];
  // One observation held at a time, as the controller holds one: built once, decided on
  // again at later clock readings (the plan depends on the clock, the inputs stay).
  const observed = memory
    ? inputs(pools, 0).map((i) => remembering(i, memory === 'remembering'))
    : inputs(pools, 0);
  for (let t = 0; t < TICKS + 5; t++) {
    const start = performance.now();
    for (const [i, input] of observed.entries()) {
      const plan = decidePool({ ...input, now: input.now + t * 10_000 });
      if (memory) observed[i] = { ...input, history: plan.history };
    }
    const ms = performance.now() - start;
    if (t >= 5) times.push(ms);
  }
  times.sort((a, b) => a - b);
  return { medianMs: times[Math.floor(times.length / 2)]!, p90Ms: times[Math.floor(times.length * 0.9)]! };
}

const gc = (globalThis as { gc?: () => void }).gc;
gc?.();
const rssBeforeMb = process.memoryUsage().rss / 1048576;
const baseline = measure(1);
const full = measure(POOLS);
// Today's tick and the remembering one, measured in this same run.
const again = measure(POOLS, 'same-rules');
const withMemory = measure(POOLS, 'remembering');
const rssMb = process.memoryUsage().rss / 1048576;
gc?.();
const heapMb = process.memoryUsage().heapUsed / 1048576;
console.log(
  JSON.stringify({
    bench: 'decision-tick',
    pools: POOLS,
    nodes: POOLS * NODES_PER_POOL,
    ticks: TICKS,
    medianMs: Number(full.medianMs.toFixed(2)),
    p90Ms: Number(full.p90Ms.toFixed(2)),
    onePoolMedianMs: Number(baseline.medianMs.toFixed(3)),
    perPoolRatio: Number((full.medianMs / POOLS / baseline.medianMs).toFixed(2)),
    rssMb: Number(rssMb.toFixed(1)),
    rssAtStartMb: Number(rssBeforeMb.toFixed(1)),
    heapAfterGcMb: Number(heapMb.toFixed(1)),
    targetMedianMs: 20,
    targetRssMb: 150,
  }),
);
console.log(
  JSON.stringify({
    bench: 'decision-tick-remembering',
    pools: POOLS,
    nodes: POOLS * NODES_PER_POOL,
    medianMs: Number(withMemory.medianMs.toFixed(2)),
    p90Ms: Number(withMemory.p90Ms.toFixed(2)),
    sameRulesWithoutMemoryMedianMs: Number(again.medianMs.toFixed(2)),
    ratioToToday: Number((withMemory.medianMs / again.medianMs).toFixed(2)),
    targetRatio: 2,
  }),
);
