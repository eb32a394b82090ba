// What a pool decision returns: the plan, its actions, node updates, reasons and alerts, and the
// clocks it moves. Types only; decide.ts re-exports them for the adapters.

import type { PoolHistory } from './pool-history.ts';
import type { NodeState } from './types.ts';

/** Clocks that survive restarts: they are persisted with the pool. All ms since the epoch. */
export interface PoolClocks {
  readonly lastScaleUpAt?: number | undefined;
  readonly lastScaleDownAt?: number | undefined;
  readonly lastHealthCheckAt?: number | undefined;
  readonly lastLockAttemptAt?: number | undefined;
}

export type CreateCause =
  | 'bootstrap'
  | 'below-min'
  | 'below-capacity'
  | 'scale-up'
  | 'manual-size'
  /** A spare for the warm pool: created warm, never registered until a scale-up takes it. */
  | 'warm-refill';
export type RemoveCause =
  | 'scale-down'
  | 'above-max'
  | 'failed-health'
  | 'join-exhausted'
  | 'manual-size'
  /** A warm spare the warm pool no longer has room for (warm lowered, or max reached). */
  | 'warm-surplus';

export type PlannedAction =
  | { readonly kind: 'create'; readonly count: number; readonly cause: CreateCause }
  | { readonly kind: 'remove'; readonly nodeId: string; readonly cause: RemoveCause }
  /** Tear the node's instance down and start its join again, as attempt `attempt` (0-based). */
  | { readonly kind: 'rejoin'; readonly nodeId: string; readonly attempt: number }
  /** A warm spare becomes a serving node in place of a creation (registered once ready). */
  | { readonly kind: 'take-warm'; readonly nodeId: string; readonly cause: CreateCause };

export type Decision =
  | 'bootstrap'
  | 'scale-up'
  | 'scale-down'
  | 'replenish'
  | 'replace'
  | 'rejoin'
  | 'hold'
  | 'steady';

export interface Reason {
  readonly code: string;
  /** Plain words: rule, observed value, threshold, cooldown remaining. */
  readonly text: string;
  readonly rule?: string | undefined;
  readonly value?: number | undefined;
  readonly threshold?: number | undefined;
  readonly cooldownRemainingMs?: number | undefined;
}

export interface NodeUpdate {
  readonly id: string;
  readonly state: NodeState;
  readonly failMarker: number;
  readonly readyAt?: number | undefined;
  readonly stateReason?: string | undefined;
}

export interface Alert {
  readonly severity: 'warning' | 'critical';
  readonly node?: string | undefined;
  readonly text: string;
}

export interface PoolPlan {
  readonly pool: string;
  readonly at: number;
  readonly decision: Decision;
  /** Ready nodes (capacity) now. */
  readonly ready: number;
  /** Nodes that occupy a slot (every live state). */
  readonly live: number;
  /** Size the pool is heading for after this plan. */
  readonly desired: number;
  /** Removals first: the controller creates only once they are done. */
  readonly actions: readonly PlannedAction[];
  readonly nodeUpdates: readonly NodeUpdate[];
  /** Clocks as they are if every action runs; a refused lock keeps the old scale-down clocks. */
  readonly clocks: PoolClocks;
  /** A scale-down that must hold the pool's scale-down lock before it runs. */
  readonly needsLock: boolean;
  readonly reasons: readonly Reason[];
  readonly alerts: readonly Alert[];
  /** The pool's memory after this tick (peak hold, hysteresis, prediction): keep it for the next. */
  readonly history?: PoolHistory | undefined;
  /** The warm pool after this plan, where the pool has one (spares apart from `ready`/`live`). */
  readonly warm?: WarmCounts | undefined;
}

/** A warm pool's spares after a plan: how many the pool keeps, hold a slot, and are synced. */
export interface WarmCounts {
  /** `size.warm`: the spares the pool keeps when max leaves room. */
  readonly target: number;
  /** Spares holding a slot once this plan's takes, removals and refills are done. */
  readonly live: number;
  /** Spares synced and ready to take (before this plan's takes). */
  readonly ready: number;
}

/** What one step of a decision adds to the plan, in order: its reasons, actions and alerts. */
export interface StepResult {
  readonly reasons: readonly Reason[];
  readonly actions?: readonly PlannedAction[] | undefined;
  readonly alerts?: readonly Alert[] | undefined;
}
