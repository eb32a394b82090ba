// Seed 003's service: an OpenStack Heat autoscaling group grown by a ceilometer/aodh alarm and
// shrunk by etcd scripts on the hosts, as its README describes
// (../shared/seeds/003_*.txt, "autoscale-etcd"):
// - "The scale-up is handled by heat and the scale down is handled by the etcd scripts."
// - Scale-up: a threshold alarm on `upmetric` (cpu_util) — here the mean utilization over
//   ceilometer's collection period: "ceilometer applies a minimum of 10 minutes due to its
//   gathering period". Above 0.8 the alarm adds one node, at most once per `scaleupcooldown`
//   (240 s). The alarm is evaluated every minute (aodh's evaluation interval) and, as Heat
//   autoscaling alarms are written, repeats its action while it stays in alarm.
// - Scale-down: every `lockattemptperiod` (10 s) the etcd scripts read `downmetric` from
//   netdata on the host (here the scraped sim:utilization) and compare it with `threshold`
//   (below 0.3); the host that takes the etcd lock removes itself, at most once per
//   `scaledownperiod` (200 s), and "the scale down scripts will only scale down to capacity".
// - Failures: each failed etcd check adds 5 to a host's fail marker, each success takes 1;
//   above `failtolerance` (20) the machine is removed; Heat replaces failed nodes only below
//   `min_cluster` ("the point at which heat will autoreplace failed nodes").
// - Never above `max_cluster`.

import type { SimPool } from './model.ts';
import type { PolicyContext, Scrape, SimPolicy } from './policy.ts';

export interface HeatOptions {
  /** Scale-up alarm threshold on mean utilization. Default 0.8. */
  readonly upThreshold: number;
  /** Scale-down threshold on the host's current utilization. Default 0.3. */
  readonly downThreshold: number;
  /** scaleupcooldown, s. Default 240. */
  readonly scaleUpCooldown: number;
  /** scaledownperiod, s. Default 200. */
  readonly scaleDownPeriod: number;
  /** Ceilometer's collection period: the alarm sees the mean utilization over it, s. Default 600. */
  readonly collectionPeriod: number;
  /** Aodh alarm evaluation interval, s. Default 60. */
  readonly alarmEvaluationInterval: number;
  /** Repeat the alarm action at every evaluation while in alarm (repeat_actions). Default true. */
  readonly repeatActions: boolean;
  /** lockattemptperiod: how often the etcd scripts check, s. Default 10. */
  readonly lockAttemptPeriod: number;
  /** failtolerance. Default 20. */
  readonly failTolerance: number;
}

export const HEAT_DEFAULTS: HeatOptions = {
  upThreshold: 0.8,
  downThreshold: 0.3,
  scaleUpCooldown: 240,
  scaleDownPeriod: 200,
  collectionPeriod: 600,
  alarmEvaluationInterval: 60,
  repeatActions: true,
  lockAttemptPeriod: 10,
  failTolerance: 20,
};

/** The ceilometer samples: the mean of the scraped utilization over each collection period. */
export class CeilometerSamples {
  readonly #period: number;
  readonly #start: number;
  #sum = 0;
  #count = 0;
  #periodIndex = 0;
  /** The latest complete period's mean, if any. */
  latest: number | undefined;

  constructor(start: number, period: number) {
    this.#start = start;
    this.#period = period;
  }

  add(t: number, utilization: number | undefined): void {
    const index = Math.floor((t - this.#start) / this.#period + 1e-9);
    if (index > this.#periodIndex) {
      this.latest = this.#count > 0 ? this.#sum / this.#count : undefined;
      this.#sum = 0;
      this.#count = 0;
      this.#periodIndex = index;
    }
    if (utilization !== undefined) {
      this.#sum += utilization;
      this.#count++;
    }
  }
}

export function heatPolicy(ctx: PolicyContext, options: Partial<HeatOptions> = {}): SimPolicy {
  const o = { ...HEAT_DEFAULTS, ...options };
  const { min, capacity, max } = ctx.size;
  const start = ctx.trace.times[0]!;
  const ceilometer = new CeilometerSamples(start, o.collectionPeriod);
  let latest: Scrape | undefined;
  let inAlarm = false;
  let lastScaleUpAt = Number.NEGATIVE_INFINITY;
  let lastScaleDownAt = Number.NEGATIVE_INFINITY;
  let lastAlarmEvaluation = Number.NEGATIVE_INFINITY;
  // Seconds a failed host needs to pass failtolerance: +5 per failed check.
  const failedChecksToRemove = Math.floor(o.failTolerance / 5) + 1;
  return {
    name: 'heat',
    interval: o.lockAttemptPeriod,
    observe(scrape) {
      latest = scrape;
      ceilometer.add(scrape.t, scrape.utilization);
    },
    decide(t: number, pool: SimPool): number {
      let actions = 0;
      for (const node of [...pool.failed])
        if (t - node.since >= failedChecksToRemove * o.lockAttemptPeriod) pool.remove(t, node);
      if (pool.live < min) pool.create(t, min - pool.live);

      if (t - lastAlarmEvaluation >= o.alarmEvaluationInterval) {
        lastAlarmEvaluation = t;
        const sample = ceilometer.latest;
        const alarm = sample !== undefined && sample > o.upThreshold;
        const signalled = alarm && (o.repeatActions || !inAlarm);
        inAlarm = alarm;
        if (signalled && t - lastScaleUpAt >= o.scaleUpCooldown && pool.live < max) {
          pool.create(t, 1);
          lastScaleUpAt = t;
          actions++;
        }
      }
      const current = latest?.utilization;
      if (
        current !== undefined &&
        current < o.downThreshold &&
        t - lastScaleDownAt >= o.scaleDownPeriod &&
        pool.live > capacity
      ) {
        pool.removeNewest(t, 1);
        lastScaleDownAt = t;
        actions++;
      }
      return actions > 0 ? 1 : 0;
    },
  };
}
