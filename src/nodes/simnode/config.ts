// The config slice of the simnode kind: simulated chain nodes for the demo and the tests.

import { z } from 'zod';
import { name } from '../../config-kit/fields.ts';

export const simnodeKindConfig = z.strictObject({
  kind: z.literal('simnode'),
  /** Pool whose node this pool's nodes peer with (a sentry's validator). */
  validatorPool: name.optional(),
  /** Validator block interval in ms. Default 1000. */
  blockTimeMs: z.number().int().positive().optional(),
  /** Blocks per second a catching-up node applies. Default 200. */
  syncRate: z.number().positive().optional(),
  /** Transactions per second one node serves at full utilization. Default 50. */
  txCapacity: z.number().positive().optional(),
  /** Height a validator's chain starts at (an old chain takes long to sync from genesis). */
  startHeight: z.number().int().min(0).optional(),
  chainId: z.string().optional(),
  /** A node more than this many blocks behind the tip is not ready. Default 5, as for CometBFT. */
  maxLagBlocks: z.number().int().min(0).optional(),
});
