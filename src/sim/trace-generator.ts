// Synthetic load traces: the shapes the shipped traces are made of (DDoS bursts, a diurnal
// cycle, a flash crowd, a slow ramp, a noisy plateau, trains of short bursts, a sawtooth), each
// with named parameters and defaults, reproducible from a seed. `scripts/generate-trace.ts` is its command line.

import { normal, seededRandom } from './rng.ts';
import { makeTrace, type Trace } from './trace.ts';

/** Parameters every shape takes. Times are seconds, loads units/s. */
interface Common {
  /** Length of the trace, s. */
  duration: number;
  /** Time between rows, s. */
  resolution: number;
  /** Multiplicative Gaussian noise: standard deviation as a fraction of the load. Default 0. */
  noise: number;
  /** Seed of the noise. Default 1. */
  seed: number;
}

export interface DdosParams extends Common {
  /** Load outside the bursts. Default 400. */
  base: number;
  /** Load in a burst as a multiple of base. Default 10. */
  factor: number;
  /** When the first burst starts rising. Default 900. */
  start: number;
  /** Seconds from base to the full burst. Default 5. */
  rise: number;
  /** Seconds the burst holds at full load. Default 300. */
  hold: number;
  /** Seconds from the full burst back to base. Default 5. */
  fall: number;
  /** Number of bursts. Default 1. */
  bursts: number;
  /** Seconds from one burst's end to the next one's start. Default 480. */
  gap: number;
}

export interface DiurnalParams extends Common {
  /** Lowest load of the day. Default 500. */
  trough: number;
  /** Highest load of the day. Default 3500. */
  peak: number;
  /** Length of one cycle. Default 86400. */
  period: number;
  /** Time of day of the peak, s after the trace's start. Default 50400 (14:00). */
  peakAt: number;
}

export interface FlashCrowdParams extends Common {
  /** Load before the crowd arrives. Default 500. */
  base: number;
  /** Load at the crowd's peak. Default 3500. */
  peak: number;
  /** When the crowd starts arriving. Default 1800. */
  start: number;
  /** Seconds from base to peak (linear). Default 120. */
  rise: number;
  /** Time constant of the exponential decay back to base, s. Default 1200. */
  decay: number;
}

export interface SlowRampParams extends Common {
  /** Load at the start. Default 300. */
  from: number;
  /** Load at the top of the ramp. Default 4000. */
  to: number;
  /** When the ramp starts. Default 1800. */
  start: number;
  /** Seconds the ramp up takes. Default 14400 (4 h). */
  up: number;
  /** Seconds at the top. Default 3600. */
  hold: number;
  /** Seconds the ramp down takes. Default 3600. */
  down: number;
}

export interface NoisyPlateauParams extends Common {
  /** Mean load. Default 2000. */
  level: number;
}

export interface BurstsParams extends Common {
  /** Load between bursts. Default 400. */
  base: number;
  /** Load in a burst as a multiple of base. Default 7. */
  factor: number;
  /** When the first burst starts. Default 600. */
  start: number;
  /** Seconds a burst lasts, rise and fall included (shorter than the 90 s a node takes). Default 60. */
  width: number;
  /** Seconds from base to the full burst, and back. Default 5. */
  rise: number;
  /** Seconds from one burst's start to the next one's. Default 240. */
  period: number;
  /** Each burst starts up to this many seconds early or late (uniform, from the seed). Default 0. */
  jitter: number;
  /** From this time on the period is `periodAfter` (0: it never changes). Default 0. */
  changeAt: number;
  /** The period after `changeAt`, s. Default 0. */
  periodAfter: number;
  /** A second train of bursts every this many seconds (0: none), from `start`. Default 0. */
  period2: number;
  /** The second train's load as a multiple of base. Default 0. */
  factor2: number;
}

export interface SawtoothParams extends Common {
  /** Load at the bottom of each tooth. Default 200. */
  low: number;
  /** Load at the top, where it drops back to low. Default 340. */
  high: number;
  /** Seconds from one drop to the next. Default 1200. */
  period: number;
}

export const SHAPE_DEFAULTS = {
  ddos: {
    duration: 3600,
    resolution: 1,
    noise: 0,
    seed: 1,
    base: 400,
    factor: 10,
    start: 900,
    rise: 5,
    hold: 300,
    fall: 5,
    bursts: 1,
    gap: 480,
  } satisfies DdosParams,
  diurnal: {
    duration: 86_400,
    resolution: 10,
    noise: 0,
    seed: 1,
    trough: 500,
    peak: 3500,
    period: 86_400,
    peakAt: 50_400,
  } satisfies DiurnalParams,
  'flash-crowd': {
    duration: 7200,
    resolution: 5,
    noise: 0,
    seed: 1,
    base: 500,
    peak: 3500,
    start: 1800,
    rise: 120,
    decay: 1200,
  } satisfies FlashCrowdParams,
  'slow-ramp': {
    duration: 28_800,
    resolution: 10,
    noise: 0,
    seed: 1,
    from: 300,
    to: 4000,
    start: 1800,
    up: 14_400,
    hold: 3600,
    down: 3600,
  } satisfies SlowRampParams,
  'noisy-plateau': {
    duration: 7200,
    resolution: 10,
    noise: 0.1,
    seed: 1,
    level: 2000,
  } satisfies NoisyPlateauParams,
  bursts: {
    duration: 10_800,
    resolution: 1,
    noise: 0,
    seed: 1,
    base: 400,
    factor: 7,
    start: 600,
    width: 60,
    rise: 5,
    period: 240,
    jitter: 0,
    changeAt: 0,
    periodAfter: 0,
    period2: 0,
    factor2: 0,
  } satisfies BurstsParams,
  sawtooth: {
    duration: 14_400,
    resolution: 10,
    noise: 0.05,
    seed: 1,
    low: 200,
    high: 340,
    period: 1200,
  } satisfies SawtoothParams,
} as const;

export type Shape = keyof typeof SHAPE_DEFAULTS;
export const SHAPES = Object.keys(SHAPE_DEFAULTS) as Shape[];

/**
 * Makes a trace of one shape. Unknown parameter names are refused (naming the allowed ones),
 * so a typo never silently falls back to a default.
 */
export function generateTrace(
  shape: Shape,
  overrides: Readonly<Record<string, number>> = {},
  name?: string,
): Trace {
  const defaults = SHAPE_DEFAULTS[shape] as Readonly<Record<string, number>>;
  if (!defaults) throw new Error(`unknown trace shape "${shape}": one of ${SHAPES.join(', ')}`);
  for (const key of Object.keys(overrides))
    if (!(key in defaults))
      throw new Error(
        `shape ${shape} has no parameter "${key}" (it has: ${Object.keys(defaults).join(', ')})`,
      );
  const p = { ...defaults, ...overrides };
  for (const [key, value] of Object.entries(p))
    if (!Number.isFinite(value))
      throw new Error(`parameter ${key} of ${shape} must be a number, got ${value}`);
  if (p.resolution! <= 0) throw new Error(`resolution must be more than 0 s, got ${p.resolution}`);
  if (p.duration! < 2 * p.resolution!)
    throw new Error(`duration ${p.duration} s is shorter than two rows of ${p.resolution} s`);
  const shapeAt = SHAPE_FUNCTIONS[shape](p as never);
  const noise = normal(seededRandom(p.seed!));
  const times: number[] = [];
  const loads: number[] = [];
  const rows = Math.floor(p.duration! / p.resolution!);
  for (let i = 0; i < rows; i++) {
    const t = i * p.resolution!;
    const clean = shapeAt(t);
    const noisy = p.noise! > 0 ? clean * (1 + p.noise! * noise()) : clean;
    times.push(t);
    loads.push(Math.max(0, Math.round(noisy)));
  }
  return makeTrace(name ?? shape, times, loads);
}

const SHAPE_FUNCTIONS: { [S in Shape]: (p: (typeof SHAPE_DEFAULTS)[S]) => (t: number) => number } = {
  ddos: (p) => (t) => {
    const peak = p.base * p.factor;
    const cycle = p.rise + p.hold + p.fall + p.gap;
    for (let b = 0; b < p.bursts; b++) {
      const s = t - (p.start + b * cycle);
      if (s < 0) break;
      if (s < p.rise) return p.base + ((peak - p.base) * (s + 1)) / p.rise;
      if (s < p.rise + p.hold) return peak;
      if (s < p.rise + p.hold + p.fall) return peak - ((peak - p.base) * (s - p.rise - p.hold + 1)) / p.fall;
    }
    return p.base;
  },
  diurnal: (p) => (t) => {
    const mid = (p.peak + p.trough) / 2;
    const amplitude = (p.peak - p.trough) / 2;
    return mid + amplitude * Math.cos((2 * Math.PI * (t - p.peakAt)) / p.period);
  },
  'flash-crowd': (p) => (t) => {
    if (t < p.start) return p.base;
    if (t < p.start + p.rise) return p.base + ((p.peak - p.base) * (t - p.start)) / p.rise;
    return p.base + (p.peak - p.base) * Math.exp(-(t - p.start - p.rise) / p.decay);
  },
  'slow-ramp': (p) => (t) => {
    const s = t - p.start;
    if (s < 0) return p.from;
    if (s < p.up) return p.from + ((p.to - p.from) * s) / p.up;
    if (s < p.up + p.hold) return p.to;
    if (s < p.up + p.hold + p.down) return p.to - ((p.to - p.from) * (s - p.up - p.hold)) / p.down;
    return p.from;
  },
  'noisy-plateau': (p) => () => p.level,
  bursts: (p) => {
    const train = (period: number, factor: number, jitter: () => number) => {
      const starts: number[] = [];
      for (let nominal = p.start; nominal < p.duration; ) {
        starts.push(nominal + jitter());
        nominal += p.changeAt > 0 && nominal >= p.changeAt && p.periodAfter > 0 ? p.periodAfter : period;
      }
      return { starts, peak: p.base * factor };
    };
    // Jitter from its own stream (seed + 1), so the noise of the rows stays what the seed gives.
    const random = seededRandom(p.seed + 1);
    const trains = [train(p.period, p.factor, () => (p.jitter > 0 ? p.jitter * (2 * random() - 1) : 0))];
    if (p.period2 > 0 && p.factor2 > 0) trains.push(train(p.period2, p.factor2, () => 0));
    return (t) => {
      let load = p.base;
      for (const { starts, peak } of trains)
        for (const s of starts) {
          const d = t - s;
          if (d < 0) break;
          if (d >= p.width) continue;
          const edge = Math.min(d + 1, p.width - d, p.rise) / p.rise;
          load = Math.max(load, p.base + (peak - p.base) * Math.min(1, edge));
        }
      return load;
    };
  },
  sawtooth: (p) => (t) => p.low + ((p.high - p.low) * (t % p.period)) / p.period,
};
