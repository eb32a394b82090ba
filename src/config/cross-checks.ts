// Checks that span several fields of a schema-valid config: references between sections,
// size bounds, and what a validator pool may not have.

import { parseMetricRef, parseSelector } from '../core/metric-ref.ts';
import { isLoopbackListen } from './listen-address.ts';
import type { Config } from './schema.ts';

export interface CrossIssue {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

export function crossCheck(config: Config): CrossIssue[] {
  const issues: CrossIssue[] = [];
  const add = (path: (string | number)[], message: string) => issues.push({ path, message });

  const uniqueNames = (
    section: 'metrics' | 'providers' | 'pools' | 'snapshots',
    items: readonly { name: string }[],
  ) => {
    const seen = new Map<string, number>();
    items.forEach((item, i) => {
      const first = seen.get(item.name);
      if (first !== undefined)
        add([section, i, 'name'], `"${item.name}" is already the name of ${section}[${first}]`);
      else seen.set(item.name, i);
    });
  };
  uniqueNames('metrics', config.metrics);
  uniqueNames('providers', config.providers);
  uniqueNames('pools', config.pools);
  uniqueNames('snapshots', config.snapshots);

  if (config.controller.coordination.kind === 'etcd' && config.controller.store.kind !== 'etcd')
    add(
      ['controller', 'coordination', 'kind'],
      'etcd coordination needs the etcd store (controller.store.kind: etcd): replicas must share state',
    );
  if (config.controller.coordination.kind === 'embedded' && config.controller.store.kind === 'etcd')
    add(
      ['controller', 'coordination', 'kind'],
      'a shared etcd store needs etcd coordination, or two controllers could act at once',
    );
  const coordination = config.controller.coordination;
  // etcd leases are whole seconds and etcd grants at least about 2s; a replica renews every
  // TTL/3 and stops acting after TTL/3 of failed renewals, so shorter leases leave no margin.
  if (
    (coordination.kind === 'etcd' || coordination.kind === 'kubernetes') &&
    (coordination.leaseTtl < 2000 || coordination.leaseTtl % 1000 !== 0)
  )
    add(
      ['controller', 'coordination', 'leaseTtl'],
      `${coordination.leaseTtl}ms is not allowed: ${coordination.kind === 'etcd' ? 'etcd leases' : 'Lease durations'} are whole seconds, at least 2s`,
    );
  const store = config.controller.store;
  if (store.kind === 'etcd') {
    if (store.tls) {
      if ((store.tls.cert === undefined) !== (store.tls.key === undefined))
        add(
          ['controller', 'store', 'tls', store.tls.cert === undefined ? 'cert' : 'key'],
          'a client certificate needs both cert and key',
        );
      store.endpoints.forEach((url, i) => {
        if (url.startsWith('http://'))
          add(['controller', 'store', 'endpoints', i], `"${url}" is plain http but tls is set: use https://`);
      });
    }
  }

  const api = config.controller.api;
  if (api.tokenFile === undefined && !isLoopbackListen(api.listen))
    add(
      ['controller', 'api', 'listen'],
      `"${api.listen}" is not a loopback address: the API needs a bearer token there (set controller.api.tokenFile), or listen on 127.0.0.1`,
    );

  if (api.requireTls) {
    const plain = (what: (string | number)[], why: string) =>
      add(what, `TLS is required (controller.api.requireTls): ${why}`);
    if (api.tls === undefined)
      plain(['controller', 'api', 'tls'], 'serve the API over HTTPS (set tls.cert and tls.key)');
    if (store.kind === 'etcd')
      store.endpoints.forEach((url, i) => {
        if (url.startsWith('http://'))
          plain(['controller', 'store', 'endpoints', i], `"${url}" is plain http`);
      });
    const clusters: [(string | number)[], { server?: string | undefined }][] = [];
    if (coordination.kind === 'kubernetes')
      clusters.push([['controller', 'coordination', 'cluster'], coordination.cluster]);
    config.providers.forEach((p, i) => {
      if (p.kind === 'kubernetes') clusters.push([['providers', i, 'cluster'], p.cluster]);
    });
    config.metrics.forEach((m, i) => {
      if (m.kind === 'kubernetes') clusters.push([['metrics', i, 'cluster'], m.cluster]);
    });
    for (const [where, c] of clusters)
      if (c.server?.startsWith('http://')) plain([...where, 'server'], `"${c.server}" is plain http`);
  }

  const sources = new Map(config.metrics.map((m) => [m.name, m]));
  const providers = new Set(config.providers.map((p) => p.name));
  const pools = new Map(config.pools.map((p) => [p.name, p]));
  const known = (names: Iterable<string>) => [...names].join(', ') || '(none defined)';

  const checkMetric = (path: (string | number)[], ref: string) => {
    let parsed: { source: string; expr: string };
    try {
      parsed = parseMetricRef(ref);
    } catch (e) {
      add(path, (e as Error).message);
      return;
    }
    const source = sources.get(parsed.source);
    if (!source) {
      add(
        path,
        `metric source "${parsed.source}" is not defined in metrics (defined: ${known(sources.keys())})`,
      );
      return;
    }
    if (source.kind === 'prometheus') return;
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

  config.pools.forEach((pool, i) => {
    const at = (...rest: (string | number)[]) => ['pools', i, ...rest];
    if (!providers.has(pool.provider))
      add(
        at('provider'),
        `provider "${pool.provider}" is not defined in providers (defined: ${known(providers)})`,
      );

    const upstream = pool.node.validatorPool;
    if (upstream !== undefined) {
      const target = pools.get(upstream);
      if (!target) add(at('node', 'validatorPool'), `pool "${upstream}" is not defined in pools`);
      else if (target.role !== 'validator')
        add(at('node', 'validatorPool'), `pool "${upstream}" has role ${target.role}, not validator`);
      else if (upstream === pool.name)
        add(at('node', 'validatorPool'), 'a pool cannot be its own validator pool');
    }

    if (pool.failover) {
      if (pool.role !== 'validator')
        add(at('failover'), `failover guards a validator: pool "${pool.name}" has role ${pool.role}`);
      if (pool.node.kind !== 'cometbft')
        add(
          at('failover'),
          `failover reads CometBFT's RPC: pool "${pool.name}" runs ${pool.node.kind} nodes`,
        );
      if (!config.pools.some((p) => p.node.validatorPool === pool.name))
        add(
          at('failover'),
          `failover judges the network from the validator's sentries: no pool has node.validatorPool: ${pool.name}`,
        );
      const standbyName = pool.failover.standbyPool;
      if (standbyName !== undefined) {
        const standby = pools.get(standbyName);
        if (!standby) add(at('failover', 'standbyPool'), `pool "${standbyName}" is not defined in pools`);
        else if (standby.role !== 'standby')
          add(at('failover', 'standbyPool'), `pool "${standbyName}" has role ${standby.role}, not standby`);
        else if (standby.node.kind !== pool.node.kind)
          add(
            at('failover', 'standbyPool'),
            `pool "${standbyName}" runs ${standby.node.kind} nodes; the validator runs ${pool.node.kind}`,
          );
        else if ((standby.size?.max ?? 0) < 1)
          add(at('failover', 'standbyPool'), `pool "${standbyName}" has max 0: no room for a standby`);
      }
    }
    if (pool.node.kind === 'cometbft' && pool.node.peerPool !== undefined) {
      const peers = pools.get(pool.node.peerPool);
      if (!peers) add(at('node', 'peerPool'), `pool "${pool.node.peerPool}" is not defined in pools`);
      else if (peers.role === 'validator')
        add(at('node', 'peerPool'), 'peer with the sentries, never with the validator directly');
    }

    if (pool.role === 'validator') {
      if (pool.size)
        add(at('size'), 'a validator pool has no size: it is never scaled (its failures go to failover)');
      if (pool.scaleUp.rules.length > 0)
        add(at('scaleUp', 'rules'), 'a validator pool is never scaled: scale rules are not allowed on it');
      if (pool.scaleDown.rules.length > 0)
        add(at('scaleDown', 'rules'), 'a validator pool is never scaled: scale rules are not allowed on it');
    } else if (!pool.size) {
      add(at('size'), `pool of role ${pool.role} needs size: { min, capacity, max }`);
    } else {
      const { min, capacity, max } = pool.size;
      if (min > capacity) add(at('size', 'min'), `min (${min}) must be ≤ capacity (${capacity})`);
      if (capacity > max) add(at('size', 'capacity'), `capacity (${capacity}) must be ≤ max (${max})`);
      if (max < 1 && pool.role !== 'standby') add(at('size', 'max'), 'max must be at least 1');
    }

    if (pool.node.kind === 'etcd-member') {
      const { minMembers } = pool.node;
      if (pool.role !== 'member') add(at('role'), `a pool of etcd members has role member, not ${pool.role}`);
      if (pool.size && pool.size.min < minMembers)
        add(
          at('size', 'min'),
          `min (${pool.size.min}) is below node.minMembers (${minMembers}), the quorum-safe size of this etcd cluster: raise min, or lower node.minMembers to accept a cluster that cannot lose a member`,
        );
      if (pool.bootstrap)
        add(
          at('bootstrap'),
          'etcd members do not restore from snapshots: a new member gets its data from the cluster',
        );
    }

    for (const phase of ['scaleUp', 'scaleDown'] as const)
      pool[phase].rules.forEach((rule, j) => {
        checkMetric(at(phase, 'rules', j, 'metric'), rule.metric);
        if (rule.kind === 'threshold' && 'percent' in rule.step && rule.step.percent <= 0)
          add(at(phase, 'rules', j, 'step'), 'a percentage step must be more than 0%');
      });
    if (pool.scaleIn.busyMetric !== undefined)
      checkMetric(at('scaleIn', 'busyMetric'), pool.scaleIn.busyMetric);

    // An aws provider is one Auto Scaling group: it serves one pool, and its machines
    // restore snapshots from where they can reach them.
    const provider = config.providers.find((p) => p.name === pool.provider);
    if (provider?.kind === 'aws') {
      const first = config.pools.findIndex((p) => p.provider === pool.provider);
      if (first !== i)
        add(
          at('provider'),
          `aws provider "${provider.name}" (group ${provider.autoScalingGroup}) already serves pools[${first}]: give each pool its own group`,
        );
      const set = config.snapshots.find((s) => s.name === pool.bootstrap?.snapshots);
      if (set && set.store.kind !== 's3')
        add(
          at('bootstrap', 'snapshots'),
          `set "${set.name}" is in a ${set.store.kind} store, which instances on AWS cannot read: use an s3 store`,
        );
    }
    if (provider?.kind === 'kubernetes') {
      const first = config.pools.findIndex((p) => p.provider === pool.provider);
      if (first !== i)
        add(
          at('provider'),
          `kubernetes provider "${provider.name}" already serves pools[${first}]: give each pool its own`,
        );
      const wanted = provider.workload ? 'kube-pod' : 'kube-node';
      if (pool.node.kind !== wanted)
        add(
          at('node', 'kind'),
          `provider "${provider.name}" is a ${provider.workload ? 'StatefulSet (workload)' : 'node pool'}: its nodes are ${wanted}, not ${pool.node.kind}`,
        );
      if (provider.workload && pool.scaleIn.select !== 'newest')
        add(
          at('scaleIn', 'select'),
          `a StatefulSet always removes its highest ordinal, the newest replica: write scaleIn: { select: newest } (not ${pool.scaleIn.select})`,
        );
      const volumes = provider.workload?.volumes;
      if (volumes?.restore === 'job') {
        const set = config.snapshots.find((s) => s.name === pool.bootstrap?.snapshots);
        if (!set)
          add(
            at('bootstrap', 'snapshots'),
            `provider "${provider.name}" restores with a Job: name the snapshot set it restores from`,
          );
        else if (set.store.kind !== 's3')
          add(
            at('bootstrap', 'snapshots'),
            `set "${set.name}" is in a ${set.store.kind} store, which a restore Job in the cluster cannot read: use an s3 store`,
          );
      }
    } else if (pool.node.kind === 'kube-pod' || pool.node.kind === 'kube-node')
      add(
        at('node', 'kind'),
        `${pool.node.kind} nodes come only from a kubernetes provider; "${pool.provider}" is not one`,
      );
  });

  // A node pool's machines come from an aws provider that serves no pool of its own.
  config.providers.forEach((p, i) => {
    if (p.kind !== 'kubernetes' || !p.nodePool) return;
    const machines = config.providers.find((m) => m.name === p.nodePool?.machines);
    const at = ['providers', i, 'nodePool', 'machines'];
    if (!machines)
      add(at, `provider "${p.nodePool.machines}" is not defined in providers (defined: ${known(providers)})`);
    else if (machines.kind !== 'aws')
      add(
        at,
        `provider "${machines.name}" is ${machines.kind}: a node pool's machines come from an aws provider`,
      );
    else if (config.pools.some((pool) => pool.provider === machines.name))
      add(at, `provider "${machines.name}" already serves a pool directly: give the node pool its own group`);
    else if (
      config.providers.some(
        (o, j) => j < i && o.kind === 'kubernetes' && o.nodePool?.machines === machines.name,
      )
    )
      add(at, `provider "${machines.name}" already backs another node pool`);
  });
  return issues;
}
