// The autocorrelation of a series with gaps, all lags at once in O(n log n) by FFT, each value
// with an error bound, and on request the exact value of one lag computed the direct way. Period
// detection screens every lag with the bounds and computes exactly only the few lags its choice
// depends on, so it chooses what the direct O(n²) computation would, bit for bit.

/** Autocorrelation of a series: approximate at every lag, exact on request. */
export interface Autocorrelation {
  /** r at `lag` within ±tolerance(lag) (exact once `exact(lag)` was asked). */
  readonly approx: (lag: number) => number;
  readonly tolerance: (lag: number) => number;
  /** r at `lag` as the direct sum computes it: Σ(a−mean)(b−mean) over pairs in order, / pairs / variance. */
  readonly exact: (lag: number) => number;
}

/**
 * The autocorrelation of `values` (null: a gap) about `mean`, normalized by `variance`, at lags
 * 1 to `maxLag`; a lag with no pair of values is 0.
 */
export function autocorrelation(
  values: readonly (number | null)[],
  mean: number,
  variance: number,
  maxLag: number,
): Autocorrelation {
  const n = values.length;
  let size = 1;
  while (size < n + maxLag + 1) size *= 2;
  // One complex FFT of (centred values) + i (presence): both spectra from it.
  const re = new Float64Array(size);
  const im = new Float64Array(size);
  let count = 0;
  for (let i = 0; i < n; i++) {
    const x = values[i];
    if (x === null || x === undefined) continue;
    re[i] = x - mean;
    im[i] = 1;
    count++;
  }
  fft(re, im, false);
  // |X_c|² + i |X_m|²: its inverse is (Σ c_i c_{i+lag}) + i (pairs at lag).
  const pr = new Float64Array(size);
  const pi = new Float64Array(size);
  for (let k = 0; k < size; k++) {
    const j = (size - k) % size;
    const cr = (re[k]! + re[j]!) / 2;
    const ci = (im[k]! - im[j]!) / 2;
    const mr = (im[k]! + im[j]!) / 2;
    const mi = (re[j]! - re[k]!) / 2;
    pr[k] = cr * cr + ci * ci;
    pi[k] = mr * mr + mi * mi;
  }
  fft(pr, pi, true);
  const approx = new Float64Array(maxLag + 2);
  const tolerance = new Float64Array(maxLag + 2);
  const known = new Uint8Array(maxLag + 2);
  for (let lag = 1; lag <= maxLag + 1 && lag < n; lag++) {
    const pairs = Math.round(pi[lag]! / size);
    if (pairs <= 0) {
      known[lag] = 1;
      continue;
    }
    approx[lag] = pr[lag]! / size / pairs / variance;
    // The FFT's error is about ε·log₂(size)·Σc², the direct sum's n·ε·Σc², Σc² = count × variance:
    // a bound a thousand times wider than both.
    tolerance[lag] = (1e-9 * count) / pairs;
  }
  const direct = (lag: number): number => {
    let s = 0;
    let pairs = 0;
    for (let i = 0; i + lag < n; i++) {
      const a = values[i];
      const b = values[i + lag];
      if (a === null || b === null || a === undefined || b === undefined) continue;
      s += (a - mean) * (b - mean);
      pairs++;
    }
    return pairs > 0 ? s / pairs / variance : 0;
  };
  return {
    approx: (lag) => approx[lag] ?? 0,
    tolerance: (lag) => (known[lag] === 1 ? 0 : (tolerance[lag] ?? 0)),
    exact(lag) {
      if (lag < 1 || lag >= approx.length || lag >= n) return 0;
      if (known[lag] === 0) {
        approx[lag] = direct(lag);
        known[lag] = 1;
      }
      return approx[lag]!;
    },
  };
}

/** Cosines and sines of 2πk/size, per size (pure: the same table for the same size). */
const twiddles = new Map<number, { cos: Float64Array; sin: Float64Array }>();

function twiddle(size: number): { cos: Float64Array; sin: Float64Array } {
  let t = twiddles.get(size);
  if (!t) {
    const cos = new Float64Array(size / 2);
    const sin = new Float64Array(size / 2);
    for (let k = 0; k < size / 2; k++) {
      cos[k] = Math.cos((2 * Math.PI * k) / size);
      sin[k] = Math.sin((2 * Math.PI * k) / size);
    }
    t = { cos, sin };
    twiddles.set(size, t);
  }
  return t;
}

/** In-place radix-2 FFT (size a power of two); `inverse` without the 1/size scaling. */
function fft(re: Float64Array, im: Float64Array, inverse: boolean): void {
  const size = re.length;
  for (let i = 1, j = 0; i < size; i++) {
    let bit = size >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      const tr = re[i]!;
      re[i] = re[j]!;
      re[j] = tr;
      const ti = im[i]!;
      im[i] = im[j]!;
      im[j] = ti;
    }
  }
  const { cos, sin } = twiddle(size);
  const sign = inverse ? 1 : -1;
  for (let len = 2; len <= size; len *= 2) {
    const half = len / 2;
    const stride = size / len;
    for (let start = 0; start < size; start += len) {
      for (let k = 0; k < half; k++) {
        const wr = cos[k * stride]!;
        const wi = sign * sin[k * stride]!;
        const a = start + k;
        const b = a + half;
        const xr = re[b]! * wr - im[b]! * wi;
        const xi = re[b]! * wi + im[b]! * wr;
        re[b] = re[a]! - xr;
        im[b] = im[a]! - xi;
        re[a] = re[a]! + xr;
        im[a] = im[a]! + xi;
      }
    }
  }
}
