// The config slice of the cometbft kind: CometBFT validators, sentries and standbys.

import { z } from 'zod';
import { filePath, name, programPath } from '../../config-kit/fields.ts';
import { kindOf, type PoolCheck } from '../../config-kit/plugin.ts';

/** Binaries the cometbft node kind knows by name: cometbft, and Cosmos SDK daemons. */
export const KNOWN_CHAIN_DAEMONS: readonly string[] = ['cometbft', 'gaiad', 'simd'];

export const cometbftKindConfig = z
  .strictObject({
    kind: z.literal('cometbft'),
    /** Pool whose validator this pool's nodes are sentries of. */
    validatorPool: name.optional(),
    /**
     * Validator pools only: the operator's CometBFT home (keys, config). Rampart runs the
     * validator from it and never creates, copies or moves its keys.
     */
    home: filePath(0).optional(),
    /**
     * The node's binary: cometbft, or a chain daemon with CometBFT and the application in one
     * process (gaiad). Default: $RAMPART_COMETBFT, the testbed cache's cometbft, then PATH.
     */
    binary: programPath().optional(),
    /**
     * A chain daemon Rampart does not know by its name (KNOWN_CHAIN_DAEMONS): how it makes a
     * home and starts. `{}` says it is a Cosmos SDK daemon (the SDK's init and start).
     */
    daemon: z
      .strictObject({
        /** Arguments that make a home; {moniker}, {chainId} and {home} are filled in. */
        init: z
          .array(z.string())
          .default(['init', '{moniker}', '--chain-id', '{chainId}', '--home', '{home}']),
        /** Arguments that start the node from {home}; Rampart adds CometBFT's node flags after them. */
        start: z.array(z.string()).default(['start', '--home', '{home}']),
        /** Whether the daemon has a Cosmos SDK app.toml beside config.toml. Default true. */
        appToml: z.boolean().default(true),
      })
      .optional(),
    /** Chain daemons: the app.toml settings Rampart owns on the nodes it creates (not the validator). */
    app: z
      .strictObject({
        /** e.g. 0.005uatom. Default: the validator home's own minimum-gas-prices. */
        minimumGasPrices: z.string().optional(),
        /** The SDK's pruning strategy for new nodes. Default `default`. */
        pruning: z.enum(['default', 'nothing', 'everything']).default('default'),
        /** Take a state-sync snapshot every N blocks (0: none). Default 0. */
        snapshotInterval: z.number().int().min(0).default(0),
        /** State-sync snapshots to keep. Default 2. */
        snapshotKeepRecent: z.number().int().min(0).default(2),
      })
      .optional(),
    /**
     * New nodes join by CometBFT state sync from the pool's caught-up nodes, which serve the
     * snapshots app.snapshotInterval makes them take: `prefer` it to a file snapshot, use it
     * as the `fallback` when the pool has none yet, or let Rampart pick (`auto`) the way the
     * pool last measured faster from create to ready (bootstrap.snapshots needed). Default: never.
     */
    stateSync: z.enum(['prefer', 'fallback', 'auto']).optional(),
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
  })
  // The checks that span its fields.
  .superRefine((o, ctx) => {
    const daemon = o.binary?.split('/').pop();
    if (daemon !== undefined && o.daemon === undefined && !KNOWN_CHAIN_DAEMONS.includes(daemon))
      ctx.addIssue({
        code: 'custom',
        path: ['binary'],
        message: `${daemon} is not a daemon Rampart knows (${KNOWN_CHAIN_DAEMONS.join(', ')}): add daemon: {} for a Cosmos SDK daemon, or daemon: { init: [...], start: [...] }`,
      });
    if (o.stateSync !== undefined && !(o.app?.snapshotInterval ?? 0))
      ctx.addIssue({
        code: 'custom',
        path: ['stateSync'],
        message:
          'state sync needs nodes that serve snapshots: set app.snapshotInterval (blocks between snapshots) above 0',
      });
  });

export type CometbftOptions = z.output<typeof cometbftKindConfig>;

/** `stateSync: auto` has a file snapshot to measure against; a standby's peer pool is defined, and never the validator. */
export function checkCometbftPool(c: PoolCheck<CometbftOptions>): void {
  if (c.entry.stateSync === 'auto' && c.pool.bootstrap?.snapshots === undefined)
    c.add(
      c.at('node', 'stateSync'),
      'auto picks between state sync and a file snapshot by their measured times: set bootstrap.snapshots, or stateSync: prefer',
    );
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
