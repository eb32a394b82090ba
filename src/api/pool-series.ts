// The dashboard's live series, kept in memory by the controller process: every tick, each
// pool's size (ready, live, desired) and the value of every metric its rules read, computed
// with the core's own rule reading. A restart starts the series afresh (the decisions, with
// their figures, stay in the store).

import type { Config, PoolConfig } from '../config/schema.ts';
import { formatNumber } from '../core/format.ts';
import type { ScaleRule } from '../core/policy.ts';
import { readRule, type SampleWindow } from '../core/rule-evaluation.ts';

export interface RuleInfo {
  readonly rule: string;
  readonly kind: 'threshold' | 'target';
  readonly metric: string;
  readonly aggregate: string;
  readonly rate: boolean;
  readonly comparator?: string | undefined;
  readonly threshold?: number | undefined;
  readonly target?: number | undefined;
  readonly text: string;
}

/** One metric as the rules read it (metric, aggregate, rate), with every rule that reads it so. */
export interface SeriesMetric {
  readonly id: string;
  readonly metric: string;
  readonly aggregate: string;
  readonly rate: boolean;
  readonly rules: readonly RuleInfo[];
}

export interface SeriesPoint {
  readonly at: number;
  readonly ready: number;
  readonly live: number;
  readonly desired: number;
  readonly decision: string;
  /** One per SeriesMetric, null when the metric was missing. */
  readonly values: readonly (number | null)[];
}

/** Status body fields the series needs (what the controller writes to pool_status). */
export interface StatusBody {
  readonly decision: string;
  readonly ready: number;
  readonly live: number;
  readonly desired: number;
  readonly nodes: readonly { readonly id: string; readonly state: string }[];
}

export function describeRules(pool: PoolConfig): RuleInfo[] {
  const out: RuleInfo[] = [];
  for (const phase of ['scaleUp', 'scaleDown'] as const)
    pool[phase].rules.forEach((r, i) => {
      out.push(ruleInfo(`${phase}.rules[${i}]`, r, phase));
    });
  return out;
}

function ruleInfo(name: string, r: ScaleRule, phase: 'scaleUp' | 'scaleDown'): RuleInfo {
  const read = `${r.aggregate}${r.rate ? ' rate of' : ''} ${r.metric}`;
  if (r.kind === 'target')
    return {
      rule: name,
      kind: 'target',
      metric: r.metric,
      aggregate: r.aggregate,
      rate: r.rate,
      target: r.target,
      text: `${phase === 'scaleUp' ? 'grow' : 'shrink'} toward ${read} = ${formatNumber(r.target)} per ready node`,
    };
  const step =
    'nodes' in r.step ? `${r.step.nodes} node${r.step.nodes === 1 ? '' : 's'}` : `${r.step.percent}%`;
  return {
    rule: name,
    kind: 'threshold',
    metric: r.metric,
    aggregate: r.aggregate,
    rate: r.rate,
    comparator: r.comparator,
    threshold: r.threshold,
    text:
      phase === 'scaleUp'
        ? `scale up by ${step} when ${read} ${r.comparator} ${formatNumber(r.threshold)}`
        : `scale down (one node) when ${read} ${r.comparator} ${formatNumber(r.threshold)}`,
  };
}

export function seriesMetrics(pool: PoolConfig): SeriesMetric[] {
  const byKey = new Map<string, { metric: string; aggregate: string; rate: boolean; rules: RuleInfo[] }>();
  for (const info of describeRules(pool)) {
    const k = `${info.aggregate}${info.rate ? ' rate' : ''} ${info.metric}`;
    const entry = byKey.get(k) ?? {
      metric: info.metric,
      aggregate: info.aggregate,
      rate: info.rate,
      rules: [],
    };
    entry.rules.push(info);
    byKey.set(k, entry);
  }
  return [...byKey.values()].map((m, i) => ({ id: `m${i}`, ...m }));
}

export class PoolSeries {
  readonly #config: Config;
  readonly #keepMs: number;
  readonly #points = new Map<string, SeriesPoint[]>();
  readonly #metrics = new Map<string, { metrics: SeriesMetric[]; rules: ScaleRule[][] }>();

  /** `keepMs`: how far back points are kept. Default one hour. */
  constructor(config: Config, keepMs = 3_600_000) {
    this.#config = config;
    this.#keepMs = keepMs;
    for (const pool of config.pools) {
      const metrics = seriesMetrics(pool);
      const all = [...pool.scaleUp.rules, ...pool.scaleDown.rules];
      // The first rule of each metric group reads it: every rule of a group reads the same thing.
      const rules = metrics.map((m) =>
        all.filter((r) => r.metric === m.metric && r.aggregate === m.aggregate && r.rate === m.rate),
      );
      this.#metrics.set(pool.name, { metrics, rules });
    }
  }

  metrics(pool: string): readonly SeriesMetric[] {
    return this.#metrics.get(pool)?.metrics ?? [];
  }

  /** Records one tick of one pool: its status as the controller wrote it and the samples it saw. */
  record(pool: string, at: number, status: StatusBody, window: SampleWindow): void {
    const meta = this.#metrics.get(pool);
    if (!meta) return;
    const ready = status.nodes.filter((n) => n.state === 'ready').map((n) => n.id);
    const values = meta.rules.map((rules) => {
      const rule = rules[0];
      if (!rule) return null;
      const reading = readRule(rule, ready, window, at);
      return reading.status === 'ok' && Number.isFinite(reading.value) ? reading.value : null;
    });
    const points = this.#points.get(pool) ?? [];
    points.push({
      at,
      ready: status.ready,
      live: status.live,
      desired: status.desired,
      decision: status.decision,
      values,
    });
    const cutoff = at - this.#keepMs;
    let drop = 0;
    while (drop < points.length && points[drop]!.at < cutoff) drop++;
    if (drop > 0) points.splice(0, drop);
    this.#points.set(pool, points);
  }

  points(pool: string, since = 0): readonly SeriesPoint[] {
    return (this.#points.get(pool) ?? []).filter((p) => p.at >= since);
  }

  get keepMs(): number {
    return this.#keepMs;
  }

  get pools(): readonly string[] {
    return this.#config.pools.map((p) => p.name);
  }
}
