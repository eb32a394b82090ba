// Evaluates one scale rule against the samples of a pool's ready nodes: aggregation,
// staleness, counter rates, valid ranges, comparison. Pure: the clock is an argument.

import { formatDuration } from './duration.ts';
import type { ScaleRule, ValidRange } from './policy.ts';
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
  /**
   * Age after which a sample counts as missing, ms, per metric reference; also how far ahead of
   * the clock a sample may be stamped before it is refused.
   */
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
  | { readonly status: 'missing'; readonly why: string }
  /** A value the rule cannot trust (absurd, not finite, stamped in the future): the rule holds. */
  | { readonly status: 'invalid'; readonly why: string };

/**
 * Why a value is outside a valid range (`is outside valid [0, 100]`, or the one bound given), or
 * undefined when it is inside. Values and bounds are shown exactly, never rounded into the range.
 */
function outsideRange(value: number, valid: ValidRange | undefined): string | undefined {
  if (valid === undefined) return undefined;
  const { min, max } = valid;
  if ((min === undefined || value >= min) && (max === undefined || value <= max)) return undefined;
  if (min !== undefined && max !== undefined) return `is outside valid [${min}, ${max}]`;
  return min !== undefined ? `is below valid min ${min}` : `is above valid max ${max}`;
}

/** One node's (or the pool's) value of a rule, absent, or refused with the reason. */
type NodeReading = number | undefined | { readonly refused: string };

/** Each node's newest sample of `metric` (the pool's under undefined), none older than `notBefore`. */
function latestByNode(
  samples: readonly Sample[] | undefined,
  metric: string,
  notBefore = Number.NEGATIVE_INFINITY,
): Map<string | undefined, Sample> {
  const byNode = new Map<string | undefined, Sample>();
  for (const s of samples ?? []) {
    if (s.ref !== metric || s.at < notBefore) continue;
    const prev = byNode.get(s.node);
    if (!prev || prev.at < s.at) byNode.set(s.node, s);
  }
  return byNode;
}

/**
 * The value one node (or the pool, `where` says which) gives a rule: its sample's value, or for
 * a rate rule the per-second rate since `previous`; undefined when there is none; refused when
 * it cannot be trusted.
 */
function nodeReading(
  rule: ScaleRule,
  where: string,
  sample: Sample,
  previous: Sample | undefined,
  now: number,
  maxAge: number,
): NodeReading {
  // A sample stamped in the future would stay fresh until its stamp plus staleAfter: from an
  // endpoint whose clock runs an hour fast, for an hour after it went silent. Prometheus
  // refuses samples too far in the future; so does this, beyond staleAfter. Not a fixed few
  // seconds: the clock is read when an observation starts, and samples are stamped as they
  // arrive, seconds later on a large fleet.
  if (sample.at - now > maxAge)
    return {
      refused: `${rule.metric} ${where} is stamped ${formatDuration(sample.at - now)} ahead of the clock (more than staleAfter ${formatDuration(maxAge)} is refused)`,
    };
  if (!Number.isFinite(sample.value))
    return { refused: `${rule.metric} = ${sample.value} ${where} is not a finite number` };
  if (!rule.rate) {
    const outside = outsideRange(sample.value, rule.valid);
    return outside ? { refused: `${rule.metric} = ${sample.value} ${where} ${outside}` } : sample.value;
  }
  // No earlier sample, or one that was no number: the rate is unknown for this interval.
  if (!previous || previous.at >= sample.at || !Number.isFinite(previous.value)) return undefined;
  // A counter that went down was reset: its rate is unknown for this interval.
  if (sample.value < previous.value) return undefined;
  const rate = (sample.value - previous.value) / ((sample.at - previous.at) / 1000);
  if (!Number.isFinite(rate))
    return {
      refused: `rate of ${rule.metric} ${where} is not a finite number (${previous.value} → ${sample.value})`,
    };
  const outside = outsideRange(rate, rule.valid);
  return outside ? { refused: `rate of ${rule.metric} = ${rate}/s ${where} ${outside}` } : rate;
}

/**
 * Reads a rule's metric over the given ready nodes. Node samples are used when any
 * exist; otherwise pool-level samples (those mapped to no node). Stale samples are missing.
 * A value the rule cannot trust makes the reading `invalid`, even if other nodes' values are
 * fine: one stamped more than staleAfter ahead of `now`, one that is not a finite
 * number (NaN, ±Infinity), a rate that is not, one outside the rule's `valid` range, or an
 * aggregate that overflows (avg or sum of values near the largest double).
 */
export function readRule(
  rule: ScaleRule,
  readyNodes: readonly string[],
  window: SampleWindow,
  now: number,
): RuleReading {
  const maxAge = window.staleAfter(rule.metric);
  const current = latestByNode(window.current, rule.metric, now - maxAge);
  const previous = rule.rate ? latestByNode(window.previous, rule.metric) : undefined;
  const readingOf = (key: string | undefined): NodeReading => {
    const s = current.get(key);
    if (!s) return undefined;
    const where = key === undefined ? 'pool-level' : `on node ${key}`;
    return nodeReading(rule, where, s, previous?.get(key), now, maxAge);
  };

  const values: number[] = [];
  let refused: string | undefined;
  let refusedNodes = 0;
  // Only pool-level samples: no node to look up (the simulator's case, every tick).
  const nodeLevel = current.size > (current.has(undefined) ? 1 : 0);
  if (nodeLevel)
    for (const node of readyNodes) {
      const v = readingOf(node);
      if (typeof v === 'number') values.push(v);
      else if (v !== undefined) {
        refusedNodes++;
        refused ??= v.refused;
      }
    }
  if (refused !== undefined)
    return {
      status: 'invalid',
      why: refusedNodes > 1 ? `${refused} (and ${refusedNodes - 1} more node(s))` : refused,
    };
  if (values.length > 0) {
    const value = aggregate(values, rule.aggregate);
    if (!Number.isFinite(value))
      return {
        status: 'invalid',
        why: `${rule.aggregate}${rule.rate ? ' rate' : ''} of ${rule.metric} over ${values.length} node(s) is ${value}, not a finite number`,
      };
    return { status: 'ok', value, nodesReporting: values.length, nodesExpected: readyNodes.length };
  }

  const poolLevel = readingOf(undefined);
  if (typeof poolLevel === 'object') return { status: 'invalid', why: poolLevel.refused };
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
