// The config slices of the snapshot store kinds (a snapshot set's `store`).

import { z } from 'zod';
import { filePath, httpUrl } from '../config-kit/fields.ts';

export const directorySnapshotStoreConfig = z.strictObject({
  kind: z.literal('directory'),
  /** Folder holding the sets, relative to the config file's folder. */
  path: filePath(),
});

export const s3SnapshotStoreConfig = z.strictObject({
  kind: z.literal('s3'),
  bucket: z.string().min(3),
  /** Key prefix. Default none. */
  prefix: z.string().default(''),
  region: z.string().optional(),
  /** URL of an S3-compatible service (MinIO, Ceph, moto). Default AWS. */
  endpoint: httpUrl.optional(),
  forcePathStyle: z.boolean().optional(),
  /**
   * Compress snapshot files with zstd on their way into the bucket (checksums stay those of
   * the files). Default none: on a fast link compression costs more time than it saves
   * (docs/snapshots.md has the figures), and only Rampart itself restores such a snapshot,
   * not an AWS boot script or a Kubernetes restore Job.
   */
  compression: z.enum(['zstd']).optional(),
  /**
   * Files, and parts or ranges of one large file, in flight at once. Default 4. Lower it for a
   * server that slows down under many requests at once (docs/snapshots.md has moto's figures).
   */
  parallel: z.number().int().min(1).max(32).default(4),
});

/**
 * A snapshot set's `leaveOut`: paths under a node's data dir a snapshot does not carry (a
 * folder leaves out all it holds), e.g. `data/tx_index.db`. Default none.
 */
export const snapshotLeaveOut = z
  .array(
    z
      .string()
      .min(1)
      .refine((p) => !p.startsWith('/') && !p.split('/').includes('..') && !p.includes('\\'), {
        message: "a path relative to the node's data dir, with / separators and no ..",
      }),
  )
  .default([]);
