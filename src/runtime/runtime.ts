// Builds the adapters a config names: store, coordination, providers, node kinds and
// metric sources. Each factory refuses a kind it does not know instead of guessing.

import path from 'node:path';
import type { Logger } from 'pino';
import type {
  Config,
  MetricSourceConfig,
  NodeKindConfig,
  PoolConfig,
  ProviderConfig,
} from '../config/schema.ts';
import type { Coordination } from '../coordination/coordination.ts';
import { EmbeddedCoordination } from '../coordination/embedded.ts';
import { EtcdCoordination } from '../coordination/etcd.ts';
import { KubernetesCoordination } from '../coordination/kubernetes.ts';
import { KubeClient } from '../kube/kube-client.ts';
import { createMetricSource } from '../metrics/create-metric-source.ts';
import { KubernetesMetricsSource } from '../metrics/kubernetes.ts';
import type { MetricSource } from '../metrics/metric-source.ts';
import { createCometbftKind } from '../nodes/cometbft/cometbft-kind.ts';
import { createEtcdMemberKind } from '../nodes/etcd-member/etcd-member-kind.ts';
import { kubeNodeKind, kubePodKind } from '../nodes/kube/kube-kinds.ts';
import type { NodeKind } from '../nodes/node-kind.ts';
import { simnodeKind } from '../nodes/simnode/simnode-kind.ts';
import { AwsProvider } from '../providers/aws/aws-provider.ts';
import { NodePoolProvider } from '../providers/kubernetes/node-pool-provider.ts';
import { StatefulSetProvider } from '../providers/kubernetes/stateful-set-provider.ts';
import { LocalProvider } from '../providers/local/local-provider.ts';
import type { Provider } from '../providers/provider.ts';
import { createSnapshotStore } from '../snapshots/create-snapshot-store.ts';
import type { SnapshotStore } from '../snapshots/snapshot-store.ts';
import { EtcdStore } from '../store/etcd-store.ts';
import { SqliteStore } from '../store/sqlite-store.ts';
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

export function createStore(config: Config): Store {
  const s = config.controller.store;
  switch (s.kind) {
    case 'sqlite':
      return new SqliteStore(s.path);
    case 'etcd':
      return new EtcdStore({
        endpoints: s.endpoints,
        prefix: s.prefix,
        tls: s.tls,
        auth: s.auth,
        timeoutMs: s.timeout,
      });
  }
}

export function createCoordination(config: Config, store: Store, log?: Logger): Coordination {
  const c = config.controller.coordination;
  const s = config.controller.store;
  switch (c.kind) {
    case 'embedded':
      if (s.kind !== 'sqlite') throw new Error('embedded coordination needs the sqlite store');
      return new EmbeddedCoordination(store, `${path.resolve(s.path)}.lock`);
    case 'etcd':
      if (!(store instanceof EtcdStore)) throw new Error('etcd coordination needs the etcd store');
      return new EtcdCoordination(store, { leaseTtlMs: c.leaseTtl, log });
    case 'kubernetes': {
      const client = new KubeClient(c.cluster);
      return new KubernetesCoordination({
        client,
        namespace: c.namespace ?? client.namespaceOr('default'),
        leaseName: c.leaseName,
        leaseTtlMs: c.leaseTtl,
        store,
        log,
      });
    }
  }
}

/**
 * `pool` is the pool the provider serves (an aws group serves one); `log` hears its retries;
 * `machines` is the provider a Kubernetes node pool's machines come from.
 */
export function createProvider(
  p: ProviderConfig,
  opts: { pool?: string | undefined; log?: Logger | undefined; machines?: Provider | undefined } = {},
): Provider {
  switch (p.kind) {
    case 'local':
      return new LocalProvider({ name: p.name, dataDir: p.dataDir, host: p.host });
    case 'aws':
      return new AwsProvider({
        name: p.name,
        region: p.region,
        autoScalingGroup: p.autoScalingGroup,
        launchTemplate: p.launchTemplate,
        endpoint: p.endpoint,
        address: p.address,
        ports: p.ports,
        retry: {
          attempts: p.retry.attempts,
          baseDelayMs: p.retry.baseDelay,
          maxDelayMs: p.retry.maxDelay,
          callTimeoutMs: p.retry.callTimeout,
        },
        userData: p.userData,
        pool: opts.pool,
        log: opts.log,
      });
    case 'kubernetes': {
      const client = new KubeClient(p.cluster);
      const namespace = p.namespace ?? client.namespaceOr('default');
      if (p.workload)
        return new StatefulSetProvider({
          name: p.name,
          client,
          namespace,
          statefulSet: p.workload.statefulSet,
          volumes: p.workload.volumes,
          pool: opts.pool,
          log: opts.log,
        });
      if (!p.nodePool || !opts.machines)
        throw new Error(`kubernetes provider "${p.name}": a node pool needs its machines provider`);
      return new NodePoolProvider({
        name: p.name,
        client,
        machines: opts.machines,
        drainTimeoutMs: p.nodePool.drainTimeout,
        evictionRetryMs: p.nodePool.evictionRetry,
        log: opts.log,
      });
    }
  }
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
    destroy: (instance) => provider.destroy(instance),
  };
  if (provider.stop) fenced.stop = provider.stop.bind(provider);
  if (provider.start) fenced.start = provider.start.bind(provider);
  if (provider.removalOrder) fenced.removalOrder = provider.removalOrder.bind(provider);
  return fenced;
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
    case 'etcd-member':
      return createEtcdMemberKind(n);
    case 'kube-pod':
      return kubePodKind;
    case 'kube-node':
      return kubeNodeKind;
  }
}

function metricSourceFor(m: MetricSourceConfig): MetricSource {
  if (m.kind === 'kubernetes')
    return new KubernetesMetricsSource({
      name: m.name,
      client: new KubeClient(m.cluster),
      timeoutMs: m.timeout,
    });
  return createMetricSource({
    name: m.name,
    kind: m.kind,
    timeoutMs: m.timeout,
    ...(m.kind === 'prometheus' ? { url: m.url, nodeLabel: m.nodeLabel } : {}),
    ...(m.kind === 'netdata' ? { urlTemplate: m.urlTemplate } : {}),
  });
}

/** Everything a config needs, not yet opened. `log` hears coordination's own news. */
export function createRuntime(config: Config, opts: { log?: Logger | undefined } = {}): Runtime {
  const store = createStore(config);
  const coordination = createCoordination(config, store, opts.log);
  const kinds = new Map(config.pools.map((p) => [p.name, createNodeKind(p, config)]));
  const poolOf = (provider: string) => config.pools.find((pool) => pool.provider === provider)?.name;
  // A node pool's machines provider serves the node pool's pool, inside the kubernetes
  // provider only: the controller sees Nodes, never the machines beside them.
  const machinesOf = new Map<string, string>();
  for (const p of config.providers)
    if (p.kind === 'kubernetes' && p.nodePool) machinesOf.set(p.nodePool.machines, p.name);
  const providers = new Map<string, Provider>();
  for (const p of config.providers) {
    if (machinesOf.has(p.name)) continue;
    let machines: Provider | undefined;
    if (p.kind === 'kubernetes' && p.nodePool) {
      const m = config.providers.find((x) => x.name === p.nodePool?.machines);
      if (m) machines = createProvider(m, { pool: poolOf(p.name), log: opts.log });
    }
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
    metricSources: new Map(config.metrics.map((m) => [m.name, metricSourceFor(m)])),
    snapshotStores: new Map(config.snapshots.map((s) => [s.name, createSnapshotStore(s.store)])),
    nodeKind: (pool) => {
      const k = kinds.get(pool);
      if (!k) throw new Error(`pool "${pool}" is not in the config`);
      return k;
    },
  };
}
