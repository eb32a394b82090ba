// What the chain itself says about a validator, read from a node's CometBFT RPC: whose
// signatures a commit holds, and the last block a validator's key signed. Failover judges
// the validator from these (through its sentries), never from the validator alone.

import { rpc, status } from '../nodes/cometbft/rpc.ts';
import type { NodeAddress } from '../nodes/node-kind.ts';

/** CometBFT's BlockIDFlagCommit: the validator precommitted this block. */
const FLAG_COMMIT = 2;

export interface CommitSigners {
  readonly height: number;
  readonly round: number;
  /** Consensus addresses (upper-case hex) that signed the commit for the block. */
  readonly signers: ReadonlySet<string>;
}

export async function commitAt(
  node: NodeAddress,
  height: number,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<CommitSigners> {
  const r = await rpc(node, `/commit?height=${height}`, timeoutMs, signal);
  const commit = (r.signed_header as { commit: { round: number; signatures: Sig[] } }).commit;
  const signers = new Set<string>();
  for (const s of commit.signatures ?? [])
    if (s.block_id_flag === FLAG_COMMIT && s.validator_address)
      signers.add(s.validator_address.toUpperCase());
  return { height, round: Number(commit.round), signers };
}

interface Sig {
  readonly block_id_flag: number;
  readonly validator_address?: string;
}

/**
 * Whether `address` signed each of the `n` most recent settled commits `node` knows, newest
 * first (heights top−1, top−2, …: the commit of the top block is not final yet).
 */
export async function recentSignatures(
  node: NodeAddress,
  top: number,
  address: string,
  n: number,
  timeoutMs: number,
  signal?: AbortSignal,
  /** Only commits above this height: the validator cannot have signed below where it was first seen. */
  above = 0,
): Promise<boolean[]> {
  const heights: number[] = [];
  for (let h = top - 1; h > above && h >= 1 && heights.length < n; h--) heights.push(h);
  const commits = await Promise.all(heights.map((h) => commitAt(node, h, timeoutMs, signal)));
  const want = address.toUpperCase();
  return commits.map((c) => c.signers.has(want));
}

/**
 * The most recent commit (height and round) at or below `top` that `address` signed,
 * searching back at most `searchBack` heights; undefined when none of them.
 */
export async function lastSignedCommit(
  node: NodeAddress,
  top: number,
  address: string,
  searchBack: number,
  timeoutMs: number,
): Promise<{ height: number; round: number } | undefined> {
  const want = address.toUpperCase();
  const batch = 10;
  for (let hi = top; hi >= 1 && hi > top - searchBack; hi -= batch) {
    const heights: number[] = [];
    for (let h = hi; h > hi - batch && h >= 1 && h > top - searchBack; h--) heights.push(h);
    const commits = await Promise.all(heights.map((h) => commitAt(node, h, timeoutMs)));
    const hit = commits.find((c) => c.signers.has(want));
    if (hit) return { height: hit.height, round: hit.round };
  }
  return undefined;
}

/** The highest of the nodes that answer /status (the network's view), or undefined when none does. */
export async function highestNode(
  nodes: readonly NodeAddress[],
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<{ node: NodeAddress; height: number } | undefined> {
  const answers = await Promise.all(
    nodes.map(async (node) => {
      try {
        return { node, height: (await status(node, timeoutMs, signal)).height };
      } catch {
        return undefined;
      }
    }),
  );
  return answers.filter((a) => a !== undefined).sort((a, b) => b.height - a.height)[0];
}
