// A failover test bed: a chain of four validators in which the guarded one holds 1 of 31
// voting power (the chain goes on without it), a public full node, a webhook that records
// the alerts it receives, and the Rampart config guarding validator 0 with two sentries and a
// standby pool restored from snapshots. The chain runs on bare CometBFT or on gaiad (a Cosmos
// SDK daemon, its genesis made by gaiad's own commands). Shared by the failover test and
// benchmark.

import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import { createNetwork, type Network } from './cometbft-net.ts';
import { createGaiaChain } from './gaia-chain.ts';
import { type HttpFixture, startHttpFixture } from './http-fixture.ts';

export interface HookedAlert {
  readonly at: number;
  readonly body: { status: string; severity: string; key: string; summary: string };
}

export interface FailoverBed {
  readonly net: Network;
  readonly guardedHome: string;
  /** The guarded validator's consensus address (public, from its key file's address field). */
  readonly guardedAddress: string;
  /** Alerts the webhook received, in order. */
  readonly hooked: HookedAlert[];
  readonly hook: HttpFixture;
  /** The Rampart config; `detect` replaces the failover's detect block (default: the defaults). */
  config(detect?: string): string;
  cleanup(): Promise<void>;
}

/** What runs the chain's nodes: bare CometBFT (its kvstore app) or the gaiad chain daemon. */
export type BedDaemon = 'cometbft' | 'gaiad';

export async function startFailoverBed(daemon: BedDaemon = 'cometbft'): Promise<FailoverBed> {
  const shape = { validators: 4, fullNodes: 1, timeoutCommit: '500ms', powers: [1, 10, 10, 10] };
  const gaia = daemon === 'gaiad' ? await createGaiaChain(shape) : undefined;
  const net = gaia ?? (await createNetwork(shape));
  // The node kind's binary: the testbed's cometbft by default, gaiad named.
  const binary = gaia ? `, binary: ${gaia.binary}` : '';
  for (const v of net.validators.slice(1)) await net.start(v);
  const publicNode = net.fullNodes[0]!;
  await net.start(publicNode);
  const guardedHome = net.validators[0]!.home;
  const guardedAddress = (
    JSON.parse(readFileSync(path.join(guardedHome, 'config', 'priv_validator_key.json'), 'utf8')) as {
      address: string;
    }
  ).address;
  const hooked: HookedAlert[] = [];
  const hook = await startHttpFixture((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      hooked.push({ at: Date.now(), body: JSON.parse(body) });
      res.writeHead(204).end();
    });
  });
  return {
    net,
    guardedHome,
    guardedAddress,
    hooked,
    hook,
    config: (detect) => `version: 1
controller:
  evaluationInterval: 500ms
  store: { kind: sqlite, path: state.db }
providers:
  - { name: here, kind: local, dataDir: nodes }
alerts:
  receivers: [ { kind: webhook, url: "${hook.url}/hook" } ]
pools:
  - name: validator
    role: validator
    provider: here
    node: { kind: cometbft${binary}, home: ${guardedHome}, doubleSignCheckHeight: 10 }
    health: { checkInterval: 500ms }
    failover:
      ${detect ? `detect: ${detect}` : 'detect: {}'}
      standbyPool: standby
      fenceBlocks: 10
  - name: sentries
    role: sentry
    provider: here
    node: { kind: cometbft${binary}, validatorPool: validator, peers: ["${publicNode.p2pAddress}"], maxLagBlocks: 10 }
    size: { min: 1, capacity: 2, max: 2 }
    health: { checkInterval: 500ms, joinTimeout: 120s }
  - name: standby
    role: standby
    provider: here
    node: { kind: cometbft${binary}, peerPool: sentries, maxLagBlocks: 10 }
    size: { min: 0, capacity: 0, max: 1 }
    bootstrap: { snapshots: chain }
    health: { checkInterval: 500ms, joinTimeout: 180s }
snapshots:
  - { name: chain, from: sentries, every: 1h, keep: 2, store: { kind: directory, path: snaps } }
`,
    cleanup: async () => {
      await hook.close();
      await net.cleanup();
    },
  };
}
