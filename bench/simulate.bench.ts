// Simulator speed: one week of load at 10 s resolution (60,480 rows) on a pool that needs
// about 1,000 nodes at its daily peak, for Rampart's policy and every baseline. Prints one JSON
// line per policy with the median of three runs, wall and CPU time.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfigText } from '../src/config/load.ts';
import { createNodeKind } from '../src/nodes/registry.ts';
import { runSimulation } from '../src/sim/engine.ts';
import type { PolicyContext } from '../src/sim/policy.ts';
import { simulatedPool } from '../src/sim/rampart-policy.ts';
import { BASELINES, makePolicy, modelFor } from '../src/sim/simulate.ts';
import { generateTrace } from '../src/sim/trace-generator.ts';

const RUNS = 3;
const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');

// The recommended policy of examples/simulate.yaml, on a pool allowed to reach 1,600 nodes
// (HPA and the other 0.6-target baselines need ~1,500 at the peak).
const yaml = readFileSync(path.join(root, 'examples/simulate.yaml'), 'utf8').replaceAll(
  'size: { min: 3, capacity: 3, max: 50 }',
  'size: { min: 3, capacity: 100, max: 1600 }',
);
if (!yaml.includes('max: 1600'))
  throw new Error('examples/simulate.yaml no longer has the size this bench rewrites');
const { config } = parseConfigText(yaml, 'examples/simulate.yaml');
const pool = simulatedPool(config, 'sentries');
// Today's reactive policy beside it, in the same run (the recommended one remembers and predicts).
const reactive = simulatedPool(config, 'sentries-reactive');
const model = modelFor(config);
// A diurnal week: 20,000 to 90,000 units/s (1,000 nodes at 0.9 utilization), 3% noise.
const trace = generateTrace('diurnal', {
  duration: 7 * 86_400,
  resolution: 10,
  trough: 20_000,
  peak: 90_000,
  noise: 0.03,
});
const ctx: PolicyContext = { size: pool.size!, model, trace };
const setup = {
  config,
  pool,
  model,
  capabilities: createNodeKind(pool, config).capabilities,
  baselines: [...BASELINES],
};

for (const name of ['rampart', 'rampart-reactive', ...BASELINES] as const) {
  const seconds: number[] = [];
  // CPU time beside wall time: on a shared machine the wall clock measures the neighbours too.
  const cpu: number[] = [];
  let run: ReturnType<typeof runSimulation> | undefined;
  for (let i = 0; i < RUNS; i++) {
    (globalThis as { gc?: () => void }).gc?.();
    const started = performance.now();
    const cpuStarted = process.cpuUsage();
    run =
      name === 'rampart-reactive'
        ? runSimulation(ctx, makePolicy('rampart', ctx, { ...setup, pool: reactive }))
        : runSimulation(ctx, makePolicy(name, ctx, setup));
    seconds.push((performance.now() - started) / 1000);
    const used = process.cpuUsage(cpuStarted);
    cpu.push((used.user + used.system) / 1e6);
  }
  seconds.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  process.stdout.write(
    `${JSON.stringify({
      bench: 'simulate-week-1000-nodes',
      policy: name,
      seconds: Number(seconds[Math.floor(RUNS / 2)]!.toFixed(3)),
      cpuSeconds: Number(cpu[Math.floor(RUNS / 2)]!.toFixed(3)),
      steps: trace.times.length,
      decisions: run!.decisions,
      peakReadyNodes: Math.max(...run!.series.ready),
      nodeHours: Math.round(run!.nodeSeconds / 3600),
    })}\n`,
  );
}
