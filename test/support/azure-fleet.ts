// A fast fleet whose sentries live on Azure (fake-azure-compute; machines booted by the
// Azure machines fake) and whose validator runs on this host: the config (a service
// principal from files, as a Kubernetes secret mounts it), the scale set, and the check
// that nothing is orphaned or duplicated.

import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { TAGS } from '../../src/providers/azure/azure-provider.ts';
import { LocalProvider } from '../../src/providers/local/local-provider.ts';
import { shortId } from '../../src/runtime/action-journal.ts';
import type { Runtime } from '../../src/runtime/runtime.ts';
import type { FakeAzureCompute, Wire } from './fake-azure-compute.ts';
import { type AzureMachines, startAzureMachines } from './fake-azure-machines.ts';
import { type Fleet, makeFleet } from './fleet.ts';
import { freePort } from './servers.ts';

export const ADDRESS_TAG = 'rampart:address';
export const RESOURCE_GROUP = 'rampart-fleet';

export interface AzureFleetSize {
  readonly min: number;
  readonly capacity: number;
  readonly max: number;
}

export interface AzureFleet extends Fleet {
  readonly scaleSet: string;
  readonly machines: AzureMachines;
  resize(size: AzureFleetSize): void;
  /** Rewrites the provider's `images` settings (YAML flow entries, `family: f, keep: 1`); '' drops them. */
  setImages(images: string): void;
}

function configText(
  fake: FakeAzureCompute,
  scaleSet: string,
  ports: { rpc: number; metrics: number },
  s: AzureFleetSize,
  images: string,
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
    kind: azure
    subscriptionId: ${fake.subscriptionId}
    resourceGroup: ${RESOURCE_GROUP}
    scaleSet: ${scaleSet}
    endpoint: ${fake.url}
    caFile: ${fake.caFile}
    credentials: { servicePrincipalDir: azure-sp, authorityHost: ${fake.url} }
    address: { tag: "${ADDRESS_TAG}" }
    ports: { rpc: ${ports.rpc}, metrics: ${ports.metrics} }
    retry: { attempts: 4, baseDelay: 50ms, maxDelay: 500ms, callTimeout: 3s, pollInterval: 100ms, operationTimeout: 30s }
    customData: { dataDir: /var/lib/simnode, command: "simnode --data-dir /var/lib/simnode" }
${images ? `    images: { ${images} }\n` : ''}pools:
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
    health: { checkInterval: 300ms, failTolerance: 20, joinRetries: 3, joinTimeout: 60s }
`;
}

/** A fresh Flexible scale set on the fake, the fleet's config with its service principal files, and the machines fake. */
export async function makeAzureFleet(
  fake: FakeAzureCompute,
  size: AzureFleetSize,
  /** The provider's `images` settings as YAML flow entries; absent: no images. */
  images = '',
): Promise<AzureFleet> {
  const scaleSet = `sentries-${shortId()}`;
  fake.addScaleSet({
    resourceGroup: RESOURCE_GROUP,
    name: scaleSet,
    orchestrationMode: 'Flexible',
    zones: ['1', '2'],
  });
  const ports = { rpc: await freePort(), metrics: await freePort() };
  let current = { size, images };
  const fleet = makeFleet(configText(fake, scaleSet, ports, size, images));
  // The service principal as a Kubernetes secret mounted as a folder: one file per key.
  const sp = path.join(fleet.dir, 'azure-sp');
  mkdirSync(sp, { mode: 0o700 });
  writeFileSync(path.join(sp, 'tenantId'), fake.tenantId);
  writeFileSync(path.join(sp, 'clientId'), fake.servicePrincipal.clientId);
  writeFileSync(path.join(sp, 'clientSecret'), fake.servicePrincipal.clientSecret, { mode: 0o600 });
  const local = new LocalProvider({ name: 'here', dataDir: `${fleet.dir}/nodes` });
  const machines = startAzureMachines({
    fake,
    resourceGroup: RESOURCE_GROUP,
    scaleSet,
    addressTag: ADDRESS_TAG,
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
    scaleSet,
    machines,
    resize: (s) => {
      current = { ...current, size: s };
      writeFileSync(fleet.configFile, configText(fake, scaleSet, ports, s, current.images));
    },
    setImages: (i) => {
      current = { ...current, images: i };
      writeFileSync(fleet.configFile, configText(fake, scaleSet, ports, current.size, i));
    },
    cleanup: async () => {
      await machines.stop();
      await fleet.cleanup();
    },
  };
}

/** The scale set's VMs that are not being deleted. */
export function liveVms(fake: FakeAzureCompute, scaleSet: string): Wire[] {
  return fake.machines(RESOURCE_GROUP, scaleSet).filter((m) => m.properties.provisioningState !== 'Deleting');
}

/** No open intent; every live VM belongs to exactly one live sentry record and back. */
export async function assertAzureConsistent(
  rt: Runtime,
  fake: FakeAzureCompute,
  fleet: AzureFleet,
): Promise<void> {
  assert.deepEqual(
    (await rt.store.openActions()).map((a) => `${a.kind} ${a.id}`),
    [],
    'every intent has an outcome',
  );
  const live = liveVms(fake, fleet.scaleSet);
  const records = await rt.store.listNodes({ pool: 'sentries' });
  const byNode = new Map<string, string[]>();
  for (const vm of live) {
    const node = vm.tags?.[TAGS.node] ?? `(untagged ${vm.name})`;
    byNode.set(node, [...(byNode.get(node) ?? []), vm.name]);
  }
  for (const [node, names] of byNode)
    assert.equal(names.length, 1, `node ${node} has VMs ${names.join(', ')}`);
  for (const vm of live) {
    const node = vm.tags?.[TAGS.node];
    const record = records.find((n) => n.id === node);
    assert.ok(record, `VM ${vm.name} (${node}) is an orphan: no live node record`);
    assert.equal(record.instanceId, vm.name, `node ${node} records ${record.instanceId}, runs ${vm.name}`);
  }
  for (const n of records) assert.ok(byNode.has(n.id), `live node ${n.id} (${n.state}) has no VM`);
}
