// Policies against every trace in sim/traces (the six shipped shapes and issue 16's families):
// today's reactive policy, the recommended one and the baselines, each scored against the oracle
// in the same run. One JSON line per trace and policy, then one summary line per policy with the
// medians and worst cases of its ratios. Pools: RAMPART_POOLS (comma-separated, default
// "sentries,sentries-reactive") from examples/simulate.yaml; traces: every CSV in RAMPART_TRACES
// (a folder, default sim/traces), so families made from other seeds are scored the same way.

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfigText } from '../src/config/load.ts';
import { createNodeKind } from '../src/nodes/registry.ts';
import type { RunResult } from '../src/sim/engine.ts';
import { simulatedPool } from '../src/sim/rampart-policy.ts';
import { BASELINES, modelFor, simulateTrace } from '../src/sim/simulate.ts';
import { loadTrace } from '../src/sim/trace.ts';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const file = path.join(root, 'examples/simulate.yaml');
const { config } = parseConfigText(readFileSync(file, 'utf8'), file);
const pools = (process.env.RAMPART_POOLS ?? 'sentries,sentries-reactive').split(',');
const traceDir = process.env.RAMPART_TRACES ?? path.join(root, 'sim/traces');
const traces = readdirSync(traceDir)
  .filter((f) => f.endsWith('.csv'))
  .sort();

/** Removals undone within `within` seconds: a fall of the live count followed by a rise that soon. */
export function flaps(run: RunResult, within = 110): number {
  const { t, live } = run.series;
  const falls: number[] = [];
  let count = 0;
  for (let i = 1; i < t.length; i++) {
    const d = live[i]! - live[i - 1]!;
    if (d < 0) for (let k = 0; k < -d; k++) falls.push(t[i]!);
    else if (d > 0)
      for (let k = 0; k < d && falls.length > 0; k++) {
        const at = falls.pop()!;
        if (t[i]! - at <= within) count++;
      }
  }
  return count;
}

const ratios = new Map<
  string,
  { unserved: number[]; hours: number[]; vsReactive: number[]; failed: string[] }
>();
for (const name of traces) {
  const trace = loadTrace(path.join(traceDir, name));
  const offered = trace.loads.reduce((sum, load, i) => {
    const next = trace.times[i + 1] ?? trace.end;
    return sum + load * (next - trace.times[i]!);
  }, 0);
  const byPolicy = new Map<string, { unserved: number; hours: number; score: unknown }>();
  for (const poolName of pools) {
    const pool = simulatedPool(config, poolName);
    const outcome = simulateTrace(trace, {
      config,
      pool,
      model: modelFor(config),
      capabilities: createNodeKind(pool, config).capabilities,
      baselines: poolName === pools[0] ? [...BASELINES] : ['oracle'],
    });
    outcome.scores.forEach((s, i) => {
      const policy = s.policy === 'rampart' ? poolName : s.policy;
      if (byPolicy.has(policy)) return;
      byPolicy.set(policy, { unserved: s.unservedWork, hours: s.nodeHours, score: s });
      const run = outcome.runs[i]!;
      process.stdout.write(
        `${JSON.stringify({
          bench: 'policy-families',
          trace: trace.name,
          policy,
          unservedWork: Math.round(s.unservedWork),
          unservedPctOfOffered: Number(((100 * s.unservedWork) / offered).toFixed(4)),
          unservedVsOracle: s.unservedVsOracle === null ? null : Number(s.unservedVsOracle.toFixed(3)),
          nodeHours: Number(s.nodeHours.toFixed(2)),
          nodeHoursVsOracle: Number(s.nodeHoursVsOracle?.toFixed(3)),
          actions: s.actions,
          flaps110s: flaps(run),
        })}\n`,
      );
    });
  }
  const oracle = byPolicy.get('oracle')!;
  for (const poolName of pools) {
    const me = byPolicy.get(poolName)!;
    const r = ratios.get(poolName) ?? { unserved: [], hours: [], vsReactive: [], failed: [] };
    const u = oracle.unserved > 0 ? me.unserved / oracle.unserved : me.unserved > 1e-6 ? Infinity : 1;
    r.unserved.push(u);
    r.hours.push(me.hours / oracle.hours);
    const base = byPolicy.get(pools[pools.length - 1]!)!;
    r.vsReactive.push(base.unserved > 0 ? me.unserved / base.unserved : me.unserved > 1e-6 ? Infinity : 1);
    const slack = Math.max(1.5 * oracle.unserved, 0.0005 * offered);
    const better = [...byPolicy.entries()].filter(
      ([p, o]) => !pools.includes(p) && p !== 'oracle' && o.unserved < me.unserved && o.hours < me.hours,
    );
    if (me.unserved > slack) r.failed.push(`${trace.name}: unserved ${u.toFixed(2)}× oracle`);
    if (me.hours > 1.1 * oracle.hours)
      r.failed.push(`${trace.name}: node-hours ${(me.hours / oracle.hours).toFixed(3)}×`);
    for (const [p] of better) r.failed.push(`${trace.name}: ${p} better on both`);
    ratios.set(poolName, r);
  }
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
for (const [pool, r] of ratios)
  process.stdout.write(
    `${JSON.stringify({
      bench: 'policy-families-summary',
      policy: pool,
      traces: r.unserved.length,
      medianUnservedVsOracle: Number(median(r.unserved).toFixed(3)),
      worstUnservedVsOracle: Number(Math.max(...r.unserved).toFixed(3)),
      medianNodeHoursVsOracle: Number(median(r.hours).toFixed(3)),
      worstNodeHoursVsOracle: Number(Math.max(...r.hours).toFixed(3)),
      medianUnservedVsReactive: Number(median(r.vsReactive).toFixed(3)),
      missed: r.failed,
    })}\n`,
  );
