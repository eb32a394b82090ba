// The config slice of the etcd-member kind: members of an etcd cluster (seed 003).

import { z } from 'zod';
import { positiveDurationDefault, programPath } from '../../config-kit/fields.ts';
import type { PoolCheck } from '../../config-kit/plugin.ts';

export const etcdMemberKindConfig = z.strictObject({
  kind: z.literal('etcd-member'),
  /** etcd members form their own cluster: they have no upstream pool. */
  validatorPool: z
    .custom<undefined>((v) => v === undefined, {
      message: 'etcd members form their own cluster: they have no validatorPool',
    })
    .optional(),
  /** etcd binary. Default: $RAMPART_ETCD, then /usr/bin/etcd. */
  binary: programPath().optional(),
  /** New members join as raft learners (non-voting) and are promoted once caught up. Default true. */
  learner: z.boolean().default(true),
  /**
   * A member more than this many raft entries behind the leader's committed index is not
   * ready (and a learner is not promoted). Default 1000.
   */
  maxLagEntries: z.number().int().min(0).default(1000),
  /**
   * Quorum-safe minimum: fewest voting members a removal of a live member may leave.
   * size.min may not be below it. Default 3 (a cluster that survives one member's loss).
   */
  minMembers: z.number().int().min(1).default(3),
  /** Longest wait for one call to a member (membership, status, health). Default 2s. */
  timeout: positiveDurationDefault('2s', 'Longest wait for one call to an etcd member.'),
  /** Extra flags for every member, e.g. --quota-backend-bytes=…, --auto-compaction-retention=1h. Default none. */
  extraArgs: z.array(z.string()).default([]),
});

export type EtcdMemberOptions = z.output<typeof etcdMemberKindConfig>;

/** A pool of members: role member, a min the quorum allows, no snapshots to restore. */
export function checkEtcdMemberPool(c: PoolCheck<EtcdMemberOptions>): void {
  const { pool } = c;
  const { minMembers } = c.entry;
  const size = pool.size;
  if (pool.role !== undefined && pool.role !== 'member')
    c.add(c.at('role'), `a pool of etcd members has role member, not ${pool.role}`);
  if (size?.min !== undefined && minMembers !== undefined && size.min < minMembers)
    c.add(
      c.at('size', 'min'),
      `min (${size.min}) is below node.minMembers (${minMembers}), the quorum-safe size of this etcd cluster: raise min, or lower node.minMembers to accept a cluster that cannot lose a member`,
    );
  if (pool.bootstrap)
    c.add(
      c.at('bootstrap'),
      'etcd members do not restore from snapshots: a new member gets its data from the cluster',
    );
}
