// The config slices of the coordination kinds (`controller.coordination`): who may act.

import { z } from 'zod';
import { durationDefault, kubeCluster, kubeName } from '../config-kit/fields.ts';
import type { CheckContext, Connection, Parts } from '../config-kit/plugin.ts';
import { kubeConnection } from '../kube/kube-client.ts';

/** One controller on one machine: an OS lock beside the sqlite store. */
export const embeddedCoordinationConfig = z.strictObject({ kind: z.literal('embedded') });

export const etcdCoordinationConfig = z.strictObject({
  /** Leader election and locks on the store's etcd cluster. */
  kind: z.literal('etcd'),
  /** Leadership lease; a replica that cannot renew it stops acting before it expires. Default 15s. */
  leaseTtl: durationDefault('15s', 'Leadership lease time-to-live.'),
});

export const kubeCoordinationConfig = z.strictObject({
  /** Leader election on a coordination.k8s.io Lease, for Rampart running in a cluster. */
  kind: z.literal('kubernetes'),
  cluster: kubeCluster,
  /** Namespace of the Lease. Default: the pod's own namespace, else default. */
  namespace: kubeName.optional(),
  /** Name of the Lease. Default rampart. */
  leaseName: kubeName.default('rampart'),
  /** Leadership lease; a replica that cannot renew it stops acting before it expires. Default 15s. */
  leaseTtl: durationDefault('15s', 'Leadership lease duration.'),
});

export type KubeCoordinationConfig = z.output<typeof kubeCoordinationConfig>;

/**
 * etcd leases are whole seconds and etcd grants at least about 2s; a replica renews every
 * TTL/3 and stops acting after TTL/3 of failed renewals, so shorter leases leave no margin.
 */
export function checkLeaseTtl(what: string) {
  return (c: Parts<{ readonly leaseTtl: number }>, ctx: CheckContext): void => {
    if (c.leaseTtl !== undefined && (c.leaseTtl < 2000 || c.leaseTtl % 1000 !== 0))
      ctx.add(
        ['controller', 'coordination', 'leaseTtl'],
        `${c.leaseTtl}ms is not allowed: ${what} are whole seconds, at least 2s`,
      );
  };
}

/** The cluster's API server, for controller.api.requireTls. */
export const kubeCoordinationConnections = (
  c: Parts<z.output<typeof kubeCoordinationConfig>>,
): Connection[] => [kubeConnection(c.cluster)];
