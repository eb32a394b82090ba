// Every node kind Rampart can run: the slice of the config each reads (a pool's `node`), how
// each is built from it, and what the config checks ask of it. A new kind is a folder beside
// this file and one line here. Elsewhere, code asks a kind what it can do
// (`NodeKind.capabilities`), never which kind it is.

import type { z } from 'zod';
import {
  createFrom,
  type KindSchema,
  kindOf,
  type Plugin,
  type PoolCheck,
  pluginOf,
  unionOf,
} from '../config-kit/plugin.ts';
import { createCometbftKind } from './cometbft/cometbft-kind.ts';
import { type CometbftOptions, checkCometbftPool, cometbftKindConfig } from './cometbft/config.ts';
import { checkEtcdMemberPool, etcdMemberKindConfig } from './etcd-member/config.ts';
import { createEtcdMemberKind } from './etcd-member/etcd-member-kind.ts';
import { kubeNodeKindConfig, kubePodKindConfig } from './kube/config.ts';
import { kubeNodeKind, kubePodKind } from './kube/kube-kinds.ts';
import type { NodeKind } from './node-kind.ts';
import { simnodeKindConfig } from './simnode/config.ts';
import { createSimnodeKind, simnodeKind } from './simnode/simnode-kind.ts';

/** What a node kind is built with besides its pool's `node` entry. */
export interface NodeKindDeps {
  /** The `node` entry of the pool's validator (the one `validatorPool` names, or whose standby it is), if any. */
  readonly upstream: { readonly kind: string } | undefined;
}

/** A node kind, as the config and the wiring point see it. */
export interface NodeKindPlugin<S extends KindSchema = KindSchema> extends Plugin<S, NodeKindDeps, NodeKind> {
  /** Checks a pool of these nodes against the rest of the config. */
  checkPool?(c: PoolCheck<z.output<S>>): void;
  /** Failover can guard a validator of this kind (it reads CometBFT's RPC and commits). */
  readonly guardable?: boolean;
  /** Kubernetes judges these nodes: they come only from a provider that lists them in `platformNodes`. */
  readonly platformJudged?: boolean;
  /**
   * Its nodes can run as a StatefulSet's pods that Rampart probes and wires itself (the
   * pods read their settings from the ConfigMap its `podConfig` fills).
   */
  readonly inPods?: boolean;
}

const nodeKind = <S extends KindSchema>(p: NodeKindPlugin<S>) => p;

export const NODE_KINDS = [
  nodeKind({
    config: simnodeKindConfig,
    create: (options) =>
      options.maxLagBlocks === undefined
        ? simnodeKind
        : createSimnodeKind({ maxLagBlocks: options.maxLagBlocks }),
  }),
  nodeKind({
    config: cometbftKindConfig,
    create: (options, { upstream }) =>
      createCometbftKind({
        options,
        upstreamOptions: upstream?.kind === options.kind ? (upstream as CometbftOptions) : undefined,
      }),
    checkPool: checkCometbftPool,
    guardable: true,
    inPods: true,
  }),
  nodeKind({
    config: etcdMemberKindConfig,
    create: (options) => createEtcdMemberKind(options),
    checkPool: checkEtcdMemberPool,
  }),
  nodeKind({ config: kubePodKindConfig, create: () => kubePodKind, platformJudged: true }),
  nodeKind({ config: kubeNodeKindConfig, create: () => kubeNodeKind, platformJudged: true }),
] as const;

/** A pool's `node` entry: one of the registered slices. */
export const nodeKindConfig = unionOf(NODE_KINDS);
export type NodeKindConfig = z.output<typeof nodeKindConfig>;

/** The node kinds whose nodes Rampart runs and wires as a StatefulSet's pods. */
export const POD_KINDS: readonly string[] = NODE_KINDS.filter((k: NodeKindPlugin) => k.inPods).map((k) =>
  kindOf(k.config),
);

/** The plugin of a node kind. */
export const nodeKindPlugin = (kind: string): NodeKindPlugin =>
  pluginOf<NodeKindPlugin>(NODE_KINDS, kind, 'node');

/** Builds the node kind of a pool, given the pools of its config (to find its validator's). */
export function createNodeKind(
  pool: { readonly name: string; readonly node: NodeKindConfig },
  config: {
    readonly pools: readonly {
      readonly name: string;
      readonly node: NodeKindConfig;
      readonly failover?: { readonly standbyPool?: string | undefined } | undefined;
    }[];
  },
): NodeKind {
  // A sentry reads its validator's options (its home, its peers) to wire itself to it; a
  // standby, those of the validator it stands by for (its app.toml's gas prices).
  const upstream = config.pools.find(
    (p) =>
      p.name === pool.node.validatorPool || (p.failover?.standbyPool === pool.name && p.name !== pool.name),
  )?.node;
  return createFrom(NODE_KINDS, pool.node, { upstream }, 'node');
}
