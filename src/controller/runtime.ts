// Builds the adapters a config names: store, coordination, providers, node kinds and
// metric sources. Each factory refuses a kind it does not know instead of guessing.

import path from 'node:path';
import type {
  Config,
  MetricSourceConfig,
  NodeKindConfig,
  PoolConfig,
  ProviderConfig,
} from '../config/schema.ts';
import type { Coordination } from '../coordination/coordination.ts';
import { EmbeddedCoordination } from '../coordination/embedded.ts';
import { createMetricSource } from '../metrics/create-metric-source.ts';
import type { MetricSource } from '../metrics/metric-source.ts';
import { createCometbftKind } from '../nodes/cometbft/cometbft-kind.ts';
import type { NodeKind } from '../nodes/node-kind.ts';
import { simnodeKind } from '../nodes/simnode/simnode-kind.ts';
import { LocalProvider } from '../providers/local/local-provider.ts';
import type { Provider } from '../providers/provider.ts';
import { createSnapshotStore } from '../snapshots/create-snapshot-store.ts';
import type { SnapshotStore } from '../snapshots/snapshot-store.ts';
import { SqliteStore } from '../store/sqlite-store.ts';
import type { Store } from '../store/store.ts';

export interface Runtime {
  readonly config: Config;
  readonly store: Store;
  readonly coordination: Coordination;
  readonly providers: ReadonlyMap<string, Provider>;
  readonly metricSources: ReadonlyMap<string, MetricSource>;
  /** The store of each snapshot set, by set name. */
  readonly snapshotStores: ReadonlyMap<string, SnapshotStore>;
  nodeKind(pool: string): NodeKind;
}

export function createStore(config: Config): Store {
  const s = config.controller.store;
  switch (s.kind) {
    case 'sqlite':
      return new SqliteStore(s.path);
  }
}

export function createCoordination(config: Config, store: Store): Coordination {
  const c = config.controller.coordination;
  switch (c.kind) {
    case 'embedded': {
      const s = config.controller.store;
      return new EmbeddedCoordination(store, `${path.resolve(s.path)}.lock`);
    }
  }
}

export function createProvider(p: ProviderConfig): Provider {
  switch (p.kind) {
    case 'local':
      return new LocalProvider({ name: p.name, dataDir: p.dataDir, host: p.host });
  }
}

export function createNodeKind(pool: PoolConfig, config: Config): NodeKind {
  const n: NodeKindConfig = pool.node;
  switch (n.kind) {
    case 'simnode':
      return simnodeKind;
    case 'cometbft': {
      const upstream = config.pools.find((p) => p.name === n.validatorPool)?.node;
      return createCometbftKind({
        options: n,
        upstreamOptions: upstream?.kind === 'cometbft' ? upstream : undefined,
      });
    }
  }
}

function metricSourceFor(m: MetricSourceConfig): MetricSource {
  return createMetricSource({
    name: m.name,
    kind: m.kind,
    timeoutMs: m.timeout,
    ...(m.kind === 'prometheus' ? { url: m.url, nodeLabel: m.nodeLabel } : {}),
    ...(m.kind === 'netdata' ? { urlTemplate: m.urlTemplate } : {}),
  });
}

/** Everything a config needs, not yet opened. */
export function createRuntime(config: Config): Runtime {
  const store = createStore(config);
  const kinds = new Map(config.pools.map((p) => [p.name, createNodeKind(p, config)]));
  return {
    config,
    store,
    coordination: createCoordination(config, store),
    providers: new Map(config.providers.map((p) => [p.name, createProvider(p)])),
    metricSources: new Map(config.metrics.map((m) => [m.name, metricSourceFor(m)])),
    snapshotStores: new Map(config.snapshots.map((s) => [s.name, createSnapshotStore(s.store)])),
    nodeKind: (pool) => {
      const k = kinds.get(pool);
      if (!k) throw new Error(`pool "${pool}" is not in the config`);
      return k;
    },
  };
}
