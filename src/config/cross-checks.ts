// Checks that span several fields of a config: references between sections, size bounds,
// and what a validator pool may not have. They run on the parts of a config that validated
// (config-parts.ts), even when other parts did not: each judges only what it can read.

import { parseMetricRef, parseSelector } from '../core/metric-ref.ts';
import type { ConfigParts } from './config-parts.ts';
import { isLoopbackListen } from './listen-address.ts';

export type ConfigPath = readonly (string | number)[];

export interface CrossIssue {
  readonly path: ConfigPath;
  readonly message: string;
}

/**
 * Every cross-field problem of `config`. `refused(path)` says whether the schema refused the
 * value at `path` or a value holding it: a field left out of the parts may be absent or
 * refused, so a check that reads an absence as "not set" asks first.
 */
export function crossCheck(config: ConfigParts, refused: (path: ConfigPath) => boolean): CrossIssue[] {
  const issues: CrossIssue[] = [];
  const add = (path: ConfigPath, message: string) => issues.push({ path, message });
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
  if (coordination?.kind === 'etcd' && store?.kind !== undefined && store.kind !== 'etcd')
    add(
      ['controller', 'coordination', 'kind'],
      'etcd coordination needs the etcd store (controller.store.kind: etcd): replicas must share state',
    );
  if (coordination?.kind === 'embedded' && store?.kind === 'etcd')
    add(
      ['controller', 'coordination', 'kind'],
      'a shared etcd store needs etcd coordination, or two controllers could act at once',
    );
  // etcd leases are whole seconds and etcd grants at least about 2s; a replica renews every
  // TTL/3 and stops acting after TTL/3 of failed renewals, so shorter leases leave no margin.
  if (
    (coordination?.kind === 'etcd' || coordination?.kind === 'kubernetes') &&
    coordination.leaseTtl !== undefined &&
    (coordination.leaseTtl < 2000 || coordination.leaseTtl % 1000 !== 0)
  )
    add(
      ['controller', 'coordination', 'leaseTtl'],
      `${coordination.leaseTtl}ms is not allowed: ${coordination.kind === 'etcd' ? 'etcd leases' : 'Lease durations'} are whole seconds, at least 2s`,
    );
  if (store?.kind === 'etcd' && store.tls) {
    const { cert, key } = store.tls;
    const missing = ['controller', 'store', 'tls', cert === undefined ? 'cert' : 'key'];
    if ((cert === undefined) !== (key === undefined) && !refused(missing))
      add(missing, 'a client certificate needs both cert and key');
    store.endpoints?.forEach((url, i) => {
      if (url?.startsWith('http://'))
        add(['controller', 'store', 'endpoints', i], `"${url}" is plain http but tls is set: use https://`);
    });
  }

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
    if (store?.kind === 'etcd')
      store.endpoints?.forEach((url, i) => {
        if (url?.startsWith('http://'))
          plain(['controller', 'store', 'endpoints', i], `"${url}" is plain http`);
      });
    const clusters: [ConfigPath, { readonly server?: string | undefined } | undefined][] = [];
    if (coordination?.kind === 'kubernetes')
      clusters.push([['controller', 'coordination', 'cluster'], coordination.cluster]);
    providers?.forEach((p, i) => {
      if (p?.kind === 'kubernetes') clusters.push([['providers', i, 'cluster'], p.cluster]);
    });
    metrics?.forEach((m, i) => {
      if (m?.kind === 'kubernetes') clusters.push([['metrics', i, 'cluster'], m.cluster]);
    });
    for (const [where, c] of clusters)
      if (c?.server?.startsWith('http://')) plain([...where, 'server'], `"${c.server}" is plain http`);
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
  const known = (names: ReadonlyMap<string, unknown>) => [...names.keys()].join(', ') || '(none defined)';

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
      add(path, `metric source "${parsed.source}" is not defined in metrics (defined: ${known(sources)})`);
      return;
    }
    if (source.kind === undefined || source.kind === 'prometheus') return;
    if (source.kind === 'kubernetes') {
      if (parsed.expr !== 'cpu' && parsed.expr !== 'memory')
        add(
          path,
          `"${parsed.expr}" is not in the resource metrics API: write ${parsed.source}:cpu (cores) or ${parsed.source}:memory (bytes)`,
        );
      return;
    }
    try {
      const selector = parseSelector(parsed.expr);
      if (source.kind === 'netdata' && selector.matchers.length > 0)
        add(
          path,
          `netdata variables have no labels: write just the name, e.g. ${parsed.source}:NETDATA_SYSTEM_CPU_IDLE`,
        );
    } catch (e) {
      add(path, (e as Error).message);
    }
  };

  pools?.forEach((pool, i) => {
    if (pool === undefined) return;
    const at = (...rest: (string | number)[]) => ['pools', i, ...rest];
    const { node, size } = pool;
    if (pool.provider !== undefined && providersByName && !providersByName.has(pool.provider))
      add(
        at('provider'),
        `provider "${pool.provider}" is not defined in providers (defined: ${known(providersByName)})`,
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
      if (node?.kind !== undefined && node.kind !== 'cometbft')
        add(at('failover'), `failover reads CometBFT's RPC: pool "${pool.name}" runs ${node.kind} nodes`);
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
    if (node?.kind === 'cometbft' && node.peerPool !== undefined && poolsByName) {
      const peers = poolsByName.get(node.peerPool);
      if (!peers) add(at('node', 'peerPool'), `pool "${node.peerPool}" is not defined in pools`);
      else if (peers.role === 'validator')
        add(at('node', 'peerPool'), 'peer with the sentries, never with the validator directly');
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
      if (max !== undefined && max < 1 && pool.role !== undefined && pool.role !== 'standby')
        add(at('size', 'max'), 'max must be at least 1');
    }

    if (node?.kind === 'etcd-member') {
      const { minMembers } = node;
      if (pool.role !== undefined && pool.role !== 'member')
        add(at('role'), `a pool of etcd members has role member, not ${pool.role}`);
      if (size?.min !== undefined && minMembers !== undefined && size.min < minMembers)
        add(
          at('size', 'min'),
          `min (${size.min}) is below node.minMembers (${minMembers}), the quorum-safe size of this etcd cluster: raise min, or lower node.minMembers to accept a cluster that cannot lose a member`,
        );
      if (pool.bootstrap)
        add(
          at('bootstrap'),
          'etcd members do not restore from snapshots: a new member gets its data from the cluster',
        );
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
        `snapshot set "${setName}" is not defined in snapshots (defined: ${known(sets)})`,
      );

    // An aws provider is one Auto Scaling group: it serves one pool, and its machines
    // restore snapshots from where they can reach them.
    const provider = pool.provider === undefined ? undefined : providersByName?.get(pool.provider);
    const firstServed = () => pools.findIndex((p) => p?.provider === pool.provider);
    if (provider?.kind === 'aws') {
      if (firstServed() !== i)
        add(
          at('provider'),
          `aws provider "${provider.name}"${provider.autoScalingGroup === undefined ? '' : ` (group ${provider.autoScalingGroup})`} already serves pools[${firstServed()}]: give each pool its own group`,
        );
      if (set?.store?.kind !== undefined && set.store.kind !== 's3')
        add(
          at('bootstrap', 'snapshots'),
          `set "${set.name}" is in a ${set.store.kind} store, which instances on AWS cannot read: use an s3 store`,
        );
    }
    if (provider?.kind === 'kubernetes') {
      if (firstServed() !== i)
        add(
          at('provider'),
          `kubernetes provider "${provider.name}" already serves pools[${firstServed()}]: give each pool its own`,
        );
      // Which kind of pool the provider is hangs on workload: unknown if the schema refused it.
      const providerIndex = providers?.indexOf(provider) ?? -1;
      if (provider.workload !== undefined || !refused(['providers', providerIndex, 'workload'])) {
        const wanted = provider.workload ? 'kube-pod' : 'kube-node';
        if (node?.kind !== undefined && node.kind !== wanted)
          add(
            at('node', 'kind'),
            `provider "${provider.name}" is a ${provider.workload ? 'StatefulSet (workload)' : 'node pool'}: its nodes are ${wanted}, not ${node.kind}`,
          );
        const select = pool.scaleIn?.select;
        if (provider.workload && select !== undefined && select !== 'newest')
          add(
            at('scaleIn', 'select'),
            `a StatefulSet always removes its highest ordinal, the newest replica: write scaleIn: { select: newest } (not ${select})`,
          );
      }
      if (provider.workload?.volumes?.restore === 'job') {
        if (setName === undefined && !refused(at('bootstrap', 'snapshots')))
          add(
            at('bootstrap', 'snapshots'),
            `provider "${provider.name}" restores with a Job: name the snapshot set it restores from`,
          );
        else if (set?.store?.kind !== undefined && set.store.kind !== 's3')
          add(
            at('bootstrap', 'snapshots'),
            `set "${set.name}" is in a ${set.store.kind} store, which a restore Job in the cluster cannot read: use an s3 store`,
          );
      }
    } else if (node?.kind === 'kube-pod' || node?.kind === 'kube-node') {
      // Judged when the provider is known not to be kubernetes, or known not to exist.
      const judged = provider ? provider.kind !== undefined : pool.provider !== undefined && providersByName;
      if (judged)
        add(
          at('node', 'kind'),
          `${node.kind} nodes come only from a kubernetes provider; "${pool.provider}" is not one`,
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
        `pool "${set.from}" is not defined in pools (defined: ${known(poolsByName)})`,
      );
    else if (pool.role === 'validator')
      add(
        ['snapshots', i, 'from'],
        `pool "${set.from}" is a validator pool: a snapshot is never taken from the validator (name a sentry or full-node pool)`,
      );
  });

  // A node pool's machines come from an aws provider that serves no pool of its own.
  providers?.forEach((p, i) => {
    const machinesName = p?.kind === 'kubernetes' ? p.nodePool?.machines : undefined;
    if (machinesName === undefined || !providersByName) return;
    const machines = providersByName.get(machinesName);
    const at = ['providers', i, 'nodePool', 'machines'];
    if (!machines)
      add(at, `provider "${machinesName}" is not defined in providers (defined: ${known(providersByName)})`);
    else if (machines.kind === undefined) return;
    else if (machines.kind !== 'aws')
      add(
        at,
        `provider "${machines.name}" is ${machines.kind}: a node pool's machines come from an aws provider`,
      );
    else if (pools?.some((pool) => pool?.provider === machines.name))
      add(at, `provider "${machines.name}" already serves a pool directly: give the node pool its own group`);
    else if (
      providers.some((o, j) => j < i && o?.kind === 'kubernetes' && o.nodePool?.machines === machines.name)
    )
      add(at, `provider "${machines.name}" already backs another node pool`);
  });
  return issues;
}
