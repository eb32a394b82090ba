// AWS target tracking scaling (Application Auto Scaling, and EC2 Auto Scaling's target
// tracking), as documented in "How target tracking scaling for Application Auto Scaling works"
// (https://docs.aws.amazon.com/autoscaling/application/userguide/target-tracking-scaling-policy-overview.html)
// and the TargetTrackingScalingPolicyConfiguration reference (ScaleInCooldown, ScaleOutCooldown):
// - The service creates CloudWatch alarms on the metric and, when they fire, "calculates the
//   scaling adjustment based on the metric and the target value", adding capacity "proportional
//   to the metric value as fast as it can" and removing it "more gradually".
// - Scale-out cooldown: while it runs, the capacity added by the scale-out that started it
//   "is calculated as part of the desired capacity for the next scale out", so only a larger
//   scale-out goes ahead. Scale-in cooldown (here 300 s): scale-in is blocked until it expires;
//   a scale-out during it goes ahead at once.
// - The alarms it manages evaluate one-minute datapoints (the CloudWatch Average over each
//   minute): the scale-out alarm fires after 3 consecutive datapoints above the target, the
//   scale-in alarm after 15 consecutive datapoints below it (at 90% of the target, as the
//   alarms AWS creates show in CloudWatch; settable). An alarm in ALARM invokes the policy at
//   every new datapoint.
// - Instances still warming up do not count towards the metric: here only serving nodes report.
// The adjustment is ceil(serving × metric / target), compared with the current desired
// capacity (which includes instances still launching).

import type { SimPool } from './model.ts';
import type { PolicyContext, SimPolicy } from './policy.ts';

export interface AwsOptions {
  /** Target value of the mean utilization, 0–1. Default 0.6. */
  readonly target: number;
  /** Seconds a scale-in blocks the next one. Default 300. */
  readonly scaleInCooldown: number;
  /** Seconds per CloudWatch datapoint. Default 60. */
  readonly period: number;
  /** Consecutive datapoints above the target that fire the scale-out alarm. Default 3. */
  readonly scaleOutDatapoints: number;
  /** Consecutive datapoints below the scale-in threshold that fire the scale-in alarm. Default 15. */
  readonly scaleInDatapoints: number;
  /** Scale-in alarm threshold as a fraction of the target. Default 0.9. */
  readonly scaleInThreshold: number;
}

export const AWS_DEFAULTS: AwsOptions = {
  target: 0.6,
  scaleInCooldown: 300,
  period: 60,
  scaleOutDatapoints: 3,
  scaleInDatapoints: 15,
  scaleInThreshold: 0.9,
};

export type AwsAction = { readonly kind: 'none' } | { readonly kind: 'set'; readonly capacity: number };

/**
 * The policy's state: datapoints, alarms and cooldowns. `datapoint` is called once per period
 * with the minute's Average and the serving instance count, and answers what to do.
 */
export class AwsTargetTracking {
  readonly #o: AwsOptions;
  readonly #min: number;
  readonly #max: number;
  readonly #datapoints: number[] = [];
  #lastScaleInAt = Number.NEGATIVE_INFINITY;

  constructor(o: AwsOptions, min: number, max: number) {
    this.#o = o;
    this.#min = min;
    this.#max = max;
  }

  /** A new datapoint (undefined: missing, INSUFFICIENT_DATA) at `now` for a group whose desired capacity is `desired`. */
  datapoint(now: number, value: number | undefined, serving: number, desired: number): AwsAction {
    if (value === undefined) {
      this.#datapoints.length = 0;
      return { kind: 'none' };
    }
    this.#datapoints.push(value);
    const keep = Math.max(this.#o.scaleOutDatapoints, this.#o.scaleInDatapoints);
    if (this.#datapoints.length > keep) this.#datapoints.shift();
    const last = (n: number) => (this.#datapoints.length >= n ? this.#datapoints.slice(-n) : undefined);
    const wanted = Math.min(
      this.#max,
      Math.max(this.#min, Math.ceil((serving * value) / this.#o.target - 1e-9)),
    );

    const high = last(this.#o.scaleOutDatapoints)?.every((v) => v > this.#o.target) ?? false;
    if (high && wanted > desired) {
      // Within the scale-out cooldown the capacity already added is part of `desired`, so only a
      // larger scale-out goes ahead: this comparison, at any time (the cooldown needs no clock).
      return { kind: 'set', capacity: wanted };
    }
    const lowThreshold = this.#o.target * this.#o.scaleInThreshold;
    const low = last(this.#o.scaleInDatapoints)?.every((v) => v < lowThreshold) ?? false;
    if (low && wanted < desired && now - this.#lastScaleInAt >= this.#o.scaleInCooldown) {
      this.#lastScaleInAt = now;
      return { kind: 'set', capacity: wanted };
    }
    return { kind: 'none' };
  }
}

export function awsPolicy(ctx: PolicyContext, options: Partial<AwsOptions> = {}): SimPolicy {
  const o = { ...AWS_DEFAULTS, ...options };
  const tracking = new AwsTargetTracking(o, ctx.size.min, ctx.size.max);
  // Scrapes not yet folded into a datapoint; each decision closes the minute before it.
  const scrapes: { t: number; utilization: number | undefined; ready: number }[] = [];
  return {
    name: 'aws',
    interval: o.period,
    replaceFailedAfter: ctx.model.platformReplaceSeconds,
    observe(scrape) {
      scrapes.push(scrape);
    },
    decide(t: number, pool: SimPool): number {
      let sum = 0;
      let count = 0;
      let serving = 0;
      let seen = false;
      while (scrapes.length > 0 && scrapes[0]!.t < t) {
        const s = scrapes.shift()!;
        if (s.t < t - o.period) continue;
        seen = true;
        if (s.utilization === undefined) continue;
        sum += s.utilization;
        count++;
        serving = s.ready;
      }
      // The first decision is at the trace's start, before any minute has closed.
      if (!seen) return 0;
      const value = count > 0 ? sum / count : undefined;
      const action = tracking.datapoint(t, value, Math.min(serving, pool.ready.length), pool.live);
      if (action.kind === 'none' || action.capacity === pool.live) return 0;
      pool.resize(t, action.capacity);
      return 1;
    },
  };
}
