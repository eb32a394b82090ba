import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  burstRhythm,
  detectPeriod,
  forecastNeed,
  onsetSpread,
  STALE_HISTORY_MS,
  trendAt,
} from './burst-forecast.ts';
import type { PredictPolicy } from './policy.ts';
import { emptyHistory, type PoolHistory, recordTick } from './pool-history.ts';

const T = 1_700_000_000_000 - (1_700_000_000_000 % 120_000);
const PREDICT: PredictPolicy = { horizon: 90_000, confidence: 0.6, trend: true };

/** Need every 10 s from `need(t)` for `span` ms. */
function history(span: number, need: (t: number) => number, provisionMs?: number): PoolHistory {
  let h: PoolHistory = emptyHistory();
  for (let t = 0; t < span; t += 10_000) h = recordTick(h, { now: T + t, need: need(t) });
  return provisionMs === undefined ? h : { ...h, provisionMs };
}
const bursts = (period: number) => (t: number) => (t % period >= 60_000 && t % period < 120_000 ? 30 : 4);

describe('period detection', () => {
  test('finds the period of bursts, of a sine, and no period in a flat or steadily rising series', () => {
    const series = (n: number, f: (i: number) => number | null) => Array.from({ length: n }, (_, i) => f(i));
    const cases: [string, (number | null)[], number][] = [
      ['bursts every 24 buckets', series(240, (i) => (i % 24 < 6 ? 30 : 4)), 24],
      ['sine of 50 buckets', series(300, (i) => 10 + 5 * Math.sin((2 * Math.PI * i) / 50)), 50],
      ['bursts with gaps', series(240, (i) => (i % 7 === 3 ? null : i % 24 < 6 ? 30 : 4)), 24],
      ['flat', series(200, () => 5), 0],
      ['a ramp', series(200, (i) => i / 10), 0],
    ];
    for (const [name, values, lag] of cases) assert.equal(detectPeriod(values).lag, lag, name);
  });

  test('two periods at once: the one carrying most of the variation wins', () => {
    // Small bursts every 18 buckets, large ones every 150: the large ones dominate the
    // autocorrelation; the small ones are left to the reactive rules (docs/simulator.md).
    const values = Array.from({ length: 360 }, (_, i) => Math.max(i % 18 < 4 ? 16 : 4, i % 150 < 5 ? 40 : 4));
    assert.equal(detectPeriod(values).lag, 150);
  });
});

describe('forecast', () => {
  test('sizes for the next burst a provisioning delay ahead, and says from what', () => {
    const h = history(1_200_000, bursts(240_000));
    // The next burst starts at 1,260,000 (60 s into the period): within 90 s from 1,180,000.
    const f = forecastNeed(PREDICT, h, T + 1_190_000);
    assert.equal(f.size, 30);
    assert.match(
      f.reasons[0]!.text,
      /need of 30 nodes within the next 1m30s from a 4m period \(autocorrelation 1, seen 4 times\) → 30 nodes/,
    );
    // Between bursts, with the next one beyond the horizon: the base need.
    assert.equal(forecastNeed(PREDICT, h, T + 1_320_000 - 200_000).size, 4);
  });

  test('looks further ahead by how far recent bursts came off their rhythm', () => {
    const h = history(1_200_000, bursts(240_000));
    // The next burst starts at 1,260,000; at 1,140,000 it is 120 s away, beyond 90 s + 10 s
    // and the neighbouring bucket.
    const now = T + 1_140_000;
    assert.equal(forecastNeed(PREDICT, h, now).size, 4);
    // Recent bursts began up to 50 s off a 4-minute rhythm: one as early is met too.
    const jittered = { ...h, onsets: [0, 240_000, 530_000, 720_000, 960_000].map((t) => T + t) };
    const f = forecastNeed(PREDICT, jittered, now);
    assert.equal(f.size, 30);
    assert.match(f.reasons[0]!.text, /bursts up to 40s off it/);
  });

  test("the onsets' spread: deviations from a whole number of their median gap, less one bucket", () => {
    const cases: [string, number[], number][] = [
      ['regular', [0, 240, 480, 720], 0],
      ['off by a bucket', [0, 250, 490, 730], 0],
      ['jittered', [0, 270, 480, 720, 990, 1200], 20],
      ['a missed burst is two gaps', [0, 240, 480, 720, 1200, 1470], 20],
      ['another rhythm is left out', [0, 240, 480, 600, 840], 0],
      ['too few onsets', [0, 300], 0],
    ];
    for (const [name, onsets, spread] of cases)
      assert.equal(onsetSpread(onsets.map((s) => s * 1000)), spread * 1000, name);
  });

  test('holds on no history, stale history, too few periods and a weak period', () => {
    const cases: [string, PoolHistory | undefined, number, RegExp][] = [
      ['none', undefined, T, /no history of the need yet/],
      ['stale', history(1_200_000, bursts(240_000)), T + 1_200_000 + STALE_HISTORY_MS, /history is stale/],
      ['one period', history(300_000, bursts(240_000)), T + 300_000, /no period found|fewer than 2 periods/],
      [
        'flat',
        history(1_200_000, () => 5),
        T + 1_200_000,
        /no period found in the history and no steady trend/,
      ],
    ];
    for (const [name, h, now, why] of cases) {
      const f = forecastNeed(PREDICT, h, now);
      assert.equal(f.size, undefined, name);
      assert.match(f.reasons[0]!.text, why, name);
    }
    const strict = forecastNeed(
      { ...PREDICT, confidence: 1.01 },
      history(1_200_000, bursts(240_000)),
      T + 1_190_000,
    );
    assert.equal(strict.size, undefined);
    assert.match(strict.reasons[0]!.text, /below confidence 1.01/);
  });

  test('horizon auto is the observed provisioning delay', () => {
    const h = history(1_200_000, bursts(240_000), 30_000);
    const auto = { ...PREDICT, horizon: 'auto' as const };
    // 1,190,000 + 30 s + 10 s does not reach the burst at 1,260,000; 1,220,000 does.
    assert.equal(forecastNeed(auto, h, T + 1_190_000).size, 4);
    assert.equal(forecastNeed(auto, h, T + 1_220_000).size, 30);
    assert.equal(forecastNeed(auto, h, T + 1_220_000).horizonMs, 30_000);
  });

  test('a steady rising trend is extended over the horizon; a noisy one is not', () => {
    const ramp = history(600_000, (t) => 2 + t / 60_000);
    const t = trendAt(ramp.need[0], T + 590_000, T + 590_000 + 90_000)!;
    assert.ok(Math.abs(t.need - (2 + 680_000 / 60_000)) < 0.05, String(t.need));
    const noisy = history(600_000, (x) => 5 + ((x / 10_000) % 2 === 0 ? 2 : -2) + x / 600_000);
    assert.equal(trendAt(noisy.need[0], T + 590_000, T + 680_000), undefined);
  });
});

describe('burst rhythm', () => {
  // Small bursts (16 nodes) every 3 minutes and large ones (40) every 14, each 60 s, on 4: the
  // large ones' rhythm is found on its own although the small ones come just before some of them.
  const two = (t: number) => {
    const small = t % 180_000 < 60_000 ? 16 : 4;
    const large = t % 840_000 >= 120_000 && t % 840_000 < 180_000 ? 40 : 4;
    return Math.max(small, large);
  };
  const h = history(3_400_000, two);
  // Large onsets at 120 s + k × 840 s: 120, 960, 1,800, 2,640 s; the next at 3,480 s.
  const next = T + 3_480_000;

  test('the large bursts are due one rhythm after the last, and sized by their peaks', () => {
    const r = burstRhythm(h.need[0], next - 100_000, next)!;
    assert.deepEqual(r, { need: 40, periodMs: 840_000, seen: 4, spreadMs: 0, regularity: 1 });
    // Like clockwork: trusted at any confidence up to 1.
    assert.equal(burstRhythm(h.need[0], next - 100_000, next, { regularity: 1.01 }), undefined);
    // Beyond the horizon: not due yet.
    assert.equal(burstRhythm(h.need[0], next - 300_000, next - 200_000), undefined);
  });

  test('irregular gaps, too few bursts and a missed beat give no rhythm', () => {
    const irregular = history(2_400_000, (t) =>
      [60_000, 500_000, 1_300_000, 1_500_000, 2_200_000].some((o) => t >= o && t < o + 60_000) ? 30 : 4,
    );
    assert.equal(burstRhythm(irregular.need[0], T + 2_390_000, T + 3_000_000), undefined);
    const two_only = history(1_000_000, (t) => (t % 600_000 >= 60_000 && t % 600_000 < 120_000 ? 30 : 4));
    assert.equal(burstRhythm(two_only.need[0], T + 1_190_000, T + 1_300_000), undefined);
    // Large bursts stopped after 2,640 s: at 4,500 s their beat (3,480 s) is long gone.
    const stopped = history(4_500_000, (t) => (t < 2_800_000 ? two(t) : t % 180_000 < 60_000 ? 16 : 4));
    const r = burstRhythm(stopped.need[0], T + 4_490_000, T + 4_600_000);
    assert.notEqual(r?.need, 40);
  });

  test('the forecast meets the large bursts where autocorrelation alone does not, and says so', () => {
    const f = forecastNeed(PREDICT, h, next - 90_000);
    assert.equal(f.size, 40);
    assert.match(f.reasons[0]!.text, /from bursts of 40 nodes every 14m \(seen 4 times\) → 40 nodes/);
    // Due within two horizons but not one: nothing added yet, but 40 kept from removal.
    const early = forecastNeed(PREDICT, h, next - 150_000);
    assert.notEqual(early.size, 40);
    assert.equal(early.keep, 40);
  });
});
