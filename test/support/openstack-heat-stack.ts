// An operator's stack on the bed's real Heat, modelled on seed 003's template.yaml: the
// service's parameters (image, instance_type, OS_REGION, capacity, min_cluster, max_cluster,
// etcdclientport, etcdpeerport, ...) and its members as an OS::Heat::ResourceGroup of Nova
// servers, whose count and removal_policies are the two parameters Rampart's Heat mode
// updates. The servers boot Rampart's boot script (no identity: Rampart labels each member
// through Nova once Heat made it), on no network (the bed has no Neutron agents).

import { renderBootScript } from '../../src/providers/openstack/boot-script.ts';
import type { NovaServer } from '../../src/providers/openstack/openstack-provider.ts';
import { waitFor } from './fleet.ts';
import { FLAVOR, IMAGE, type OpenStackBed, REGION } from './openstack.ts';

export const GROUP = 'etcd_nodes';
export const COUNT_PARAMETER = 'cluster_size';
export const REMOVAL_PARAMETER = 'removal_policies';
export const DATA_DIR = '/var/lib/rampart/node';

/** Seed 003's template, reduced to what runs without Neutron, and scaled by Rampart. */
export function seed003Template(): Record<string, unknown> {
  return {
    heat_template_version: '2018-08-31',
    description: "Autoscaled etcd service (seed 003's template.yaml); Rampart scales the group",
    parameters: {
      OS_REGION: { type: 'string', default: REGION },
      image: { type: 'string', default: IMAGE },
      instance_type: { type: 'string', default: FLAVOR },
      capacity: { type: 'number', default: 3 },
      min_cluster: { type: 'number', default: 3 },
      max_cluster: { type: 'number', default: 5 },
      etcdclientport: { type: 'number', default: 12379 },
      etcdpeerport: { type: 'number', default: 12380 },
      failtolerance: { type: 'number', default: 20 },
      [COUNT_PARAMETER]: {
        type: 'number',
        default: 0,
        description: "The members there are; Rampart's Heat mode sets it",
      },
      [REMOVAL_PARAMETER]: {
        type: 'json',
        default: [],
        description: 'The members to remove on a scale-in; Rampart names the one it chose',
      },
      boot_script: { type: 'string', description: "Rampart's boot script (renderBootScript)" },
    },
    resources: {
      [GROUP]: {
        type: 'OS::Heat::ResourceGroup',
        properties: {
          count: { get_param: COUNT_PARAMETER },
          removal_policies: { get_param: REMOVAL_PARAMETER },
          resource_def: {
            type: 'OS::Nova::Server',
            properties: {
              name: { list_join: ['-', [{ get_param: 'OS::stack_name' }, 'etcd', '%index%']] },
              image: { get_param: 'image' },
              flavor: { get_param: 'instance_type' },
              networks: [{ allocate_network: 'none' }],
              user_data_format: 'RAW',
              user_data: { get_param: 'boot_script' },
              metadata: { 'seed003:member': '%index%' },
            },
          },
        },
      },
    },
  };
}

export interface HeatStack {
  readonly name: string;
  readonly id: string;
  /** The stack's current parameters (Heat gives every value as a string). */
  parameters(): Promise<Record<string, string>>;
  /** Every server of the project whose name is one of this stack's members', labelled or not. */
  servers(): Promise<NovaServer[]>;
  /** Deletes the stack (and its servers) and waits until it is gone. */
  delete(): Promise<void>;
}

async function heatCall(bed: OpenStackBed, method: string, path: string, body?: unknown) {
  const r = await fetch(`${bed.urls.heat}/v1/${bed.projectId}${path}`, {
    method,
    headers: { 'x-auth-token': await bed.token(), 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await r.text();
  if (!r.ok && r.status !== 404) throw new Error(`${method} heat ${path}: HTTP ${r.status}: ${text}`);
  return { status: r.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** Creates the stack (count 0 unless given) and waits for CREATE_COMPLETE. */
export async function createSeed003Stack(
  bed: OpenStackBed,
  name: string,
  parameters: Readonly<Record<string, unknown>> = {},
): Promise<HeatStack> {
  if (!bed.urls.heat) throw new Error('the bed runs no Heat');
  const created = await heatCall(bed, 'POST', '/stacks', {
    stack_name: name,
    template: seed003Template(),
    parameters: { boot_script: renderBootScript({ dataDir: DATA_DIR }), ...parameters },
    timeout_mins: 10,
  });
  const id = (created.body.stack as { id: string }).id;
  const show = async () =>
    (await heatCall(bed, 'GET', `/stacks/${name}/${id}`)).body.stack as {
      stack_status: string;
      stack_status_reason: string;
      parameters: Record<string, string>;
    };
  await waitFor(
    `stack ${name} CREATE_COMPLETE`,
    async () => {
      const s = await show();
      if (s.stack_status === 'CREATE_FAILED') throw new Error(`stack ${name}: ${s.stack_status_reason}`);
      return s.stack_status === 'CREATE_COMPLETE';
    },
    180_000,
  );
  const servers = async () => {
    const r = await fetch(`${bed.urls.nova}/servers/detail`, {
      headers: { 'x-auth-token': await bed.token(), 'x-openstack-nova-api-version': '2.67' },
    });
    if (!r.ok) throw new Error(`list servers: HTTP ${r.status}: ${await r.text()}`);
    return ((await r.json()) as { servers: NovaServer[] }).servers.filter((s) =>
      s.name.startsWith(`${name}-etcd-`),
    );
  };
  return {
    name,
    id,
    parameters: async () => (await show()).parameters,
    servers,
    delete: async () => {
      await heatCall(bed, 'DELETE', `/stacks/${name}/${id}`);
      await waitFor(
        `stack ${name} deleted`,
        async () => {
          const got = await heatCall(bed, 'GET', `/stacks/${name}/${id}`);
          const status = (got.body.stack as { stack_status?: string } | undefined)?.stack_status;
          if (status === 'DELETE_FAILED') await heatCall(bed, 'DELETE', `/stacks/${name}/${id}`);
          return got.status === 404 || status === 'DELETE_COMPLETE';
        },
        180_000,
      );
    },
  };
}
