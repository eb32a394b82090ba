// A pool's size bounds: the floor (min at once, then capacity), max (never exceeded, counting
// nodes still leaving), a size set by hand kept within them, and how many nodes can be created now.

import type { NodeRecord } from './node-lifecycle.ts';
import type { SizePolicy } from './policy.ts';
import type { CreateCause, Reason } from './pool-plan.ts';
import { JOINING_STATES } from './types.ts';

/** The size the pool returns to without any rule firing: capacity when below it, else `base`. */
export function sizeFloor(base: number, size: SizePolicy): { floor: number; reasons: Reason[] } {
  if (base < size.min)
    return {
      floor: size.capacity,
      reasons: [
        {
          code: 'below-min',
          text: `${base} nodes < min ${size.min}: replacing at once, back to capacity ${size.capacity}`,
        },
      ],
    };
  if (base < size.capacity)
    return {
      floor: size.capacity,
      reasons: [
        { code: 'below-capacity', text: `${base} nodes < capacity ${size.capacity}: returning to capacity` },
      ],
    };
  return { floor: base, reasons: [] };
}

/** `wanted` capped at max; the reason says so when it is. */
export function capAtMax(wanted: number, size: SizePolicy): { target: number; reasons: Reason[] } {
  if (wanted <= size.max) return { target: wanted, reasons: [] };
  return {
    target: size.max,
    reasons: [
      { code: 'at-max', text: `wanted ${wanted} nodes, capped at max ${size.max}`, threshold: size.max },
    ],
  };
}

/** A size set by hand, kept within [min, max]; the reason names who set it. */
export function manualTarget(
  manualSize: number,
  by: string | undefined,
  size: SizePolicy,
): { wanted: number; reasons: Reason[] } {
  const wanted = Math.min(size.max, Math.max(size.min, manualSize));
  const kept = wanted === manualSize ? '' : ` (kept within min ${size.min} and max ${size.max}: ${wanted})`;
  return {
    wanted,
    reasons: [
      {
        code: 'manual-size',
        text: `size set by hand to ${manualSize} by ${by ?? 'the operator'}${kept}: scale rules do not apply`,
      },
    ],
  };
}

/** What limits a creation besides the target: slots under max, the upstream, one join at a time. */
export interface CreationLimits {
  /** Nodes that stay: live, less those leaving and those removed this tick. */
  readonly base: number;
  /** Nodes draining or deleting: they hold their slots under max until they are gone. */
  readonly leaving: number;
  readonly max: number;
  /** False: the pool's upstream has no running node, so nothing is created. Undefined: no upstream. */
  readonly upstreamRunning?: boolean | undefined;
  /** At most one node joins at a time (etcd members). */
  readonly joinsOneAtATime?: boolean | undefined;
  /** Nodes joining, draining or deleting, in order. */
  readonly busy: readonly NodeRecord[];
  /** Nodes removed this tick: a removed joining node no longer counts as joining. */
  readonly removed: ReadonlySet<string>;
}

/** How many of the nodes up to `target` can be created now, and why not more. */
export function creatable(target: number, limits: CreationLimits): { count: number; reasons: Reason[] } {
  const { base, leaving, max } = limits;
  const reasons: Reason[] = [];
  // Removals run before creations, so a slot freed now is free for a replacement.
  const room = max - (base + leaving);
  let count = Math.max(0, Math.min(target - base, room));
  if (target > base && count < target - base)
    reasons.push({
      code: 'max-occupied',
      text: `${leaving} node(s) still leaving occupy slots under max ${max}: creating ${count} now`,
    });
  if (count > 0 && limits.upstreamRunning === false) {
    reasons.push({
      code: 'no-upstream',
      text: `would create ${count}, but no upstream node runs yet: waiting`,
    });
    count = 0;
  }
  if (count > 0 && limits.joinsOneAtATime) {
    const joining = limits.busy.filter((x) => JOINING_STATES.has(x.state) && !limits.removed.has(x.id));
    if (joining.length > 0) {
      reasons.push({
        code: 'one-join-at-a-time',
        text: `would create ${count}, but ${joining.map((x) => `${x.id} (${x.state})`).join(', ')} is still joining: nodes of this pool join one at a time`,
      });
      count = 0;
    } else if (count > 1) {
      reasons.push({
        code: 'one-join-at-a-time',
        text: `creating 1 of ${count} now: nodes of this pool join one at a time`,
      });
      count = 1;
    }
  }
  return { count, reasons };
}

/** Why nodes are created when the floor and the rules both had a say. */
export function creationCause(
  base: number,
  size: SizePolicy,
  floor: number,
  ruleDesired: number,
): CreateCause {
  if (base < size.min) return 'below-min';
  if (ruleDesired > floor) return 'scale-up';
  return base < size.capacity ? 'below-capacity' : 'scale-up';
}
