// A fast fleet whose sentries live on AWS (moto) and whose validator runs on this host:
// the config, the moto group, the machines fake that boots moto's instances, and the check
// that nothing is orphaned or duplicated.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import {
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeLaunchTemplateVersionsCommand,
  DescribeSnapshotsCommand,
  type Instance as Ec2Instance,
} from '@aws-sdk/client-ec2';
import { IMAGE_TAGS } from '../../src/providers/aws/ami-baking.ts';
import { TAGS } from '../../src/providers/aws/aws-provider.ts';
import { LocalProvider } from '../../src/providers/local/local-provider.ts';
import { shortId } from '../../src/runtime/action-journal.ts';
import type { Runtime } from '../../src/runtime/runtime.ts';
import { type Fleet, makeFleet } from './fleet.ts';
import { createMotoGroup, motoClients, resetMoto } from './moto-group.ts';
import { type MachinesFake, startMachinesFake } from './moto-machines-fake.ts';
import { freePort } from './servers.ts';

export const ADDRESS_TAG = 'rampart:address';

export interface AwsFleetSize {
  readonly min: number;
  readonly capacity: number;
  readonly max: number;
}

export interface AwsFleet extends Fleet {
  readonly group: string;
  readonly endpoint: string;
  readonly machines: MachinesFake;
  /** Rewrites the config with another size (the controller reads it on its next start). */
  resize(size: AwsFleetSize): void;
  /** Rewrites the provider's `images` settings besides the family (YAML flow entries, `every: 1s, keep: 1`). */
  setImages(images: string): void;
  /** The group's launch template. */
  readonly template: string;
}

export interface AwsFleetOptions {
  /** AMI family the provider bakes into (providers[].images.family). */
  readonly family?: string;
  /** The provider's `images` settings besides the family, as YAML flow entries. */
  readonly images?: string;
}

function configText(
  endpoint: string,
  group: string,
  ports: { rpc: number; metrics: number },
  s: AwsFleetSize,
  o: AwsFleetOptions = {},
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
    kind: aws
    region: us-east-1
    autoScalingGroup: ${group}
    endpoint: ${endpoint}
    address: { tag: "${ADDRESS_TAG}" }
    ports: { rpc: ${ports.rpc}, metrics: ${ports.metrics} }
    retry: { attempts: 4, baseDelay: 50ms, maxDelay: 500ms, callTimeout: 3s }
${o.family ? `    images: { family: ${o.family}${o.images ? `, ${o.images}` : ''}, timeout: 30s }\n` : ''}pools:
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

/** A fresh moto group (moto reset first), the fleet's config and the machines fake. */
export async function makeAwsFleet(
  motoUrl: string,
  size: AwsFleetSize,
  o: AwsFleetOptions = {},
): Promise<AwsFleet> {
  await resetMoto(motoUrl);
  const group = `sentries-${shortId()}`;
  const { template } = await createMotoGroup(motoUrl, { group, maxSize: size.max, hooks: ['terminating'] });
  const ports = { rpc: await freePort(), metrics: await freePort() };
  let options = o;
  let current = size;
  const fleet = makeFleet(configText(motoUrl, group, ports, size, options));
  const local = new LocalProvider({ name: 'here', dataDir: `${fleet.dir}/nodes` });
  const machines = startMachinesFake({
    endpoint: motoUrl,
    group,
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
    group,
    endpoint: motoUrl,
    machines,
    template,
    resize: (s) => {
      current = s;
      writeFileSync(fleet.configFile, configText(motoUrl, group, ports, s, options));
    },
    setImages: (images) => {
      options = { ...options, images };
      writeFileSync(fleet.configFile, configText(motoUrl, group, ports, current, options));
    },
    cleanup: async () => {
      await machines.stop();
      await fleet.cleanup();
    },
  };
}

/** Instances of the group moto holds that are not terminated or shutting down. */
export async function liveInstances(endpoint: string, group: string): Promise<Ec2Instance[]> {
  const { ec2 } = motoClients(endpoint);
  const out = await ec2.send(
    new DescribeInstancesCommand({
      Filters: [
        { Name: `tag:${TAGS.group}`, Values: [group] },
        { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
      ],
    }),
  );
  ec2.destroy();
  return (out.Reservations ?? []).flatMap((r) => r.Instances ?? []);
}

export async function groupMembers(
  endpoint: string,
  group: string,
): Promise<{ desired: number; members: string[] }> {
  const { asg } = motoClients(endpoint);
  const g = (await asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [group] })))
    .AutoScalingGroups![0]!;
  asg.destroy();
  return { desired: g.DesiredCapacity!, members: (g.Instances ?? []).map((i) => i.InstanceId!).sort() };
}

/**
 * No open intent; every live instance in moto belongs to exactly one live sentry record and
 * back; the group holds exactly those (none outside it), with its desired capacity equal.
 */
export async function assertAwsConsistent(rt: Runtime, fleet: AwsFleet): Promise<void> {
  assert.deepEqual(
    (await rt.store.openActions()).map((a) => `${a.kind} ${a.id}`),
    [],
    'every intent has an outcome',
  );
  const live = await liveInstances(fleet.endpoint, fleet.group);
  const records = await rt.store.listNodes({ pool: 'sentries' });
  const byNode = new Map<string, string[]>();
  for (const i of live) {
    const node = i.Tags?.find((t) => t.Key === TAGS.node)?.Value ?? `(untagged ${i.InstanceId})`;
    byNode.set(node, [...(byNode.get(node) ?? []), i.InstanceId!]);
  }
  for (const [node, ids] of byNode)
    assert.equal(ids.length, 1, `node ${node} has instances ${ids.join(', ')}`);
  for (const i of live) {
    const node = i.Tags?.find((t) => t.Key === TAGS.node)?.Value;
    const record = records.find((n) => n.id === node);
    assert.ok(record, `instance ${i.InstanceId} (${node}) is an orphan: no live node record`);
    assert.equal(
      record.instanceId,
      i.InstanceId,
      `node ${node} records ${record.instanceId}, runs ${i.InstanceId}`,
    );
  }
  for (const n of records) assert.ok(byNode.has(n.id), `live node ${n.id} (${n.state}) has no instance`);
  const group = await groupMembers(fleet.endpoint, fleet.group);
  assert.equal(group.desired, group.members.length, 'desired capacity equals the members');
  assert.deepEqual(
    group.members,
    live.map((i) => i.InstanceId!).sort(),
    'the group holds exactly the live instances: none runs outside it',
  );
}

/** The family's AMIs and snapshots moto holds, and the AMI the template's default version boots. */
export async function amiFamily(endpoint: string, family: string, template: string) {
  const { ec2 } = motoClients(endpoint);
  try {
    const filter = [{ Name: `tag:${IMAGE_TAGS.family}`, Values: [family] }];
    const images =
      (await ec2.send(new DescribeImagesCommand({ Owners: ['self'], Filters: filter }))).Images ?? [];
    const snapshots =
      (await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters: filter }))).Snapshots ?? [];
    const versions =
      (
        await ec2.send(
          new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateName: template, Versions: ['$Default'] }),
        )
      ).LaunchTemplateVersions ?? [];
    return {
      amis: images
        .map((i) => ({
          id: i.ImageId!,
          name: i.Name!,
          createdAt: Date.parse(i.CreationDate!),
          snapshot: i.Tags?.find((t) => t.Key === IMAGE_TAGS.snapshot)?.Value,
        }))
        .sort((a, b) => b.createdAt - a.createdAt || b.name.localeCompare(a.name)),
      snapshots: snapshots.map((s) => s.SnapshotId!),
      bootedByDefault: versions[0]?.LaunchTemplateData?.ImageId,
    };
  } finally {
    ec2.destroy();
  }
}
