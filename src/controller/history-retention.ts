// History retention: the acting controller prunes decisions, events, and actions and requests
// that ended, once they are older than `controller.historyRetention` — at its first tick, then
// hourly. Without it the SQLite file grows for as long as the fleet runs, and an etcd store
// walks towards its space quota (where etcd refuses every write, and Rampart with it).

import { formatDuration } from '../core/duration.ts';
import type { ActContext } from './actions.ts';
import type { Runtime } from './runtime.ts';

/** Time between two prunes of the store's history. */
export const HISTORY_PRUNE_EVERY_MS = 60 * 60 * 1000;

export class HistoryRetention {
  readonly #rt: Pick<Runtime, 'config' | 'store'>;
  #prunedAt: number | undefined;

  constructor(rt: Pick<Runtime, 'config' | 'store'>) {
    this.#rt = rt;
  }

  /**
   * Prunes when the last prune is an hour old (or none ran yet). A failure is logged and
   * retried at the next tick: pruning never stops the controller from acting.
   */
  async maybePrune(ctx: ActContext, now = Date.now()): Promise<void> {
    if (this.#prunedAt !== undefined && now - this.#prunedAt < HISTORY_PRUNE_EVERY_MS) return;
    const keep = this.#rt.config.controller.historyRetention;
    try {
      const removed = await this.#rt.store.pruneHistory(now - keep, ctx.term);
      this.#prunedAt = now;
      const total = removed.actions + removed.decisions + removed.events + removed.requests;
      if (total > 0)
        ctx.log.info({ removed }, `pruned ${total} history records older than ${formatDuration(keep)}`);
    } catch (e) {
      ctx.log.warn(`pruning history older than ${formatDuration(keep)} failed: ${(e as Error).message}`);
    }
  }
}
