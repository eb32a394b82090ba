// Scale-in: whether a pool should lose a node for its size (above max; above capacity when every
// scale-down rule agrees), and which node leaves now: one at a time, through the scale-down lock.

import { formatDuration, remaining } from './duration.ts';
import type { NodeRecord } from './node-lifecycle.ts';
import type { PoolPolicy, SizePolicy } from './policy.ts';
import type { PoolClocks, Reason } from './pool-plan.ts';
import type { SampleWindow } from './rule-evaluation.ts';
import { selectForScaleIn } from './scale-in-selection.ts';
import { scaleDownRules } from './scale-rules.ts';

/** What `scaleInWanted` reads. */
export interface ScaleInQuestion {
  /** Nodes that stay (live, less those leaving). */
  readonly base: number;
  readonly size: SizePolicy;
  readonly scaleDown: PoolPolicy['scaleDown'];
  readonly readyIds: readonly string[];
  readonly samples: SampleWindow;
  readonly now: number;
  /** Scale-up rules held by a value they cannot trust: they hold a scale-down too. */
  readonly heldUp: readonly string[];
}

export interface ScaleInWanted {
  /** Why a node should leave; undefined: none should. */
  readonly cause: 'scale-down' | 'above-max' | undefined;
  /** Some rule read a value it cannot trust: staying put is a hold, not a steady state. */
  readonly held: boolean;
  readonly reasons: readonly Reason[];
}

/** Whether a node should leave: never at or below capacity, always above max, else when every rule agrees. */
export function scaleInWanted(q: ScaleInQuestion): ScaleInWanted {
  const { base, size } = q;
  if (base <= size.capacity && base <= size.max)
    return {
      cause: undefined,
      held: q.heldUp.length > 0,
      reasons: [{ code: 'at-capacity', text: `${base} nodes, capacity ${size.capacity}: nothing to remove` }],
    };
  if (base > size.max)
    return {
      cause: 'above-max',
      held: q.heldUp.length > 0,
      reasons: [{ code: 'above-max', text: `${base} nodes > max ${size.max}: removing one at a time` }],
    };
  if (q.scaleDown.rules.length === 0)
    return {
      cause: undefined,
      held: q.heldUp.length > 0,
      reasons: [
        { code: 'no-down-rules', text: `${base} nodes > capacity ${size.capacity}, but no scale-down rules` },
      ],
    };
  const down = scaleDownRules(q.scaleDown.rules, q.readyIds, q.samples, q.now, base);
  const held = [...q.heldUp, ...down.held];
  const reasons = [...down.reasons];
  if (down.agree && held.length > 0)
    reasons.push({
      code: 'metric-invalid',
      text: `scale-down held: ${held.join(', ')} read a value that cannot be trusted`,
    });
  return {
    cause: down.agree && held.length === 0 ? 'scale-down' : undefined,
    held: held.length > 0,
    reasons,
  };
}

/** What `scaleInOne` reads. */
export interface ScaleInContext {
  readonly policy: PoolPolicy;
  readonly size: SizePolicy;
  /** Nodes joining, draining or deleting: while any is, nothing else leaves. */
  readonly busy: readonly NodeRecord[];
  /** Ready nodes, of which one may leave. */
  readonly candidates: readonly NodeRecord[];
  readonly samples: SampleWindow;
  /** The clocks as the tick found them. */
  readonly clocks: PoolClocks;
  readonly now: number;
  /** Wait out the scale-down period (a size set by hand does not). */
  readonly respectPeriod: boolean;
  /** Ids of the pool's nodes its upstream (validator) is connected to, if it has one. */
  readonly connectedToUpstream?: ReadonlySet<string> | undefined;
}

/**
 * The node that leaves now, or none and why: another node still joins or leaves, the scale-down
 * period or the lock attempt period has not passed, no ready node, or removing the chosen one
 * would leave the upstream fewer than min connected nodes.
 */
export function scaleInOne(c: ScaleInContext): { nodeId: string | undefined; reasons: Reason[] } {
  const { policy, now } = c;
  if (c.busy.length > 0)
    return hold({
      code: 'one-at-a-time',
      text: `waiting for ${c.busy.map((n) => `${n.id} (${n.state})`).join(', ')}: one node at a time`,
    });
  const periodLeft = c.respectPeriod ? remaining(c.clocks.lastScaleDownAt, policy.scaleDown.period, now) : 0;
  if (periodLeft > 0)
    return hold({
      code: 'cooldown',
      text: `scale-down period: ${formatDuration(periodLeft)} of ${formatDuration(policy.scaleDown.period)} remaining`,
      cooldownRemainingMs: periodLeft,
    });
  const lockLeft = remaining(c.clocks.lastLockAttemptAt, policy.scaleDown.lockAttemptPeriod, now);
  if (lockLeft > 0)
    return hold({
      code: 'lock-attempt-period',
      text: `next scale-down lock attempt in ${formatDuration(lockLeft)}`,
      cooldownRemainingMs: lockLeft,
    });
  const selected = selectForScaleIn(policy, c.candidates, c.samples.current);
  if (!selected) return hold({ code: 'no-candidate', text: 'no ready node to remove' });
  const connected = c.connectedToUpstream;
  if (connected?.has(selected.nodeId) && connected.size - 1 < c.size.min)
    return hold({
      code: 'upstream-min',
      text: `removing ${selected.nodeId} would leave the validator ${connected.size - 1} connected sentries, below min ${c.size.min}`,
    });
  return {
    nodeId: selected.nodeId,
    reasons: [{ code: 'selected', text: `removing ${selected.nodeId}: ${selected.why}` }],
  };
}

function hold(reason: Reason): { nodeId: undefined; reasons: Reason[] } {
  return { nodeId: undefined, reasons: [reason] };
}
