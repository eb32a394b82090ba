// Which node a snapshot is taken from: never a validator, never a node the validator needs.
// A node of a pool without an upstream (a dedicated full node) is always fine; a sentry only
// while its pool has more ready nodes than min. Otherwise the snapshot is skipped, with why.

import type { NodeRecord } from './node-lifecycle.ts';
import type { PoolPolicy } from './policy.ts';

export type SnapshotSource =
  | { readonly nodeId: string; readonly why: string }
  /**
   * `waitable`: skipped for the pool's present state (too few ready nodes, another one stopped),
   * which changes as the pool moves; an operator's request may wait for it. Absent: never here.
   */
  | { readonly skip: string; readonly waitable?: true };

export function selectSnapshotSource(
  policy: PoolPolicy,
  nodes: readonly NodeRecord[],
  opts: {
    readonly hasUpstream: boolean;
    readonly connectedToUpstream?: ReadonlySet<string> | undefined;
    /** Copied while it serves (a live volume snapshot): no node leaves, so min does not bind. */
    readonly live?: boolean | undefined;
  },
): SnapshotSource {
  if (policy.role === 'validator')
    return { skip: `pool ${policy.name} is a validator pool: never snapshotted` };
  const ready = nodes.filter((n) => n.state === 'ready' && n.maintenance === undefined);
  if (ready.length === 0) return { skip: `pool ${policy.name} has no ready node to copy`, waitable: true };
  if (nodes.some((n) => n.maintenance !== undefined))
    return { skip: `a node of pool ${policy.name} is already stopped for maintenance`, waitable: true };
  // A warm spare serves no one: the best source whatever the count (the newest, if several).
  const spare = ready.filter((n) => n.warm).sort((a, b) => b.createdAt - a.createdAt)[0];
  if (spare) return { nodeId: spare.id, why: 'a warm spare: it serves no one while it is copied' };
  const min = policy.size?.min ?? 0;
  if (opts.hasUpstream && !opts.live && ready.length <= min)
    return {
      skip: `pool ${policy.name} has ${ready.length} ready node(s), not more than min ${min}: every one is needed by the validator`,
      waitable: true,
    };
  // Prefer a node the validator is not connected to, then the newest (least peering lost).
  const connected = opts.connectedToUpstream ?? new Set<string>();
  const ordered = [...ready].sort(
    (a, b) => Number(connected.has(a.id)) - Number(connected.has(b.id)) || b.createdAt - a.createdAt,
  );
  const pick = ordered[0]!;
  return {
    nodeId: pick.id,
    why: opts.live
      ? `copied while it serves; ${connected.has(pick.id) ? 'newest' : 'not connected to the validator'}`
      : opts.hasUpstream
        ? `${ready.length} ready > min ${min}; ${connected.has(pick.id) ? 'newest' : 'not connected to the validator'}`
        : 'caught-up node of a pool with no validator',
  };
}
