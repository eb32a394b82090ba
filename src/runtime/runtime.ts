// The one wiring point: builds every adapter a config names (store, coordination, providers,
// node kinds, metric sources, snapshot stores) from their registries, and fences providers.

import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.ts';
import type { Coordination } from '../coordination/coordination.ts';
import { createCoordinationFrom } from '../coordination/registry.ts';
import type { MetricSource } from '../metrics/metric-source.ts';
import { createMetricSource } from '../metrics/registry.ts';
import type { NodeKind } from '../nodes/node-kind.ts';
import { createNodeKind } from '../nodes/registry.ts';
import type { Provider } from '../providers/provider.ts';
import { createProvider, providerPlugin } from '../providers/registry.ts';
import { createSnapshotStore } from '../snapshots/registry.ts';
import type { SnapshotStore } from '../snapshots/snapshot-store.ts';
import { createStoreFrom, storePlugin } from '../store/registry.ts';
import { StaleTermError, type Store } from '../store/store.ts';

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

/** The store `controller.store` names, not yet opened. */
export function createStore(config: Config): Store {
  return createStoreFrom(config.controller.store);
}

/** The file the config's store lives in, when it is one on this machine. */
export function storeFileOf(config: Config): string | undefined {
  const s = config.controller.store;
  return storePlugin(s.kind).file?.(s);
}

/** False when the config's store is a file on this machine that no controller has made yet. */
export function storeExists(config: Config): boolean {
  const file = storeFileOf(config);
  return file === undefined || existsSync(file);
}

/** The coordination `controller.coordination` names, fencing through `store`. */
export function createCoordination(config: Config, store: Store, log?: Logger): Coordination {
  return createCoordinationFrom(config.controller.coordination, {
    storeFile: storeFileOf(config),
    store,
    log,
  });
}

/**
 * The providers' fencing wrapper: a creation under a term older than the store's newest is
 * refused before the provider is asked (a deposed leader that has not noticed yet cannot
 * create a node). Removals carry no term; they are guarded by the leadership signal and by
 * their intent, which the store fences.
 */
export function fencedProvider(provider: Provider, store: Store, coordination?: Coordination): Provider {
  const fenced: Provider = {
    name: provider.name,
    kind: provider.kind,
    sharedRecord: provider.sharedRecord,
    list: () => provider.list(),
    create: async (req) => {
      const newest = await store.currentTerm();
      if (req.term < newest) throw new StaleTermError(req.term, newest);
      await coordination?.fence?.(req.term);
      return provider.create(req);
    },
    destroy: (instance, removal) => provider.destroy(instance, removal),
    // Baking an image stops and starts a node as a snapshot does: guarded like those.
    images: provider.images,
  };
  if (provider.stop) fenced.stop = provider.stop.bind(provider);
  if (provider.start) fenced.start = provider.start.bind(provider);
  if (provider.removalOrder) fenced.removalOrder = provider.removalOrder.bind(provider);
  if (provider.publishNodeConfig) fenced.publishNodeConfig = provider.publishNodeConfig.bind(provider);
  return fenced;
}

/** Everything a config needs, not yet opened. `log` hears coordination's own news. */
export function createRuntime(config: Config, opts: { log?: Logger | undefined } = {}): Runtime {
  const store = createStore(config);
  const coordination = createCoordination(config, store, opts.log);
  const kinds = new Map(config.pools.map((p) => [p.name, createNodeKind(p, config)]));
  const poolOf = (provider: string) => config.pools.find((pool) => pool.provider === provider)?.name;
  // A node pool's machines provider serves the node pool's pool, inside the kubernetes
  // provider only: the controller sees Nodes, never the machines beside them.
  const machinesName = (p: (typeof config.providers)[number]) => providerPlugin(p.kind).machinesOf?.(p);
  const machinesOf = new Set(config.providers.map(machinesName));
  const providers = new Map<string, Provider>();
  for (const p of config.providers) {
    if (machinesOf.has(p.name)) continue;
    let machines: Provider | undefined;
    const m = config.providers.find((x) => x.name === machinesName(p));
    if (m) machines = createProvider(m, { pool: poolOf(p.name), log: opts.log });
    providers.set(
      p.name,
      fencedProvider(
        createProvider(p, { pool: poolOf(p.name), log: opts.log, machines }),
        store,
        coordination,
      ),
    );
  }
  return {
    config,
    store,
    coordination,
    providers,
    metricSources: new Map(config.metrics.map((m) => [m.name, createMetricSource(m)])),
    snapshotStores: new Map(config.snapshots.map((s) => [s.name, createSnapshotStore(s.store)])),
    nodeKind: (pool) => {
      const k = kinds.get(pool);
      if (!k) throw new Error(`pool "${pool}" is not in the config`);
      return k;
    },
  };
}
