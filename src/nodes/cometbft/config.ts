// The config slice of the cometbft kind: CometBFT validators, sentries and standbys.

import { z } from 'zod';
import { filePath, name, programPath } from '../../config-kit/fields.ts';
import { kindOf, type PoolCheck } from '../../config-kit/plugin.ts';

export const cometbftKindConfig = z.strictObject({
  kind: z.literal('cometbft'),
  /** Pool whose validator this pool's nodes are sentries of. */
  validatorPool: name.optional(),
  /**
   * Validator pools only: the operator's CometBFT home (keys, config). Rampart runs the
   * validator from it and never creates, copies or moves its keys.
   */
  home: filePath(0).optional(),
  /** cometbft binary. Default: $RAMPART_COMETBFT, the testbed cache, then PATH. */
  binary: programPath().optional(),
  /** ABCI application. Default persistent_kvstore (CometBFT's built-in, state on disk). */
  proxyApp: z.string().default('persistent_kvstore'),
  /** genesis.json for new nodes. Default: fetched from the validator's RPC /genesis. */
  genesis: filePath(0).optional(),
  /** Public peers (id@host:port) new nodes sync from before they are registered. */
  peers: z
    .array(
      z
        .string()
        .regex(/^[0-9a-f]{40}@[^@\s]+:\d{1,5}$/, { message: 'a peer as id@host:port (40 hex digits id)' }),
    )
    .default([]),
  /** A node more than this many blocks behind the tip is not ready. Default 5. */
  maxLagBlocks: z.number().int().min(0).default(5),
  /** Validators: refuse to start if the key signed in the last N blocks. Default 10. */
  doubleSignCheckHeight: z.number().int().min(0).default(10),
  /**
   * Standby pools: the pool whose ready nodes a new node peers with and syncs from (the
   * validator's sentries), as persistent, private and unconditional peers. Default none.
   */
  peerPool: name.optional(),
});

export type CometbftOptions = z.output<typeof cometbftKindConfig>;

/** A standby's peer pool: defined, and never the validator itself. */
export function checkCometbftPool(c: PoolCheck<CometbftOptions>): void {
  const peerPool = c.entry.peerPool;
  if (peerPool === undefined) return;
  const peers = c.pools.find((p) => p?.name === peerPool);
  if (!peers) c.add(c.at('node', 'peerPool'), `pool "${peerPool}" is not defined in pools`);
  else if (peers.role === 'validator')
    c.add(c.at('node', 'peerPool'), 'peer with the sentries, never with the validator directly');
}

/** Whether a pool's `node` entry is CometBFT's (failover reads its RPC and installs its signer). */
export function isCometbftNode(node: { readonly kind: string }): node is CometbftOptions {
  return node.kind === kindOf(cometbftKindConfig);
}
