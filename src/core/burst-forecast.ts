// Predictive scaling: the need one provisioning delay ahead, forecast from the pool's own
// history — a period found by autocorrelation (20 s to a day, detected, never configured) and a
// steady trend — and the size it asks for when the forecast can be trusted, with what it saw.

import { autocorrelation } from './autocorrelation.ts';
import { formatDuration } from './duration.ts';
import { formatNumber } from './format.ts';
import type { PredictPolicy } from './policy.ts';
import {
  COARSE_STEP_MS,
  FINE_SPAN_MS,
  FINE_STEP_MS,
  type HistoryTier,
  needNear,
  type PeriodEstimate,
  type PoolHistory,
  type TierPeriod,
} from './pool-history.ts';
import type { Reason } from './pool-plan.ts';

/** Period detection runs again this long after the last one, per tier (it costs O(n²)). */
const REDETECT_MS = [5 * 60_000, 30 * 60_000] as const;
/** Periods shorter than this many buckets are noise, not a period. */
const MIN_LAG = 2;
/** History older than this has stopped: no forecast from it. */
export const STALE_HISTORY_MS = 5 * 60_000;
/** Provisioning delay assumed until one is observed. */
export const DEFAULT_HORIZON_MS = 120_000;
/** Periods seen at least this often before their forecast is used. */
const PERIODS_NEEDED = 2;
/** Trend: fitted over this span, trusted above this R². */
const TREND_SPAN_MS = 5 * 60_000;
const TREND_R2 = 0.9;

/**
 * The period of one tier of need, by autocorrelation: among the lags from MIN_LAG to half the
 * history, the shortest local peak within 90% of the strongest, which must rise 0.3 above the
 * dip before it (a smooth series correlates with itself at every short lag; that is no period).
 */
export function detectPeriod(values: readonly (number | null)[]): DetectedPeriod {
  const n = values.length;
  let sum = 0;
  let count = 0;
  for (const x of values)
    if (x !== null) {
      sum += x;
      count++;
    }
  if (count < 2 * MIN_LAG + 2) return { lag: 0, strength: 0 };
  const mean = sum / count;
  let variance = 0;
  for (const x of values) if (x !== null) variance += (x - mean) * (x - mean);
  variance /= count;
  // Less than a tenth of a node of variation: nothing to forecast.
  if (variance < 0.01) return { lag: 0, strength: 0 };
  const maxLag = Math.floor(n / 2);
  // Every lag at once by FFT, each within a bound, and exact (the direct sum, as the definition
  // computes it) only where a bound cannot decide a comparison: the choice is the direct
  // computation's, bit for bit, at O(n log n) instead of O(n²) for the coarse tier's two days.
  const ac = autocorrelation(values, mean, variance, maxLag);
  const lo = (l: number) => ac.approx(l) - ac.tolerance(l);
  const hi = (l: number) => ac.approx(l) + ac.tolerance(l);
  /** a ≥ b, exactly as the direct values compare. */
  const atLeast = (a: number, b: number) => {
    if (lo(a) >= hi(b)) return true;
    if (hi(a) < lo(b)) return false;
    return ac.exact(a) >= ac.exact(b);
  };
  // A peak rises 0.3 above the dip: the lowest value from lag 1 to it.
  const peaks: number[] = [];
  let dipLo = lo(1);
  let dipHi = hi(1);
  for (let lag = MIN_LAG; lag <= maxLag; lag++) {
    if (lo(lag) < dipLo) dipLo = lo(lag);
    if (hi(lag) < dipHi) dipHi = hi(lag);
    if (hi(lag) - dipLo < 0.3) continue;
    if (lo(lag) - dipHi < 0.3) {
      // Undecided: the dip is one of the lags whose lower bound is within the dip's upper bound.
      let dip = Number.POSITIVE_INFINITY;
      for (let l = 1; l <= lag; l++) if (lo(l) <= dipHi) dip = Math.min(dip, ac.exact(l));
      if (ac.exact(lag) - dip < 0.3) continue;
    }
    if (atLeast(lag, lag - 1) && atLeast(lag, lag + 1)) peaks.push(lag);
  }
  // The strongest peak's value (above 0) only through 0.9 × it: bounds, made exact if they straddle.
  let bestLo = 0;
  let bestHi = 0;
  for (const l of peaks) {
    bestLo = Math.max(bestLo, lo(l));
    bestHi = Math.max(bestHi, hi(l));
  }
  let best: number | undefined;
  const exactBest = () => {
    if (best === undefined) {
      best = 0;
      for (const l of peaks) if (hi(l) >= bestLo && ac.exact(l) > best) best = ac.exact(l);
    }
    return best;
  };
  if (bestHi <= 0 || (bestLo <= 0 && exactBest() === 0)) return { lag: 0, strength: 0 };
  const lag = peaks.find((l) => {
    if (lo(l) >= 0.9 * bestHi) return true;
    if (hi(l) < 0.9 * bestLo) return false;
    return ac.exact(l) >= 0.9 * exactBest();
  })!;
  const r = (l: number) => ac.exact(l);
  // Other periods at once (a burst every 3 minutes and a larger one every 25): the strongest
  // peaks that are no multiple of the chosen lag, at most two.
  const multiple = (l: number, of: number) => {
    const k = Math.round(l / of);
    return k >= 1 && Math.abs(l - k * of) <= 1 + 0.02 * l;
  };
  const also = peaks
    .filter((l) => !multiple(l, lag) && hi(l) >= 0.5 && r(l) >= 0.5)
    .sort((a, b) => r(b) - r(a))
    .slice(0, 2)
    .map((l): readonly [number, number] => [l, Math.round(r(l) * 1000) / 1000]);
  return also.length > 0 ? { lag, strength: r(lag), also } : { lag, strength: r(lag) };
}

/** A detected period and, when the history holds several, the others as [lag, strength]. */
export interface DetectedPeriod {
  readonly lag: number;
  readonly strength: number;
  readonly also?: readonly (readonly [number, number])[] | undefined;
}

/**
 * The period detections to use now: each tier's stored one while fresh, else detected again.
 * The fine tier every 5 minutes, and sooner while its history is young: once it has grown by
 * half since the last detection (a pool minutes old has seen its first periods only now); the
 * coarse tier (periods over 30 minutes) every 30 minutes and only once it holds more than two
 * hours.
 */
export function currentPeriod(history: PoolHistory, now: number): PeriodEstimate {
  const fresh = (p: TierPeriod | undefined, every: number): p is TierPeriod =>
    p !== undefined && now >= p.at && now - p.at < every;
  const old = history.period;
  const [fineTier, coarseTier] = history.need;
  const grown = (p: TierPeriod) =>
    p.buckets !== undefined &&
    fineTier !== undefined &&
    fineTier.values.length >= Math.max(p.buckets * 1.5, p.buckets + 2);
  const fine =
    fresh(old?.fine, REDETECT_MS[0]) && !grown(old.fine)
      ? old.fine
      : {
          ...(fineTier ? detectPeriod(fineTier.values) : { lag: 0, strength: 0 }),
          at: now,
          buckets: fineTier?.values.length ?? 0,
        };
  let coarse = old?.coarse;
  if (!fresh(coarse, REDETECT_MS[1])) {
    const c =
      coarseTier && coarseTier.values.length * COARSE_STEP_MS > 2 * 3_600_000
        ? detectPeriod(coarseTier.values)
        : { lag: 0, strength: 0 };
    coarse = c.lag * COARSE_STEP_MS > 30 * 60_000 ? { ...c, at: now } : { lag: 0, strength: 0, at: now };
  }
  return fine === old?.fine && coarse === old?.coarse ? old : { fine, coarse };
}

/** The tier and period a forecast uses: the fine tier's when it found one, else the coarse tier's. */
function chosenPeriod(p: PeriodEstimate): {
  tier: number;
  lag: number;
  strength: number;
  also?: readonly (readonly [number, number])[] | undefined;
} {
  if (p.fine && p.fine.lag > 0) return { tier: 0, ...p.fine };
  if (p.coarse && p.coarse.lag > 0) return { tier: 1, ...p.coarse };
  return { tier: 0, lag: 0, strength: p.fine?.strength ?? 0 };
}

export interface Forecast {
  /** Nodes the forecast needs within the horizon, rounded up; undefined: no trusted forecast. */
  readonly size: number | undefined;
  /** The same need before rounding up. */
  readonly need?: number | undefined;
  /**
   * Nodes a removal must leave: a recurring burst due within two horizons but not one (no reason
   * to add nodes yet; a node removed now would be asked back before it comes).
   */
  readonly keep?: number | undefined;
  /** The period estimate after this tick (to keep in the history). */
  readonly period: PeriodEstimate | undefined;
  readonly horizonMs: number;
  readonly reasons: readonly Reason[];
}

/** The horizon: the one configured, or the provisioning delay observed (2 minutes until one is). */
export function forecastHorizon(policy: PredictPolicy, history: PoolHistory | undefined): number {
  if (policy.horizon !== 'auto') return policy.horizon;
  return history?.provisionMs ?? DEFAULT_HORIZON_MS;
}

/**
 * What the history forecasts for the next `horizon` (plus one fine bucket, so nodes asked for
 * now cover the whole of it): the median of the need one, two and three periods before each
 * moment, and where a steady trend is found, the need it extends to. Holds (no size) on missing,
 * stale or too short history and on a period weaker than `confidence`.
 */
export function forecastNeed(
  policy: PredictPolicy,
  history: PoolHistory | undefined,
  now: number,
  /** The history's newest time before this tick was recorded into it (decidePool records first). */
  newestBefore: number | undefined = history?.lastAt,
): Forecast {
  const horizonMs = forecastHorizon(policy, history);
  const hold = (why: string, period?: PeriodEstimate): Forecast => ({
    size: undefined,
    period,
    horizonMs,
    reasons: [{ code: 'forecast-holds', text: `predict: ${why}: no forecast, the reactive rules decide` }],
  });
  if (!history || history.lastAt === undefined || newestBefore === undefined || history.need.length === 0)
    return hold('no history of the need yet');
  if (now - newestBefore > STALE_HISTORY_MS)
    return hold(`history is stale (newest ${formatDuration(now - newestBefore)} old)`);
  const estimate = currentPeriod(history, now);
  const period = chosenPeriod(estimate);
  const tier = history.need[period.tier];
  let seasonal: number | undefined;
  let seen = 0;
  let periodText = '';
  if (tier && period.lag > 0) {
    const periodMs = period.lag * tier.step;
    seen = Math.floor((now - tier.start) / periodMs);
    periodText = `a ${formatDuration(periodMs)} period (autocorrelation ${formatNumber(period.strength)}, seen ${seen} times)`;
    if (period.strength >= policy.confidence && seen >= PERIODS_NEEDED) {
      // Bursts that come early by up to their recent timing spread are met too.
      const spread = onsetSpread(history.onsets);
      if (spread > 0) periodText += `, bursts up to ${formatDuration(spread)} off it`;
      seasonal = seasonalPeak(tier, periodMs, now, now + horizonMs + FINE_STEP_MS + spread);
      for (const [lag, strength] of period.also ?? []) {
        const ms = lag * tier.step;
        if (strength < policy.confidence || now - tier.start < PERIODS_NEEDED * ms) continue;
        const other = seasonalPeak(tier, ms, now, now + horizonMs + FINE_STEP_MS);
        if (other !== undefined && (seasonal === undefined || other > seasonal)) {
          seasonal = other;
          periodText = `a ${formatDuration(ms)} period (autocorrelation ${formatNumber(strength)}; also one of ${formatDuration(periodMs)})`;
        }
      }
    }
  }
  // Bursts of one size recurring on their own rhythm, which autocorrelation misses when another
  // rhythm is laid over them (bursts every 3 minutes and larger ones every 25).
  // The fine tier holds three bursts of a rhythm up to 20 minutes; the coarse one, the longer.
  // Looked for over two horizons: a burst due in the second is no reason to add nodes yet, but
  // one to keep those standing (a node removed now would be asked back before it).
  const until = now + horizonMs + FINE_STEP_MS;
  const later = dueRhythm(history, now, until + horizonMs, policy.confidence);
  // Nothing due within two horizons: nothing within one either.
  const rhythm = later === undefined ? undefined : dueRhythm(history, now, until, policy.confidence);
  const keep = later !== undefined && (rhythm === undefined || later.need > rhythm.need) ? later : undefined;
  if (rhythm !== undefined && (seasonal === undefined || rhythm.need > seasonal)) {
    seasonal = rhythm.need;
    periodText = `bursts of ${formatNumber(rhythm.need)} nodes every ${formatDuration(rhythm.periodMs)} (seen ${rhythm.seen} times${rhythm.spreadMs > 0 ? `, up to ${formatDuration(rhythm.spreadMs)} off, regularity ${formatNumber(rhythm.regularity)}` : ''})`;
  }
  const trend = policy.trend ? trendAt(history.need[0], now, now + horizonMs) : undefined;
  if (seasonal === undefined && trend === undefined) {
    if (keep !== undefined)
      return {
        size: undefined,
        keep: keep.need,
        period: estimate,
        horizonMs,
        reasons: [
          {
            code: 'forecast-holds',
            text: `predict: bursts of ${formatNumber(keep.need)} nodes every ${formatDuration(keep.periodMs)} due within two horizons: none added yet, none removed`,
            value: keep.need,
          },
        ],
      };
    if (period.lag === 0) return hold('no period found in the history and no steady trend', estimate);
    return hold(
      seen < PERIODS_NEEDED
        ? `${periodText}: fewer than ${PERIODS_NEEDED} periods in the history`
        : `${periodText} is below confidence ${formatNumber(policy.confidence)}`,
      estimate,
    );
  }
  const need = Math.max(seasonal ?? 0, trend?.need ?? 0);
  const size = Math.ceil(need - 1e-9);
  const from =
    seasonal !== undefined && (trend === undefined || seasonal >= trend.need)
      ? `from ${periodText}`
      : `from a trend of ${formatNumber(trend!.slopePerMin)} nodes/min (R² ${formatNumber(trend!.r2)})`;
  return {
    size,
    need,
    ...(keep !== undefined ? { keep: keep.need } : {}),
    period: estimate,
    horizonMs,
    reasons: [
      {
        code: 'forecast',
        text: `predict: need of ${formatNumber(need)} nodes within the next ${formatDuration(horizonMs)} ${from} → ${size} nodes`,
        value: need,
      },
    ],
  };
}

/**
 * How far recent bursts came off their rhythm: the largest deviation of the gaps between burst
 * onsets from a whole number of their median gap (the period found may be a multiple of it),
 * less one fine bucket (an onset's own rounding); gaps off by more than a quarter of the median
 * gap are another rhythm's and are left out.
 */
export function onsetSpread(onsets: readonly number[]): number {
  const gaps = onsets.slice(1).map((t, i) => t - onsets[i]!);
  if (gaps.length < 2) return 0;
  const sorted = [...gaps].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  let spread = 0;
  for (const gap of gaps) {
    const off = Math.abs(gap - Math.max(1, Math.round(gap / median)) * median);
    if (off <= median / 4) spread = Math.max(spread, off - FINE_STEP_MS);
  }
  return spread;
}

/** Bursts of one size seen at least this often, on a regular rhythm, before they are forecast. */
const RHYTHM_SEEN = 3;
/** The coarse tier is read for rhythms this far back (three bursts of up to two hours). */
const RHYTHM_COARSE_REACH_MS = 6 * 3_600_000;
/** Burst sizes tried as classes, largest first. */
const RHYTHM_CLASSES = 3;

/** A recurring burst: its size (need, nodes), rhythm, how often seen and how far off it. */
export interface BurstRhythm {
  readonly need: number;
  readonly periodMs: number;
  readonly seen: number;
  readonly spreadMs: number;
  /** 1 − spread ÷ period: 1 for bursts like clockwork (held to the policy's `confidence`). */
  readonly regularity: number;
}

/**
 * The next burst of a size that recurs on a regular rhythm in a tier (its last `reach` ms), when
 * it is due by `until`. A burst is a run of buckets at least twice the lowest value and 2 nodes
 * above it (the onset rule). Sizes are tried as classes, the largest first: a class's bursts are
 * the runs at or above 3/4 of its size, each starting where the need crosses that line (a small
 * burst just before a large one does not move the large one's onset). A class whose last
 * RHYTHM_SEEN onsets come at equal gaps (each within a quarter of their median, and a bucket) is
 * due one median gap after its last onset, early or late by the gaps' largest deviation; its size
 * is the median of those bursts' peaks. A rhythm whose beat passed (by its spread and a bucket)
 * without a burst has stopped: nothing is due until three bursts set a rhythm again.
 */
export function burstRhythm(
  tier: HistoryTier | undefined,
  now: number,
  until: number,
  opts: {
    /** Rhythms shorter than this are another tier's. */
    readonly shortest?: number;
    /** How far back the tier is read, ms. */
    readonly reach?: number;
    /** The least regularity trusted (the policy's `confidence`). */
    readonly regularity?: number;
  } = {},
): BurstRhythm | undefined {
  if (!tier) return undefined;
  const { values, step } = tier;
  const first = Math.max(0, values.length - Math.floor((opts.reach ?? Number.POSITIVE_INFINITY) / step));
  let low: number | undefined;
  let high: number | undefined;
  for (let i = first; i < values.length; i++) {
    const x = values[i];
    if (x === null || x === undefined) continue;
    if (low === undefined || x < low) low = x;
    if (high === undefined || x > high) high = x;
  }
  if (low === undefined || high === undefined) return undefined;
  const floor = Math.max(2 * low, low + 2);
  let size = high;
  for (let tried = 0; tried < RHYTHM_CLASSES && size >= floor; tried++) {
    const line = Math.max(floor, 0.75 * size);
    const onsets: number[] = [];
    const peaks: number[] = [];
    let inRun = false;
    // The largest need below this class's line that is still a burst: the next class to try.
    let below = 0;
    for (let i = first; i <= values.length; i++) {
      const x = i < values.length ? values[i] : undefined;
      if (x !== null && x !== undefined && x >= line) {
        if (!inRun) {
          onsets.push(tier.start + i * step);
          peaks.push(x);
          inRun = true;
        } else if (x > peaks[peaks.length - 1]!) peaks[peaks.length - 1] = x;
        continue;
      }
      inRun = false;
      if (x !== null && x !== undefined && x >= floor) below = Math.max(below, x);
    }
    const found = rhythmOf(onsets, peaks, step, now, until, opts.shortest ?? 0);
    if (found && found.regularity >= (opts.regularity ?? 0)) return found;
    size = below;
  }
  return undefined;
}

/**
 * The largest recurring burst due by `until` in either tier: the fine tier holds three bursts of
 * a rhythm up to 20 minutes, the coarse one (read 6 hours back) the longer ones.
 */
function dueRhythm(
  history: PoolHistory,
  now: number,
  until: number,
  regularity: number,
): BurstRhythm | undefined {
  const fine = burstRhythm(history.need[0], now, until, { regularity });
  const coarse = burstRhythm(history.need[1], now, until, {
    regularity,
    shortest: FINE_SPAN_MS / RHYTHM_SEEN,
    reach: RHYTHM_COARSE_REACH_MS,
  });
  return coarse !== undefined && (fine === undefined || coarse.need > fine.need) ? coarse : fine;
}

/** The rhythm of one class of bursts (see burstRhythm), when due by `until`. */
function rhythmOf(
  onsets: readonly number[],
  peaks: readonly number[],
  step: number,
  now: number,
  until: number,
  shortest: number,
): BurstRhythm | undefined {
  if (onsets.length < RHYTHM_SEEN) return undefined;
  const recent = onsets.slice(-RHYTHM_SEEN);
  const gaps = recent.slice(1).map((t, k) => t - recent[k]!);
  const sorted = [...gaps].sort((a, b) => a - b);
  const period = sorted[Math.floor(sorted.length / 2)]!;
  if (period < Math.max(3 * step, shortest)) return undefined;
  let spread = 0;
  for (const gap of gaps) spread = Math.max(spread, Math.abs(gap - period));
  if (spread > Math.max(step, period / 4)) return undefined;
  const due = recent[recent.length - 1]! + period;
  // Not due within the horizon (early by the spread), or its beat long missed.
  if (due - spread - step > until || now > due + spread + step) return undefined;
  const heights = peaks.slice(-RHYTHM_SEEN).sort((a, b) => a - b);
  return {
    need: heights[Math.floor(heights.length / 2)]!,
    periodMs: period,
    seen: onsets.length,
    spreadMs: spread,
    regularity: 1 - spread / period,
  };
}

/** Largest over [from, to] of the median need one, two and three periods earlier. */
function seasonalPeak(tier: HistoryTier, periodMs: number, from: number, to: number): number | undefined {
  let peak: number | undefined;
  const step = Math.min(tier.step, FINE_STEP_MS);
  const earlier: number[] = [];
  for (let t = from; t <= to; t += step) {
    earlier.length = 0;
    for (let k = 1; k <= 3; k++) {
      const v = needNear(tier, t - k * periodMs);
      if (v !== undefined) earlier.push(v);
    }
    if (earlier.length === 0) continue;
    earlier.sort((a, b) => a - b);
    const m =
      earlier.length % 2 === 1
        ? earlier[(earlier.length - 1) / 2]!
        : (earlier[earlier.length / 2 - 1]! + earlier[earlier.length / 2]!) / 2;
    if (peak === undefined || m > peak) peak = m;
  }
  return peak;
}

/** A rising trend over the last five minutes of the fine tier, extended to `at`; only a steady one. */
export function trendAt(
  fine: HistoryTier | undefined,
  now: number,
  at: number,
): { need: number; slopePerMin: number; r2: number } | undefined {
  if (!fine) return undefined;
  const first = Math.max(0, Math.floor((now - TREND_SPAN_MS - fine.start) / fine.step));
  let n = 0;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (let i = first; i < fine.values.length; i++) {
    const y = fine.values[i];
    if (y === null || y === undefined) continue;
    const x = i - first;
    n++;
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
    syy += y * y;
  }
  if (n < TREND_SPAN_MS / fine.step / 2) return undefined;
  const vx = sxx - (sx * sx) / n;
  const vy = syy - (sy * sy) / n;
  if (vx <= 0 || vy <= 0) return undefined;
  const cov = sxy - (sx * sy) / n;
  const slope = cov / vx;
  const r2 = (cov * cov) / (vx * vy);
  if (slope <= 0 || r2 < TREND_R2) return undefined;
  const lastX = fine.values.length - 1 - first;
  const intercept = (sy - slope * sx) / n;
  const need =
    intercept + slope * (lastX + (at - (fine.start + (fine.values.length - 1) * fine.step)) / fine.step);
  return { need, slopePerMin: (slope * 60_000) / fine.step, r2 };
}
