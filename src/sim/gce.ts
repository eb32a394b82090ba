// Compute Engine managed instance group autoscaler, scaling on average utilization, as
// documented in:
// - "Autoscaling groups of instances" and "Scaling based on CPU utilization"
//   (https://cloud.google.com/compute/docs/autoscaler, .../autoscaler/scaling-cpu): the
//   autoscaler keeps the group's average utilization at the target (here 0.6); it rounds the
//   number of VMs up, so as never to add too few or remove too many.
// - "Understanding autoscaler decisions"
//   (https://cloud.google.com/compute/docs/autoscaler/understanding-autoscaler-decisions): the
//   recommended size is the number of VMs needed to serve the peak load of the stabilization
//   period, the last 10 minutes; with mode ON the group's target size follows it, bounded by
//   minNumReplicas and maxNumReplicas.
// - The autoscaling policy's coolDownPeriodSec, the "initialization period"
//   (https://cloud.google.com/compute/docs/reference/rest/v1/autoscalers): "when scaling out,
//   the autoscaler ignores data from VMs that are still initializing"; default 60 s.
// Here a VM's utilization is the scraped sim:utilization for a serving VM and 0 for one still
// restoring; the load the group serves is the sum over VMs past their initialization period,
// and the recommendation is ceil(that sum / target). How often the real autoscaler evaluates
// is not documented; it decides at every scrape here.

import type { SimPool } from './model.ts';
import type { PolicyContext, Scrape, SimPolicy } from './policy.ts';

export interface GceOptions {
  /** utilizationTarget, 0–1. Default 0.6. */
  readonly target: number;
  /** Stabilization period: scale-in only to the highest recommendation of this many seconds. Default 600. */
  readonly stabilization: number;
  /** Initialization period (coolDownPeriodSec), s from a VM's creation. Default 60. */
  readonly initializationPeriod: number;
  /** Seconds between evaluations. Default: the scrape interval. */
  readonly interval?: number | undefined;
}

export const GCE_DEFAULTS: GceOptions = { target: 0.6, stabilization: 600, initializationPeriod: 60 };

/** VMs whose data the autoscaler uses, and the sum of their utilizations. */
export interface GceObservation {
  readonly utilizationSum: number;
}

/**
 * The load the autoscaler sees, as a sum of VM utilizations: each serving VM past its
 * initialization period reports the scraped utilization; VMs still restoring serve nothing
 * (0); VMs within their initialization period are ignored. `scraped` VMs were serving at the
 * scrape the utilization comes from.
 */
export function gceUtilizationSum(
  serving: readonly { readonly requestedAt: number }[],
  utilization: number,
  scraped: number,
  now: number,
  initializationPeriod: number,
): number {
  let initialized = 0;
  for (const vm of serving) if (now - vm.requestedAt >= initializationPeriod) initialized++;
  return utilization * Math.min(initialized, scraped);
}

/** The size the group needs now: ceil(Σ utilization of initialized VMs / target). */
export function gceRecommendation(obs: GceObservation, target: number): number {
  return Math.ceil(obs.utilizationSum / target - 1e-9);
}

/** The autoscaler's state: recent recommendations, for the stabilization period. */
export class GceAutoscaler {
  readonly #o: GceOptions;
  readonly #min: number;
  readonly #max: number;
  readonly #recent: { at: number; value: number }[] = [];

  constructor(o: GceOptions, min: number, max: number) {
    this.#o = o;
    this.#min = min;
    this.#max = max;
  }

  /** The recommended size at `now`: the highest of the stabilization period, within min and max. */
  recommend(now: number, obs: GceObservation | undefined): number | undefined {
    if (obs !== undefined) {
      const value = Math.min(this.#max, Math.max(this.#min, gceRecommendation(obs, this.#o.target)));
      this.#recent.push({ at: now, value });
    }
    while (this.#recent.length > 0 && this.#recent[0]!.at <= now - this.#o.stabilization)
      this.#recent.shift();
    if (this.#recent.length === 0) return undefined;
    let peak = 0;
    for (const r of this.#recent) if (r.value > peak) peak = r.value;
    return peak;
  }
}

export function gcePolicy(ctx: PolicyContext, options: Partial<GceOptions> = {}): SimPolicy {
  const o = { ...GCE_DEFAULTS, ...options };
  const autoscaler = new GceAutoscaler(o, ctx.size.min, ctx.size.max);
  let latest: Scrape | undefined;
  return {
    name: 'gce',
    interval: o.interval ?? ctx.model.scrapeInterval,
    replaceFailedAfter: ctx.model.platformReplaceSeconds,
    observe(scrape) {
      latest = scrape;
    },
    decide(t: number, pool: SimPool): number {
      let obs: GceObservation | undefined;
      if (latest?.utilization !== undefined)
        obs = {
          utilizationSum: gceUtilizationSum(
            pool.ready,
            latest.utilization,
            latest.ready,
            t,
            o.initializationPeriod,
          ),
        };
      const recommended = autoscaler.recommend(t, obs);
      if (recommended === undefined || recommended === pool.live) return 0;
      pool.resize(t, recommended);
      return 1;
    },
  };
}
