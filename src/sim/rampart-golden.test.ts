// Rampart's policy on the shipped traces, pinned: the scores, the scaling actions and a digest of
// every plan the core returned (decision, actions, node updates, clocks, reasons word for word)
// must equal rampart-golden.json. The figures in that file are not hand-computed: they are what
// the simulator and the core produced before the core's per-node walk was made cheaper (the
// simulate benchmark), frozen so that a change meant to alter speed alone shows up here if it
// alters any decision, reason text or ordering. A change that means to alter behaviour updates
// the file on purpose: RAMPART_GOLDEN_WRITE=1 node --test src/sim/rampart-golden.test.ts
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseConfigText } from '../config/load.ts';
import { createNodeKind } from '../nodes/registry.ts';
import type { ModelOptions } from './model.ts';
import { simulatedPool } from './rampart-policy.ts';
import { modelFor, simulateTrace } from './simulate.ts';
import { loadTrace } from './trace.ts';

const GOLDEN = new URL('./rampart-golden.json', import.meta.url);
const TRACES = ['ddos', 'diurnal', 'double-ddos', 'flash-crowd', 'noisy-plateau', 'slow-ramp'];
/** Issue 16's families (scripts/generate-trace.ts --all sim/traces). */
const FAMILIES = [
  'short-bursts',
  'sparse-bursts',
  'jittered-bursts',
  'period-change',
  'two-periods',
  'sawtooth',
];

interface Case {
  readonly trace: string;
  readonly pool: string;
  /** Replaces the pools' scale-in selection (examples/simulate.yaml says newest). */
  readonly select?: 'least-busy' | 'oldest';
  readonly model?: Partial<ModelOptions>;
}

const CASES: Case[] = [
  // Today's reactive policy (the recommended one before issue 16) on every shipped trace: a pool
  // that does not opt into hold, hysteresis or predict decides exactly as before.
  ...TRACES.map((trace) => ({ trace, pool: 'sentries-reactive' })),
  // The alternatives: rate-of-change rules, another threshold, target-tracking scale-down.
  { trace: 'double-ddos', pool: 'sentries-rate' },
  { trace: 'double-ddos', pool: 'sentries-headroom' },
  { trace: 'double-ddos', pool: 'sentries-hpa-like' },
  // The other scale-in selections (the simulator's samples are pool-level: least-busy falls back).
  { trace: 'double-ddos', pool: 'sentries-reactive', select: 'oldest' },
  { trace: 'double-ddos', pool: 'sentries-reactive', select: 'least-busy' },
  // Failures: health replacements and the holds they cause.
  { trace: 'double-ddos', pool: 'sentries-reactive', model: { failureRate: 1, seed: 5 } },
  // Stale samples: scrapes less often than staleAfter.
  { trace: 'flash-crowd', pool: 'sentries-reactive', model: { scrapeInterval: 50 } },
  // The recommended policy (peak hold, hysteresis, prediction) on every trace.
  ...[...TRACES, ...FAMILIES].map((trace) => ({ trace, pool: 'sentries' })),
];

function run(c: Case) {
  let yaml = readFileSync('examples/simulate.yaml', 'utf8');
  if (c.select) yaml = yaml.replaceAll('scaleIn: { select: newest }', `scaleIn: { select: ${c.select} }`);
  const { config } = parseConfigText(yaml, 'examples/simulate.yaml');
  const plans = createHash('sha256');
  const decisions: Record<string, number> = {};
  const actions: Record<string, number> = {};
  let reasons = 0;
  const outcome = simulateTrace(loadTrace(`sim/traces/${c.trace}.csv`), {
    config,
    pool: simulatedPool(config, c.pool),
    capabilities: createNodeKind(simulatedPool(config, c.pool), config).capabilities,
    model: modelFor(config, c.model),
    baselines: [],
    onDecision(_input, plan) {
      plans.update(`${JSON.stringify(plan)}\n`);
      decisions[plan.decision] = (decisions[plan.decision] ?? 0) + 1;
      for (const a of plan.actions) {
        const key =
          a.kind === 'create' ? `create ${a.cause}` : a.kind === 'remove' ? `remove ${a.cause}` : 'rejoin';
        actions[key] = (actions[key] ?? 0) + (a.kind === 'create' ? a.count : 1);
      }
      reasons += plan.reasons.length;
    },
  });
  const rampart = outcome.runs[0]!;
  return {
    case: c,
    score: outcome.scores[0],
    decisions,
    actions,
    reasons,
    overloads: rampart.overloads.length,
    seriesPoints: rampart.series.t.length,
    plansSha256: plans.digest('hex'),
    seriesSha256: createHash('sha256')
      .update(JSON.stringify([rampart.series, rampart.overloads]))
      .digest('hex'),
  };
}

test("Rampart's policy on the shipped traces: scores, actions and every plan as frozen", () => {
  const got = CASES.map(run);
  if (process.env.RAMPART_GOLDEN_WRITE === '1') {
    writeFileSync(GOLDEN, `${JSON.stringify(got, null, 2)}\n`);
    return;
  }
  const want = JSON.parse(readFileSync(GOLDEN, 'utf8')) as unknown[];
  assert.equal(got.length, want.length);
  // One case at a time, so a failure names the trace and pool.
  for (const [i, g] of got.entries())
    assert.deepEqual(JSON.parse(JSON.stringify(g)), want[i], JSON.stringify(g.case));
});
