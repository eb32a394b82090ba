// Validator pools: created once, never scaled, never replaced. A validator's failures go to
// failover, not to the autoscaler.

import type { Decision, PlannedAction, Reason } from './pool-plan.ts';

/** The whole decision for a validator pool (or any pool without a size policy). */
export function decideValidatorPool(pool: {
  readonly live: number;
  readonly ready: number;
  /** Whether the pool ever had a node. */
  readonly everHadNode?: boolean | undefined;
  readonly paused?: boolean | undefined;
}): { decision: Decision; desired: number; actions: PlannedAction[]; reasons: Reason[] } {
  if (!pool.everHadNode && pool.live === 0 && !pool.paused)
    return {
      decision: 'bootstrap',
      desired: 1,
      actions: [{ kind: 'create', count: 1, cause: 'bootstrap' }],
      reasons: [{ code: 'bootstrap', text: 'validator pool has never had a node: starting its one node' }],
    };
  return {
    decision: 'hold',
    desired: pool.live,
    actions: [],
    reasons: [
      {
        code: 'validator-never-scaled',
        text: `validator pools are never scaled or replaced (${pool.ready} ready of ${pool.live}); failures go to failover`,
      },
    ],
  };
}
