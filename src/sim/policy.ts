// What a simulated policy is: something that sees scrapes, decides every interval and acts on
// the simulated pool. Rampart's policy and every baseline implement this one interface.

import type { SizePolicy } from '../core/policy.ts';
import type { ModelOptions, SimPool } from './model.ts';
import type { Trace } from './trace.ts';

/** One scrape of the pool's metrics, as every metric-driven policy receives it. */
export interface Scrape {
  /** When it was taken, s since the trace's start. */
  readonly t: number;
  /** sim:utilization — ready nodes' mean utilization, 0–1, saturating at 1. Undefined: no ready node. */
  readonly utilization: number | undefined;
  /** sim:load — offered load per ready node, units/s (not saturating). Undefined: no ready node. */
  readonly loadPerNode: number | undefined;
  /** Ready nodes at the scrape. */
  readonly ready: number;
}

export interface SimPolicy {
  /** Name in the scores: rampart, hpa, heat, gce, aws, oracle. */
  readonly name: string;
  /** Seconds between decisions; the first is at the trace's start. */
  readonly interval: number;
  /**
   * Seconds after a node fails at which the platform under this policy replaces it; undefined
   * when the policy deals with failures itself.
   */
  readonly replaceFailedAfter?: number | undefined;
  /** Restored-but-idle nodes the policy keeps (Rampart's warm pool). Default 0. */
  readonly warmPool?: number | undefined;
  /** Called once, before the first scrape, with the pool holding its initial nodes. */
  start?(t: number, pool: SimPool): void;
  /** Called with every scrape, in time order, before a decision at the same time. */
  observe(scrape: Scrape): void;
  /** Decides and acts on the pool. Returns the scaling actions taken (changes of size, not replacements). */
  decide(t: number, pool: SimPool): number;
}

/** What a policy is built from: the simulated pool's bounds, the model, and the trace. */
export interface PolicyContext {
  readonly size: SizePolicy;
  readonly model: ModelOptions;
  readonly trace: Trace;
}
