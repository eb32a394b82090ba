// Observation: one pass over providers, node probes and metric sources that gives every
// pool what the core needs to decide. Reads only; never changes anything.

import type { Config, PoolConfig } from '../config/schema.ts';
import { parseMetricRef } from '../core/metric-ref.ts';
import type { NodeProbe, Sample } from '../core/types.ts';
import type { MetricTarget } from '../metrics/metric-source.ts';
import type { NodeAddress } from '../nodes/node-kind.ts';
import type { Instance } from '../providers/provider.ts';
import { addressOf } from '../runtime/node-records.ts';
import type { Runtime } from '../runtime/runtime.ts';
import type { StoredNode } from '../store/store.ts';

export interface PoolObservation {
  readonly pool: PoolConfig;
  /** Live node records of the pool. */
  readonly nodes: readonly StoredNode[];
  /** Running instance of each live node, by node id. */
  readonly instances: ReadonlyMap<string, Instance>;
  readonly probes: ReadonlyMap<string, NodeProbe>;
  /** Addresses of the upstream pool's running nodes (a sentry pool's validator). */
  readonly upstream: readonly NodeAddress[];
  /** This pool's nodes the upstream is connected to, when the pool has an upstream. */
  readonly connectedToUpstream?: ReadonlySet<string> | undefined;
}

export interface Observation {
  readonly at: number;
  readonly pools: ReadonlyMap<string, PoolObservation>;
  /** Every running instance of every provider, by provider name. */
  readonly instances: ReadonlyMap<string, readonly Instance[]>;
  readonly samples: readonly Sample[];
  readonly metricErrors: readonly { source: string; target?: string | undefined; message: string }[];
  /** Providers whose listing failed: their pools must hold. */
  readonly providerErrors: ReadonlyMap<string, string>;
}

/** Metric references each source must fetch: every rule's, busy and traffic metric of every pool. */
export function refsBySource(config: Config): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const pool of config.pools) {
    const refs = [...pool.scaleUp.rules, ...pool.scaleDown.rules].map((r) => r.metric);
    if (pool.scaleIn.busyMetric) refs.push(pool.scaleIn.busyMetric);
    // What the dashboard charts as the pool's traffic: fetched with the rest, decided on by nothing.
    for (const t of pool.traffic) refs.push(t.metric);
    for (const ref of refs) {
      const { source } = parseMetricRef(ref);
      if (!out.has(source)) out.set(source, new Set());
      out.get(source)!.add(ref);
    }
  }
  return out;
}

const PROBE_CONCURRENCY = 32;

export async function observe(rt: Runtime, signal?: AbortSignal): Promise<Observation> {
  const at = Date.now();
  const providerErrors = new Map<string, string>();
  const instances = new Map<string, Instance[]>();
  await Promise.all(
    [...rt.providers].map(async ([name, provider]) => {
      try {
        instances.set(
          name,
          (await provider.list()).filter((i) => i.running),
        );
      } catch (e) {
        providerErrors.set(name, (e as Error).message);
      }
    }),
  );

  const records = await rt.store.listNodes();
  const pools = new Map<string, PoolObservation>();
  // Validators first: their heights are the tip their sentries are measured against.
  // Validators first, standbys last: a pool's tip comes from the pool it follows (a sentry's
  // validator, a standby's sentries), probed before it.
  const rank = (role: string) => (role === 'validator' ? 0 : role === 'standby' ? 2 : 1);
  const ordered = [...rt.config.pools].sort((a, b) => rank(a.role) - rank(b.role));
  const tipOf = new Map<string, number>();
  for (const pool of ordered) {
    const kind = rt.nodeKind(pool.name);
    const nodes = records.filter((n) => n.pool === pool.name);
    const byNode = new Map<string, Instance>();
    const recorded = new Map(nodes.map((n) => [n.id, n.instanceId]));
    for (const i of instances.get(pool.provider) ?? []) {
      if (i.pool !== pool.name) continue;
      // Two instances of one node (a duplicate the orphan cleanup is about to destroy): the
      // one the record names is the node's.
      const prev = byNode.get(i.nodeId);
      if (!prev || prev.id !== recorded.get(i.nodeId)) byNode.set(i.nodeId, i);
    }
    const upstreamPool = pool.node.validatorPool;
    const upstream: NodeAddress[] = [];
    if (upstreamPool) {
      const up = pools.get(upstreamPool);
      for (const n of up?.nodes ?? []) {
        const a = addressOf(n, up?.instances.get(n.id));
        if (a && up?.instances.has(n.id)) upstream.push(a);
      }
    }
    const peerPool = 'peerPool' in pool.node ? pool.node.peerPool : undefined;
    const follows = upstreamPool ?? peerPool;
    const tipHeight = follows ? tipOf.get(follows) : undefined;
    const probes = new Map<string, NodeProbe>();
    const targets = nodes
      .map((n) => ({ node: n, address: addressOf(n, byNode.get(n.id)) }))
      .filter(
        (t): t is { node: StoredNode; address: NodeAddress } =>
          t.address !== undefined && byNode.has(t.node.id),
      );
    await mapLimit(targets, PROBE_CONCURRENCY, async ({ node, address }) => {
      const status = kind.judgedByPlatform ? byNode.get(node.id)?.status : undefined;
      probes.set(
        node.id,
        status
          ? { reachable: true, ready: status.ready, healthy: status.healthy, detail: status.detail }
          : await kind.probe(address, { role: pool.role, tipHeight, signal }),
      );
    });
    for (const n of nodes)
      if (!byNode.has(n.id) && n.instanceId !== undefined)
        probes.set(n.id, { reachable: false, ready: false, healthy: false, detail: 'no running instance' });
    const heights = [...probes.values()].map((p) => p.height).filter((h): h is number => h !== undefined);
    if (heights.length > 0) tipOf.set(pool.name, Math.max(...heights));

    let connectedToUpstream: Set<string> | undefined;
    if (upstreamPool && upstream.length > 0) {
      connectedToUpstream = new Set();
      const ids = new Set(nodes.map((n) => n.id));
      for (const u of upstream) {
        try {
          for (const id of await kind.connectedPeers(u, signal)) if (ids.has(id)) connectedToUpstream.add(id);
        } catch {
          // An unreachable validator tells nothing about its peers: treat as none connected.
        }
      }
    }
    pools.set(pool.name, { pool, nodes, instances: byNode, probes, upstream, connectedToUpstream });
  }

  const samples: Sample[] = [];
  const metricErrors: { source: string; target?: string | undefined; message: string }[] = [];
  const wanted = refsBySource(rt.config);
  await Promise.all(
    [...wanted].map(async ([sourceName, refs]) => {
      const source = rt.metricSources.get(sourceName);
      if (!source) return;
      const targets: MetricTarget[] = [];
      for (const obs of pools.values()) {
        const kind = rt.nodeKind(obs.pool.name);
        for (const n of obs.nodes) {
          const a = addressOf(n, obs.instances.get(n.id));
          if (!a || !obs.instances.has(n.id)) continue;
          targets.push({
            nodeId: n.id,
            host: a.host,
            metricsUrl: kind.metricsUrl(a),
            aliases: [
              ...Object.values(a.ports).map((p) => `${a.host}:${p}`),
              ...(obs.instances.get(n.id)?.names ?? []),
            ],
          });
        }
      }
      try {
        const result = await source.collect([...refs], targets, signal);
        samples.push(...result.samples);
        for (const e of result.errors)
          metricErrors.push({ source: sourceName, target: e.target, message: e.message });
      } catch (e) {
        metricErrors.push({ source: sourceName, message: (e as Error).message });
      }
    }),
  );
  return { at, pools, instances, samples, metricErrors, providerErrors };
}

async function mapLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
