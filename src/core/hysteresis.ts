// Hysteresis: a pool at a boundary does not flap inside its metric's noise. A removal waits until
// the nodes the load needs are a dead band below the size one node less would leave — the band
// tied to what one node adds or removes, widened to the need's recent noise.

import { formatNumber } from './format.ts';
import type { HysteresisPolicy } from './policy.ts';
import { needNoise, type PoolHistory } from './pool-history.ts';
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
 */
export function outsideDeadBand(
  h: HysteresisPolicy,
  history: PoolHistory | undefined,
  now: number,
  base: number,
  need: number | undefined,
): { blocks: boolean; reasons: Reason[] } {
  if (need === undefined) return { blocks: false, reasons: [] };
  const band = hysteresisBand(h, history, now);
  if (need <= base - 1 - band) return { blocks: false, reasons: [] };
  return {
    blocks: true,
    reasons: [
      {
        code: 'hysteresis',
        text: `hysteresis: one node less would leave ${base - 1} for a need of ${formatNumber(need)} nodes, inside the dead band of ${formatNumber(band)} node${band === 1 ? '' : 's'}: staying at ${base}`,
        value: need,
        threshold: base - 1 - band,
      },
    ],
  };
}
