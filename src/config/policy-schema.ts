// The config of the policies that remember and anticipate (peak hold, hysteresis, prediction):
// three optional pool fields, each off unless written. Kept apart from schema.ts, which spreads
// `poolPolicyOptions` into its pool object.

import { z } from 'zod';
import { parseDuration } from '../core/duration.ts';
import type { HoldPolicy, HysteresisPolicy, PredictPolicy } from '../core/policy.ts';

const AUTO_OR_DURATION = 'auto, or a duration more than 0 such as 90s, 10m';

/** `auto` or a duration (ms, more than 0). */
const autoOrDuration = z
  .string({ error: AUTO_OR_DURATION })
  .refine((text) => text === 'auto' || (parseDuration(text) ?? 0) > 0, { message: AUTO_OR_DURATION })
  .transform((text): number | 'auto' => (text === 'auto' ? 'auto' : parseDuration(text)!))
  .meta({ description: `Either ${AUTO_OR_DURATION}.` });

const hold = z
  .strictObject({
    /**
     * Window over which the highest asked-for size is kept. `auto`: five provisioning delays, or
     * the gap between recent bursts (plus a quarter) when they recur within 10 minutes. Default auto.
     */
    window: autoOrDuration.prefault('auto'),
  })
  .transform((h): HoldPolicy => ({ window: h.window }));

const hysteresis = z
  .strictObject({
    /**
     * Dead band in nodes below one node less, from the top of the need's recent noise, or `auto`
     * (half a node from that top, and half a node or twice the noise from the current need). Default auto.
     */
    band: z
      .union([z.literal('auto'), z.number().min(0).max(100)], {
        error: 'auto, or a number of nodes from 0 to 100, such as 0.5',
      })
      .default('auto'),
  })
  .transform((h): HysteresisPolicy => ({ band: h.band }));

const predict = z
  .strictObject({
    /** How far ahead to size the pool. `auto`: the provisioning delay observed on its nodes. Default auto. */
    horizon: autoOrDuration.prefault('auto'),
    /** Lowest autocorrelation (0–1) at which a detected period is trusted. Default 0.6. */
    confidence: z.number().min(0).max(1).default(0.6),
    /** Also follow a steady rising trend. Default true. */
    trend: z.boolean().default(true),
  })
  .transform((p): PredictPolicy => ({ horizon: p.horizon, confidence: p.confidence, trend: p.trend }));

/**
 * The pool fields: each optional (absent: off); `{}` turns one on with its defaults. Hysteresis
 * and prediction size from the pool's target scale-up rules (ready × value / target).
 */
export const poolPolicyOptions = {
  /** Peak hold: metric-driven scale-down never goes below the highest size asked for in the window. */
  hold: hold.optional(),
  /** A removal waits until the need is a dead band below one node less. */
  hysteresis: hysteresis.optional(),
  /** Scale ahead of what the pool's history forecasts one provisioning delay ahead. */
  predict: predict.optional(),
};
