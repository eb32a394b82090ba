// Every node kind Rampart can run, and how each is built from its pool's `node` entry: the one
// place that knows them all. A new kind is a folder beside this file and one line here; a
// config kind without a line is a type error. Elsewhere, code asks a kind what it can do
// (`NodeKind.capabilities`), never which kind it is.

import type { Config, NodeKindConfig, PoolConfig } from '../config/schema.ts';
import { createCometbftKind } from './cometbft/cometbft-kind.ts';
import { createEtcdMemberKind } from './etcd-member/etcd-member-kind.ts';
import { kubeNodeKind, kubePodKind } from './kube/kube-kinds.ts';
import type { NodeKind } from './node-kind.ts';
import { simnodeKind } from './simnode/simnode-kind.ts';

type Factories = {
  readonly [K in NodeKindConfig['kind']]: (
    options: Extract<NodeKindConfig, { kind: K }>,
    context: { readonly pool: PoolConfig; readonly config: Config },
  ) => NodeKind;
};

export const NODE_KINDS: Factories = {
  simnode: () => simnodeKind,
  cometbft: (options, { pool, config }) => {
    // A sentry reads its validator's options (its home, its peers) to wire itself to it; a
    // standby, those of the validator it stands by for (its app.toml's gas prices).
    const upstream = config.pools.find(
      (p) => p.name === options.validatorPool || (p.failover?.standbyPool === pool.name && p.name !== pool.name),
    )?.node;
    return createCometbftKind({
      options,
      upstreamOptions: upstream?.kind === options.kind ? upstream : undefined,
    });
  },
  'etcd-member': (options) => createEtcdMemberKind(options),
  'kube-pod': () => kubePodKind,
  'kube-node': () => kubeNodeKind,
};

/** Builds the node kind of a pool. */
export function createNodeKind(pool: PoolConfig, config: Config): NodeKind {
  const create = NODE_KINDS[pool.node.kind] as (
    options: NodeKindConfig,
    context: { pool: PoolConfig; config: Config },
  ) => NodeKind;
  return create(pool.node, { pool, config });
}
