// Warm pools: spare nodes kept synced beside a pool, never registered, never capacity, always
// counted against max. A creation takes a warm spare first, the spare is refilled behind it,
// and spares are the first to go when the pool has no room for them. Pure.

import { type DecideInput, decidePool } from './decide.ts';
import { assessNodeHealth, healthCheckDue, type NodeHealth } from './node-health.ts';
import type { NodeRecord } from './node-lifecycle.ts';
import type { CreateCause, PlannedAction, PoolPlan, Reason, RemoveCause } from './pool-plan.ts';

/** What the warm step needs of the pool after the serving plan. */
export interface WarmPoolInput {
  /** `size.warm`: spares to keep. */
  readonly target: number;
  readonly max: number;
  /** Serving nodes holding a slot before this plan's creations (the serving plan's `live`). */
  readonly servingLive: number;
  /** Nodes the serving plan creates, by cause, in its order. */
  readonly creations: readonly { readonly count: number; readonly cause: CreateCause }[];
  /** The spares' lifecycle and health, from this tick's probes. */
  readonly spares: NodeHealth;
  /** Whether new nodes may be created now (an upstream to follow, no one-at-a-time join). */
  readonly mayCreate: boolean;
  /** Why not, when `mayCreate` is false. */
  readonly blockedBy?: string | undefined;
}

export interface WarmPoolStep {
  /** Spares taken in place of creations, in the order the creations asked. */
  readonly takes: readonly { readonly nodeId: string; readonly cause: CreateCause }[];
  /** What is left of each creation once spares were taken (zero counts dropped). */
  readonly creations: readonly { readonly count: number; readonly cause: CreateCause }[];
  readonly removals: readonly { readonly nodeId: string; readonly cause: RemoveCause }[];
  /** New spares to create behind the takes. */
  readonly refill: number;
  /** Spares holding a slot once all this is done. */
  readonly live: number;
  readonly reasons: readonly Reason[];
}

/**
 * Ready spares first (they serve on registration alone), then the joins furthest along. A spare
 * stopped for a snapshot is neither taken nor removed: the snapshot job starts it again.
 */
function takeOrder(spares: NodeHealth, unhealthy: ReadonlySet<string>): NodeRecord[] {
  const ready = spares.readyNodes.filter((n) => !unhealthy.has(n.id) && n.maintenance === undefined);
  const joining = spares.busy
    .filter((n) => n.state !== 'draining' && n.state !== 'deleting' && !unhealthy.has(n.id))
    .sort((a, b) => a.joinStartedAt - b.joinStartedAt || (a.id < b.id ? -1 : 1));
  return [...ready, ...joining];
}

/**
 * The warm pool's part of a tick, in its steps: unhealthy spares go; each creation the serving
 * plan asks for takes a spare while one is left; spares beyond the room max leaves (after the
 * serving nodes) go, joining ones first, then the newest; and the pool is refilled up to
 * `target` within that room.
 */
export function planWarmPool(input: WarmPoolInput): WarmPoolStep {
  const reasons: Reason[] = [];
  const removals: { nodeId: string; cause: RemoveCause }[] = [];

  // 1. Spares failing their checks, or whose join timed out, go; a fresh one replaces them.
  const unhealthy = new Set(input.spares.suspects.map((n) => n.id));
  for (const n of input.spares.suspects) {
    removals.push({ nodeId: n.id, cause: 'failed-health' });
    reasons.push({
      code: 'warm-unhealthy',
      text: `warm ${n.id}: ${n.stateReason ?? 'failing checks'} (fail marker ${n.failMarker}, state ${n.state}): removing it`,
    });
  }

  // 2. Creations take spares first.
  const order = takeOrder(input.spares, unhealthy);
  const takes: { nodeId: string; cause: CreateCause }[] = [];
  const creations: { count: number; cause: CreateCause }[] = [];
  for (const c of input.creations) {
    let left = c.count;
    while (left > 0 && takes.length < order.length) {
      const node = order[takes.length]!;
      takes.push({ nodeId: node.id, cause: c.cause });
      reasons.push({
        code: 'warm-take',
        text: `${c.cause}: taking warm ${node.id} (${node.state}) instead of creating a node`,
      });
      left--;
    }
    if (left > 0) creations.push({ count: left, cause: c.cause });
  }
  const created = input.creations.reduce((sum, c) => sum + c.count, 0);

  // 3. The room max leaves beside the serving nodes (taken spares now among them); spares
  // still leaving hold their slot until they are gone.
  const leaving = input.spares.leaving;
  const room = Math.max(0, input.max - input.servingLive - created - leaving);
  const wanted = Math.min(input.target, room);
  const kept = order.slice(takes.length);
  const stopped = input.spares.readyNodes.filter((n) => n.maintenance !== undefined).length;
  let have = kept.length + stopped;
  if (have > wanted) {
    // Joining spares before synced ones, and the newest first: the oldest synced spare stays.
    const surplus = [...kept].sort(
      (a, b) =>
        Number(a.state === 'ready') - Number(b.state === 'ready') ||
        b.createdAt - a.createdAt ||
        (a.id < b.id ? -1 : 1),
    );
    const out = surplus.slice(0, have - wanted);
    for (const n of out) {
      removals.push({ nodeId: n.id, cause: 'warm-surplus' });
      reasons.push({
        code: 'warm-surplus',
        text: `warm ${n.id}: ${wanted} spare(s) fit (warm ${input.target}, max ${input.max}, ${input.servingLive + created} serving): removing it`,
        value: have,
        threshold: wanted,
      });
    }
    have -= out.length;
  }

  // 4. Refill behind the takes, within the room.
  let refill = 0;
  if (have < wanted) {
    if (input.mayCreate) {
      refill = wanted - have;
      reasons.push({
        code: 'warm-refill',
        text: `warm pool ${have} of ${wanted}${wanted < input.target ? ` (warm ${input.target}, max ${input.max} leaves room for ${wanted})` : ''}: creating ${refill}`,
        value: have,
        threshold: wanted,
      });
    } else
      reasons.push({
        code: 'warm-waiting',
        text: `warm pool ${have} of ${wanted}: not refilled now (${input.blockedBy ?? 'no creation allowed'})`,
        value: have,
        threshold: wanted,
      });
  }
  return { takes, creations, removals, refill, live: have + refill, reasons };
}

/** Splits a pool's nodes into serving ones and warm spares, keeping their order. */
export function splitWarm(nodes: readonly NodeRecord[]): { serving: NodeRecord[]; spares: NodeRecord[] } {
  const serving: NodeRecord[] = [];
  const spares: NodeRecord[] = [];
  for (const n of nodes) (n.warm ? spares : serving).push(n);
  return { serving, spares };
}

/**
 * A pool's plan with its warm pool: the serving nodes are decided on as a pool without spares
 * (decidePool), then the warm step turns creations into takes, removes what does not fit and
 * refills. A pool without `warm` and without spares gets decidePool's plan unchanged.
 */
export function decideWithWarmPool(input: DecideInput): PoolPlan {
  const size = input.policy.size;
  const target = size?.warm ?? 0;
  const { serving, spares } = splitWarm(input.nodes);
  if (target === 0 && spares.length === 0) return decidePool(input);
  const plan = decidePool({ ...input, nodes: serving });
  const healthDue = healthCheckDue(input.policy.health, input.clocks.lastHealthCheckAt, input.now);
  const health = assessNodeHealth(spares, input.probes, input.policy.health, healthDue, input.now);
  const nodeUpdates = [...plan.nodeUpdates, ...health.updates];
  const sparesLive = health.live;
  if (!size || input.paused) {
    const warm = { target, live: sparesLive, ready: health.readyIds.length };
    return { ...plan, nodeUpdates, warm };
  }
  const creations: { count: number; cause: CreateCause }[] = [];
  for (const a of plan.actions) if (a.kind === 'create') creations.push({ count: a.count, cause: a.cause });
  const blockedBy =
    input.upstreamRunning === false
      ? 'no upstream node runs: a spare would have nothing to follow'
      : input.joinsOneAtATime
        ? 'its nodes join one at a time: spares are not kept'
        : plan.actions.some((a) => a.kind === 'remove' || a.kind === 'rejoin')
          ? 'a removal runs this tick'
          : undefined;
  const step = planWarmPool({
    target,
    max: size.max,
    servingLive: plan.live,
    creations,
    spares: health,
    mayCreate: blockedBy === undefined,
    blockedBy,
  });
  // Takes first (a taken spare serves on registration alone), then the serving plan's removals
  // and what is left of its creations, then the spares' removals and the refill.
  const actions: PlannedAction[] = step.takes.map((t) => ({
    kind: 'take-warm',
    nodeId: t.nodeId,
    cause: t.cause,
  }));
  let left = [...step.creations];
  for (const a of plan.actions) {
    if (a.kind !== 'create') actions.push(a);
    else {
      const i = left.findIndex((c) => c.cause === a.cause);
      if (i >= 0) {
        actions.push({ kind: 'create', count: left[i]!.count, cause: a.cause });
        left = [...left.slice(0, i), ...left.slice(i + 1)];
      }
    }
  }
  for (const r of step.removals) actions.push({ kind: 'remove', nodeId: r.nodeId, cause: r.cause });
  if (step.refill > 0) actions.push({ kind: 'create', count: step.refill, cause: 'warm-refill' });
  const acting = step.takes.length + step.removals.length + step.refill > 0;
  return {
    ...plan,
    decision: plan.decision === 'steady' && acting ? 'replenish' : plan.decision,
    actions,
    nodeUpdates,
    reasons: [...plan.reasons, ...step.reasons],
    warm: { target, live: step.live, ready: health.readyIds.length },
  };
}
