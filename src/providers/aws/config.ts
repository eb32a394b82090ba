// The config slice of the aws provider: one Auto Scaling group per pool.

import { z } from 'zod';
import { httpUrl, name, positiveDuration, positiveDurationDefault } from '../../config-kit/fields.ts';
import type { PoolCheck } from '../../config-kit/plugin.ts';

/** How long each AWS call may take and how failed calls are retried (throttling, 5xx, timeouts). */
const awsRetry = z.strictObject({
  /** Tries per call, the first included. Default 5. */
  attempts: z.number().int().min(1).max(20).default(5),
  /** First backoff; doubles per retry, with full jitter (throttling waits 5× longer). Default 200ms. */
  baseDelay: positiveDurationDefault('200ms', 'First backoff between two tries of a call.'),
  /** Longest backoff between two tries. Default 10s. */
  maxDelay: positiveDurationDefault('10s', 'Longest backoff between two tries of a call.'),
  /** Longest wait for one try; a try that times out is retried. Default 10s. */
  callTimeout: positiveDurationDefault('10s', 'Longest wait for one try of a call.'),
});

export const awsProviderConfig = z.strictObject({
  name,
  kind: z.literal('aws'),
  /** AWS region of the group, e.g. eu-west-1. */
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, { message: 'an AWS region such as eu-west-1' }),
  /** Auto Scaling group holding the pool's instances: one group per pool, owned by Rampart. */
  autoScalingGroup: z.string().min(1).max(255),
  /** Launch template new instances come from. Default: the group's own template and version. */
  launchTemplate: z
    .strictObject({
      name: z.string().min(3).max(128),
      /** A version number, $Latest or $Default. Default $Default. */
      version: z
        .string()
        .regex(/^(\d+|\$Latest|\$Default)$/, { message: 'a version number, $Latest or $Default' })
        .default('$Default'),
    })
    .optional(),
  /** URL of an AWS API emulator (moto, LocalStack). Default: AWS's own endpoints. */
  endpoint: httpUrl.optional(),
  /**
   * Where a node's address comes from: `private-ip` (default), `public-ip`, or
   * `{ tag: NAME }` (the value of that instance tag, set by the image at boot).
   */
  address: z
    .union([z.enum(['private-ip', 'public-ip']), z.strictObject({ tag: z.string().min(1).max(128) })], {
      error: 'private-ip, public-ip or { tag: NAME }',
    })
    .default('private-ip'),
  /** Port of each named port the node kind needs, the same on every instance. Default rpc 26657, p2p 26656, metrics 26660. */
  ports: z
    .record(
      z.string().regex(/^[a-z][a-z0-9-]*$/, { message: 'a port name of lowercase letters, digits and -' }),
      z.number().int().min(1).max(65535),
    )
    .default({ rpc: 26657, p2p: 26656, metrics: 26660 }),
  retry: awsRetry.prefault({}),
  /**
   * A boot script passed as user data (replacing the template's): writes the node's identity
   * and, when the pool bootstraps from an S3 snapshot set, restores the newest snapshot into
   * `dataDir` (checksums verified) before `command` starts the node. Absent: the template's own.
   */
  userData: z
    .strictObject({
      /** Folder on the instance the snapshot is restored into. Default /var/lib/rampart/node. */
      dataDir: z.string().startsWith('/').default('/var/lib/rampart/node'),
      /** Shell command run last, e.g. `systemctl start cometbft`. Default none. */
      command: z.string().optional(),
    })
    .optional(),
  /**
   * AMIs baked from a node of this provider's pool (chosen and stopped as for a snapshot:
   * never the validator, a sentry only while ready > min): an EBS snapshot of its root volume,
   * an AMI registered from it, and a new launch template version booting it, made the
   * template's default. The launch template new instances come from must float ($Default or
   * $Latest), so they take the newest AMI.
   */
  images: z
    .strictObject({
      /** Names the AMIs (`<family>-<action id>`) and tags them and their snapshots (`rampart:family`). */
      family: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, {
        message: 'a name of letters, digits, ., _ and -, at most 63, such as sentry',
      }),
      /** Bake one on this schedule, e.g. 6h. Absent: only when asked (`rampart snapshot create --images`). */
      every: positiveDuration('6h').optional(),
      /** AMIs kept (the newest); older ones are deregistered and their snapshots deleted. Default 3. */
      keep: z.number().int().min(1).default(3),
      /** Longest wait for the instance to stop, the EBS snapshot to complete and the AMI to be available. Default 2h. */
      timeout: positiveDurationDefault('2h', 'Longest wait for each step of a bake.'),
    })
    .optional(),
});

export type AwsProviderConfig = z.output<typeof awsProviderConfig>;

/**
 * An aws provider is one Auto Scaling group: it serves one pool, and its machines restore
 * snapshots from where they can reach them.
 */
export function checkAwsPool(c: PoolCheck<AwsProviderConfig>): void {
  const { entry: provider, set } = c;
  if (c.firstServed !== c.index)
    c.add(
      c.at('provider'),
      `aws provider "${provider.name}"${provider.autoScalingGroup === undefined ? '' : ` (group ${provider.autoScalingGroup})`} already serves pools[${c.firstServed}]: give each pool its own group`,
    );
  if (set?.store?.kind !== undefined && set.store.kind !== 's3')
    c.add(
      c.at('bootstrap', 'snapshots'),
      `set "${set.name}" is in a ${set.store.kind} store, which instances on AWS cannot read: use an s3 store`,
    );
}
