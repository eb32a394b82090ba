// Checks that span several fields of a config: references between sections, size bounds,
// and what a validator pool may not have. They run on the parts of a config that validated
// (config-parts.ts), even when other parts did not: each judges only what it can read.

import { type CheckContext, type ConfigPath, type Connection, kindOf } from '../config-kit/plugin.ts';
import { coordinationPlugin } from '../coordination/registry.ts';
import { parseMetricRef } from '../core/metric-ref.ts';
import { metricSourcePlugin } from '../metrics/registry.ts';
import { nodeKindPlugin, POD_KINDS } from '../nodes/registry.ts';
import { MACHINE_KINDS, PROVIDERS, type ProviderPlugin, providerPlugin } from '../providers/registry.ts';
import { storePlugin } from '../store/registry.ts';
import type { ConfigParts } from './config-parts.ts';
import { isLoopbackListen } from './listen-address.ts';

export type { ConfigPath };

/** The plugin of a kind the schema accepted; undefined for a kind it refused (or none). */
const known = <P>(find: (kind: string) => P, kind: string | undefined): P | undefined => {
  if (kind === undefined) return undefined;
  try {
    return find(kind);
  } catch {
    return undefined;
  }
};

export interface CrossIssue {
  readonly path: ConfigPath;
  readonly message: string;
}

/**
 * Every cross-field problem of `config`. `refused(path)` says whether the schema refused the
 * value at `path` or a value holding it: a field left out of the parts may be absent or
 * refused, so a check that reads an absence as "not set" asks first.
 */
export function crossCheck(
  config: ConfigParts,
  refused: (path: ConfigPath) => boolean,
  /** The config file's folder: given, the URLs that live outside the config (a kubeconfig's) are read too. */
  baseDir?: string,
): CrossIssue[] {
  const issues: CrossIssue[] = [];
  const add = (path: ConfigPath, message: string) => issues.push({ path, message });
  const ctx: CheckContext = { add, refused };
  const { metrics, providers, pools, snapshots } = config;

  const uniqueNames = (
    section: 'metrics' | 'providers' | 'pools' | 'snapshots',
    items: readonly ({ readonly name?: string | undefined } | undefined)[] | undefined,
  ) => {
    const seen = new Map<string, number>();
    items?.forEach((item, i) => {
      if (item?.name === undefined) return;
      const first = seen.get(item.name);
      if (first !== undefined)
        add([section, i, 'name'], `"${item.name}" is already the name of ${section}[${first}]`);
      else seen.set(item.name, i);
    });
  };
  uniqueNames('metrics', metrics);
  uniqueNames('providers', providers);
  uniqueNames('pools', pools);
  uniqueNames('snapshots', snapshots);

  const coordination = config.controller?.coordination;
  const store = config.controller?.store;
  const coordinationKind = known(coordinationPlugin, coordination?.kind);
  const storeKind = known(storePlugin, store?.kind);
  if (coordinationKind && storeKind) {
    const { stores } = coordinationKind;
    if ((stores === 'shared' && !storeKind.shared) || (stores === 'local' && storeKind.shared))
      add(['controller', 'coordination', 'kind'], coordinationKind.storeHint);
  }
  if (coordination) coordinationKind?.check?.(coordination, ctx);
  if (store) storeKind?.check?.(store, ctx);

  const api = config.controller?.api;
  if (
    api?.listen !== undefined &&
    api.tokenFile === undefined &&
    !refused(['controller', 'api', 'tokenFile']) &&
    !isLoopbackListen(api.listen)
  )
    add(
      ['controller', 'api', 'listen'],
      `"${api.listen}" is not a loopback address: the API needs a bearer token there (set controller.api.tokenFile), or listen on 127.0.0.1`,
    );

  if (api?.requireTls === true) {
    const plain = (what: ConfigPath, why: string) =>
      add(what, `TLS is required (controller.api.requireTls): ${why}`);
    if (api.tls === undefined && !refused(['controller', 'api', 'tls']))
      plain(['controller', 'api', 'tls'], 'serve the API over HTTPS (set tls.cert and tls.key)');
    // Every URL a plugin connects to: the store's, coordination's, providers' and sources'.
    const connections: [ConfigPath, Connection[]][] = [];
    if (store) connections.push([['controller', 'store'], storeKind?.connections?.(store) ?? []]);
    if (coordination)
      connections.push([['controller', 'coordination'], coordinationKind?.connections?.(coordination) ?? []]);
    providers?.forEach((p, i) => {
      if (p) connections.push([['providers', i], known(providerPlugin, p.kind)?.connections?.(p) ?? []]);
    });
    metrics?.forEach((m, i) => {
      if (m) connections.push([['metrics', i], known(metricSourcePlugin, m.kind)?.connections?.(m) ?? []]);
    });
    for (const [where, list] of connections)
      for (const { path, url, resolve } of list) {
        if (url?.startsWith('http://')) plain([...where, ...path], `"${url}" is plain http`);
        const found = url === undefined && baseDir !== undefined ? resolve?.(baseDir) : undefined;
        if (found?.url.startsWith('http://'))
          plain([...where, ...path], `${found.from} gives the server "${found.url}", plain http`);
      }
  }

  // The names each section defines; a section the schema refused as a whole defines none
  // that can be judged, and references into it are not checked.
  const named = <T extends { readonly name?: string | undefined }>(
    items: readonly (T | undefined)[] | undefined,
  ) =>
    items && new Map(items.flatMap((item) => (item?.name === undefined ? [] : [[item.name, item] as const])));
  const sources = named(metrics);
  const providersByName = named(providers);
  const poolsByName = named(pools);
  const sets = named(snapshots);
  const defined = (names: ReadonlyMap<string, unknown>) => [...names.keys()].join(', ') || '(none defined)';

  const checkMetric = (path: ConfigPath, ref: string) => {
    let parsed: { source: string; expr: string };
    try {
      parsed = parseMetricRef(ref);
    } catch (e) {
      add(path, (e as Error).message);
      return;
    }
    if (sources === undefined) return;
    const source = sources.get(parsed.source);
    if (!source) {
      add(path, `metric source "${parsed.source}" is not defined in metrics (defined: ${defined(sources)})`);
      return;
    }
    const problem = known(metricSourcePlugin, source.kind)?.checkExpr?.(parsed.expr, parsed.source);
    if (problem !== undefined) add(path, problem);
  };

  pools?.forEach((pool, i) => {
    if (pool === undefined) return;
    const at = (...rest: (string | number)[]) => ['pools', i, ...rest];
    const { node, size } = pool;
    if (pool.provider !== undefined && providersByName && !providersByName.has(pool.provider))
      add(
        at('provider'),
        `provider "${pool.provider}" is not defined in providers (defined: ${defined(providersByName)})`,
      );

    const upstream = node?.validatorPool;
    if (upstream !== undefined && poolsByName) {
      const target = poolsByName.get(upstream);
      if (!target) add(at('node', 'validatorPool'), `pool "${upstream}" is not defined in pools`);
      else if (target.role !== undefined && target.role !== 'validator')
        add(at('node', 'validatorPool'), `pool "${upstream}" has role ${target.role}, not validator`);
      else if (target.role === 'validator' && upstream === pool.name)
        add(at('node', 'validatorPool'), 'a pool cannot be its own validator pool');
    }

    const failover = pool.failover;
    if (failover) {
      if (pool.role !== undefined && pool.role !== 'validator')
        add(at('failover'), `failover guards a validator: pool "${pool.name}" has role ${pool.role}`);
      const guarded = known(nodeKindPlugin, node?.kind);
      if (guarded && !guarded.guardable)
        add(at('failover'), `failover reads CometBFT's RPC: pool "${pool.name}" runs ${node?.kind} nodes`);
      // A pool whose validatorPool the schema refused may be the sentries it looks for.
      if (
        pool.name !== undefined &&
        !pools.some((p) => p?.node?.validatorPool === pool.name) &&
        !pools.some((_, j) => refused(['pools', j, 'node', 'validatorPool']))
      )
        add(
          at('failover'),
          `failover judges the network from the validator's sentries: no pool has node.validatorPool: ${pool.name}`,
        );
      const standbyName = failover.standbyPool;
      if (standbyName !== undefined && poolsByName) {
        const standby = poolsByName.get(standbyName);
        const where = at('failover', 'standbyPool');
        if (!standby) add(where, `pool "${standbyName}" is not defined in pools`);
        else if (standby.role !== undefined && standby.role !== 'standby')
          add(where, `pool "${standbyName}" has role ${standby.role}, not standby`);
        else if (
          standby.node?.kind !== undefined &&
          node?.kind !== undefined &&
          standby.node.kind !== node.kind
        )
          add(
            where,
            `pool "${standbyName}" runs ${standby.node.kind} nodes; the validator runs ${node.kind}`,
          );
        else if (standby.size?.max !== undefined && standby.size.max < 1)
          add(where, `pool "${standbyName}" has max 0: no room for a standby`);
      }
    }
    if (pool.role === 'validator') {
      if (size !== undefined)
        add(at('size'), 'a validator pool has no size: it is never scaled (its failures go to failover)');
      if ((pool.scaleUp?.rules?.length ?? 0) > 0)
        add(at('scaleUp', 'rules'), 'a validator pool is never scaled: scale rules are not allowed on it');
      if ((pool.scaleDown?.rules?.length ?? 0) > 0)
        add(at('scaleDown', 'rules'), 'a validator pool is never scaled: scale rules are not allowed on it');
    } else if (size === undefined) {
      if (pool.role !== undefined && !refused(at('size')))
        add(at('size'), `pool of role ${pool.role} needs size: { min, capacity, max }`);
    } else {
      const { min, capacity, max } = size;
      if (min !== undefined && capacity !== undefined && min > capacity)
        add(at('size', 'min'), `min (${min}) must be ≤ capacity (${capacity})`);
      if (capacity !== undefined && max !== undefined && capacity > max)
        add(at('size', 'capacity'), `capacity (${capacity}) must be ≤ max (${max})`);
      const warm = size.warm ?? 0;
      if (warm > 0 && capacity !== undefined && max !== undefined && capacity + warm > max)
        add(
          at('size', 'warm'),
          `warm (${warm}) does not fit: capacity (${capacity}) + warm must be ≤ max (${max}), since spares count against max`,
        );
      if (max !== undefined && max < 1 && pool.role !== undefined && pool.role !== 'standby')
        add(at('size', 'max'), 'max must be at least 1');
    }

    for (const phase of ['scaleUp', 'scaleDown'] as const)
      pool[phase]?.rules?.forEach((rule, j) => {
        if (rule?.metric !== undefined) checkMetric(at(phase, 'rules', j, 'metric'), rule.metric);
      });
    if (pool.scaleIn?.busyMetric !== undefined)
      checkMetric(at('scaleIn', 'busyMetric'), pool.scaleIn.busyMetric);
    pool.traffic?.forEach((t, j) => {
      if (t?.metric !== undefined) checkMetric(at('traffic', j, 'metric'), t.metric);
    });

    const setName = pool.bootstrap?.snapshots;
    const set = setName === undefined ? undefined : sets?.get(setName);
    if (setName !== undefined && sets && !set)
      add(
        at('bootstrap', 'snapshots'),
        `snapshot set "${setName}" is not defined in snapshots (defined: ${defined(sets)})`,
      );

    // The plugins serving the pool check it against the rest: its provider, its node kind.
    const provider = pool.provider === undefined ? undefined : providersByName?.get(pool.provider);
    const check = {
      ...ctx,
      pool,
      pools,
      index: i,
      at,
      provider,
      providerPath: provider && providers ? ['providers', providers.indexOf(provider)] : undefined,
      providersKnown: providersByName !== undefined,
      set,
      firstServed: pools.findIndex((p) => p?.provider === pool.provider),
      podKinds: POD_KINDS,
    };
    const providerKind = known(providerPlugin, provider?.kind);
    if (provider) providerKind?.checkPool?.({ ...check, entry: provider });
    const nodeKind = known(nodeKindPlugin, node?.kind);
    if (node) nodeKind?.checkPool?.({ ...check, entry: node });
    // Nodes a platform judges come only from a provider that makes them.
    if (
      node?.kind !== undefined &&
      nodeKind?.platformJudged &&
      !providerKind?.platformNodes?.includes(node.kind)
    ) {
      const judged = provider ? provider.kind !== undefined : pool.provider !== undefined && providersByName;
      const makers = PROVIDERS.filter((p: ProviderPlugin) => p.platformNodes?.includes(node.kind!)).map((p) =>
        kindOf(p.config),
      );
      if (judged)
        add(
          at('node', 'kind'),
          `${node.kind} nodes come only from a ${makers.join(' or ')} provider; "${pool.provider}" is not one`,
        );
    }
  });

  // A snapshot is copied from a pool's node: never from the validator, whose key must not travel.
  snapshots?.forEach((set, i) => {
    if (set?.from === undefined || !poolsByName) return;
    const pool = poolsByName.get(set.from);
    if (!pool)
      add(
        ['snapshots', i, 'from'],
        `pool "${set.from}" is not defined in pools (defined: ${defined(poolsByName)})`,
      );
    else if (pool.role === 'validator')
      add(
        ['snapshots', i, 'from'],
        `pool "${set.from}" is a validator pool: a snapshot is never taken from the validator (name a sentry or full-node pool)`,
      );
    else {
      // The copy reads the stopped node's data dir on this machine.
      const entry = pool.provider === undefined ? undefined : providersByName?.get(pool.provider);
      const plugin = known(providerPlugin, entry?.kind);
      if (entry && plugin && !plugin.nodeFilesHere)
        add(
          ['snapshots', i, 'from'],
          `pool "${set.from}" runs on provider "${pool.provider}" (${entry.kind}), whose nodes' files are not on the machine Rampart runs on: a snapshot set cannot copy them${plugin.snapshotsInstead ? `; ${plugin.snapshotsInstead}` : ''}`,
        );
    }
  });

  // Each provider against the others and the pools (a node pool's machines).
  providers?.forEach((p, i) => {
    if (!p) return;
    known(providerPlugin, p.kind)?.checkProviders?.({
      ...ctx,
      entry: p,
      at: (...rest) => ['providers', i, ...rest],
      index: i,
      providers,
      pools: pools ?? [],
      machineKinds: MACHINE_KINDS,
    });
  });
  return issues;
}
