// The pool decision: given what was observed, the policy and the clock, what to do now and
// why. Pure and synchronous: no I/O, no awaiting, the clock is an argument.

import { formatDuration } from './duration.ts';
import { formatNumber } from './format.ts';
import { joinTimedOut, type NodeRecord, nextFailMarker, nextState } from './node-lifecycle.ts';
import type { PoolPolicy, ScaleRule } from './policy.ts';
import { compare, type RuleReading, readRule, type SampleWindow } from './rule-evaluation.ts';
import { selectForScaleIn } from './scale-in-selection.ts';
import { JOINING_STATES, type NodeProbe, type NodeState } from './types.ts';

/** Clocks that survive restarts: they are persisted with the pool. All ms since the epoch. */
export interface PoolClocks {
  readonly lastScaleUpAt?: number | undefined;
  readonly lastScaleDownAt?: number | undefined;
  readonly lastHealthCheckAt?: number | undefined;
  readonly lastLockAttemptAt?: number | undefined;
}

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
}

export function decidePool(input: DecideInput): PoolPlan {
  const { policy, now } = input;
  const reasons: Reason[] = [];
  const alerts: Alert[] = [];
  const actions: PlannedAction[] = [];
  let clocks: PoolClocks = { ...input.clocks };

  // 1. Lifecycle and health, from this tick's probes.
  const healthDue =
    input.clocks.lastHealthCheckAt === undefined ||
    now - input.clocks.lastHealthCheckAt >= policy.health.checkInterval;
  if (healthDue) clocks = { ...clocks, lastHealthCheckAt: now };
  const updates: NodeUpdate[] = [];
  // One walk over the pool: everything later steps need of the nodes is collected here, in the
  // nodes' order, so that no later step filters or sorts the whole pool again (thousands of
  // nodes, every tick). Ready nodes: ids for the rules, records for scale-in.
  const readyIds: string[] = [];
  const readyNodes: NodeRecord[] = [];
  /** Nodes joining, draining or deleting, in order (few: a scale-down waits for them). */
  const busy: NodeRecord[] = [];
  /** Nodes step 3 acts on (fail marker over the tolerance, join timed out), in order. */
  const suspects: NodeRecord[] = [];
  const failTolerance = policy.health.failTolerance;
  const probes = input.probes;
  // Probes mostly come in the nodes' order: walk them alongside the nodes, and look a node's up
  // by id only when the next one in line is not its own. Keys are unique, so the probe is the one
  // probes.get(node.id) returns either way; it only saves hashing thousands of ids per tick.
  const probeIds = probes.keys();
  const probeValues = probes.values();
  let nextId = probeIds.next().value;
  const source = input.nodes;
  let live = 0;
  let leavingNow = 0;
  for (let i = 0; i < source.length; i++) {
    const node = source[i]!;
    const state = node.state;
    let probe: NodeProbe | undefined;
    if (nextId === node.id && nextId !== undefined) {
      probe = probeValues.next().value;
      nextId = probeIds.next().value;
    } else probe = probes.get(node.id);
    if (state === 'gone' || state === 'failed') continue;
    live++;
    if (probe?.ready && state === 'ready' && node.maintenance === undefined) {
      // The common case — a ready node still ready — without building a transition: what the
      // general case below computes for it, with next = { state: 'ready', reason: 'ready' }.
      const failMarker = healthDue
        ? nextFailMarker(node.failMarker, probe.healthy ?? false)
        : node.failMarker;
      const readyAt = node.readyAt ?? now;
      const changed = failMarker !== node.failMarker || readyAt !== node.readyAt;
      const updated: NodeRecord =
        changed || node.stateReason !== 'ready'
          ? { ...node, state: 'ready', failMarker, readyAt, stateReason: 'ready' }
          : node;
      readyIds.push(node.id);
      readyNodes.push(updated);
      if (failMarker > failTolerance) suspects.push(updated);
      if (changed) updates.push({ id: node.id, state: 'ready', failMarker, readyAt, stateReason: 'ready' });
      continue;
    }
    const next = nextState(node, probe);
    const joined = node.readyAt !== undefined || next.state === 'ready';
    const checked =
      healthDue &&
      joined &&
      next.state !== 'draining' &&
      next.state !== 'deleting' &&
      node.maintenance === undefined;
    const failMarker = checked ? nextFailMarker(node.failMarker, probe?.healthy ?? false) : node.failMarker;
    const readyAt = node.readyAt ?? (next.state === 'ready' ? now : undefined);
    const stateReason = next.reason ?? node.stateReason;
    // Most nodes change nothing between ticks: keep the same record (thousands per tick).
    const changed = next.state !== node.state || failMarker !== node.failMarker || readyAt !== node.readyAt;
    const updated: NodeRecord =
      changed || stateReason !== node.stateReason
        ? { ...node, state: next.state, failMarker, readyAt, stateReason }
        : node;
    if (next.state === 'ready') {
      readyIds.push(node.id);
      readyNodes.push(updated);
    } else {
      if (next.state === 'draining' || next.state === 'deleting') leavingNow++;
      if (JOINING_STATES.has(next.state) || next.state === 'draining' || next.state === 'deleting')
        busy.push(updated);
    }
    if (
      next.state !== 'draining' &&
      next.state !== 'deleting' &&
      (failMarker > failTolerance || joinTimedOut(updated, policy.health, now))
    )
      suspects.push(updated);
    if (changed) updates.push({ id: node.id, state: next.state, failMarker, readyAt, stateReason });
  }
  const plan = (decision: Decision, desired: number, needsLock = false): PoolPlan => ({
    pool: policy.name,
    at: now,
    decision,
    ready: readyIds.length,
    live,
    desired,
    actions,
    nodeUpdates: updates,
    clocks,
    needsLock,
    reasons,
    alerts,
  });

  // 2. Validator pools: created once, never scaled, never replaced (failover handles them).
  if (policy.role === 'validator' || !policy.size) {
    if (!input.everHadNode && live === 0 && !input.paused) {
      actions.push({ kind: 'create', count: 1, cause: 'bootstrap' });
      reasons.push({ code: 'bootstrap', text: 'validator pool has never had a node: starting its one node' });
      return plan('bootstrap', 1);
    }
    reasons.push({
      code: 'validator-never-scaled',
      text: `validator pools are never scaled or replaced (${readyIds.length} ready of ${live}); failures go to failover`,
    });
    return plan('hold', live);
  }
  const size = policy.size;

  if (input.paused) {
    reasons.push({ code: 'paused', text: `paused by ${input.pausedBy ?? 'the operator'}: observing only` });
    return plan('hold', live);
  }

  // 3. Nodes that must go: failed health checks, exhausted joins. Join timeouts retry.
  const leaving = new Set<string>();
  let decision: Decision | undefined;
  for (const node of suspects) {
    if (node.failMarker > policy.health.failTolerance) {
      actions.push({ kind: 'remove', nodeId: node.id, cause: 'failed-health' });
      leaving.add(node.id);
      reasons.push({
        code: 'failed-health',
        text: `${node.id}: fail marker ${node.failMarker} > failTolerance ${policy.health.failTolerance} (${node.stateReason ?? 'failing checks'}): replacing it`,
        value: node.failMarker,
        threshold: policy.health.failTolerance,
      });
      decision = 'replace';
    } else if (joinTimedOut(node, policy.health, now)) {
      const failures = node.joinAttempts + 1;
      if (failures >= policy.health.joinRetries) {
        actions.push({ kind: 'remove', nodeId: node.id, cause: 'join-exhausted' });
        leaving.add(node.id);
        const text = `${node.id}: join failed ${failures} times (joinRetries ${policy.health.joinRetries}, joinTimeout ${formatDuration(policy.health.joinTimeout)}): deleting it`;
        reasons.push({ code: 'join-exhausted', text });
        alerts.push({ severity: 'critical', node: node.id, text });
        decision = 'replace';
      } else {
        actions.push({ kind: 'rejoin', nodeId: node.id, attempt: failures });
        reasons.push({
          code: 'join-timeout',
          text: `${node.id}: not ready after ${formatDuration(policy.health.joinTimeout)} (${node.stateReason ?? 'joining'}): join attempt ${failures + 1} of ${policy.health.joinRetries}`,
        });
        decision ??= 'rejoin';
      }
    }
  }

  const base = live - leavingNow - leaving.size;
  // Removals run before creations, so a slot freed now is free for a replacement.
  const room = size.max - (base + leavingNow);

  /** How many of the nodes up to `target` can be created now: room under max, an upstream to follow. */
  const creatable = (target: number): number => {
    let n = Math.max(0, Math.min(target - base, room));
    if (target > base && n < target - base)
      reasons.push({
        code: 'max-occupied',
        text: `${leavingNow} node(s) still leaving occupy slots under max ${size.max}: creating ${n} now`,
      });
    if (n > 0 && input.upstreamRunning === false) {
      reasons.push({
        code: 'no-upstream',
        text: `would create ${n}, but no upstream node runs yet: waiting`,
      });
      n = 0;
    }
    if (n > 0 && input.joinsOneAtATime) {
      const joining = busy.filter((x) => JOINING_STATES.has(x.state) && !leaving.has(x.id));
      if (joining.length > 0) {
        reasons.push({
          code: 'one-join-at-a-time',
          text: `would create ${n}, but ${joining.map((x) => `${x.id} (${x.state})`).join(', ')} is still joining: nodes of this pool join one at a time`,
        });
        n = 0;
      } else if (n > 1) {
        reasons.push({
          code: 'one-join-at-a-time',
          text: `creating 1 of ${n} now: nodes of this pool join one at a time`,
        });
        n = 1;
      }
    }
    return n;
  };

  /** One node out, through the scale-down lock, once nothing else joins or leaves. */
  const removeOne = (cause: RemoveCause, respectPeriod: boolean): PoolPlan => {
    if (busy.length > 0) {
      reasons.push({
        code: 'one-at-a-time',
        text: `waiting for ${busy.map((n) => `${n.id} (${n.state})`).join(', ')}: one node at a time`,
      });
      return plan('hold', base);
    }
    const periodLeft = respectPeriod
      ? remaining(input.clocks.lastScaleDownAt, policy.scaleDown.period, now)
      : 0;
    if (periodLeft > 0) {
      reasons.push({
        code: 'cooldown',
        text: `scale-down period: ${formatDuration(periodLeft)} of ${formatDuration(policy.scaleDown.period)} remaining`,
        cooldownRemainingMs: periodLeft,
      });
      return plan('hold', base);
    }
    const lockLeft = remaining(input.clocks.lastLockAttemptAt, policy.scaleDown.lockAttemptPeriod, now);
    if (lockLeft > 0) {
      reasons.push({
        code: 'lock-attempt-period',
        text: `next scale-down lock attempt in ${formatDuration(lockLeft)}`,
        cooldownRemainingMs: lockLeft,
      });
      return plan('hold', base);
    }
    const candidates = leaving.size === 0 ? readyNodes : readyNodes.filter((n) => !leaving.has(n.id));
    const selected = selectForScaleIn(policy, candidates, input.samples.current);
    if (!selected) {
      reasons.push({ code: 'no-candidate', text: 'no ready node to remove' });
      return plan('hold', base);
    }
    const connected = input.connectedToUpstream;
    if (connected?.has(selected.nodeId) && connected.size - 1 < size.min) {
      reasons.push({
        code: 'upstream-min',
        text: `removing ${selected.nodeId} would leave the validator ${connected.size - 1} connected sentries, below min ${size.min}`,
      });
      return plan('hold', base);
    }
    actions.push({ kind: 'remove', nodeId: selected.nodeId, cause });
    reasons.push({ code: 'selected', text: `removing ${selected.nodeId}: ${selected.why}` });
    clocks = { ...clocks, lastScaleDownAt: now, lastLockAttemptAt: now };
    return plan('scale-down', base - 1, true);
  };

  // 4. A size set by hand takes the place of the floors and the rules, within [min, max]. No
  // cooldown or scale-down period applies (the operator asked now), but removals still go
  // one node at a time through the lock.
  if (input.manualSize !== undefined) {
    const wanted = Math.min(size.max, Math.max(size.min, input.manualSize));
    reasons.push({
      code: 'manual-size',
      text: `size set by hand to ${input.manualSize} by ${input.manualSizeBy ?? 'the operator'}${wanted === input.manualSize ? '' : ` (kept within min ${size.min} and max ${size.max}: ${wanted})`}: scale rules do not apply`,
    });
    if (base < wanted) {
      const toCreate = creatable(wanted);
      if (toCreate === 0) return plan(decision ?? 'hold', base);
      actions.push({ kind: 'create', count: toCreate, cause: base < size.min ? 'below-min' : 'manual-size' });
      clocks = { ...clocks, lastScaleUpAt: now };
      decision ??= 'scale-up';
      return plan(decision, base + toCreate);
    }
    if (decision) return plan(decision, base);
    if (base === wanted) {
      reasons.push({ code: 'at-manual-size', text: `${base} nodes: at the size set by hand` });
      return plan('steady', base);
    }
    return removeOne('manual-size', false);
  }

  // 5. The floor: min at once, then capacity, without any rule firing.
  let floor = base;
  if (base < size.min) {
    floor = size.capacity;
    reasons.push({
      code: 'below-min',
      text: `${base} nodes < min ${size.min}: replacing at once, back to capacity ${size.capacity}`,
    });
  } else if (base < size.capacity) {
    floor = size.capacity;
    reasons.push({
      code: 'below-capacity',
      text: `${base} nodes < capacity ${size.capacity}: returning to capacity`,
    });
  }

  // 6. Scale-up rules: the largest result wins, capped by max, once the cooldown has passed.
  const readings = (rules: readonly ScaleRule[]) =>
    rules.map((rule) => ({ rule, reading: readRule(rule, readyIds, input.samples, now) }));
  let ruleDesired = base;
  let upFired = false;
  // Rules held by a value they cannot trust (absurd, not finite, from the future): such a rule
  // never fires, and while any rule is held no metric-driven scale-down runs.
  const invalidRules: string[] = [];
  const up = readings(policy.scaleUp.rules);
  up.forEach(({ rule, reading }, i) => {
    const name = `scaleUp.rules[${i}]`;
    const r = evaluateUp(rule, reading, base, readyIds.length);
    if (r.fired) {
      upFired = true;
      ruleDesired = Math.max(ruleDesired, r.desired);
    }
    if (reading.status === 'invalid') invalidRules.push(name);
    reasons.push({
      code: reading.status === 'invalid' ? 'metric-invalid' : r.fired ? 'rule-fired' : 'rule-quiet',
      text: `${name}: ${r.text}`,
      rule: name,
      ...r.figures,
    });
  });
  const cooldownLeft = remaining(input.clocks.lastScaleUpAt, policy.scaleUp.cooldown, now);
  if (upFired && cooldownLeft > 0) {
    reasons.push({
      code: 'cooldown',
      text: `scale-up cooldown: ${formatDuration(cooldownLeft)} of ${formatDuration(policy.scaleUp.cooldown)} remaining`,
      cooldownRemainingMs: cooldownLeft,
    });
    ruleDesired = base;
  }
  const wanted = Math.max(floor, ruleDesired);
  const target = Math.min(wanted, size.max);
  if (wanted > size.max)
    reasons.push({
      code: 'at-max',
      text: `wanted ${wanted} nodes, capped at max ${size.max}`,
      threshold: size.max,
    });
  const toCreate = creatable(target);
  if (toCreate > 0) {
    const cause: CreateCause =
      base < size.min
        ? 'below-min'
        : ruleDesired > floor
          ? 'scale-up'
          : base < size.capacity
            ? 'below-capacity'
            : 'scale-up';
    actions.push({ kind: 'create', count: toCreate, cause });
    if (cause === 'scale-up' && ruleDesired > base) clocks = { ...clocks, lastScaleUpAt: now };
    decision ??= cause === 'scale-up' ? 'scale-up' : 'replenish';
    return plan(decision, base + toCreate);
  }
  if (decision) return plan(decision, base);
  if (upFired) return plan('hold', base);

  // Nothing to do, but a rule read a value it cannot trust: that is a hold, not a steady state.
  const quiet = (): Decision => (invalidRules.length > 0 ? 'hold' : 'steady');

  // 7. Scale-down: every rule agrees, the period has passed, one node at a time, never below capacity.
  if (base <= size.capacity && base <= size.max) {
    reasons.push({
      code: 'at-capacity',
      text: `${base} nodes, capacity ${size.capacity}: nothing to remove`,
    });
    return plan(quiet(), base);
  }
  const aboveMax = base > size.max;
  if (!aboveMax) {
    if (policy.scaleDown.rules.length === 0) {
      reasons.push({
        code: 'no-down-rules',
        text: `${base} nodes > capacity ${size.capacity}, but no scale-down rules`,
      });
      return plan(quiet(), base);
    }
    let agree = true;
    readings(policy.scaleDown.rules).forEach(({ rule, reading }, i) => {
      const name = `scaleDown.rules[${i}]`;
      const r = evaluateDown(rule, reading, base, readyIds.length);
      if (!r.agrees) agree = false;
      if (reading.status === 'invalid') invalidRules.push(name);
      reasons.push({
        code: reading.status === 'invalid' ? 'metric-invalid' : r.agrees ? 'rule-agrees' : 'rule-disagrees',
        text: `${name}: ${r.text}`,
        rule: name,
        ...r.figures,
      });
    });
    if (agree && invalidRules.length > 0)
      reasons.push({
        code: 'metric-invalid',
        text: `scale-down held: ${invalidRules.join(', ')} read a value that cannot be trusted`,
      });
    if (!agree || invalidRules.length > 0) return plan(quiet(), base);
  } else {
    reasons.push({ code: 'above-max', text: `${base} nodes > max ${size.max}: removing one at a time` });
  }
  return removeOne(aboveMax ? 'above-max' : 'scale-down', true);
}

function remaining(last: number | undefined, period: number, now: number): number {
  return last === undefined ? 0 : Math.max(0, last + period - now);
}

interface RuleVerdict {
  readonly text: string;
  readonly figures: { value?: number; threshold?: number };
}

function describeReading(rule: ScaleRule, reading: RuleReading & { status: 'ok' }): string {
  const coverage =
    reading.nodesReporting === 0
      ? ' (pool-level)'
      : reading.nodesReporting < reading.nodesExpected
        ? ` (${reading.nodesReporting} of ${reading.nodesExpected} ready nodes reporting)`
        : '';
  return `${rule.aggregate}${rule.rate ? ' rate of' : ''} ${rule.metric} = ${formatNumber(reading.value)}${coverage}`;
}

function targetDesired(
  rule: ScaleRule & { kind: 'target' },
  value: number,
  ready: number,
  base: number,
): number {
  const ratio = value / rule.target;
  if (Math.abs(ratio - 1) <= rule.tolerance) return base;
  if (ready === 0) return value > 0 ? Math.max(base, 1) : base;
  return Math.ceil(ready * ratio);
}

function evaluateUp(
  rule: ScaleRule,
  reading: RuleReading,
  base: number,
  ready: number,
): RuleVerdict & { fired: boolean; desired: number } {
  if (reading.status === 'missing')
    return {
      fired: false,
      desired: base,
      text: `holds: ${rule.metric} missing (${reading.why})`,
      figures: {},
    };
  if (reading.status === 'invalid')
    return { fired: false, desired: base, text: `${reading.why}: holding`, figures: {} };
  const seen = describeReading(rule, reading);
  if (rule.kind === 'target') {
    const desired = targetDesired(rule, reading.value, ready, base);
    const fired = desired > base;
    return {
      fired,
      desired,
      text: `${seen}, target ${formatNumber(rule.target)} → ${desired} nodes${fired ? '' : ' (no increase)'}`,
      figures: { value: reading.value, threshold: rule.target },
    };
  }
  const fired = compare(reading.value, rule.comparator, rule.threshold);
  const step =
    'nodes' in rule.step ? rule.step.nodes : Math.max(1, Math.ceil((base * rule.step.percent) / 100));
  return {
    fired,
    desired: base + step,
    text: `${seen} ${fired ? '' : 'not '}${rule.comparator} ${formatNumber(rule.threshold)}${fired ? ` → +${step}` : ''}`,
    figures: { value: reading.value, threshold: rule.threshold },
  };
}

function evaluateDown(
  rule: ScaleRule,
  reading: RuleReading,
  base: number,
  ready: number,
): RuleVerdict & { agrees: boolean } {
  if (reading.status === 'missing')
    return { agrees: false, text: `holds: ${rule.metric} missing (${reading.why})`, figures: {} };
  if (reading.status === 'invalid') return { agrees: false, text: `${reading.why}: holding`, figures: {} };
  const seen = describeReading(rule, reading);
  if (reading.nodesReporting > 0 && reading.nodesReporting < reading.nodesExpected)
    return {
      agrees: false,
      text: `holds: ${seen}; every ready node must report before a scale-down`,
      figures: {},
    };
  if (rule.kind === 'target') {
    const desired = targetDesired(rule, reading.value, ready, base);
    return {
      agrees: desired < base,
      text: `${seen}, target ${formatNumber(rule.target)} → ${desired} nodes`,
      figures: { value: reading.value, threshold: rule.target },
    };
  }
  const agrees = compare(reading.value, rule.comparator, rule.threshold);
  return {
    agrees,
    text: `${seen} ${agrees ? '' : 'not '}${rule.comparator} ${formatNumber(rule.threshold)}`,
    figures: { value: reading.value, threshold: rule.threshold },
  };
}
