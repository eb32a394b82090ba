// Builds the store a snapshot set names; refuses a kind it does not know.

import type { SnapshotStoreConfig } from '../config/schema.ts';
import { DirectorySnapshotStore } from './directory-store.ts';
import { S3SnapshotStore } from './s3-store.ts';
import type { SnapshotStore } from './snapshot-store.ts';

export function createSnapshotStore(c: SnapshotStoreConfig): SnapshotStore {
  switch (c.kind) {
    case 'directory':
      return new DirectorySnapshotStore(c.path);
    case 's3':
      return new S3SnapshotStore({
        bucket: c.bucket,
        prefix: c.prefix,
        region: c.region,
        endpoint: c.endpoint,
        forcePathStyle: c.forcePathStyle,
      });
  }
}
