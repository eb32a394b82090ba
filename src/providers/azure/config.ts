// The `azure` provider's config slice: a pool on one virtual machine scale set, reached
// through Azure Resource Manager with the Azure credential chain or a service principal
// whose files a Kubernetes secret mounts.

import { z } from 'zod';
import { filePath, name, positiveDuration, positiveDurationDefault } from '../../config-kit/fields.ts';
import type { Connection, Parts, PoolCheck } from '../../config-kit/plugin.ts';

/** An Azure resource name: letters, digits, `-`, `_`, `.`, not ending in `.`. */
const resourceName = (what: string, max: number) =>
  z
    .string()
    .regex(/^[A-Za-z0-9_][A-Za-z0-9_.()-]*$/, {
      message: `a ${what} name of letters, digits, -, _, . and ()`,
    })
    .max(max)
    .refine((s) => !s.endsWith('.'), { message: `a ${what} name cannot end with .` });

/** An https URL (Azure's clients send bearer tokens over https only). */
const httpsUrl = (example: string) =>
  z.string().refine((u) => u.startsWith('https://') && URL.canParse(u), {
    message: `an https URL such as ${example}`,
  });

/** How long each Resource Manager call may take and how failed calls are retried. */
const azureRetry = z.strictObject({
  /** Tries per request, the first included (429 waits its Retry-After; 5xx and network errors back off). Default 5. */
  attempts: z.number().int().min(1).max(20).default(5),
  /** First backoff of a 5xx or network error; doubles per retry. Default 500ms. */
  baseDelay: positiveDurationDefault('500ms', 'First backoff between two tries of a request.'),
  /** Longest backoff between two tries (a Retry-After is honoured whatever its length). Default 30s. */
  maxDelay: positiveDurationDefault('30s', 'Longest backoff between two tries of a request.'),
  /** Longest wait for one answer; a try that times out is retried. Default 30s. */
  callTimeout: positiveDurationDefault('30s', 'Longest wait for one answer of Resource Manager.'),
  /** Time between two polls of a long-running operation without a Retry-After. Default 2s. */
  pollInterval: positiveDurationDefault('2s', 'Time between two polls of a long-running operation.'),
  /** Longest a long-running operation (a VM's creation, a delete) may take. Default 15m. */
  operationTimeout: positiveDurationDefault('15m', 'Longest a long-running operation may take.'),
});

export const azureProviderConfig = z.strictObject({
  name,
  kind: z.literal('azure'),
  /** Subscription holding the scale set (a GUID). */
  subscriptionId: z.uuid({ error: 'a subscription id (a GUID)' }),
  /** Resource group of the scale set. */
  resourceGroup: resourceName('resource group', 90),
  /**
   * Virtual machine scale set holding the pool's instances, owned by Rampart: one per pool.
   * Flexible orchestration: Rampart creates each VM in it. Uniform: Rampart lists and removes
   * exact instances; scale-up needs Flexible (docs/azure.md). Its own autoscale must be off.
   */
  scaleSet: resourceName('scale set', 64),
  /** Resource Manager's URL (a sovereign cloud, Azure Stack Hub, a test fake). Default https://management.azure.com. */
  endpoint: httpsUrl('https://management.azure.com').optional(),
  /**
   * PEM file of the certificate authorities Resource Manager and the login endpoint present
   * (Azure Stack Hub's own CA). Default: the public CAs.
   */
  caFile: filePath().optional(),
  /**
   * A service principal from files (a Kubernetes secret mounted as a folder): `tenantId`,
   * `clientId` and `clientSecret` or `clientCertificate` (PEM with its key). Absent: the
   * Azure credential chain (environment service principal, workload identity, managed identity).
   */
  credentials: z
    .strictObject({
      /** Folder holding the files. */
      servicePrincipalDir: filePath(),
      /** Login endpoint (sovereign clouds, Azure Stack). Default https://login.microsoftonline.com. */
      authorityHost: httpsUrl('https://login.microsoftonline.com').optional(),
    })
    .optional(),
  /**
   * Where a node's address comes from: `computer-name` (the VM's host name, which Azure's DNS
   * resolves inside its virtual network; the default) or `{ tag: NAME }` (the value of that
   * VM tag, set by the image at boot).
   */
  address: z
    .union([z.literal('computer-name'), z.strictObject({ tag: z.string().min(1).max(512) })], {
      error: 'computer-name or { tag: NAME }',
    })
    .default('computer-name'),
  /** Port of each named port the node kind needs, the same on every instance. Default rpc 26657, p2p 26656, metrics 26660. */
  ports: z
    .record(
      z.string().regex(/^[a-z][a-z0-9-]*$/, { message: 'a port name of lowercase letters, digits and -' }),
      z.number().int().min(1).max(65535),
    )
    .default({ rpc: 26657, p2p: 26656, metrics: 26660 }),
  retry: azureRetry.prefault({}),
  /**
   * A boot script passed as the VM's custom data (cloud-init runs it): writes the node's
   * identity into /etc/rampart/node.env, then runs `command`. Absent: the scale set's own.
   */
  customData: z
    .strictObject({
      /** Folder on the instance for the node's data. Default /var/lib/rampart/node. */
      dataDir: z.string().startsWith('/').default('/var/lib/rampart/node'),
      /** Shell command run last, e.g. `systemctl start cometbft`. Default none. */
      command: z.string().optional(),
    })
    .optional(),
  /**
   * Managed images baked from a node of this provider's pool (chosen and stopped as for a
   * snapshot: never the validator, a sentry only while ready > min): the VM is deallocated, its
   * OS disk copied into a managed snapshot, a managed image made of the snapshot (both named
   * `<family>-<action id>` and tagged `rampart:family`), the VM started again. New VMs boot the
   * family's newest image instead of the scale set profile's image (docs/azure.md).
   */
  images: z
    .strictObject({
      /** Names the snapshots and images and is their `rampart:family` tag. */
      family: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$/, {
        message: 'a name of letters, digits, -, _ and ., at most 40, such as sentry',
      }),
      /** Bake one on this schedule, e.g. 6h. Absent: only when asked (`rampart snapshot create --images`). */
      every: positiveDuration('6h').optional(),
      /** Images kept (the newest); older ones go with their snapshots after each bake, never one a VM boots from. Default 3. */
      keep: z.number().int().min(1).default(3),
      /** Longest wait for the snapshot and for the image, each. Default 30m. */
      timeout: positiveDurationDefault('30m', 'Longest wait for the snapshot and the image of a bake, each.'),
    })
    .optional(),
});

export type AzureProviderConfig = z.output<typeof azureProviderConfig>;

/**
 * An azure provider is one scale set: it serves one pool, and its instances restore no
 * snapshot set (a new VM starts from a baked image instead: providers[].images, docs/azure.md).
 */
export function checkAzurePool(c: PoolCheck<AzureProviderConfig>): void {
  const { entry: provider } = c;
  if (c.firstServed !== c.index)
    c.add(
      c.at('provider'),
      `azure provider "${provider.name}"${provider.scaleSet === undefined ? '' : ` (scale set ${provider.scaleSet})`} already serves pools[${c.firstServed}]: give each pool its own scale set`,
    );
  const images = [...(c.providerPath ?? ['providers']), 'images'];
  if (provider.images !== undefined && provider.customData === undefined)
    c.add(
      images,
      `azure provider "${provider.name}": images need customData: its boot script removes the node keys and signing state a baked image copied from its source before the node first starts, so no two nodes share a key`,
    );
  // A member's disk holds its identity (etcd's WAL names the member): a new member booted from
  // it would start as the source member, not as the one `member add` made.
  if (provider.images !== undefined && c.pool.node?.kind === 'etcd-member')
    c.add(
      images,
      `pool "${c.pool.name}" is of etcd members, which never boot from a baked image (a member's disk is its identity; a new member gets its data from the cluster): drop images, and give the scale set's profile a prebuilt image instead`,
    );
  if (c.pool.bootstrap?.snapshots !== undefined)
    c.add(
      c.at('bootstrap', 'snapshots'),
      `pool on azure provider "${provider.name}": Azure VMs restore no snapshot set; give providers[].images a family and new VMs boot the newest image baked from a node (docs/azure.md)`,
    );
}

/** Resource Manager and the login endpoint, for controller.api.requireTls (both https only). */
export const azureConnections = (e: Parts<AzureProviderConfig>): Connection[] => [
  { path: ['endpoint'], url: e.endpoint },
  { path: ['credentials', 'authorityHost'], url: e.credentials?.authorityHost },
];
