// The pool decision: given what was observed, the policy and the clock, what to do now and
// why. Pure and synchronous: no I/O, no awaiting, the clock is an argument. It reads as its
// steps; each lives in a file of its own, with its own tests.

import {
  type CreationLimits,
  capAtMax,
  creatable,
  creationCause,
  manualTarget,
  sizeFloor,
} from './bounds.ts';
import { forecastNeed } from './burst-forecast.ts';
import { remaining } from './duration.ts';
import { formatNumber } from './format.ts';
import { hysteresisBand, outsideDeadBand } from './hysteresis.ts';
import { assessNodeHealth, healthCheckDue } from './node-health.ts';
import type { NodeRecord } from './node-lifecycle.ts';
import { peakHold } from './peak-hold.ts';
import type { PoolPolicy } from './policy.ts';
import { type PoolHistory, recordTick } from './pool-history.ts';
import type {
  Alert,
  Decision,
  PlannedAction,
  PoolClocks,
  PoolPlan,
  Reason,
  RemoveCause,
  StepResult,
} from './pool-plan.ts';
import { replaceFailing } from './replacement.ts';
import type { SampleWindow } from './rule-evaluation.ts';
import { scaleInOne, scaleInWanted } from './scale-in.ts';
import { scaleUpRules } from './scale-rules.ts';
import type { NodeProbe } from './types.ts';
import { decideValidatorPool } from './validator-pool.ts';

export type {
  Alert,
  CreateCause,
  Decision,
  NodeUpdate,
  PlannedAction,
  PoolClocks,
  PoolPlan,
  Reason,
  RemoveCause,
} from './pool-plan.ts';

export interface DecideInput {
  readonly policy: PoolPolicy;
  readonly now: number;
  /** Every node of the pool that is not gone. */
  readonly nodes: readonly NodeRecord[];
  /** This tick's probe of each node, by node id; absent = not probed. */
  readonly probes: ReadonlyMap<string, NodeProbe>;
  readonly samples: SampleWindow;
  readonly clocks: PoolClocks;
  /** Paused by the operator: observe and record, act on nothing. */
  readonly paused?: boolean | undefined;
  /** Who paused the pool, for the reason. Default "the operator". */
  readonly pausedBy?: string | undefined;
  /**
   * Size set by hand: the pool heads for it (clamped to [min, max]) instead of what the
   * rules say; health replacement still runs, and a scale-down still removes one node at a
   * time through the lock. Undefined: the rules decide.
   */
  readonly manualSize?: number | undefined;
  /** Who set the manual size, for the reason. Default "the operator". */
  readonly manualSizeBy?: string | undefined;
  /** Whether the pool ever had a node (a validator pool is created once, never again). */
  readonly everHadNode?: boolean | undefined;
  /**
   * False when the pool has an upstream (a sentry pool's validator) and none of its nodes
   * runs: a new node would have nothing to follow, so creation waits. Undefined: no upstream.
   */
  readonly upstreamRunning?: boolean | undefined;
  /** Ids of this pool's nodes its upstream (validator) is connected to, if it has one. */
  readonly connectedToUpstream?: ReadonlySet<string> | undefined;
  /**
   * The pool's nodes join one at a time (etcd members: one learner at a time, quorum
   * counted per member): at most one is created, and none while another is joining.
   */
  readonly joinsOneAtATime?: boolean | undefined;
  /**
   * What the pool remembers for peak hold, hysteresis and prediction: the plan returns the next
   * value, which the caller keeps (the controller stores it with the pool). Undefined: nothing yet.
   */
  readonly history?: PoolHistory | undefined;
  /** `controller.historyRetention`, ms: the history keeps no more. Default two days. */
  readonly historyRetention?: number | undefined;
}

/**
 * One pool's plan for this tick: node updates from the probes, then the first of replacement,
 * a size set by hand, the floor and the scale-up rules, or scale-in that has something to do,
 * with every reason on the way.
 */
export function decidePool(input: DecideInput): PoolPlan {
  const { policy, now } = input;
  const reasons: Reason[] = [];
  const actions: PlannedAction[] = [];
  const alerts: Alert[] = [];
  const add = (step: StepResult): void => {
    for (const r of step.reasons) reasons.push(r);
    if (step.actions) for (const a of step.actions) actions.push(a);
    if (step.alerts) for (const a of step.alerts) alerts.push(a);
  };
  const healthDue = healthCheckDue(policy.health, input.clocks.lastHealthCheckAt, now);
  let clocks: PoolClocks = healthDue ? { ...input.clocks, lastHealthCheckAt: now } : { ...input.clocks };
  let history = input.history;

  // 1. Lifecycle and health, from this tick's probes.
  const health = assessNodeHealth(input.nodes, input.probes, policy.health, healthDue, now);
  const plan = (decision: Decision, desired: number, needsLock = false): PoolPlan => ({
    pool: policy.name,
    at: now,
    decision,
    ready: health.readyIds.length,
    live: health.live,
    desired,
    actions,
    nodeUpdates: health.updates,
    clocks,
    needsLock,
    reasons,
    alerts,
    ...(history === undefined ? {} : { history }),
  });

  // 2. Validator pools: created once, never scaled, never replaced (failover handles them).
  const size = policy.size;
  if (policy.role === 'validator' || !size) {
    const validator = decideValidatorPool({
      live: health.live,
      ready: health.readyIds.length,
      everHadNode: input.everHadNode,
      paused: input.paused,
    });
    add(validator);
    return plan(validator.decision, validator.desired);
  }
  if (input.paused) {
    reasons.push({ code: 'paused', text: `paused by ${input.pausedBy ?? 'the operator'}: observing only` });
    return plan('hold', health.live);
  }

  // 3. Nodes that must go: failed health checks, exhausted joins. Join timeouts retry. While
  // any does, its decision stands and nothing is removed for size.
  const replacement = replaceFailing(health.suspects, policy.health, now);
  add(replacement);
  const replacing = replacement.decision;
  const base = health.live - health.leaving - replacement.removed.size;
  const limits: CreationLimits = {
    base,
    leaving: health.leaving,
    max: size.max,
    upstreamRunning: input.upstreamRunning,
    joinsOneAtATime: input.joinsOneAtATime,
    busy: health.busy,
    removed: replacement.removed,
  };
  const create = (target: number): number => {
    const allowed = creatable(target, limits);
    add(allowed);
    return allowed.count;
  };
  /** One node out, through the scale-down lock. Runs only when no replacement is under way. */
  const removeOne = (cause: RemoveCause, respectPeriod: boolean): PoolPlan => {
    const out = scaleInOne({
      policy,
      size,
      busy: health.busy,
      candidates: health.readyNodes,
      samples: input.samples,
      clocks: input.clocks,
      now,
      respectPeriod,
      connectedToUpstream: input.connectedToUpstream,
    });
    add(out);
    if (out.nodeId === undefined) return plan('hold', base);
    actions.push({ kind: 'remove', nodeId: out.nodeId, cause });
    clocks = { ...clocks, lastScaleDownAt: now, lastLockAttemptAt: now };
    return plan('scale-down', base - 1, true);
  };

  // 4. A size set by hand takes the place of the floors and the rules, within [min, max]. No
  // cooldown or scale-down period applies (the operator asked now), but removals still go
  // one node at a time through the lock.
  if (input.manualSize !== undefined) {
    const manual = manualTarget(input.manualSize, input.manualSizeBy, size);
    add(manual);
    if (base < manual.wanted) {
      const count = create(manual.wanted);
      if (count === 0) return plan(replacing ?? 'hold', base);
      actions.push({ kind: 'create', count, cause: base < size.min ? 'below-min' : 'manual-size' });
      clocks = { ...clocks, lastScaleUpAt: now };
      return plan(replacing ?? 'scale-up', base + count);
    }
    if (replacing) return plan(replacing, base);
    if (base === manual.wanted) {
      reasons.push({ code: 'at-manual-size', text: `${base} nodes: at the size set by hand` });
      return plan('steady', base);
    }
    return removeOne('manual-size', false);
  }

  // 5. The floor: min at once, then capacity, without any rule firing.
  const floor = sizeFloor(base, size);
  add(floor);

  // 6. Scale-up rules: the largest result wins, capped by max, once the cooldown has passed.
  const up = scaleUpRules(
    policy.scaleUp,
    health.readyIds,
    input.samples,
    now,
    base,
    input.clocks.lastScaleUpAt,
  );
  add(up);

  // 6b. The pool's memory (opt-in): record this tick, then the forecast a provisioning delay
  // ahead, which only ever adds to what the rules ask and waits out the same cooldown.
  const remembers =
    policy.hold !== undefined || policy.hysteresis !== undefined || policy.predict !== undefined;
  let forecast: number | undefined;
  let forecastNeedNodes: number | undefined;
  let forecastKeep: number | undefined;
  if (remembers) {
    const newestBefore = history?.lastAt;
    history = recordTick(history, {
      now,
      need: up.need,
      loads: up.loads,
      ask: up.ask,
      joined: joinTimes(health.updates, input.nodes, now),
      retention: input.historyRetention,
    });
    if (policy.predict) {
      const f = forecastNeed(policy.predict, history, now, newestBefore);
      if (f.period !== history.period) history = { ...history, period: f.period };
      add(f);
      forecast = f.size;
      forecastNeedNodes = f.need;
      forecastKeep = f.keep;
    }
  }
  let ruleDesired = up.desired;
  if (forecast !== undefined && forecast > Math.max(base, up.desired)) {
    const cooldownLeft = remaining(input.clocks.lastScaleUpAt, policy.scaleUp.cooldown, now);
    if (cooldownLeft === 0) ruleDesired = forecast;
  }
  const capped = capAtMax(Math.max(floor.floor, ruleDesired), size);
  add(capped);
  const count = create(capped.target);
  if (count > 0) {
    const cause = creationCause(base, size, floor.floor, ruleDesired);
    actions.push({ kind: 'create', count, cause });
    if (cause === 'scale-up' && ruleDesired > base) clocks = { ...clocks, lastScaleUpAt: now };
    return plan(replacing ?? (cause === 'scale-up' ? 'scale-up' : 'replenish'), base + count);
  }
  if (replacing) return plan(replacing, base);
  if (up.fired || ruleDesired > base) return plan('hold', base);

  // 7. Scale-down: every rule agrees, the period has passed, one node at a time, never below
  // capacity. A rule that read a value it cannot trust makes staying put a hold, not steady.
  const down = scaleInWanted({
    base,
    size,
    scaleDown: policy.scaleDown,
    readyIds: health.readyIds,
    samples: input.samples,
    now,
    heldUp: up.held,
  });
  add(down);
  if (down.cause === undefined) return plan(down.held ? 'hold' : 'steady', base);

  // 8. What the pool remembers can stop a metric-driven removal: the forecast needs the node
  // within the horizon, the peak of the hold window, or the dead band around one node less.
  if (down.cause === 'scale-down') {
    // The forecast's need moves by a fraction of a node from tick to tick; the dead band keeps a
    // node it would take now and ask back at the next tick.
    const band = policy.hysteresis ? hysteresisBand(policy.hysteresis, history, now) : 0;
    if (forecast !== undefined && forecastNeedNodes !== undefined && base - 1 - band < forecastNeedNodes) {
      reasons.push({
        code: 'forecast-keeps',
        text: `keeping ${base}: the forecast needs ${formatNumber(forecastNeedNodes)} nodes within the horizon${band > 0 ? ` (dead band ${formatNumber(band)})` : ''}`,
        value: forecastNeedNodes,
      });
      return plan('hold', base);
    }
    if (forecastKeep !== undefined && base - 1 < forecastKeep) {
      reasons.push({
        code: 'forecast-keeps',
        text: `keeping ${base}: a burst of ${formatNumber(forecastKeep)} nodes is due within two horizons`,
        value: forecastKeep,
      });
      return plan('hold', base);
    }
    if (policy.hold) {
      const held = peakHold(policy.hold, history, now, base, forecast !== undefined);
      add(held);
      if (held.blocks) return plan('hold', base);
    }
    if (policy.hysteresis) {
      const band = outsideDeadBand(policy.hysteresis, history, now, base, up.need, input.historyRetention);
      add(band);
      if (band.blocks) return plan('steady', base);
    }
  }
  return removeOne(down.cause, true);
}

/** Provision-to-ready times of the nodes that became ready at `now`, ms. */
function joinTimes(
  updates: readonly { readonly id: string; readonly state: string; readonly readyAt?: number | undefined }[],
  nodes: readonly NodeRecord[],
  now: number,
): number[] | undefined {
  const out: number[] = [];
  for (const u of updates) {
    if (u.state !== 'ready' || u.readyAt !== now) continue;
    const node = nodes.find((n) => n.id === u.id);
    if (node && node.readyAt === undefined) out.push(now - node.joinStartedAt);
  }
  return out.length > 0 ? out : undefined;
}
