// A fast fleet whose sentries are Nova servers on the OpenStack test bed and whose validator
// runs on this host: the config, the machines fake that boots the servers into simnodes, and
// the check that no server is orphaned or duplicated.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import type { NovaServer } from '../../src/providers/openstack/openstack-provider.ts';
import { META, providerTag } from '../../src/providers/openstack/openstack-provider.ts';
import { shortId } from '../../src/runtime/action-journal.ts';
import type { Runtime } from '../../src/runtime/runtime.ts';
import { type Fleet, makeFleet } from './fleet.ts';
import { ADMIN_CLOUD, CLOUD, FLAVOR, IMAGE, type OpenStackBed } from './openstack.ts';
import { COUNT_PARAMETER, GROUP, type HeatStack, REMOVAL_PARAMETER } from './openstack-heat-stack.ts';
import { type OpenstackMachines, startOpenstackMachines } from './openstack-machines-fake.ts';
import { freePort } from './servers.ts';

export const ADDRESS_KEY = 'rampart:address';

export interface OpenstackFleetSize {
  readonly min: number;
  readonly capacity: number;
  readonly max: number;
}

export interface OpenstackFleet extends Fleet {
  /** The provider entry's name (its servers carry its tag). */
  readonly provider: string;
  readonly machines: OpenstackMachines;
  /** Rewrites the config with another size (the controller reads it on its next start). */
  resize(size: OpenstackFleetSize): void;
  /** Rewrites the provider's `images:` (a flow map's inside, or none), as `resize` does the size. */
  setImages(images: string | undefined): void;
  /** The provider's servers, as the admin sees them. */
  servers(): Promise<NovaServer[]>;
}

function configText(
  bed: OpenStackBed,
  provider: string,
  ports: { rpc: number; metrics: number },
  s: OpenstackFleetSize,
  stack: HeatStack | undefined,
  extra: OpenstackFleetExtra = {},
) {
  const mode = stack
    ? `heat: { stack: ${stack.name}, group: ${GROUP}, countParameter: ${COUNT_PARAMETER}, removalParameter: ${REMOVAL_PARAMETER}, updateTimeout: 5m }`
    : `servers: { flavor: ${FLAVOR}, image: ${IMAGE}, networks: none }`;
  return `version: 1
controller:
  evaluationInterval: 300ms
  store: { kind: sqlite, path: state.db }
metrics:
  - { name: nodes, kind: scrape, staleAfter: 5s, timeout: 1s }
providers:
  - { name: here, kind: local, dataDir: nodes }
  - name: ${provider}
    kind: openstack
    cloud: ${CLOUD}
    cloudsFile: ${bed.cloudsFile}
    secretFile: ${bed.secretFile}${
      extra.region
        ? `
    region: ${extra.region}`
        : ''
    }
    ${mode}
    address: { metadata: "${ADDRESS_KEY}" }
    ports: { rpc: ${ports.rpc}, metrics: ${ports.metrics} }${
      extra.images
        ? `
    images: { ${extra.images} }`
        : ''
    }
    bootTimeout: 2m
    retry: { attempts: 5, baseDelay: 200ms, maxDelay: 2s, callTimeout: ${extra.callTimeout ?? '20s'} }
pools:
  - name: validator
    role: validator
    provider: here
    node: { kind: simnode, blockTimeMs: 200 }
    health: { checkInterval: 300ms }
  - name: sentries
    role: sentry
    provider: ${provider}
    node: { kind: simnode, validatorPool: validator, txCapacity: 20, syncRate: ${extra.syncRate ?? 2000} }
    size: { min: ${s.min}, capacity: ${s.capacity}, max: ${s.max} }
    scaleUp:
      cooldown: 1s
      rules: [ { metric: "nodes:simnode_utilization_ratio", comparator: ">", threshold: 0.7, step: 1 } ]
    scaleDown:
      period: 1s
      lockAttemptPeriod: 100ms
      rules: [ { metric: "nodes:simnode_utilization_ratio", comparator: "<", threshold: 0.2 } ]
    health: { checkInterval: 300ms, failTolerance: ${extra.failTolerance ?? 20}, joinRetries: 3, joinTimeout: 30s }
`;
}

export interface OpenstackFleetExtra {
  /** The provider's `images:` flow map's inside, e.g. `family: f, every: 3s, keep: 1` (servers mode). */
  readonly images?: string | undefined;
  /** The provider's `region:` (a region whose compute endpoint is a fault proxy). */
  readonly region?: string | undefined;
  /** The provider's retry.callTimeout (default 20s). */
  readonly callTimeout?: string | undefined;
  /** The sentries' health.failTolerance (default 20: 1.2 s of failed checks). */
  readonly failTolerance?: number | undefined;
  /** Sentries' catch-up rate in blocks/s (default 2000: at once). */
  readonly syncRate?: number | undefined;
}

/**
 * The fleet's config, a provider name of its own and the machines fake booting its servers.
 * With `stack`, the sentries are that stack's group (Heat mode), and `servers()` lists every
 * member's server, labelled or not.
 */
export async function makeOpenstackFleet(
  bed: OpenStackBed,
  size: OpenstackFleetSize,
  stack?: HeatStack,
  extra: OpenstackFleetExtra = {},
): Promise<OpenstackFleet> {
  const provider = `cloud-${shortId()}`.toLowerCase();
  const ports = { rpc: await freePort(), metrics: await freePort() };
  let current = { size, extra };
  const fleet = makeFleet(configText(bed, provider, ports, size, stack, extra));
  const machines = startOpenstackMachines({
    cloudsFile: bed.cloudsFile,
    cloud: ADMIN_CLOUD,
    provider,
    addressKey: ADDRESS_KEY,
  });
  const servers = async () => {
    if (stack) return stack.servers();
    const r = await fetch(`${bed.urls.nova}/servers/detail?tags=${providerTag(provider)}`, {
      headers: { 'x-auth-token': await bed.token(), 'x-openstack-nova-api-version': '2.67' },
    });
    if (!r.ok) throw new Error(`list servers: HTTP ${r.status}: ${await r.text()}`);
    return ((await r.json()) as { servers: NovaServer[] }).servers;
  };
  return {
    ...fleet,
    provider,
    machines,
    servers,
    resize: (s) => {
      current = { ...current, size: s };
      writeFileSync(fleet.configFile, configText(bed, provider, ports, s, stack, current.extra));
    },
    setImages: (images) => {
      current = { ...current, extra: { ...current.extra, images } };
      writeFileSync(fleet.configFile, configText(bed, provider, ports, current.size, stack, current.extra));
    },
    cleanup: async () => {
      await machines.stop();
      await fleet.cleanup();
    },
  };
}

/**
 * No open intent; every server of the provider belongs to exactly one live sentry record,
 * which names it, and every live sentry record has its server.
 */
export async function assertOpenstackConsistent(rt: Runtime, fleet: OpenstackFleet): Promise<void> {
  assert.deepEqual(
    (await rt.store.openActions()).map((a) => `${a.kind} ${a.id}`),
    [],
    'every intent has an outcome',
  );
  const servers = await fleet.servers();
  const records = await rt.store.listNodes({ pool: 'sentries' });
  const byNode = new Map<string, string[]>();
  for (const s of servers) {
    const node = s.metadata[META.node] ?? `(no node ${s.id})`;
    byNode.set(node, [...(byNode.get(node) ?? []), s.id]);
  }
  for (const [node, ids] of byNode) assert.equal(ids.length, 1, `node ${node} has servers ${ids.join(', ')}`);
  for (const s of servers) {
    const node = s.metadata[META.node];
    const record = records.find((n) => n.id === node);
    assert.ok(record, `server ${s.id} (${node}) is an orphan: no live node record`);
    assert.equal(record.instanceId, s.id, `node ${node} records ${record.instanceId}, runs ${s.id}`);
  }
  for (const n of records) assert.ok(byNode.has(n.id), `live node ${n.id} (${n.state}) has no server`);
}

/**
 * Seed 003's pool on OpenStack, as the etcd-member tests run it: an etcd-member pool of 3 voters
 * scaled on etcd's put rate, Rampart's state and lock on the testbed etcd (`endpoints`, a prefix
 * of its own). `placement` is the provider's `servers:` or `heat:` line.
 */
export async function seed003Config(o: {
  readonly bed: OpenStackBed;
  readonly provider: string;
  readonly endpoints: readonly string[];
  readonly placement: string;
  readonly max: number;
  readonly select: 'oldest' | 'newest';
}): Promise<string> {
  const { bed, provider, endpoints } = o;
  const prefix = `/rampart-test/${randomBytes(6).toString('hex')}/`;
  const [client, peer, metrics] = [await freePort(), await freePort(), await freePort()];
  return `version: 1
controller:
  evaluationInterval: 400ms
  store: { kind: etcd, endpoints: [${endpoints.join(', ')}], prefix: ${prefix}, timeout: 2s }
  coordination: { kind: etcd, leaseTtl: 3s }
metrics:
  - { name: etcd, kind: scrape, staleAfter: 5s, timeout: 1s }
providers:
  - name: ${provider}
    kind: openstack
    cloud: ${CLOUD}
    cloudsFile: ${bed.cloudsFile}
    secretFile: ${bed.secretFile}
    region: RegionOne
    ${o.placement}
    address: { metadata: "${ADDRESS_KEY}" }
    ports: { client: ${client}, peer: ${peer}, metrics: ${metrics} }
    bootTimeout: 2m
    retry: { attempts: 5, baseDelay: 200ms, maxDelay: 2s, callTimeout: 20s }
pools:
  - name: members
    role: member
    provider: ${provider}
    node: { kind: etcd-member, minMembers: 3, timeout: 1s }
    size: { min: 3, capacity: 3, max: ${o.max} }
    scaleUp:
      cooldown: 1s
      rules: [ { metric: "etcd:etcd_mvcc_put_total", rate: true, aggregate: max, comparator: ">", threshold: 40, step: 1 } ]
    scaleDown:
      period: 1s
      lockAttemptPeriod: 200ms
      rules: [ { metric: "etcd:etcd_mvcc_put_total", rate: true, aggregate: max, comparator: "<", threshold: 5 } ]
    health: { checkInterval: 400ms, failTolerance: 20, joinRetries: 3, joinTimeout: 90s }
    scaleIn: { select: ${o.select} }
`;
}
