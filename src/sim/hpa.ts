// Kubernetes HorizontalPodAutoscaler (autoscaling/v2) on a resource-utilization metric, as
// documented in "Horizontal Pod Autoscaling", section "Algorithm details" and "Default
// behavior": https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/
// and as kube-controller-manager implements it (pkg/controller/podautoscaler:
// replica_calculator.go GetResourceReplicas, horizontal.go stabilizeRecommendationWithBehaviors,
// convertDesiredReplicasWithBehaviorRate, calculateScaleUpLimitWithScalingRules).
//
// - Every sync period (--horizontal-pod-autoscaler-sync-period, 15 s) the controller reads the
//   pods' utilization and computes desiredReplicas = ceil(currentReplicas × current / target),
//   where "current" is the mean over ready pods, as a whole percentage (utilization is an
//   integer percent of the request).
// - Within the tolerance (0.1) of the target it keeps currentReplicas.
// - Not-yet-ready pods are set aside; on a scale-up they are counted at 0% of the target,
//   which damps the increase, and if that reverses the direction or lands within tolerance
//   there is no change. Pods without metrics yet count at 100% on a scale-down, 0% on a
//   scale-up. (The CPU-specific rule that also sets aside pods ready for less than one metric
//   window within --horizontal-pod-autoscaler-cpu-initialization-period is not modelled: a
//   node here reports from the first scrape after it becomes ready.)
// - Default behavior: scale-up has no stabilization window and is limited per 15 s period to
//   the larger of +100% and +4 pods; scale-down keeps the highest recommendation of the last
//   300 s (stabilizationWindowSeconds) and may remove up to 100% per 15 s.
// - minReplicas and maxReplicas bound the result.
// Pods map to nodes here: a pending node is a not-yet-ready pod; a failed one is ignored until
// the platform replaces it.

import type { SimPool } from './model.ts';
import type { PolicyContext, Scrape, SimPolicy } from './policy.ts';

export interface HpaOptions {
  /** Target mean utilization, 0–1. Default 0.6. */
  readonly target: number;
  /** Dead band around the target, as a fraction of it. Default 0.1. */
  readonly tolerance: number;
  /** Seconds between syncs. Default 15. */
  readonly syncPeriod: number;
  /** Scale-down stabilization window, s. Default 300. */
  readonly scaleDownStabilization: number;
  /** Scale-up stabilization window, s. Default 0. */
  readonly scaleUpStabilization: number;
  /** Scale-up policies (selectPolicy Max): each limits the size per `period` seconds. */
  readonly scaleUpPolicies: readonly ScalingPolicy[];
  /** Scale-down policies (selectPolicy Max: the largest allowed change wins). */
  readonly scaleDownPolicies: readonly ScalingPolicy[];
}

export interface ScalingPolicy {
  readonly type: 'Percent' | 'Pods';
  readonly value: number;
  /** periodSeconds. */
  readonly period: number;
}

export const HPA_DEFAULTS: HpaOptions = {
  target: 0.6,
  tolerance: 0.1,
  syncPeriod: 15,
  scaleDownStabilization: 300,
  scaleUpStabilization: 0,
  scaleUpPolicies: [
    { type: 'Percent', value: 100, period: 15 },
    { type: 'Pods', value: 4, period: 15 },
  ],
  scaleDownPolicies: [{ type: 'Percent', value: 100, period: 15 }],
};

/** What the replica calculator sees at one sync. */
export interface HpaObservation {
  /** Mean utilization of the pods that have metrics (all equal here), 0–1; undefined: no metrics. */
  readonly utilization: number | undefined;
  /** Ready pods with metrics. */
  readonly readyPods: number;
  /** Ready pods without metrics yet (they became ready after the last scrape). */
  readonly missingPods: number;
  /** Pods that exist but are not ready yet. */
  readonly unreadyPods: number;
}

/**
 * GetResourceReplicas: the replica count the metric asks for, before stabilization and rate
 * limits. `current` is the scale target's spec.replicas. Float arithmetic as in Go (no rounding
 * guard on the ceiling), utilization as a whole percentage.
 */
export function hpaReplicasForMetric(
  current: number,
  obs: HpaObservation,
  o: Pick<HpaOptions, 'target' | 'tolerance'>,
): number {
  // "did not receive metrics for any ready pods": no scaling.
  if (obs.utilization === undefined || obs.readyPods === 0) return current;
  const targetPercent = Math.round(o.target * 100);
  // metrics/utilization.go: int32(metricsTotal * 100 / requestsTotal). The guard only undoes
  // binary fractions such as 0.29 * 100 = 28.999999999999996.
  const utilizationPercent = Math.floor(obs.utilization * 100 + 1e-9);
  const usageRatio = utilizationPercent / targetPercent;
  const scaleUpWithUnready = obs.unreadyPods > 0 && usageRatio > 1;
  if (!scaleUpWithUnready && obs.missingPods === 0) {
    if (Math.abs(1 - usageRatio) <= o.tolerance) return current;
    return Math.ceil(usageRatio * obs.readyPods);
  }
  // Missing pods count at 100% of their request on a scale-down (or the target if above 100%)
  // and at 0% on a scale-up; unready pods at 0% on a scale-up.
  let total = obs.utilization * obs.readyPods;
  let pods = obs.readyPods;
  if (obs.missingPods > 0) {
    if (usageRatio < 1) {
      total += obs.missingPods * Math.max(1, o.target);
      pods += obs.missingPods;
    } else if (usageRatio > 1) pods += obs.missingPods;
  }
  if (scaleUpWithUnready) pods += obs.unreadyPods;
  const newUsageRatio = Math.floor((total / pods) * 100 + 1e-9) / targetPercent;
  if (
    Math.abs(1 - newUsageRatio) <= o.tolerance ||
    (usageRatio < 1 && newUsageRatio > 1) ||
    (usageRatio > 1 && newUsageRatio < 1)
  )
    return current;
  const replicas = Math.ceil(newUsageRatio * pods);
  if ((newUsageRatio < 1 && replicas > current) || (newUsageRatio > 1 && replicas < current)) return current;
  return replicas;
}

interface Timestamped {
  readonly at: number;
  readonly value: number;
}

/**
 * The HPA controller's state for one target: its recommendations and scale events. One sync
 * is `sync(now, current, obs)` → the new spec.replicas.
 */
export class HpaController {
  readonly #o: HpaOptions;
  readonly #min: number;
  readonly #max: number;
  readonly #recommendations: Timestamped[] = [];
  readonly #scaleUpEvents: Timestamped[] = [];
  readonly #scaleDownEvents: Timestamped[] = [];
  #initialized = false;

  constructor(o: HpaOptions, min: number, max: number) {
    this.#o = o;
    this.#min = min;
    this.#max = max;
  }

  sync(now: number, current: number, obs: HpaObservation): number {
    if (!this.#initialized) {
      // recordInitialRecommendation: a new target's recommendations start with its current
      // replicas, so a (re)started controller does not scale down before a window has passed.
      this.#recommendations.push({ at: now, value: current });
      this.#initialized = true;
    }
    let desired: number;
    if (current > this.#max) desired = this.#max;
    else if (current < this.#min) desired = this.#min;
    else {
      const raw = hpaReplicasForMetric(current, obs, this.#o);
      const stabilized = this.#stabilize(now, current, raw);
      desired = this.#limitRate(now, current, stabilized);
    }
    if (desired !== current) this.#recordScaleEvent(now, current, desired);
    return desired;
  }

  /** stabilizeRecommendationWithBehaviors: clamp between the window's lowest and highest recommendations. */
  #stabilize(now: number, current: number, desired: number): number {
    let up = desired;
    let down = desired;
    const upCutoff = now - this.#o.scaleUpStabilization;
    const downCutoff = now - this.#o.scaleDownStabilization;
    for (const rec of this.#recommendations) {
      if (rec.at > upCutoff) up = Math.min(up, rec.value);
      if (rec.at > downCutoff) down = Math.max(down, rec.value);
    }
    let recommendation = current;
    if (recommendation < up) recommendation = up;
    if (recommendation > down) recommendation = down;
    // Keep only what either window can still see.
    const oldest = Math.min(upCutoff, downCutoff);
    while (this.#recommendations.length > 0 && this.#recommendations[0]!.at <= oldest)
      this.#recommendations.shift();
    this.#recommendations.push({ at: now, value: desired });
    return recommendation;
  }

  /** convertDesiredReplicasWithBehaviorRate: scale-up and scale-down limits, then min and max. */
  #limitRate(now: number, current: number, desired: number): number {
    if (desired > current) {
      let limit = Number.NEGATIVE_INFINITY;
      for (const p of this.#o.scaleUpPolicies) {
        const start =
          current -
          this.#changeIn(now, p.period, this.#scaleUpEvents) +
          this.#changeIn(now, p.period, this.#scaleDownEvents);
        const proposed = p.type === 'Pods' ? start + p.value : Math.ceil(start * (1 + p.value / 100));
        limit = Math.max(limit, proposed);
      }
      if (limit < current) limit = current;
      return Math.min(desired, this.#max, limit);
    }
    if (desired < current) {
      let limit = Number.POSITIVE_INFINITY;
      for (const p of this.#o.scaleDownPolicies) {
        const start =
          current -
          this.#changeIn(now, p.period, this.#scaleUpEvents) +
          this.#changeIn(now, p.period, this.#scaleDownEvents);
        const proposed = p.type === 'Pods' ? start - p.value : Math.trunc(start * (1 - p.value / 100));
        limit = Math.min(limit, proposed);
      }
      if (limit > current) limit = current;
      return Math.max(desired, this.#min, limit);
    }
    return desired;
  }

  /** getReplicasChangePerPeriod: replicas changed by events strictly after now − period. */
  #changeIn(now: number, period: number, events: readonly Timestamped[]): number {
    let sum = 0;
    for (const e of events) if (e.at > now - period) sum += e.value;
    return sum;
  }

  #recordScaleEvent(now: number, before: number, after: number): void {
    const events = after > before ? this.#scaleUpEvents : this.#scaleDownEvents;
    const policies = after > before ? this.#o.scaleUpPolicies : this.#o.scaleDownPolicies;
    const longest = Math.max(0, ...policies.map((p) => p.period));
    while (events.length > 0 && events[0]!.at <= now - longest) events.shift();
    events.push({ at: now, value: Math.abs(after - before) });
  }
}

export function hpaPolicy(ctx: PolicyContext, options: Partial<HpaOptions> = {}): SimPolicy {
  const o = { ...HPA_DEFAULTS, ...options };
  const controller = new HpaController(o, ctx.size.min, ctx.size.max);
  let latest: Scrape | undefined;
  let replicas = 0;
  return {
    name: 'hpa',
    interval: o.syncPeriod,
    replaceFailedAfter: ctx.model.platformReplaceSeconds,
    start(_t, pool) {
      replicas = pool.live;
    },
    observe(scrape) {
      latest = scrape;
    },
    decide(t: number, pool: SimPool): number {
      // Pods that became ready after the last scrape have no metrics yet: "missing".
      const withMetrics = Math.min(latest?.ready ?? 0, pool.ready.length);
      const next = controller.sync(t, replicas, {
        utilization: latest?.utilization,
        readyPods: withMetrics,
        missingPods: pool.ready.length - withMetrics,
        unreadyPods: pool.pending.length,
      });
      if (next === replicas) return 0;
      replicas = next;
      pool.resize(t, next);
      return 1;
    },
  };
}
