// What a pool remembers between ticks for the policies that look back and ahead: each target
// rule's own metric and the nodes the load needed (both downsampled with age), the sizes its rules
// asked for, when its bursts began and how long its nodes take to join. A plain value: the core returns the next one with each plan;
// the simulator keeps it, the controller stores it with the pool so a restart keeps it too.

/** Buckets of equal length, oldest first; each holds the largest need seen in it (null: none). */
export interface HistoryTier {
  /** Bucket length, ms. */
  readonly step: number;
  /** Start of the first bucket, ms since the epoch (a multiple of step). */
  readonly start: number;
  readonly values: readonly (number | null)[];
}

/**
 * One target rule's own samples: its metric times the ready nodes it was read over (the load it
 * measured; its need is load ÷ target), fine then coarse. Kept apart from the need so that a
 * changed target, or a rule added or removed, recomputes the need's past instead of forecasting
 * from nodes sized for the old one.
 */
export interface RuleSeries {
  /** What identifies the rule across config changes: `metric aggregate` (and ` rate`). */
  readonly metric: string;
  /** The target the need tiers were last computed with. */
  readonly target: number;
  readonly load: readonly HistoryTier[];
}

export interface PoolHistory {
  readonly version: 1;
  /** Need in nodes (what the target rules size for), fine then coarse. */
  readonly need: readonly HistoryTier[];
  /** Each target rule's samples (absent in a history stored before they were kept). */
  readonly rules?: readonly RuleSeries[] | undefined;
  /** Asked-for sizes as a falling run: each [at, size] the largest ask from `at` on. */
  readonly asks: readonly (readonly [number, number])[];
  /** Starts of recent bursts, ms, oldest first (at most ONSETS_KEPT). */
  readonly onsets: readonly number[];
  /** Observed provision-to-ready time, ms (rises at once, falls slowly). */
  readonly provisionMs?: number | undefined;
  /** The last period detection, reused until it is due again. */
  readonly period?: PeriodEstimate | undefined;
  /** Time of the newest need recorded, ms. */
  readonly lastAt?: number | undefined;
}

/** A period found in one tier of the need: lag in buckets, its autocorrelation, when it was found. */
export interface TierPeriod {
  /** 0 when no period was found. */
  readonly lag: number;
  readonly strength: number;
  readonly at: number;
  /** Buckets the tier held when it was found (a young history is read again as it grows). */
  readonly buckets?: number | undefined;
  /** Other periods found at once, [lag, strength]. */
  readonly also?: readonly (readonly [number, number])[] | undefined;
}

/** The last detection in each tier (fine, coarse), each reused until it is due again. */
export interface PeriodEstimate {
  readonly fine?: TierPeriod | undefined;
  readonly coarse?: TierPeriod | undefined;
}

/** Fine tier: 10 s buckets for an hour (periods from 20 s to 30 minutes). */
export const FINE_STEP_MS = 10_000;
export const FINE_SPAN_MS = 3_600_000;
/** Coarse tier: 2-minute buckets for up to two days (periods up to a day), within retention. */
export const COARSE_STEP_MS = 120_000;
export const COARSE_SPAN_MS = 2 * 86_400_000;
/** Asks are kept this long: the longest hold window. */
export const ASKS_SPAN_MS = 3_600_000;
const ONSETS_KEPT = 8;

export const emptyHistory = (): PoolHistory => ({ version: 1, need: [], asks: [], onsets: [] });

/** What one tick adds. */
export interface HistoryTick {
  readonly now: number;
  /** Nodes the load needs (fractional), when a target rule could read its metric. */
  readonly need?: number | undefined;
  /** Every target rule: its identity, target and load (ready × value) when it read its metric. */
  readonly loads?: readonly RuleLoad[] | undefined;
  /** The largest size a scale-up rule asked for this tick, when any could read its metric. */
  readonly ask?: number | undefined;
  /** Provision-to-ready times of nodes that became ready this tick, ms. */
  readonly joined?: readonly number[] | undefined;
  /** historyRetention, ms: the coarse tier keeps no more. Default two days. */
  readonly retention?: number | undefined;
}

/** One target rule's reading in a tick. */
export interface RuleLoad {
  readonly metric: string;
  readonly target: number;
  /** ready × value: the load the rule measured (undefined: it could not read its metric). */
  readonly load: number | undefined;
}

/** The history after one tick. Returns parts unchanged by reference (it runs every tick). */
export function recordTick(history: PoolHistory | undefined, tick: HistoryTick): PoolHistory {
  const h0 = history ?? emptyHistory();
  const { now } = tick;
  const { history: h, rules } = recordLoads(h0, tick);
  let need = h.need;
  let onsets = h.onsets;
  let lastAt = h.lastAt;
  if (tick.need !== undefined && Number.isFinite(tick.need) && tick.need >= 0) {
    const v = Math.round(tick.need * 100) / 100;
    if (isOnset(h, now, v)) onsets = [...h.onsets.slice(1 - ONSETS_KEPT), now];
    const coarseSpan = tierSpans(tick.retention)[1];
    need = [
      addToTier(h.need[0], FINE_STEP_MS, tierSpans(tick.retention)[0], now, v),
      addToTier(h.need[1], COARSE_STEP_MS, coarseSpan, now, v),
    ];
    lastAt = now;
  }
  return {
    version: 1,
    need,
    ...(rules !== undefined ? { rules } : {}),
    asks: tick.ask === undefined ? dropOldAsks(h.asks, now) : addAsk(h.asks, now, tick.ask),
    onsets,
    provisionMs: learnProvision(h.provisionMs, tick.joined),
    period: h.period,
    lastAt,
  };
}

/**
 * Adds each target rule's load to its own series. When the rules differ from those the need was
 * computed with — a target changed, a rule added or removed — the need's past is first computed
 * again from the series of the rules there are now (a bucket's need is the largest load ÷ target
 * among them; an added rule has no past, a removed rule's goes). A history stored before rules
 * were kept has no series: its need is kept as it is and the series start now.
 */
function recordLoads(
  h: PoolHistory,
  tick: HistoryTick,
): { history: PoolHistory; rules: readonly RuleSeries[] | undefined } {
  const loads = tick.loads;
  if (loads === undefined || loads.length === 0) return { history: h, rules: h.rules };
  const [fineSpan, coarseSpan] = tierSpans(tick.retention);
  const old = h.rules;
  const changed =
    old !== undefined &&
    (old.length !== loads.length ||
      loads.some((l, i) => old[i]!.metric !== l.metric || old[i]!.target !== l.target));
  const rules = loads.map((l): RuleSeries => {
    const prev = old?.find((r) => r.metric === l.metric);
    const v = l.load === undefined ? Number.NaN : Math.round(l.load * 100) / 100;
    const load =
      Number.isFinite(v) && v >= 0
        ? [
            addToTier(prev?.load[0], FINE_STEP_MS, fineSpan, tick.now, v),
            addToTier(prev?.load[1], COARSE_STEP_MS, coarseSpan, tick.now, v),
          ]
        : (prev?.load ?? []);
    return prev !== undefined && prev.target === l.target && load === prev.load
      ? prev
      : { metric: l.metric, target: l.target, load };
  });
  if (!changed) return { history: h, rules };
  // Recompute from the series as they stood before this tick (the tick's need is added after).
  const past = loads.map((l) => ({
    target: l.target,
    load: old.find((r) => r.metric === l.metric)?.load ?? [],
  }));
  const need = [0, 1].flatMap((k) => {
    const tier = needFromLoads(past.map((p) => ({ target: p.target, tier: p.load[k] })));
    return tier ? [tier] : [];
  });
  return { history: { ...h, need: need.length === 2 ? need : [] }, rules };
}

/** A need tier from rules' load tiers of one step: per bucket, the largest load ÷ target. */
function needFromLoads(
  series: readonly { readonly target: number; readonly tier: HistoryTier | undefined }[],
): HistoryTier | undefined {
  const present = series.filter(
    (s): s is { target: number; tier: HistoryTier } => s.tier !== undefined && s.target > 0,
  );
  if (present.length === 0) return undefined;
  const step = present[0]!.tier.step;
  const start = Math.min(...present.map((s) => s.tier.start));
  const end = Math.max(...present.map((s) => s.tier.start + s.tier.values.length * step));
  const values: (number | null)[] = new Array((end - start) / step).fill(null);
  for (const { target, tier } of present)
    tier.values.forEach((x, i) => {
      if (x === null || x === undefined) return;
      const j = (tier.start - start) / step + i;
      const n = Math.round((x / target) * 100) / 100;
      if (values[j] === null || n > values[j]!) values[j] = n;
    });
  return { step, start, values };
}

/** How long the fine and the coarse tier reach back under `historyRetention` (ms; default two days). */
export function tierSpans(retention: number | undefined): readonly [number, number] {
  const coarse = Math.min(COARSE_SPAN_MS, Math.max(COARSE_STEP_MS, retention ?? COARSE_SPAN_MS));
  return [Math.min(FINE_SPAN_MS, coarse), coarse];
}

/** Adds `v` to the bucket of `now` (keeping the larger), opening buckets and dropping old ones. */
export function addToTier(
  tier: HistoryTier | undefined,
  step: number,
  span: number,
  now: number,
  v: number,
): HistoryTier {
  const bucket = Math.floor(now / step) * step;
  const capacity = Math.max(1, Math.floor(span / step));
  if (!tier || tier.step !== step || bucket < tier.start) return { step, start: bucket, values: [v] };
  const index = (bucket - tier.start) / step;
  if (index < tier.values.length) {
    const old = tier.values[index];
    if (old !== null && old !== undefined && old >= v) return tier;
    const values = tier.values.slice();
    values[index] = v;
    return { step, start: tier.start, values };
  }
  if (index - tier.values.length >= capacity) return { step, start: bucket, values: [v] };
  if (index === tier.values.length) {
    // The next bucket (every tick of a 10 s tier): one copy, with the oldest dropped in it.
    const drop = Math.max(0, index + 1 - capacity);
    const values = tier.values.slice(drop);
    values.push(v);
    return { step, start: tier.start + drop * step, values };
  }
  const values = tier.values.slice();
  while (values.length < index) values.push(null);
  values.push(v);
  const drop = Math.max(0, values.length - capacity);
  return drop > 0
    ? { step, start: tier.start + drop * step, values: values.slice(drop) }
    : { step, start: tier.start, values };
}

/** A burst starts when the need doubles over the lowest of the last two minutes, by 2 nodes or more. */
function isOnset(h: PoolHistory, now: number, v: number): boolean {
  const fine = h.need[0];
  if (!fine) return false;
  const last = h.onsets[h.onsets.length - 1];
  if (last !== undefined && now - last < 60_000) return false;
  const low = lowestSince(fine, now - 120_000);
  if (low === undefined) return false;
  const prev = fine.values[fine.values.length - 1];
  const risingNow = prev === null || prev === undefined || prev < 2 * low;
  return risingNow && v >= 2 * low && v - low >= 2;
}

function lowestSince(tier: HistoryTier, since: number): number | undefined {
  let low: number | undefined;
  const first = Math.max(0, Math.floor((since - tier.start) / tier.step));
  for (let i = first; i < tier.values.length; i++) {
    const x = tier.values[i];
    if (x !== null && x !== undefined && (low === undefined || x < low)) low = x;
  }
  return low;
}

/** Monotonic queue: the first ask at or after a window's start is the window's peak. */
function addAsk(
  asks: readonly (readonly [number, number])[],
  now: number,
  size: number,
): readonly (readonly [number, number])[] {
  const kept = dropOldAsks(asks, now);
  let end = kept.length;
  while (end > 0 && kept[end - 1]![1] <= size) end--;
  const out = kept.slice(0, end);
  out.push([now, size]);
  return out;
}

function dropOldAsks(
  asks: readonly (readonly [number, number])[],
  now: number,
): readonly (readonly [number, number])[] {
  let first = 0;
  while (first < asks.length && asks[first]![0] < now - ASKS_SPAN_MS) first++;
  return first === 0 ? asks : asks.slice(first);
}

/** The largest ask at or after `since`, if any. */
export function peakAsk(history: PoolHistory | undefined, since: number): number | undefined {
  for (const [at, size] of history?.asks ?? []) if (at >= since) return size;
  return undefined;
}

function learnProvision(old: number | undefined, joined: readonly number[] | undefined): number | undefined {
  let est = old;
  for (const ms of joined ?? []) {
    if (!(ms > 0)) continue;
    // A slow join raises the estimate at once (sizing too late loses work); fast ones lower it slowly.
    est = est === undefined || ms > est ? ms : Math.round(est + (ms - est) * 0.2);
  }
  return est;
}

/** The need around `at` in a tier: the largest value in the bucket and its neighbours. */
export function needNear(tier: HistoryTier, at: number): number | undefined {
  const i = Math.floor((at - tier.start) / tier.step);
  let best: number | undefined;
  for (let j = i - 1; j <= i + 1; j++) {
    if (j < 0 || j >= tier.values.length) continue;
    const x = tier.values[j];
    if (x !== null && x !== undefined && (best === undefined || x > best)) best = x;
  }
  return best;
}

/** Median spacing of the recent burst onsets within `since`, ms; undefined with fewer than 3 onsets. */
export function burstSpacing(history: PoolHistory | undefined, since: number): number | undefined {
  const recent = (history?.onsets ?? []).filter((t) => t >= since);
  if (recent.length < 3) return undefined;
  const gaps = recent.slice(1).map((t, i) => t - recent[i]!);
  gaps.sort((a, b) => a - b);
  return gaps[Math.floor(gaps.length / 2)]!;
}

/**
 * The top of the need's noise at or after `since` in the fine tier: its highest value that is no
 * burst, a burst being what `isOnset` calls one — at least twice the lowest value and 2 nodes
 * above it. (A burst is the hold's and the forecast's to keep, not noise.)
 */
export function noiseTop(history: PoolHistory | undefined, since: number): number | undefined {
  const fine = history?.need[0];
  if (!fine) return undefined;
  const low = lowestSince(fine, since);
  if (low === undefined) return undefined;
  let high: number | undefined;
  const first = Math.max(0, Math.floor((since - fine.start) / fine.step));
  for (let i = first; i < fine.values.length; i++) {
    const x = fine.values[i];
    if (x === null || x === undefined || (x >= 2 * low && x - low >= 2)) continue;
    if (high === undefined || x > high) high = x;
  }
  return high;
}

/** Standard deviation of the need's tick-to-tick noise over the last `span` ms of the fine tier. */
export function needNoise(history: PoolHistory | undefined, now: number, span: number): number {
  const fine = history?.need[0];
  if (!fine) return 0;
  const first = Math.max(1, Math.floor((now - span - fine.start) / fine.step));
  let sum = 0;
  let n = 0;
  for (let i = first; i < fine.values.length; i++) {
    const a = fine.values[i - 1];
    const b = fine.values[i];
    if (a === null || a === undefined || b === null || b === undefined) continue;
    sum += (b - a) * (b - a);
    n++;
  }
  // Differences of independent noise have twice its variance.
  return n === 0 ? 0 : Math.sqrt(sum / n / 2);
}
