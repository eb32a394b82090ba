// History retention: the acting controller prunes decisions, events, and actions and requests
// that ended, once they are older than `controller.historyRetention` — at its first tick, then
// hourly. Without it the SQLite file grows for as long as the fleet runs, and an etcd store
// walks towards its space quota (where etcd refuses every write, and Rampart with it).

import { formatDuration } from '../core/duration.ts';
import type { ActContext } from '../runtime/action-journal.ts';
import type { Runtime } from '../runtime/runtime.ts';

/** Time between two prunes of the store's history. */
export const HISTORY_PRUNE_EVERY_MS = 60 * 60 * 1000;

export class HistoryRetention {
  readonly #rt: Pick<Runtime, 'config' | 'store'>;
  #prunedAt: number | undefined;
  #inFlight: Promise<void> | undefined;

  constructor(rt: Pick<Runtime, 'config' | 'store'>) {
    this.#rt = rt;
  }

  /**
   * Starts a prune when the last one is an hour old (or none ran yet) and none is running.
   * It runs beside the ticks — a first prune of a long backlog on etcd takes one transaction
   * per 40 records and must not hold up scaling. A failure is logged and retried at the next
   * tick: pruning never stops the controller from acting.
   */
  maybePrune(ctx: ActContext, now = Date.now()): void {
    if (this.#inFlight !== undefined) return;
    if (this.#prunedAt !== undefined && now - this.#prunedAt < HISTORY_PRUNE_EVERY_MS) return;
    const keep = this.#rt.config.controller.historyRetention;
    this.#inFlight = this.#rt.store
      .pruneHistory(now - keep, ctx.term)
      .then(
        (removed) => {
          this.#prunedAt = now;
          const total =
            removed.actions + removed.decisions + removed.events + removed.requests + removed.samples;
          if (total > 0)
            ctx.log.info({ removed }, `pruned ${total} history records older than ${formatDuration(keep)}`);
        },
        (e: Error) => ctx.log.warn(`pruning history older than ${formatDuration(keep)} failed: ${e.message}`),
      )
      .finally(() => {
        this.#inFlight = undefined;
      });
  }

  /** Waits for the prune in flight, if any (before the store closes). */
  async settle(): Promise<void> {
    await this.#inFlight;
  }
}
