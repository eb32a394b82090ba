// Hysteresis: a pool at a boundary does not flap inside its metric's noise. A removal waits until
// the nodes the load needs are a dead band below the size one node less would leave — the band
// tied to what one node adds or removes, widened to the need's recent noise, and measured from
// the top of that noise, not from wherever in it the current sample fell.

import { formatDuration } from './duration.ts';
import { formatNumber } from './format.ts';
import type { HysteresisPolicy } from './policy.ts';
import { FINE_STEP_MS, needNoise, noiseTop, type PoolHistory, tierSpans } from './pool-history.ts';
import type { Reason } from './pool-plan.ts';

/** The noise is measured over this span of the need's history. */
const NOISE_SPAN_MS = 5 * 60_000;
/** `auto`: at least half a node. */
const AUTO_MIN_BAND = 0.5;

/** The band in nodes: the operator's, or `auto` (half a node, or twice the need's noise). */
export function hysteresisBand(h: HysteresisPolicy, history: PoolHistory | undefined, now: number): number {
  if (h.band !== 'auto') return h.band;
  return Math.max(AUTO_MIN_BAND, 2 * needNoise(history, now, NOISE_SPAN_MS));
}

/**
 * Whether removing one of `base` nodes stays outside the dead band. `need` is the target rules'
 * need in nodes; without one (no target rule read its metric) the band cannot be placed and the
 * removal is not stopped by it.
 *
 * A removal is tried at every tick, so a band placed around the current sample alone lets it
 * through at the first sample low in the noise: the pool ends up sized for the bottom of its
 * noise, not its top. So one node less must also carry the top of the need's noise over the last
 * 5 minutes (its highest value that is no burst: `noiseTop`) with the band to spare; for `auto`,
 * half a node above that top (the top already holds the noise that twice the noise stands for
 * around the current sample).
 */
export function outsideDeadBand(
  h: HysteresisPolicy,
  history: PoolHistory | undefined,
  now: number,
  base: number,
  need: number | undefined,
  /** `controller.historyRetention`, ms (default two days). */
  retention?: number | undefined,
): { blocks: boolean; reasons: Reason[] } {
  if (need === undefined) return { blocks: false, reasons: [] };
  const band = hysteresisBand(h, history, now);
  // The top of the noise is known only once the history spans the noise window: until then (a
  // pool just started, with nothing stored) a removal waits, as HPA's stabilization window,
  // seeded with the current size, keeps a new controller from scaling in for its first 5 minutes.
  // (A retention shorter than the window caps the wait at what the history can hold.)
  const fine = history?.need[0];
  const window = Math.min(NOISE_SPAN_MS, tierSpans(retention)[0] - FINE_STEP_MS);
  if (fine !== undefined && now - fine.start < window)
    return {
      blocks: true,
      reasons: [
        {
          code: 'hysteresis',
          text: `hysteresis: ${formatDuration(now - fine.start)} of the need's history, ${formatDuration(window)} needed to place the dead band above its noise: staying at ${base}`,
          value: need,
        },
      ],
    };
  const top = Math.max(need, noiseTop(history, now - NOISE_SPAN_MS) ?? need);
  const topBand = h.band === 'auto' ? AUTO_MIN_BAND : h.band;
  const fromNow = need > base - 1 - band;
  if (!fromNow && top <= base - 1 - topBand) return { blocks: false, reasons: [] };
  const [shown, shownBand] = fromNow ? [need, band] : [top, topBand];
  const highest = fromNow ? '' : ` at the top of its noise over the last ${formatDuration(NOISE_SPAN_MS)}`;
  return {
    blocks: true,
    reasons: [
      {
        code: 'hysteresis',
        text: `hysteresis: one node less would leave ${base - 1} for a need of ${formatNumber(shown)} nodes${highest}, inside the dead band of ${formatNumber(shownBand)} node${shownBand === 1 ? '' : 's'}: staying at ${base}`,
        value: shown,
        threshold: base - 1 - shownBand,
      },
    ],
  };
}
