// A fast fleet whose sentries live on GCE (fake-gce, a managed instance group) and whose
// validator runs on this host: the config, the group, the machines fake that boots the
// group's instances, and the check that nothing is orphaned or duplicated.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { METADATA } from '../../src/providers/gce/gce-provider.ts';
import { LocalProvider } from '../../src/providers/local/local-provider.ts';
import type { Runtime } from '../../src/runtime/runtime.ts';
import type { FakeGce, FakeGroup } from './fake-gce-compute.ts';
import { type GceMachines, startGceMachines } from './fake-gce-machines.ts';
import { type Fleet, makeFleet } from './fleet.ts';
import { freshGroup, ZONE } from './gce-bed.ts';
import { freePort } from './servers.ts';

export interface GceFleetSize {
  readonly min: number;
  readonly capacity: number;
  readonly max: number;
}

export interface GceFleet extends Fleet {
  readonly group: string;
  readonly fake: FakeGce;
  readonly machines: GceMachines;
  /** Rewrites the config with another size (the controller reads it on its next start). */
  resize(size: GceFleetSize): void;
  /** Rewrites the provider's `images` settings besides the family (YAML flow entries). */
  setImages(images: string): void;
}

export interface GceFleetOptions {
  /** Image family the template boots (and the provider bakes into); a base image is seeded. */
  readonly family?: string;
  /** The provider's `images` settings besides the family, as YAML flow entries (`every: 1s, keep: 1`). */
  readonly images?: string;
  /** YAML appended after the pools (a `snapshots:` section). */
  readonly extra?: string;
}

function configText(
  fake: FakeGce,
  group: string,
  ports: { rpc: number; metrics: number },
  s: GceFleetSize,
  o: GceFleetOptions,
) {
  return `version: 1
controller:
  evaluationInterval: 300ms
  store: { kind: sqlite, path: state.db }
metrics:
  - { name: nodes, kind: scrape, staleAfter: 5s, timeout: 1s }
providers:
  - { name: here, kind: local, dataDir: nodes }
  - name: cloud
    kind: gce
    project: ${fake.project}
    zone: ${ZONE}
    group: ${group}
    endpoint: ${fake.url}
    ports: { rpc: ${ports.rpc}, metrics: ${ports.metrics} }
    retry: { attempts: 4, baseDelay: 50ms, maxDelay: 500ms, callTimeout: 5s, operationTimeout: 30s, bootTimeout: 30s }
${o.family ? `    images: { family: ${o.family}${o.images ? `, ${o.images}` : ''} }\n` : ''}pools:
  - name: validator
    role: validator
    provider: here
    node: { kind: simnode, blockTimeMs: 200 }
    health: { checkInterval: 300ms }
  - name: sentries
    role: sentry
    provider: cloud
    node: { kind: simnode, validatorPool: validator, txCapacity: 20, syncRate: 2000 }
    size: { min: ${s.min}, capacity: ${s.capacity}, max: ${s.max} }
    scaleUp:
      cooldown: 1s
      rules: [ { metric: "nodes:simnode_utilization_ratio", comparator: ">", threshold: 0.7, step: 1 } ]
    scaleDown:
      period: 1s
      lockAttemptPeriod: 100ms
      rules: [ { metric: "nodes:simnode_utilization_ratio", comparator: "<", threshold: 0.2 } ]
    health: { checkInterval: 300ms, failTolerance: 10, joinRetries: 3, joinTimeout: 60s }
${o.extra ?? ''}`;
}

/** A fresh group on fake-gce, the fleet's config and the machines fake. */
export async function makeGceFleet(
  fake: FakeGce,
  size: GceFleetSize,
  o: GceFleetOptions = {},
): Promise<GceFleet> {
  if (o.family && ![...fake.images.values()].some((i) => i.family === o.family))
    fake.seedImage(`${o.family}-base`, o.family);
  const group = freshGroup(fake, { family: o.family });
  const ports = { rpc: await freePort(), metrics: await freePort() };
  let current = size;
  let options = o;
  const fleet = makeFleet(configText(fake, group, ports, size, o));
  const local = new LocalProvider({ name: 'here', dataDir: `${fleet.dir}/nodes` });
  const machines = startGceMachines({
    fake,
    ports,
    role: 'sentry',
    syncRate: 2000,
    txCapacity: 20,
    chainSource: async () => {
      const v = (await local.list()).find((i) => i.pool === 'validator' && i.running);
      return v ? `http://${v.host}:${v.ports.rpc}` : undefined;
    },
  });
  return {
    ...fleet,
    group,
    fake,
    machines,
    resize: (s) => {
      current = s;
      writeFileSync(fleet.configFile, configText(fake, group, ports, s, options));
    },
    setImages: (images) => {
      options = { ...options, images };
      writeFileSync(fleet.configFile, configText(fake, group, ports, current, options));
    },
    cleanup: async () => {
      await machines.stop();
      await fleet.cleanup();
    },
  };
}

export function groupOf(fleet: GceFleet): FakeGroup {
  return fleet.fake.groups.get(`zones/${ZONE}/${fleet.group}`)!;
}

/** The group's members that are not being deleted, with the node their metadata names. */
export function liveMembers(fleet: GceFleet): { name: string; node: string | undefined }[] {
  return [...groupOf(fleet).members.values()]
    .filter((m) => m.currentAction !== 'DELETING')
    .map((m) => ({ name: m.name, node: m.metadata[METADATA.node] }));
}

/**
 * No open intent; every member of the group belongs to exactly one live sentry record and
 * back; no VM of the fake runs outside the group.
 */
export async function assertGceConsistent(rt: Runtime, fleet: GceFleet): Promise<void> {
  assert.deepEqual(
    (await rt.store.openActions()).map((a) => `${a.kind} ${a.id}`),
    [],
    'every intent has an outcome',
  );
  const live = liveMembers(fleet);
  const records = await rt.store.listNodes({ pool: 'sentries' });
  const byNode = new Map<string, string[]>();
  for (const m of live) {
    const key = m.node ?? `(no node: ${m.name})`;
    byNode.set(key, [...(byNode.get(key) ?? []), m.name]);
  }
  for (const [node, names] of byNode)
    assert.equal(names.length, 1, `node ${node} has instances ${names.join(', ')}`);
  for (const m of live) {
    const record = records.find((n) => n.id === m.node);
    assert.ok(record, `instance ${m.name} (${m.node}) is an orphan: no live node record`);
    assert.equal(record.instanceId, m.name, `node ${m.node} records ${record.instanceId}, runs ${m.name}`);
  }
  for (const n of records) assert.ok(byNode.has(n.id), `live node ${n.id} (${n.state}) has no instance`);
  const vms = [...fleet.fake.instances.values()].filter((i) => i.metadata[METADATA.group] === fleet.group);
  assert.deepEqual(
    vms.map((v) => v.name).sort(),
    live.map((m) => m.name).sort(),
    'the group holds exactly the live VMs: none runs outside it',
  );
}
