// The `gce` provider's config slice: a pool on a Compute Engine managed instance group, and
// the check of a pool it serves.

import { z } from 'zod';
import { httpUrl, name, positiveDuration, positiveDurationDefault } from '../../config-kit/fields.ts';
import type { PoolCheck } from '../../config-kit/plugin.ts';

const duration = positiveDurationDefault;

/** GCE resource names: lowercase letters, digits and -, starting with a letter, at most 63. */
const GCE_NAME = 'a GCE name: lowercase letters, digits and -, starting with a letter, at most 63';
const gceName = z
  .string({ error: GCE_NAME })
  .regex(/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/, { message: GCE_NAME });

/** How long each GCE call may take and how failed calls are retried (429 rateLimitExceeded, 5xx, timeouts). */
const gceRetry = z.strictObject({
  /** Tries per call, the first included. Default 5. */
  attempts: z.number().int().min(1).max(20).default(5),
  /** First backoff; doubles per retry, with full jitter (rate limits wait 5× longer). Default 200ms. */
  baseDelay: duration('200ms', 'First backoff between two tries of a call.'),
  /** Longest backoff between two tries. Default 10s. */
  maxDelay: duration('10s', 'Longest backoff between two tries of a call.'),
  /** Longest wait for one try; a try that times out is retried. Default 30s. */
  callTimeout: duration('30s', 'Longest wait for one try of a call.'),
  /** Longest wait for a long-running operation (zone, region or global) to be DONE. Default 10m. */
  operationTimeout: duration('10m', 'Longest wait for a long-running operation.'),
  /** Longest wait for a created or started instance to run (the group may retry it). Default 10m. */
  bootTimeout: duration('10m', 'Longest wait for a new instance to be RUNNING in the group.'),
});

export const gceProviderConfig = z
  .strictObject({
    name,
    kind: z.literal('gce'),
    /** Google Cloud project id holding the group. */
    project: z
      .string()
      .regex(/^[a-z][-a-z0-9]{4,28}[a-z0-9]$/, { message: 'a GCP project id such as my-project-123' }),
    /** Zone of a zonal managed instance group, e.g. europe-west1-b (give zone or region). */
    zone: z
      .string()
      .regex(/^[a-z]+-[a-z]+\d+-[a-z]$/, { message: 'a GCE zone such as europe-west1-b' })
      .optional(),
    /** Region of a regional managed instance group, e.g. europe-west1 (give zone or region). */
    region: z
      .string()
      .regex(/^[a-z]+-[a-z]+\d+$/, { message: 'a GCE region such as europe-west1' })
      .optional(),
    /** The managed instance group holding the pool's instances: one group per pool, owned by Rampart. Its autoscaler must be off. */
    group: gceName,
    /**
     * Where a node's address comes from: `internal` (default: the first network interface's
     * networkIP; Rampart runs in the same VPC) or `external` (its access config's natIP).
     */
    address: z.enum(['internal', 'external'], { error: 'internal or external' }).default('internal'),
    /** Port of each named port the node kind needs, the same on every instance. Default rpc 26657, p2p 26656, metrics 26660. */
    ports: z
      .record(
        z.string().regex(/^[a-z][a-z0-9-]*$/, { message: 'a port name of lowercase letters, digits and -' }),
        z.number().int().min(1).max(65535),
      )
      .default({ rpc: 26657, p2p: 26656, metrics: 26660 }),
    /** URL of a Compute Engine API stand-in (tests' fake-gce). Default: Google's own endpoint. */
    endpoint: httpUrl.optional(),
    retry: gceRetry.prefault({}),
    /**
     * A startup script put in each instance's metadata (`startup-script`, replacing the
     * template's): writes the node's identity to /etc/rampart/node.env, then runs `command`.
     * Absent: the template's own.
     */
    startupScript: z
      .strictObject({
        /** Folder on the instance holding the node's data. Default /var/lib/rampart/node. */
        dataDir: z.string().startsWith('/').default('/var/lib/rampart/node'),
        /** Shell command run last, e.g. `systemctl start cometbft`. Default none. */
        command: z.string().optional(),
      })
      .optional(),
    /**
     * Machine images baked from a node of this provider's pool (chosen and stopped as for a
     * snapshot: never the validator, a sentry only while ready > min): a disk snapshot, then an
     * image in `family`. The template must boot the family (projects/P/global/images/family/F),
     * so new instances take the newest.
     */
    images: z
      .strictObject({
        /** Image family the template boots. */
        family: gceName,
        /** Bake one on this schedule, e.g. 6h. Absent: never on schedule. */
        every: positiveDuration('6h').optional(),
        /** Baked images kept (the newest); older ones are retired after each bake. Default 3. */
        keep: z.number().int().min(1).default(3),
        /** What happens to images beyond `keep`: delete (with their snapshots) or deprecate. Default delete. */
        retire: z.enum(['delete', 'deprecate']).default('delete'),
        /** Storage location of the snapshots and images, e.g. eu. Default: GCE's choice (the nearest multi-region). */
        storageLocation: z.string().optional(),
      })
      .optional(),
  })
  .superRefine((p, ctx) => {
    if ((p.zone === undefined) === (p.region === undefined))
      ctx.addIssue({
        code: 'custom',
        path: [],
        message: 'give exactly one of zone (a zonal group) or region (a regional group)',
      });
  });

export type GceProviderConfig = z.output<typeof gceProviderConfig>;

/** One group per pool; a pool on GCE boots its images, it restores no file snapshot. */
export function checkGcePool(c: PoolCheck<GceProviderConfig>): void {
  const { entry: provider, set } = c;
  if (c.firstServed !== c.index)
    c.add(
      c.at('provider'),
      `gce provider "${provider.name}" (group ${provider.group}) already serves pools[${c.firstServed}]: give each pool its own group`,
    );
  if (set !== undefined)
    c.add(
      c.at('bootstrap', 'snapshots'),
      'instances on GCE boot an image, they restore no snapshot set: drop bootstrap and give providers[].images the family the template boots (docs/gce.md)',
    );
}
