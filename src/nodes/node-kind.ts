// The contract every node kind implements: how a node of this kind is launched, how to
// tell it is ready and healthy, and how it is wired to (and unwired from) its upstream.

import type { NodeKindCapabilities, NodeProbe } from '../core/types.ts';

export type { NodeKindCapabilities };

/** Where a node is reached: a host and its named ports. */
export interface NodeAddress {
  /** Rampart's id of the node. */
  readonly id: string;
  readonly host: string;
  readonly ports: Readonly<Record<string, number>>;
}

/** What a node kind needs to build a node's process or workload. */
export interface LaunchContext {
  readonly nodeId: string;
  readonly pool: string;
  readonly role: string;
  readonly host: string;
  readonly ports: Readonly<Record<string, number>>;
  readonly dataDir: string;
  /** Nodes of the pool's upstream (a sentry's validator), already running. */
  readonly upstream: readonly NodeAddress[];
  /**
   * The pool's other live nodes with a running instance, for kinds whose nodes form a
   * cluster among themselves (a new etcd member is added through them). Undefined where
   * the caller does not know them.
   */
  readonly siblings?: readonly NodeAddress[] | undefined;
  /**
   * Ready nodes of the pool's peer pool (a standby's sentries): a new node peers with and
   * syncs from them. Undefined when the pool has none.
   */
  readonly peers?: readonly NodeAddress[] | undefined;
  /** The pool's `node` block from the config, as validated. */
  readonly options: Readonly<Record<string, unknown>>;
  /** A snapshot to restore before the first start, when the pool bootstraps from one. */
  readonly snapshot?: RestoreSource | undefined;
  /** Set instead of `snapshot` when the new node joins by state sync (planStateSync). */
  readonly stateSync?: StateSyncPlan | undefined;
  /**
   * A warm spare: it follows the chain through `siblings` and public peers and never dials its
   * upstream, which learns of it only when a scale-up takes and registers it. Default false.
   */
  readonly warm?: boolean | undefined;
}

/**
 * How a new node joins by state sync: from the application snapshots its sources serve,
 * verified by a light client that trusts one header read from them beforehand.
 */
export interface StateSyncPlan {
  /** Caught-up nodes serving snapshots: light-client RPC servers and peers to fetch from. */
  readonly sources: readonly NodeAddress[];
  readonly trustHeight: number;
  readonly trustHash: string;
}

/** A verified snapshot a new node restores from. */
export interface RestoreSource {
  readonly id: string;
  readonly height: number;
  /**
   * Where a machine elsewhere fetches it from: `s3://bucket/prefix/set/id/` (manifest.json and
   * files/ under it). Absent for stores only this host can read (a local directory).
   */
  readonly url?: string | undefined;
  /** Copies the snapshot's files into `dir` (relative paths kept), verifying each checksum. */
  restoreInto(dir: string, onProgress?: (bytes: number, total: number) => void): Promise<void>;
}

/** Where a caught-up node stands, for a snapshot's manifest. */
export interface ChainPoint {
  readonly height: number;
  readonly chainId: string;
  readonly appHash: string;
}

/** What a node kind's snapshots hold. Never keys, never signing state. */
export interface SnapshotSupport {
  /** Reads height, chain id and app hash from the running node, just before it is stopped. */
  describe(node: NodeAddress, signal?: AbortSignal): Promise<ChainPoint>;
  /** Files of a stopped node's data dir to copy, relative to it. */
  files(dataDir: string): Promise<string[]>;
}

export interface ProcessSpec {
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
}

export interface ProbeContext {
  readonly role: string;
  /** Best height known for the chain (the upstream's or the pool's best), if any. */
  readonly tipHeight?: number | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** A change a clustered kind asks the controller to make to its cluster's membership. */
export interface MembershipStep {
  /** `promote`: a caught-up learner becomes a voting member; `remove-stale`: a dead entry goes. */
  readonly kind: 'promote' | 'remove-stale';
  /** The cluster's id of the member entry. */
  readonly memberId: string;
  /** The Rampart node it is, when it is one (a stale entry may belong to no live node). */
  readonly nodeId?: string | undefined;
  /** Why, in plain words. */
  readonly why: string;
}

/**
 * For kinds whose nodes form a cluster among themselves (etcd members) rather than wiring
 * to an upstream: the membership steps only the controller may take, and leaving.
 */
export interface ClusterMembership {
  /**
   * What the cluster needs now, given the pool's live nodes with a running instance: a
   * caught-up learner to promote, entries no running node accounts for to remove. Reads
   * only; an unreachable cluster needs nothing (the probes report it).
   */
  pending(nodes: readonly NodeAddress[], signal?: AbortSignal): Promise<MembershipStep[]>;
  /** Takes one step. Idempotent. Returns what it did. */
  apply(step: MembershipStep, nodes: readonly NodeAddress[]): Promise<string>;
  /**
   * Takes `node` out of the cluster before its process is stopped. Throws, changing
   * nothing, when that would be unsafe (below the quorum-safe size, another member down).
   * Idempotent: a node that is no member any more is done. Returns what it did.
   */
  leave(
    node: NodeAddress,
    others: readonly NodeAddress[],
    ctx: { readonly pool: string; readonly cause: string },
  ): Promise<string>;
}

export interface NodeKind {
  readonly kind: string;
  readonly capabilities: NodeKindCapabilities;
  /** Names of the ports a provider must allocate for a node, e.g. ['rpc', 'metrics']. */
  readonly portNames: readonly string[];
  /**
   * Prepares the node's data dir before its process first starts: config, genesis, a
   * restored snapshot. Runs once per instance, before processSpec.
   */
  prepare?(ctx: LaunchContext): Promise<void>;
  /**
   * For kinds whose new nodes can join by state sync: how this new node could, from the
   * pool's other running nodes. Undefined: it cannot now (no caught-up source, or the pool
   * never joins by state sync). Never throws. The controller picks between the plan, the file
   * snapshot and the network by `capabilities.stateSync` (core/join-choice.ts).
   */
  planStateSync?(ctx: {
    readonly siblings: readonly NodeAddress[];
    readonly signal?: AbortSignal | undefined;
  }): Promise<StateSyncPlan | undefined>;
  /**
   * For kinds whose nodes can run as pods the platform starts (a StatefulSet's): the
   * settings every pod of the pool reads when it starts, as files by name (a sentry's
   * validator peers, the genesis). The provider puts them where the pods read them (a
   * ConfigMap) before it adds a pod, and again when the upstream changes (a promotion).
   */
  podConfig?(
    ctx: Pick<LaunchContext, 'role' | 'upstream' | 'peers' | 'options'>,
  ): Promise<Record<string, string>>;
  /** The process a `local` provider runs for a node. */
  processSpec(ctx: LaunchContext): ProcessSpec;
  /** Present when this kind's nodes can be snapshotted. */
  readonly snapshots?: SnapshotSupport | undefined;
  /** The node's Prometheus text endpoint, if it has one. */
  metricsUrl(node: NodeAddress): string | undefined;
  /** Asks the node how it is. Never throws: an unreachable node is `reachable: false`. */
  probe(node: NodeAddress, ctx: ProbeContext): Promise<NodeProbe>;
  /** Wires a ready node to its upstream (a sentry to its validator). Idempotent. */
  register(node: NodeAddress, upstream: NodeAddress): Promise<void>;
  /** Unwires a node from its upstream before it is stopped. Idempotent. */
  deregister(node: NodeAddress, upstream: NodeAddress): Promise<void>;
  /** Ids of the nodes the upstream is connected to right now (invariant 4). */
  connectedPeers(upstream: NodeAddress, signal?: AbortSignal): Promise<string[]>;
  /** Present for kinds whose nodes form a cluster among themselves; they join one at a time. */
  readonly membership?: ClusterMembership | undefined;
  /**
   * True for kinds whose readiness the platform judges (a pod's or a Node's Ready
   * condition): the controller reads the provider's `Instance.status` instead of `probe`.
   */
  readonly judgedByPlatform?: boolean | undefined;
}
