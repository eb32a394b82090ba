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
});
