// Scores of one policy on one trace: unserved work, node-hours, scaling actions, the time it
// took to absorb each step of the load, and the first two as ratios to the oracle's.

import type { RunResult } from './engine.ts';
import type { Trace } from './trace.ts';

export interface Score {
  readonly trace: string;
  readonly policy: string;
  /** ∫ max(0, load − ready capacity) dt, work units. */
  readonly unservedWork: number;
  /** ∫ nodes paid for dt, node-hours. */
  readonly nodeHours: number;
  /** Decisions that changed the pool's size. */
  readonly actions: number;
  /** unservedWork / the oracle's; 1 when both are 0; null when only the oracle's is 0. */
  readonly unservedVsOracle: number | null;
  /** nodeHours / the oracle's. */
  readonly nodeHoursVsOracle: number | null;
  /** Seconds from each step of the load to the end of its overload; null: not absorbed before the trace ended. */
  readonly absorbSeconds: readonly (number | null)[];
}

/** Unserved work below this (work units) counts as none: float noise, not lost work. */
export const NEGLIGIBLE_WORK = 1e-6;

export interface StepOptions {
  /** A step is a rise to at least this multiple of the lowest load of the preceding window. Default 2. */
  readonly factor: number;
  /** The window the rise is measured against, s. Default 120. */
  readonly window: number;
  /** A rise must also be at least this many units/s (one node's worth by default). Default 100. */
  readonly minRise: number;
  /** After a step, no new step starts for this long, s. Default 600. */
  readonly quiet: number;
}

export const STEP_DEFAULTS: StepOptions = { factor: 2, window: 120, minRise: 100, quiet: 600 };

/**
 * The steps of a trace: times where the load rises to `factor` times the lowest load of the
 * preceding `window` seconds (and by at least `minRise`), at most one per `quiet` seconds.
 * A property of the trace alone, so every policy is timed on the same steps.
 */
export function findSteps(trace: Trace, options: Partial<StepOptions> = {}): number[] {
  const o = { ...STEP_DEFAULTS, ...options };
  const { times, loads } = trace;
  const steps: number[] = [];
  // Monotonic deque of row indices with increasing loads: the window's minimum is at the front.
  const mins: number[] = [];
  let lastStep = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < times.length; i++) {
    const t = times[i]!;
    // Rows whose span reaches into [t − window, t) stay in the window.
    while (mins.length > 0) {
      const j = mins[0]!;
      if (times[j + 1]! > t - o.window) break;
      mins.shift();
    }
    if (mins.length > 0 && t - lastStep >= o.quiet) {
      const low = loads[mins[0]!]!;
      const load = loads[i]!;
      if (load >= o.factor * low && load - low >= o.minRise) {
        steps.push(t);
        lastStep = t;
      }
    }
    while (mins.length > 0 && loads[mins[mins.length - 1]!]! >= loads[i]!) mins.pop();
    mins.push(i);
  }
  return steps;
}

/**
 * How long the policy took to absorb each step: from the step to the end of the overload
 * running at or starting within `settle` seconds after it, i.e. until load ≤ ready capacity
 * holds for `settle` seconds. 0 when the step caused no overload; null when the overload
 * outlasted the trace.
 */
export function absorbTimes(
  run: Pick<RunResult, 'overloads' | 'end'>,
  steps: readonly number[],
  settle = 60,
): (number | null)[] {
  return steps.map((step) => {
    let absorbedAt = step;
    for (const [from, to] of run.overloads) {
      if (to <= absorbedAt) continue;
      if (from >= absorbedAt + settle) break;
      absorbedAt = to;
    }
    if (absorbedAt >= run.end) return null;
    return absorbedAt - step;
  });
}

function ratio(value: number, oracle: number, negligible: number): number | null {
  if (oracle <= negligible) return value <= negligible ? 1 : null;
  return value / oracle;
}

/** Scores of a run, with ratios to the oracle's run on the same trace. */
export function score(run: RunResult, oracle: RunResult, steps: readonly number[]): Score {
  return {
    trace: run.trace,
    policy: run.policy,
    unservedWork: run.unservedWork,
    nodeHours: run.nodeSeconds / 3600,
    actions: run.actions,
    unservedVsOracle: ratio(run.unservedWork, oracle.unservedWork, NEGLIGIBLE_WORK),
    nodeHoursVsOracle: ratio(run.nodeSeconds, oracle.nodeSeconds, 0),
    absorbSeconds: absorbTimes(run, steps),
  };
}

/** True when `a` is at least as good as `b` on both unserved work and node-hours, and better on one. */
export function dominates(a: Score, b: Score): boolean {
  const noWorse = a.unservedWork <= b.unservedWork + NEGLIGIBLE_WORK && a.nodeHours <= b.nodeHours;
  const better = a.unservedWork < b.unservedWork - NEGLIGIBLE_WORK || a.nodeHours < b.nodeHours;
  return noWorse && better;
}
