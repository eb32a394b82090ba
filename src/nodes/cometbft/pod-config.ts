// What a CometBFT sentry running as a pod reads when it starts, from the ConfigMap Rampart
// owns: its validator as a persistent, private and unconditional peer (as a local sentry's
// config.toml has it), the public peers it syncs from, and the genesis. A pod's start script
// passes them to `cometbft start` (docs/kubernetes.md, deploy/helm/cometbft-sentries).

import { readFile } from 'node:fs/promises';
import type { LaunchContext, NodeAddress } from '../node-kind.ts';
import type { CometbftOptions } from './config.ts';
import { peerAddress, rpc, status } from './rpc.ts';

/** A ConfigMap holds at most 1 MiB: a larger genesis must come with the pods (their chart), not from Rampart. */
export const MAX_GENESIS_IN_CONFIG_MAP = 900 * 1024;

/** The file names a sentry pod reads (each a ConfigMap key). */
export const POD_CONFIG_KEYS = {
  persistentPeers: 'persistent_peers',
  privatePeerIds: 'private_peer_ids',
  unconditionalPeerIds: 'unconditional_peer_ids',
  genesis: 'genesis.json',
} as const;

/**
 * The pool's pod settings: the upstream validators (their ids read from their RPC; one that
 * does not answer fails the call, as a local sentry's preparation does) and, for a standby,
 * its peer pool's sentries (those that answer), then the public peers.
 */
export async function cometbftPodConfig(
  o: CometbftOptions,
  ctx: Pick<LaunchContext, 'upstream' | 'peers'>,
  timeoutMs: number,
): Promise<Record<string, string>> {
  const validators = await Promise.all(
    ctx.upstream.map(async (u) => ({ u, id: (await status(u, timeoutMs)).id })),
  );
  const peers = (
    await Promise.all(
      (ctx.peers ?? []).map(async (u) => {
        try {
          return { u, id: (await status(u, timeoutMs)).id };
        } catch {
          return undefined;
        }
      }),
    )
  ).filter((p) => p !== undefined);
  const wired = [...validators, ...peers];
  const ids = wired.map((w) => w.id).join(',');
  const files: Record<string, string> = {
    [POD_CONFIG_KEYS.persistentPeers]: [...wired.map(({ u, id }) => peerAddress(id, u)), ...o.peers].join(
      ',',
    ),
    [POD_CONFIG_KEYS.privatePeerIds]: ids,
    [POD_CONFIG_KEYS.unconditionalPeerIds]: ids,
  };
  const genesis = await genesisText(o, ctx.upstream[0] ?? ctx.peers?.[0], timeoutMs);
  if (genesis !== undefined && Buffer.byteLength(genesis) <= MAX_GENESIS_IN_CONFIG_MAP)
    files[POD_CONFIG_KEYS.genesis] = genesis;
  return files;
}

async function genesisText(
  o: CometbftOptions,
  from: NodeAddress | undefined,
  timeoutMs: number,
): Promise<string | undefined> {
  if (o.genesis) return await readFile(o.genesis, 'utf8');
  if (!from) return undefined;
  const g = await rpc(from, '/genesis', timeoutMs);
  return `${JSON.stringify(g.genesis, null, 2)}\n`;
}
