// The config slice of the kubernetes provider: a StatefulSet's replicas (workload) or a
// cluster's Nodes on another provider's machines (nodePool).

import { z } from 'zod';
import {
  kubeCluster,
  kubeName,
  name,
  positiveDuration,
  positiveDurationDefault,
} from '../../config-kit/fields.ts';
import {
  type Connection,
  kindOf,
  type Parts,
  type PoolCheck,
  type ProviderCheck,
} from '../../config-kit/plugin.ts';
import { kubeConnection } from '../../kube/kube-client.ts';

/** Volumes of a StatefulSet's new replicas, and what happens to them on scale-down. */
export const kubeVolumesConfig = z.strictObject({
  /** Name of the StatefulSet's volumeClaimTemplate holding the node's data. */
  claim: kubeName,
  /**
   * Where a new replica's data comes from: `volume-snapshot` (a PVC whose dataSource is the
   * newest ready VolumeSnapshot of the pool — clusters with CSI snapshots), `job` (a restore
   * Job fills a fresh PVC from the newest snapshot of `bootstrap.snapshots`, for hostPath or
   * local volumes), or `none` (an empty volume; the node syncs). Default none.
   */
  restore: z.enum(['volume-snapshot', 'job', 'none']).default('none'),
  /** VolumeSnapshotClass of the snapshots Rampart takes on scale-down. Default: the cluster's default class. */
  snapshotClass: kubeName.optional(),
  /** The restore Job's container (restore: job). It gets RAMPART_SNAPSHOT_URL and the volume at /data. */
  job: z
    .strictObject({
      image: z.string().min(1),
      command: z.array(z.string()).min(1),
      /** ServiceAccount the Job runs as (to reach the snapshot store). Default the namespace's default. */
      serviceAccount: kubeName.optional(),
    })
    .optional(),
  /**
   * What scale-down does with the removed replica's volume: `snapshot` (take a VolumeSnapshot,
   * wait until it is ready, then delete the claim), `retain` (keep the claim; a later replica
   * of that ordinal reuses it), `delete` (delete it without a snapshot: data is lost).
   * Default: snapshot with restore: volume-snapshot, else retain. Never delete unless written.
   */
  onScaleDown: z.enum(['snapshot', 'retain', 'delete']).optional(),
  /**
   * VolumeSnapshots Rampart took that are kept: the newest this many ready ones; older ones
   * go after each scale-down — never one a claim is still being restored from, nor one whose
   * replica's claim awaits its release. Snapshots Rampart did not take are never touched. Default 3.
   */
  keepSnapshots: z.number().int().min(1).default(3),
  /**
   * Take a VolumeSnapshot of a ready replica's claim on this schedule, while it serves (a
   * crash-consistent copy, as seed 000 snapshots a running sentry's disk), so new replicas
   * restore close to the tip even when the pool never scales down. Pruned like the others.
   * Absent: only on scale-down and when asked (`rampart snapshot create --images POOL`).
   */
  snapshotEvery: positiveDuration('6h').optional(),
  /** Longest wait for a VolumeSnapshot to be ready or a restore Job to finish. Default 10m. */
  timeout: positiveDurationDefault(
    '10m',
    'Longest wait for a VolumeSnapshot to be ready or a restore Job to finish.',
  ),
});

export const kubeProviderConfig = z
  .strictObject({
    name,
    kind: z.literal('kubernetes'),
    cluster: kubeCluster,
    /** Namespace of the StatefulSet. Default: the pod's own namespace, else default. */
    namespace: kubeName.optional(),
    /**
     * Workload pool: Rampart scales this StatefulSet (sentries, MPC nodes), one replica at a
     * time; each replica is a node. Replicas that were there before Rampart are left alone.
     */
    workload: z
      .strictObject({
        statefulSet: kubeName,
        volumes: kubeVolumesConfig.optional(),
        /**
         * Where each replica is reached, by Rampart and by the upstream it is wired to (a
         * sentry's validator): `pod-ip` (the pod IP and the template's named container
         * ports), `host-port` (its Node's IP and those ports' hostPorts), or `service` (a
         * Service of its own that Rampart makes, of `serviceType`). A validator outside the
         * cluster cannot reach pod IPs. Default pod-ip.
         */
        address: z.enum(['pod-ip', 'host-port', 'service']).default('pod-ip'),
        /** address: service — the type of each replica's Service. Default LoadBalancer. */
        serviceType: z.enum(['LoadBalancer', 'NodePort', 'ClusterIP']).default('LoadBalancer'),
        /**
         * A ConfigMap Rampart owns (creates if missing, writes): `node-<ordinal>` holds the
         * Rampart node id of each replica it added (a CometBFT pod's moniker), and the node
         * kind's settings for its pods (CometBFT: the validator's peers, the genesis).
         * Required when the pool's nodes are not kube-pod. Default none.
         */
        configMap: kubeName.optional(),
      })
      .optional(),
    /**
     * Node pool: each node is a Kubernetes Node on a machine of the `machines` provider (aws),
     * matched by providerID. Scale-down cordons, drains through the Eviction API (respecting
     * PodDisruptionBudgets), deletes the Node, then the machine.
     */
    nodePool: z
      .strictObject({
        /** Name of the provider (kind aws) whose machines become this pool's Nodes. */
        machines: name,
        /** Longest a drain may take; a drain still blocked then is given up, the node uncordoned. Default 5m. */
        drainTimeout: positiveDurationDefault('5m', 'Longest a drain may take before it is given up.'),
        /** Time between two eviction attempts of a pod a disruption budget protects. Default 5s. */
        evictionRetry: positiveDurationDefault('5s', 'Time between two eviction attempts of a blocked pod.'),
      })
      .optional(),
  })
  .superRefine((p, ctx) => {
    if ((p.workload === undefined) === (p.nodePool === undefined))
      ctx.addIssue({
        code: 'custom',
        path: [],
        message: 'give exactly one of workload (a StatefulSet) or nodePool (Nodes on machines)',
      });
    const v = p.workload?.volumes;
    if (v?.restore === 'job' && v.job === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['workload', 'volumes', 'job'],
        message: 'restore: job needs the job container',
      });
    if (v?.snapshotEvery !== undefined && v.restore !== 'volume-snapshot')
      ctx.addIssue({
        code: 'custom',
        path: ['workload', 'volumes', 'snapshotEvery'],
        message: `snapshotEvery takes VolumeSnapshots, which new replicas restore only with restore: volume-snapshot (restore is ${v.restore})`,
      });
  });

export type KubeProviderConfig = z.output<typeof kubeProviderConfig>;
export type KubeVolumesConfig = z.output<typeof kubeVolumesConfig>;

/** A kubernetes provider serves one pool, of the node kind its shape makes. */
export function checkKubePool(c: PoolCheck<KubeProviderConfig>): void {
  const { entry: provider, pool, set } = c;
  if (c.firstServed !== c.index)
    c.add(
      c.at('provider'),
      `kubernetes provider "${provider.name}" already serves pools[${c.firstServed}]: give each pool its own`,
    );
  const node = pool.node;
  // Which kind of pool the provider is hangs on workload: unknown if the schema refused it.
  if (provider.workload !== undefined || !c.refused([...(c.providerPath ?? []), 'workload'])) {
    // A StatefulSet's pods are kube-pod (judged by Kubernetes) or of a kind Rampart wires in pods.
    const wanted = provider.workload ? ['kube-pod', ...c.podKinds] : ['kube-node'];
    if (node?.kind !== undefined && !wanted.includes(node.kind))
      c.add(
        c.at('node', 'kind'),
        `provider "${provider.name}" is a ${provider.workload ? 'StatefulSet (workload)' : 'node pool'}: its nodes are ${wanted.join(' or ')}, not ${node.kind}`,
      );
    else if (
      provider.workload &&
      node?.kind !== undefined &&
      node.kind !== 'kube-pod' &&
      provider.workload.configMap === undefined &&
      !c.refused([...(c.providerPath ?? []), 'workload', 'configMap'])
    )
      c.add(
        [...(c.providerPath ?? ['providers']), 'workload', 'configMap'],
        `pool "${pool.name}" runs ${node.kind} nodes in pods: name the ConfigMap Rampart writes their node ids and peers to (workload.configMap)`,
      );
    const select = pool.scaleIn?.select;
    if (provider.workload && select !== undefined && select !== 'newest')
      c.add(
        c.at('scaleIn', 'select'),
        `a StatefulSet always removes its highest ordinal, the newest replica: write scaleIn: { select: newest } (not ${select})`,
      );
  }
  if (provider.workload?.volumes?.restore === 'job') {
    const setName = pool.bootstrap?.snapshots;
    if (setName === undefined && !c.refused(c.at('bootstrap', 'snapshots')))
      c.add(
        c.at('bootstrap', 'snapshots'),
        `provider "${provider.name}" restores with a Job: name the snapshot set it restores from`,
      );
    else if (set?.store?.kind !== undefined && set.store.kind !== 's3')
      c.add(
        c.at('bootstrap', 'snapshots'),
        `set "${set.name}" is in a ${set.store.kind} store, which a restore Job in the cluster cannot read: use an s3 store`,
      );
  }
}

/** A node pool's machines come from a machines provider that serves no pool of its own. */
export function checkNodePoolMachines(c: ProviderCheck<KubeProviderConfig>): void {
  const machinesName = c.entry.nodePool?.machines;
  if (machinesName === undefined) return;
  const machines = c.providers.find((p) => p?.name === machinesName);
  const at = c.at('nodePool', 'machines');
  if (!machines)
    c.add(
      at,
      `provider "${machinesName}" is not defined in providers (defined: ${c.providers.flatMap((p) => (p?.name === undefined ? [] : [p.name])).join(', ') || '(none defined)'})`,
    );
  else if (machines.kind === undefined) return;
  else if (!c.machineKinds.includes(machines.kind))
    c.add(
      at,
      `provider "${machines.name}" is ${machines.kind}: a node pool's machines come from an ${c.machineKinds.join(' or ')} provider`,
    );
  else if (c.pools.some((pool) => pool?.provider === machines.name))
    c.add(
      at,
      `provider "${machines.name}" already serves a pool directly: give the node pool machines of its own (a group or scale set no pool uses)`,
    );
  else if (
    c.providers.some(
      (o, j) =>
        j < c.index &&
        o?.kind === kindOf(kubeProviderConfig) &&
        (o as Parts<KubeProviderConfig>).nodePool?.machines === machines.name,
    )
  )
    c.add(at, `provider "${machines.name}" already backs another node pool`);
}

/** The cluster's API server, for controller.api.requireTls. */
export const kubeConnections = (e: Parts<KubeProviderConfig>): Connection[] => [kubeConnection(e.cluster)];
