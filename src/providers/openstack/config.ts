// The config slice of the openstack provider: a pool's nodes as Nova servers, with
// credentials the OpenStack way (clouds.yaml and OS_CLOUD, or the OS_* variables).

import { z } from 'zod';
import { filePath, name, positiveDuration, positiveDurationDefault } from '../../config-kit/fields.ts';
import type { PoolCheck, ProviderCheck } from '../../config-kit/plugin.ts';

/** How long each OpenStack call may take and how failed calls are retried (5xx, 409, 429, timeouts). */
const openstackRetry = z.strictObject({
  /** Tries per call, the first included. Default 5. */
  attempts: z.number().int().min(1).max(20).default(5),
  /** First backoff; doubles per retry, with full jitter (429 waits 5× longer, or Retry-After). Default 500ms. */
  baseDelay: positiveDurationDefault('500ms', 'First backoff between two tries of a call.'),
  /** Longest backoff between two tries. Default 20s. */
  maxDelay: positiveDurationDefault('20s', 'Longest backoff between two tries of a call.'),
  /** Longest wait for one try; a try that times out is retried. Default 30s. */
  callTimeout: positiveDurationDefault('30s', 'Longest wait for one try of a call.'),
});

const portName = z
  .string()
  .regex(/^[a-z][a-z0-9-]*$/, { message: 'a port name of lowercase letters, digits and -' });

/** What a new server is made of (Nova's create-server fields). */
const openstackServers = z.strictObject({
  /** Flavor name or id, e.g. m1.small (seed 003's instance_type). */
  flavor: z.string().min(1).max(255),
  /** Image name or id a new server boots (seed 003's image); with `images`, the newest baked image wins once there is one. */
  image: z.string().min(1).max(255),
  /**
   * Networks the server gets (seed 003's net_name), by name or id; `none` (no network: a test
   * bed without Neutron, addresses from `address: { metadata }`) or `auto`. Default auto.
   */
  networks: z
    .union([z.enum(['none', 'auto']), z.array(z.string().min(1).max(255)).min(1)], {
      error: 'none, auto or a list of network names or ids',
    })
    .default('auto'),
  /** Security groups by name (seed 003's sec_grps). Default: the project's default group. */
  securityGroups: z.array(z.string().min(1).max(255)).default([]),
  /** Key pair for SSH (seed 003's key_name). Default none. */
  keyName: z.string().min(1).max(255).optional(),
  /** Server group (name or id) the servers are created in, e.g. one with an anti-affinity policy. Default none. */
  serverGroup: z.string().min(1).max(255).optional(),
  /** Availability zone. Default: Nova's choice. */
  availabilityZone: z.string().min(1).max(255).optional(),
});

/** A Heat parameter or resource name, as a template spells it. */
const heatName = (what: string) =>
  z
    .string()
    .min(1)
    .max(255)
    .regex(/^[A-Za-z0-9_][A-Za-z0-9_.:-]*$/, { message: `a ${what}: letters, digits, _ . : and -` });

/**
 * Heat mode: the pool is an OS::Heat::ResourceGroup of the operator's stack (seed 003's). The
 * group's `count` must be `{ get_param: countParameter }` and its `removal_policies`
 * `{ get_param: removalParameter }` (a json parameter): Rampart scales by a stack update of
 * those two parameters, every other parameter kept.
 */
const openstackHeat = z.strictObject({
  /** The stack's name (or id). */
  stack: z
    .string()
    .min(1)
    .max(255)
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, {
      message: 'a stack name: a letter or digit, then letters, digits, _ . -',
    }),
  /** The OS::Heat::ResourceGroup resource of the stack whose members are the pool's nodes. */
  group: heatName('resource name'),
  /** The stack parameter the group's count is read from. */
  countParameter: heatName('parameter name'),
  /** The stack parameter (type json) the group's removal_policies are read from. */
  removalParameter: heatName('parameter name'),
  /** Longest wait for one stack update to reach UPDATE_COMPLETE. Default 15m. */
  updateTimeout: positiveDurationDefault('15m', 'Longest wait for a stack update to complete.'),
});

export const openstackProviderConfig = z.strictObject({
  name,
  kind: z.literal('openstack'),
  /** Cloud in clouds.yaml. Default: $OS_CLOUD; with neither, the OS_* variables (OS_AUTH_URL, ...). */
  cloud: z.string().min(1).max(255).optional(),
  /**
   * The clouds.yaml to read, relative to the config file's folder. Default: $OS_CLIENT_CONFIG_FILE,
   * then ./clouds.yaml, ~/.config/openstack/clouds.yaml, /etc/openstack/clouds.yaml.
   */
  cloudsFile: filePath().optional(),
  /**
   * A file holding the password (or application credential secret), read at each
   * authentication, so clouds.yaml need not hold it (a mounted Secret). Default: clouds.yaml's own.
   */
  secretFile: filePath().optional(),
  /** Region (seed 003's OS_REGION). Default: the cloud's region_name, else the catalog's first. */
  region: z.string().min(1).max(255).optional(),
  /** Endpoint interface of the catalog. Default public. */
  interface: z.enum(['public', 'internal', 'admin']).default('public'),
  /** Servers mode: Rampart creates and deletes Nova servers itself. Give this or `heat`. */
  servers: openstackServers.optional(),
  /** Heat mode: the pool is a ResourceGroup of an existing stack. Give this or `servers`. */
  heat: openstackHeat.optional(),
  /**
   * Where a node's address comes from: `fixed` (the server's first fixed IPv4, default),
   * `floating`, or `{ metadata: KEY }` (the value of that server metadata key, written by the
   * machine at boot — a test bed without Neutron).
   */
  address: z
    .union([z.enum(['fixed', 'floating']), z.strictObject({ metadata: z.string().min(1).max(255) })], {
      error: 'fixed, floating or { metadata: KEY }',
    })
    .default('fixed'),
  /**
   * Port of each named port the node kind needs, the same on every server. Default seed 003's
   * etcdclientport 12379 and etcdpeerport 12380, with metrics on 12381.
   */
  ports: z.record(portName, z.number().int().min(1).max(65535)).default({
    client: 12379,
    peer: 12380,
    metrics: 12381,
  }),
  userData: z
    .strictObject({
      /** Folder on the server the node's data lives in. Default /var/lib/rampart/node. */
      dataDir: z.string().startsWith('/').default('/var/lib/rampart/node'),
    })
    .prefault({}),
  /**
   * Glance images baked from a node of this provider's pool (seed 003's packer images), servers
   * mode only: the node is stopped, Nova's createImage makes an image of its disk (named
   * `<family>-<action id>`, its properties `rampart_family`, `rampart_provider`,
   * `rampart_action`), and new servers boot the newest active image of the family instead of
   * `servers.image`.
   */
  images: z
    .strictObject({
      /** Names the images and is their `rampart_family` property. */
      family: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, {
        message: 'a name of letters, digits, ., _ and -, at most 63, such as etcd-member',
      }),
      /** Bake one on this schedule, e.g. 6h. Absent: only when asked (`rampart snapshot create --images`). */
      every: positiveDuration('6h').optional(),
      /** Images kept (the newest); older ones are deleted after each bake, never one a server boots from. Default 3. */
      keep: z.number().int().min(1).default(3),
      /** Longest wait for the server to stop and for the image to be active. Default 30m. */
      timeout: positiveDurationDefault('30m', 'Longest wait for each step of a bake.'),
    })
    .optional(),
  /** Longest wait for a new server to be ACTIVE with an address. Default 10m. */
  bootTimeout: positiveDurationDefault('10m', 'Longest wait for a new server to be ACTIVE with an address.'),
  retry: openstackRetry.prefault({}),
});

export type OpenstackProviderConfig = z.output<typeof openstackProviderConfig>;

/** An openstack provider's servers are one pool's: their metadata scopes its listing. */
export function checkOpenstackPool(c: PoolCheck<OpenstackProviderConfig>): void {
  const { entry: provider, set } = c;
  if (c.firstServed !== c.index)
    c.add(
      c.at('provider'),
      `openstack provider "${provider.name}" already serves pools[${c.firstServed}]: give each pool its own provider entry`,
    );
  if (set?.store?.kind !== undefined && set.store.kind !== 's3')
    c.add(
      c.at('bootstrap', 'snapshots'),
      `set "${set.name}" is in a ${set.store.kind} store, which servers on OpenStack cannot read: use an s3 store`,
    );
  // A member's disk holds its identity (etcd's WAL names the member): a new member booted from
  // it would start as the source member, not as the one `member add` made.
  if (provider.images !== undefined && c.pool.node?.kind === 'etcd-member')
    c.add(
      [...(c.providerPath ?? ['providers']), 'images'],
      `pool "${c.pool.name}" is of etcd members, which never boot from a baked image (a member's disk is its identity; a new member gets its data from the cluster): drop images, and give servers.image a prebuilt image instead (seed 003's packer image)`,
    );
}

/** One mode per entry: Nova servers made by Rampart (`servers`) or a stack's group (`heat`). */
export function checkOpenstackProvider(c: ProviderCheck<OpenstackProviderConfig>): void {
  const { servers, heat } = c.entry as Partial<OpenstackProviderConfig>;
  if (servers !== undefined && heat !== undefined)
    c.add(
      c.at('heat'),
      'give either servers (Rampart makes Nova servers) or heat (a ResourceGroup of your stack makes them), not both',
    );
  else if (heat !== undefined && (c.entry as Partial<OpenstackProviderConfig>).images !== undefined)
    c.add(
      c.at('images'),
      "baking images is for servers mode: in heat mode the stack's template names the image its members boot",
    );
  else if (servers === undefined && heat === undefined)
    c.add(
      c.at('servers'),
      'missing: give servers ({ flavor, image, ... }) or heat ({ stack, group, countParameter, removalParameter })',
    );
}
