// What one pass of the reconcile loop reports to whoever watches the controller (Rampart's
// own metrics, the dashboard's live series): when it ran, how long it took, what it saw.

import type { Observation } from './observe.ts';

export interface TickReport {
  /** Leadership term the tick ran under. */
  readonly term: number;
  /** ms since the epoch. */
  readonly startedAt: number;
  readonly durationMs: number;
  /** The tick's observation; absent when the tick failed before observing. */
  readonly observation?: Observation | undefined;
  /** Why the tick failed, when it did (it is retried next interval). */
  readonly error?: Error | undefined;
}
