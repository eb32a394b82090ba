// The FFT screen must choose exactly what the direct O(n²) definition chooses: both are run here
// on a seeded corpus of series (bursts, sines with noise, gaps, flat stretches, two periods,
// noise) at the tiers' lengths, and must agree on every field, strengths bit for bit.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { autocorrelation } from './autocorrelation.ts';
import { detectPeriod } from './burst-forecast.ts';

/** The definition, as detectPeriod computed it before the FFT: every lag's direct sum. */
function directPeriod(values: readonly (number | null)[]) {
  const n = values.length;
  let sum = 0;
  let count = 0;
  for (const x of values)
    if (x !== null) {
      sum += x;
      count++;
    }
  if (count < 6) return { lag: 0, strength: 0 };
  const mean = sum / count;
  let variance = 0;
  for (const x of values) if (x !== null) variance += (x - mean) * (x - mean);
  variance /= count;
  if (variance < 0.01) return { lag: 0, strength: 0 };
  const maxLag = Math.floor(n / 2);
  const r = new Float64Array(maxLag + 2);
  for (let lag = 1; lag <= maxLag + 1 && lag < n; lag++) {
    let s = 0;
    let pairs = 0;
    for (let i = 0; i + lag < n; i++) {
      const a = values[i];
      const b = values[i + lag];
      if (a === null || b === null || a === undefined || b === undefined) continue;
      s += (a - mean) * (b - mean);
      pairs++;
    }
    r[lag] = pairs > 0 ? s / pairs / variance : 0;
  }
  let best = 0;
  let bestLag = 0;
  const peaks: number[] = [];
  let dip = r[1]!;
  for (let lag = 2; lag <= maxLag; lag++) {
    const x = r[lag]!;
    if (x < dip) dip = x;
    if (x >= r[lag - 1]! && x >= r[lag + 1]! && x - dip >= 0.3) {
      peaks.push(lag);
      if (x > best) {
        best = x;
        bestLag = lag;
      }
    }
  }
  if (bestLag === 0) return { lag: 0, strength: 0 };
  const lag = peaks.find((l) => r[l]! >= 0.9 * best) ?? bestLag;
  const multiple = (l: number, of: number) => {
    const k = Math.round(l / of);
    return k >= 1 && Math.abs(l - k * of) <= 1 + 0.02 * l;
  };
  const also = peaks
    .filter((l) => !multiple(l, lag) && r[l]! >= 0.5)
    .sort((a, b) => r[b]! - r[a]!)
    .slice(0, 2)
    .map((l): readonly [number, number] => [l, Math.round(r[l]! * 1000) / 1000]);
  return also.length > 0 ? { lag, strength: r[lag]!, also } : { lag, strength: r[lag]! };
}

function corpus(size: number): (number | null)[][] {
  let seed = 20261206;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const int = (k: number) => Math.floor(rnd() * k);
  const shapes: ((n: number) => (number | null)[])[] = [
    (n) => {
      const p = 2 + int(n / 3);
      const w = 1 + int(p / 2);
      const high = 5 + int(50);
      return Array.from({ length: n }, (_, i) => (i % p < w ? high : int(10)));
    },
    (n) => {
      const p = 3 + (rnd() * n) / 3;
      const a = rnd() * 20;
      const noise = rnd() * 5;
      return Array.from(
        { length: n },
        (_, i) => Math.round((30 + a * Math.sin((2 * Math.PI * i) / p) + noise * rnd()) * 100) / 100,
      );
    },
    (n) => {
      const p = 2 + int(n / 3);
      const gaps = rnd() * 0.3;
      return Array.from({ length: n }, (_, i) => (rnd() < gaps ? null : i % p < p / 3 ? 30 + int(4) : 4));
    },
    (n) => Array.from({ length: n }, () => int(1000) / 100),
    (n) => Array.from({ length: n }, (_, i) => (i < n / 2 ? 5 : 5 + (rnd() < 0.1 ? 3 : 0))),
    (n) => {
      const p1 = 5 + int(30);
      const p2 = p1 * (2 + int(5)) + int(3);
      return Array.from({ length: n }, (_, i) => Math.max(i % p1 < 3 ? 16 : 4, i % p2 < 5 ? 40 : 4));
    },
    (n) => Array.from({ length: n }, (_, i) => (i % 7 === 0 ? null : Math.floor(i / 10) % 2 ? 9 : 1)),
    (n) => Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 60 : 30)),
  ];
  const lengths = [6, 7, 24, 100, 240, 360, 361, 720, 1440];
  return Array.from({ length: size }, (_, k) => shapes[k % shapes.length]!(lengths[int(lengths.length)]!));
}

describe('autocorrelation', () => {
  test('every approximate value is within its bound of the direct one', () => {
    for (const values of corpus(80)) {
      const present = values.filter((x): x is number => x !== null);
      const mean = present.reduce((a, x) => a + x, 0) / present.length;
      const variance = present.reduce((a, x) => a + (x - mean) ** 2, 0) / present.length;
      if (variance === 0) continue;
      const maxLag = Math.floor(values.length / 2);
      const screened = autocorrelation(values, mean, variance, maxLag);
      const direct = autocorrelation(values, mean, variance, maxLag);
      for (let lag = 1; lag <= maxLag + 1; lag++) {
        const error = Math.abs(screened.approx(lag) - direct.exact(lag));
        assert.ok(error <= screened.tolerance(lag), `lag ${lag} of ${values.length}: off by ${error}`);
      }
    }
  });

  test('period detection chooses what the direct definition chooses, strengths bit for bit', () => {
    let found = 0;
    for (const values of corpus(400)) {
      const want = directPeriod(values);
      assert.deepEqual(detectPeriod(values), want, JSON.stringify(values));
      if (want.lag > 0) found++;
    }
    // The corpus is not all noise: most of it has a period to find.
    assert.ok(found > 200, `${found} periods found`);
  });
});
