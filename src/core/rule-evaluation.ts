// Evaluates one scale rule against the samples of a pool's ready nodes: aggregation,
// staleness, counter rates, comparison. Pure: the clock is an argument.

import type { ScaleRule } from './policy.ts';
import type { Aggregate, Comparator, Sample } from './types.ts';

export function aggregate(values: readonly number[], kind: Aggregate): number {
  if (values.length === 0) return Number.NaN;
  switch (kind) {
    case 'avg':
      return values.reduce((a, b) => a + b, 0) / values.length;
    case 'sum':
      return values.reduce((a, b) => a + b, 0);
    case 'max':
      return Math.max(...values);
    case 'min':
      return Math.min(...values);
    case 'p90': {
      // Nearest-rank percentile: the smallest value with at least 90% of values at or below it.
      const sorted = [...values].sort((a, b) => a - b);
      return sorted[Math.max(0, Math.ceil(0.9 * sorted.length) - 1)]!;
    }
  }
}

export function compare(value: number, comparator: Comparator, threshold: number): boolean {
  switch (comparator) {
    case '<':
      return value < threshold;
    case '>':
      return value > threshold;
    case '<=':
      return value <= threshold;
    case '>=':
      return value >= threshold;
    case '==':
      return value === threshold;
  }
}

/** The samples a rule sees: the current ones and (for rates) the ones from the tick before. */
export interface SampleWindow {
  readonly current: readonly Sample[];
  readonly previous?: readonly Sample[] | undefined;
  /** Age after which a sample counts as missing, ms, per metric reference. */
  readonly staleAfter: (ref: string) => number;
}

export type RuleReading =
  | {
      readonly status: 'ok';
      /** The aggregated value the rule compares. */
      readonly value: number;
      /** Nodes whose fresh samples went into it (0 for a pool-level reading). */
      readonly nodesReporting: number;
      /** Ready nodes that should have reported. */
      readonly nodesExpected: number;
    }
  | { readonly status: 'missing'; readonly why: string };

/**
 * Reads a rule's metric over the given ready nodes. Node samples are used when any
 * exist; otherwise pool-level samples (those mapped to no node). Stale samples are missing.
 */
export function readRule(
  rule: ScaleRule,
  readyNodes: readonly string[],
  window: SampleWindow,
  now: number,
): RuleReading {
  const maxAge = window.staleAfter(rule.metric);
  const fresh = (s: Sample) => s.ref === rule.metric && now - s.at <= maxAge && Number.isFinite(s.value);
  const latest = (samples: readonly Sample[] | undefined) => {
    const byNode = new Map<string | undefined, Sample>();
    for (const s of samples ?? []) {
      if (!fresh(s) && samples === window.current) continue;
      if (s.ref !== rule.metric) continue;
      const prev = byNode.get(s.node);
      if (!prev || prev.at < s.at) byNode.set(s.node, s);
    }
    return byNode;
  };
  const current = latest(window.current);
  const previous = rule.rate ? latest(window.previous) : undefined;

  const readingOf = (key: string | undefined): number | undefined => {
    const s = current.get(key);
    if (!s) return undefined;
    if (!previous) return s.value;
    const p = previous.get(key);
    if (!p || p.at >= s.at) return undefined;
    // A counter that went down was reset: its rate is unknown for this interval.
    if (s.value < p.value) return undefined;
    return (s.value - p.value) / ((s.at - p.at) / 1000);
  };

  const values: number[] = [];
  // Only pool-level samples: no node to look up (the simulator's case, every tick).
  const nodeLevel = current.size > (current.has(undefined) ? 1 : 0);
  if (nodeLevel)
    for (const node of readyNodes) {
      const v = readingOf(node);
      if (v !== undefined) values.push(v);
    }
  if (values.length > 0)
    return {
      status: 'ok',
      value: aggregate(values, rule.aggregate),
      nodesReporting: values.length,
      nodesExpected: readyNodes.length,
    };

  const poolLevel = readingOf(undefined);
  if (poolLevel !== undefined)
    return { status: 'ok', value: poolLevel, nodesReporting: 0, nodesExpected: readyNodes.length };

  if (readyNodes.length === 0 && current.size === 0)
    return { status: 'missing', why: 'no ready node reports it' };
  if (rule.rate && current.size > 0)
    return { status: 'missing', why: 'no earlier sample yet to compute a rate from' };
  const stale = window.current.some((s) => s.ref === rule.metric);
  return {
    status: 'missing',
    why: stale
      ? `samples older than ${Math.round(maxAge / 1000)}s (stale)`
      : 'no samples from any ready node',
  };
}
