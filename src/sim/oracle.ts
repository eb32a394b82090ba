// The oracle: the floor every policy is measured against. It sees the true offered load at
// once (not a scraped metric), sizes the pool for the highest load of the last `hold` seconds
// at `headroom` utilization, and removes failed nodes the moment they fail. Only the model's
// provisioning and restore delays make it lose work. Defined by Rampart's issue 7, not by any
// product's documentation.

import type { SimPool } from './model.ts';
import type { PolicyContext, SimPolicy } from './policy.ts';

export interface OracleOptions {
  /** Utilization it sizes for: nodes = ceil(peak / (nodeCapacity × headroom)). Default 0.9. */
  readonly headroom: number;
  /** Seconds it holds the peak load before sizing down. Default 600. */
  readonly hold: number;
  /** Seconds between its decisions ("at once"). Default 1. */
  readonly interval: number;
}

export const ORACLE_DEFAULTS: OracleOptions = { headroom: 0.9, hold: 600, interval: 1 };

export function oraclePolicy(ctx: PolicyContext, options: Partial<OracleOptions> = {}): SimPolicy {
  const o = { ...ORACLE_DEFAULTS, ...options };
  const { times, loads } = ctx.trace;
  const { min, max } = ctx.size;
  const perNode = ctx.model.nodeCapacity * o.headroom;
  // Rows whose load counts towards the window's peak, in a monotonic deque (loads decreasing).
  const window: number[] = [];
  let nextRow = 0;

  /** Highest offered load in (t − hold, t]. */
  const peakAt = (t: number): number => {
    while (nextRow < times.length && times[nextRow]! <= t) {
      while (window.length > 0 && loads[window[window.length - 1]!]! <= loads[nextRow]!) window.pop();
      window.push(nextRow++);
    }
    // A row counts while its span [times[i], times[i+1]) reaches into the window.
    while (window.length > 1) {
      const i = window[0]!;
      const spanEnd = i + 1 < times.length ? times[i + 1]! : ctx.trace.end;
      if (spanEnd > t - o.hold) break;
      window.shift();
    }
    return loads[window[0]!]!;
  };

  return {
    name: 'oracle',
    interval: o.interval,
    observe() {},
    decide(t: number, pool: SimPool): number {
      for (const node of [...pool.failed]) pool.remove(t, node);
      const desired = Math.min(max, Math.max(min, Math.ceil(peakAt(t) / perNode - 1e-9)));
      const current = pool.pending.length + pool.ready.length;
      if (desired === current) return 0;
      pool.resize(t, desired);
      return 1;
    },
  };
}
