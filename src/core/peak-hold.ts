// Peak hold (scale-down stabilization): a metric-driven scale-down never goes below the highest
// size the scale-up rules asked for over a window — HPA's stabilizationWindowSeconds, GCE's
// scale-in window — chosen by the operator or learnt from the pool's own bursts.

import { DEFAULT_HORIZON_MS } from './burst-forecast.ts';
import { formatDuration } from './duration.ts';
import type { HoldPolicy } from './policy.ts';
import { burstSpacing, type PoolHistory, peakAsk } from './pool-history.ts';
import type { Reason } from './pool-plan.ts';

/** An `auto` window holds a burst for this many provisioning delays when no recurrence is seen. */
export const AUTO_HOLD_DELAYS = 5;
/** With a trusted forecast, an `auto` window holds for this many provisioning delays. */
export const FORECAST_HOLD_DELAYS = 2;
/** Bursts recurring within this are held over the gap between them. */
export const AUTO_HOLD_MAX_MS = 10 * 60_000;

/** The window: the operator's, or learnt (`auto`), with what it was learnt from. */
export function holdWindow(
  hold: HoldPolicy,
  history: PoolHistory | undefined,
  now: number,
  forecasting = false,
): { ms: number; learnt?: string | undefined } {
  if (hold.window !== 'auto') return { ms: hold.window };
  const delay = history?.provisionMs ?? DEFAULT_HORIZON_MS;
  // A trusted forecast brings the nodes back a provisioning delay before the next burst: the
  // hold then only has to outlast the burst's own tail.
  if (forecasting)
    return {
      ms: FORECAST_HOLD_DELAYS * delay,
      learnt: `a trusted forecast: ${FORECAST_HOLD_DELAYS} × the provisioning delay of ${formatDuration(delay)}`,
    };
  const byDelay = AUTO_HOLD_DELAYS * delay;
  const spacing = burstSpacing(history, now - 3_600_000);
  // Bursts that come back sooner than the hold would drop them: hold over the gap (a quarter
  // more, for jitter), up to 10 minutes. Rarer bursts are the forecast's to meet, not the hold's.
  if (spacing !== undefined && spacing <= AUTO_HOLD_MAX_MS && 1.25 * spacing > byDelay) {
    const ms = Math.min(AUTO_HOLD_MAX_MS, Math.round(1.25 * spacing));
    return { ms, learnt: `bursts every ${formatDuration(spacing)}` };
  }
  return {
    ms: byDelay,
    learnt: `${AUTO_HOLD_DELAYS} × the ${history?.provisionMs === undefined ? 'assumed' : 'observed'} provisioning delay of ${formatDuration(delay)}`,
  };
}

/**
 * The size the hold keeps, if any ask is in the window, and the reason when it stops a removal
 * from `base` (the caller asks only when the scale-down rules agree).
 */
export function peakHold(
  hold: HoldPolicy,
  history: PoolHistory | undefined,
  now: number,
  base: number,
  forecasting = false,
): { held: number | undefined; blocks: boolean; reasons: Reason[] } {
  const window = holdWindow(hold, history, now, forecasting);
  const held = peakAsk(history, now - window.ms);
  if (held === undefined || base - 1 >= held) return { held, blocks: false, reasons: [] };
  const learnt = window.learnt ? `; window learnt from ${window.learnt}` : '';
  return {
    held,
    blocks: true,
    reasons: [
      {
        code: 'peak-hold',
        text: `holding ${Math.max(held, base)} (peak of the last ${formatDuration(window.ms)}${held > base ? `: asked for ${held}` : ''}${learnt})`,
        value: held,
      },
    ],
  };
}
