// CometBFT's JSON-RPC over HTTP, the part Rampart reads: /status and any other call by path.
// Shared by the node kind (readiness, wiring) and failover (outage detection, promote guards).

import type { NodeAddress } from '../node-kind.ts';

export async function rpc(
  node: NodeAddress,
  pathAndQuery: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<Record<string, unknown>> {
  const url = `http://${node.host}:${node.ports.rpc}${pathAndQuery}`;
  const signals = [AbortSignal.timeout(timeoutMs), ...(signal ? [signal] : [])];
  const res = await fetch(url, { signal: AbortSignal.any(signals) });
  const body = (await res.json()) as {
    result?: Record<string, unknown>;
    error?: { message?: string; data?: string };
  };
  if (body.error)
    throw new Error(
      `${url}: ${body.error.message ?? 'error'}${body.error.data ? `: ${body.error.data}` : ''}`,
    );
  if (!res.ok || !body.result) throw new Error(`${url}: HTTP ${res.status}`);
  return body.result;
}

export interface Status {
  readonly id: string;
  readonly moniker: string;
  readonly network: string;
  readonly height: number;
  readonly catchingUp: boolean;
  readonly appHash: string;
  /** Hash of the block at `height`: a light client may trust it. */
  readonly blockHash: string;
  /** The node's consensus address (hex), public: a validator's identity in commits. */
  readonly validatorAddress: string;
  /** Its voting power: 0 for a node that is not in the validator set. */
  readonly votingPower: number;
}

export async function status(node: NodeAddress, timeoutMs: number, signal?: AbortSignal): Promise<Status> {
  const r = await rpc(node, '/status', timeoutMs, signal);
  const info = r.node_info as { id: string; moniker: string; network: string };
  const sync = r.sync_info as {
    latest_block_height: string;
    latest_block_hash: string;
    catching_up: boolean;
    latest_app_hash: string;
  };
  const validator = r.validator_info as { address?: string; voting_power?: string } | undefined;
  return {
    id: info.id,
    moniker: info.moniker,
    network: info.network,
    height: Number(sync.latest_block_height),
    catchingUp: sync.catching_up,
    appHash: sync.latest_app_hash,
    blockHash: sync.latest_block_hash,
    validatorAddress: validator?.address ?? '',
    votingPower: Number(validator?.voting_power ?? 0),
  };
}

/** A peer as CometBFT's lists name it: `id@host:port` of its p2p port. */
export function peerAddress(id: string, node: NodeAddress): string {
  return `${id}@${node.host}:${node.ports.p2p}`;
}

/** The node's own `id@host:port`, its id read from its /status. */
export async function p2pAddress(node: NodeAddress, timeoutMs: number): Promise<string> {
  return peerAddress((await status(node, timeoutMs)).id, node);
}
