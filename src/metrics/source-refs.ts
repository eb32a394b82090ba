// What every metric source kind does the same way: sorting the references it is handed into
// the ones it can read and errors for the rest, and checking numeric options.

import { type MetricSelector, parseMetricRef, parseSelector } from '../core/metric-ref.ts';
import type { CollectError } from './metric-source.ts';

export interface SourceRef {
  /** The reference exactly as the rules wrote it: samples carry it back. */
  readonly ref: string;
  readonly expr: string;
}

export interface SelectorRef extends SourceRef {
  readonly selector: MetricSelector;
}

/** Keeps each distinct ref that names `sourceName`; the others become errors. */
export function refsForSource(
  sourceName: string,
  refs: readonly string[],
): { refs: SourceRef[]; errors: CollectError[] } {
  const accepted: SourceRef[] = [];
  const errors: CollectError[] = [];
  const seen = new Set<string>();
  for (const ref of refs) {
    if (seen.has(ref)) continue;
    seen.add(ref);
    let source: string;
    let expr: string;
    try {
      ({ source, expr } = parseMetricRef(ref));
    } catch (error) {
      errors.push({ message: (error as Error).message });
      continue;
    }
    if (source !== sourceName) {
      errors.push({ message: `"${ref}" names source "${source}", not "${sourceName}"` });
      continue;
    }
    accepted.push({ ref, expr });
  }
  return { refs: accepted, errors };
}

/** As refsForSource, for sources whose expressions are selectors `name{label="v"}`. */
export function selectorRefsForSource(
  sourceName: string,
  refs: readonly string[],
): { refs: SelectorRef[]; errors: CollectError[] } {
  const { refs: accepted, errors } = refsForSource(sourceName, refs);
  const selectors: SelectorRef[] = [];
  for (const r of accepted) {
    try {
      selectors.push({ ...r, selector: parseSelector(r.expr) });
    } catch (error) {
      errors.push({ message: `"${r.ref}": ${(error as Error).message}` });
    }
  }
  return { refs: selectors, errors };
}

/** An optional numeric option: the fallback when absent, an Error naming it when not positive. */
export function positiveOption(value: number | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`${what} must be a positive number, got ${value}`);
  return value;
}
