// Pure readings of an etcd member list against the pool's nodes: which entry is which node,
// which entries no running node accounts for, the initial-cluster flag of a joining member,
// and whether taking a member out is quorum-safe. No I/O: the kind does the asking.

import type { Member } from './members-api.ts';

/** A node of the pool as the member list knows it: its name is the Rampart node id. */
export interface PoolMemberRef {
  readonly id: string;
  readonly peerUrl: string;
}

/** The entry of `node`: by name once it has started, by peer URL before (an unstarted entry has no name). */
export function entryOf(members: readonly Member[], node: PoolMemberRef): Member | undefined {
  return members.find((m) => m.name === node.id) ?? members.find((m) => m.peerURLs.includes(node.peerUrl));
}

/** Entries that none of `nodes` accounts for: left by a member whose node is gone, or by a join that never started. */
export function unaccountedEntries(members: readonly Member[], nodes: readonly PoolMemberRef[]): Member[] {
  const names = new Set(nodes.map((n) => n.id));
  const peers = new Set(nodes.map((n) => n.peerUrl));
  return members.filter((m) => !names.has(m.name) && !m.peerURLs.some((u) => peers.has(u)));
}

/**
 * `--initial-cluster` for a member just added: every started member by name, and the new
 * one under its own name (what `etcdctl member add` prints). Other unstarted entries have
 * no name to list and are left out; the joining member learns them from the cluster.
 */
export function initialClusterFor(members: readonly Member[], added: Member, name: string): string {
  const parts: string[] = [];
  for (const m of members) {
    const n = m.id === added.id ? name : m.name;
    if (!n) continue;
    for (const url of m.peerURLs) parts.push(`${n}=${url}`);
  }
  return parts.join(',');
}

/** How an entry reads in messages: its name, or that it never started, and its id. */
export function describeEntry(m: Member): string {
  return `${m.name ? `"${m.name}"` : `unstarted ${m.peerURLs.join(',')}`} (id ${m.id})`;
}

export interface RemovalCheck {
  readonly pool: string;
  readonly nodeId: string;
  /** Voting members now, the one leaving included. */
  readonly voters: number;
  /** Fewest voting members a removal may leave (node.minMembers). */
  readonly minMembers: number;
  /** Other voting members that did not answer /health as healthy, described. */
  readonly unhealthyOthers: readonly string[];
}

/**
 * Why taking a live voting member out is refused, or undefined when it is safe: it must
 * leave at least `minMembers` voters, all of them healthy (a voter removed while another is
 * down can take the cluster below quorum: 5 voters with 2 down keep 3 of 5, 4 with 2 down
 * keep 2 of 4).
 */
export function removalRefusal(c: RemovalCheck): string | undefined {
  const after = c.voters - 1;
  if (after < c.minMembers)
    return `pool ${c.pool}: removing member ${c.nodeId} would leave ${after} voting member(s) of ${c.voters}, below the quorum-safe minimum of ${c.minMembers} (node.minMembers): kept it`;
  if (c.unhealthyOthers.length > 0)
    return `pool ${c.pool}: removing member ${c.nodeId} while ${c.unhealthyOthers.join(', ')} ${c.unhealthyOthers.length === 1 ? 'is' : 'are'} not healthy could cost the cluster its quorum (${c.voters} voting members, ${c.voters - c.unhealthyOthers.length} healthy): kept it`;
  return undefined;
}
