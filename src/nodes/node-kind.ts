// The contract every node kind implements: how a node of this kind is launched, how to
// tell it is ready and healthy, and how it is wired to (and unwired from) its upstream.

import type { NodeProbe } from '../core/types.ts';

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
  /** The pool's `node` block from the config, as validated. */
  readonly options: Readonly<Record<string, unknown>>;
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

export interface NodeKind {
  readonly kind: string;
  /** Names of the ports a provider must allocate for a node, e.g. ['rpc', 'metrics']. */
  readonly portNames: readonly string[];
  /** The process a `local` provider runs for a node. */
  processSpec(ctx: LaunchContext): ProcessSpec;
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
}
