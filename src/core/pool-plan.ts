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

export type CreateCause = 'bootstrap' | 'below-min' | 'below-capacity' | 'scale-up' | 'manual-size';
export type RemoveCause = 'scale-down' | 'above-max' | 'failed-health' | 'join-exhausted' | 'manual-size';

export type PlannedAction =
  | { readonly kind: 'create'; readonly count: number; readonly cause: CreateCause }
  | { readonly kind: 'remove'; readonly nodeId: string; readonly cause: RemoveCause }
  /** Tear the node's instance down and start its join again, as attempt `attempt` (0-based). */
  | { readonly kind: 'rejoin'; readonly nodeId: string; readonly attempt: number };

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
}

/** What one step of a decision adds to the plan, in order: its reasons, actions and alerts. */
export interface StepResult {
  readonly reasons: readonly Reason[];
  readonly actions?: readonly PlannedAction[] | undefined;
  readonly alerts?: readonly Alert[] | undefined;
}
