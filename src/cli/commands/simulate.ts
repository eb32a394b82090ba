// `rampart simulate -c FILE --pool P --trace CSV [--baseline hpa|heat|gce|aws|oracle|all]
// [--json] [--chart OUT.html|OUT.svg]`: runs the pool's policy — through the same core the
// controller uses — and the chosen baselines on recorded or synthetic load, and scores them
// against the oracle. Model flags (--provision, --restore, --failure-rate, --warm-pool, …)
// change the simulated world; every one has a default (docs/simulator.md). --json: one
// document, { scores: [{ trace, policy, … }] }, every policy of every trace.

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseDuration } from '../../core/duration.ts';
import { createNodeKind } from '../../nodes/registry.ts';
import { chartHtml, chartSvg } from '../../sim/chart.ts';
import type { ModelOptions } from '../../sim/model.ts';
import { SimPoolError, simulatedPool } from '../../sim/rampart-policy.ts';
import { scoreJson, scoreTable } from '../../sim/report.ts';
import { BASELINES, type BaselineName, modelFor, simulateTrace } from '../../sim/simulate.ts';
import { loadTrace, TraceError } from '../../sim/trace.ts';
import { loadConfigFrom, UsageError } from '../args.ts';

export interface SimulateFlags {
  readonly config?: string | undefined;
  readonly json?: boolean | undefined;
  /** The pool whose policy is simulated. Required. */
  readonly pool?: string | undefined;
  /** CSV traces `time_s,load`, one table each. Required. */
  readonly trace?: readonly string[] | undefined;
  readonly baseline?: readonly string[] | undefined;
  readonly chart?: string | undefined;
  readonly nodeCapacity?: string | undefined;
  readonly provision?: string | undefined;
  readonly restore?: string | undefined;
  readonly genesisSync?: string | undefined;
  readonly bootstrap?: string | undefined;
  readonly scrapeInterval?: string | undefined;
  readonly failureRate?: string | undefined;
  readonly replaceAfter?: string | undefined;
  readonly seed?: string | undefined;
  readonly initial?: string | undefined;
  readonly warmPool?: string | undefined;
  readonly warmStart?: string | undefined;
  readonly warmCost?: string | undefined;
}

export async function simulate(flags: SimulateFlags): Promise<number> {
  if (!flags.pool)
    throw new UsageError('rampart simulate: --pool POOL is required (the pool whose policy to simulate)');
  if (!flags.trace || flags.trace.length === 0)
    throw new UsageError('rampart simulate: --trace FILE is required (CSV time_s,load; see sim/traces/)');
  const baselines = parseBaselines(flags.baseline ?? []);
  const chartFormat = flags.chart === undefined ? undefined : chartFormatOf(flags.chart);
  const { config } = loadConfigFrom(flags);
  let pool: ReturnType<typeof simulatedPool>;
  try {
    pool = simulatedPool(config, flags.pool);
  } catch (e) {
    if (e instanceof SimPoolError) throw new UsageError(`rampart simulate: ${e.problems.join('\n  ')}`);
    throw e;
  }
  const model = modelFor(config, modelFlags(flags));
  const traces = flags.trace.map((file) => {
    try {
      return loadTrace(file);
    } catch (e) {
      if (e instanceof TraceError) throw new UsageError(`rampart simulate: trace ${e.message}`);
      throw e;
    }
  });

  const outcomes = traces.map((trace) => {
    const capabilities = createNodeKind(pool, config).capabilities;
    const outcome = simulateTrace(trace, { config, pool, model, capabilities, baselines });
    if (!flags.json) process.stdout.write(`${scoreTable(outcome)}\n`);
    return outcome;
  });
  if (flags.json) {
    const scores = outcomes.flatMap((o) => o.scores.map((s) => JSON.parse(scoreJson(s)) as unknown));
    process.stdout.write(`${JSON.stringify({ scores })}\n`);
  }
  if (flags.chart !== undefined) {
    const title = `Rampart simulation: pool ${pool.name}`;
    writeFileSync(
      flags.chart,
      chartFormat === 'svg'
        ? chartSvg(outcomes, model.nodeCapacity)
        : chartHtml(outcomes, model.nodeCapacity, title),
    );
    if (!flags.json) process.stdout.write(`chart: ${flags.chart}\n`);
  }
  return 0;
}

function parseBaselines(values: readonly string[]): BaselineName[] {
  const out: BaselineName[] = [];
  for (const value of values.flatMap((v) => v.split(','))) {
    const name = value.trim();
    if (name === 'all') out.push(...BASELINES);
    else if ((BASELINES as readonly string[]).includes(name)) out.push(name as BaselineName);
    else
      throw new UsageError(
        `rampart simulate: --baseline "${name}" is not one of ${[...BASELINES, 'all'].join(', ')}`,
      );
  }
  return [...new Set(out)];
}

function chartFormatOf(file: string): 'svg' | 'html' {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.svg') return 'svg';
  if (ext === '.html' || ext === '.htm') return 'html';
  throw new UsageError(`rampart simulate: --chart "${file}" must end in .svg or .html`);
}

function modelFlags(flags: SimulateFlags): Partial<ModelOptions> {
  const out: { -readonly [K in keyof ModelOptions]?: ModelOptions[K] } = {};
  const seconds = (flag: string, value: string | undefined): number | undefined => {
    if (value === undefined) return undefined;
    const v = value.trim();
    const n = /^\d+(\.\d+)?$/.test(v) ? Number(v) : (parseDuration(v) ?? Number.NaN) / 1000;
    if (!Number.isFinite(n) || n < 0)
      throw new UsageError(`rampart simulate: --${flag} "${value}" is not a duration (e.g. 90s, 1m30s, 6h)`);
    return n;
  };
  const number = (flag: string, value: string | undefined, integer = false): number | undefined => {
    if (value === undefined) return undefined;
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n)))
      throw new UsageError(
        `rampart simulate: --${flag} "${value}" is not ${integer ? 'a whole number' : 'a number'} ≥ 0`,
      );
    return n;
  };
  const set = <K extends keyof ModelOptions>(key: K, value: ModelOptions[K] | undefined) => {
    if (value !== undefined) out[key] = value;
  };
  set('nodeCapacity', number('node-capacity', flags.nodeCapacity));
  if (out.nodeCapacity === 0) throw new UsageError('rampart simulate: --node-capacity must be more than 0');
  set('provisionSeconds', seconds('provision', flags.provision));
  set('restoreSeconds', seconds('restore', flags.restore));
  set('genesisSyncSeconds', seconds('genesis-sync', flags.genesisSync));
  if (flags.bootstrap !== undefined) {
    if (flags.bootstrap !== 'snapshot' && flags.bootstrap !== 'genesis')
      throw new UsageError(`rampart simulate: --bootstrap "${flags.bootstrap}" is not snapshot or genesis`);
    out.bootstrap = flags.bootstrap;
  }
  set('scrapeInterval', seconds('scrape-interval', flags.scrapeInterval));
  if (out.scrapeInterval === 0)
    throw new UsageError('rampart simulate: --scrape-interval must be more than 0');
  set('failureRate', number('failure-rate', flags.failureRate));
  set('platformReplaceSeconds', seconds('replace-after', flags.replaceAfter));
  set('seed', number('seed', flags.seed, true));
  set('initialNodes', number('initial', flags.initial, true));
  set('warmPool', number('warm-pool', flags.warmPool, true));
  set('warmStartSeconds', seconds('warm-start', flags.warmStart));
  set('warmCost', number('warm-cost', flags.warmCost));
  return out;
}
