// `rampart simulate -c FILE --pool P --trace CSV [--baseline hpa|heat|gce|aws|oracle|all]
// [--json] [--chart OUT.html|OUT.svg]`: runs the pool's policy — through the same core the
// controller uses — and the chosen baselines on recorded or synthetic load, and scores them
// against the oracle. Model flags (--provision, --restore, --failure-rate, --warm-pool, …)
// change the simulated world; every one has a default (docs/simulator.md).

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
import { configFlag, jsonFlag, loadConfigFrom, parseFlags, UsageError } from '../args.ts';

const FLAGS = {
  ...configFlag,
  ...jsonFlag,
  pool: { type: 'string' },
  trace: { type: 'string', multiple: true },
  baseline: { type: 'string', multiple: true },
  chart: { type: 'string' },
  'node-capacity': { type: 'string' },
  provision: { type: 'string' },
  restore: { type: 'string' },
  'genesis-sync': { type: 'string' },
  bootstrap: { type: 'string' },
  'scrape-interval': { type: 'string' },
  'failure-rate': { type: 'string' },
  'replace-after': { type: 'string' },
  seed: { type: 'string' },
  initial: { type: 'string' },
  'warm-pool': { type: 'string' },
  'warm-start': { type: 'string' },
  'warm-cost': { type: 'string' },
} as const;

export async function simulate(argv: string[]): Promise<number> {
  const flags = parseFlags('simulate', argv, FLAGS);
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
    if (flags.json) for (const s of outcome.scores) process.stdout.write(`${scoreJson(s)}\n`);
    else process.stdout.write(`${scoreTable(outcome)}\n`);
    return outcome;
  });
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

type Flags = ReturnType<typeof parseFlags<typeof FLAGS>>;

function modelFlags(flags: Flags): Partial<ModelOptions> {
  const out: { -readonly [K in keyof ModelOptions]?: ModelOptions[K] } = {};
  const seconds = (flag: keyof Flags, value: string | undefined): number | undefined => {
    if (value === undefined) return undefined;
    const v = value.trim();
    const n = /^\d+(\.\d+)?$/.test(v) ? Number(v) : (parseDuration(v) ?? Number.NaN) / 1000;
    if (!Number.isFinite(n) || n < 0)
      throw new UsageError(
        `rampart simulate: --${String(flag)} "${value}" is not a duration (e.g. 90s, 1m30s, 6h)`,
      );
    return n;
  };
  const number = (flag: keyof Flags, value: string | undefined, integer = false): number | undefined => {
    if (value === undefined) return undefined;
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n)))
      throw new UsageError(
        `rampart simulate: --${String(flag)} "${value}" is not ${integer ? 'a whole number' : 'a number'} ≥ 0`,
      );
    return n;
  };
  const set = <K extends keyof ModelOptions>(key: K, value: ModelOptions[K] | undefined) => {
    if (value !== undefined) out[key] = value;
  };
  set('nodeCapacity', number('node-capacity', flags['node-capacity']));
  if (out.nodeCapacity === 0) throw new UsageError('rampart simulate: --node-capacity must be more than 0');
  set('provisionSeconds', seconds('provision', flags.provision));
  set('restoreSeconds', seconds('restore', flags.restore));
  set('genesisSyncSeconds', seconds('genesis-sync', flags['genesis-sync']));
  if (flags.bootstrap !== undefined) {
    if (flags.bootstrap !== 'snapshot' && flags.bootstrap !== 'genesis')
      throw new UsageError(`rampart simulate: --bootstrap "${flags.bootstrap}" is not snapshot or genesis`);
    out.bootstrap = flags.bootstrap;
  }
  set('scrapeInterval', seconds('scrape-interval', flags['scrape-interval']));
  if (out.scrapeInterval === 0)
    throw new UsageError('rampart simulate: --scrape-interval must be more than 0');
  set('failureRate', number('failure-rate', flags['failure-rate']));
  set('platformReplaceSeconds', seconds('replace-after', flags['replace-after']));
  set('seed', number('seed', flags.seed, true));
  set('initialNodes', number('initial', flags.initial, true));
  set('warmPool', number('warm-pool', flags['warm-pool'], true));
  set('warmStartSeconds', seconds('warm-start', flags['warm-start']));
  set('warmCost', number('warm-cost', flags['warm-cost']));
  return out;
}
