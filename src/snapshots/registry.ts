// Every snapshot store kind: the slice of a snapshot set's `store` each reads and how each
// is built from it. A new store is a file beside this one and one line here.

import type { z } from 'zod';
import { createFrom, type KindSchema, type Plugin, unionOf } from '../config-kit/plugin.ts';
import { directorySnapshotStoreConfig, s3SnapshotStoreConfig } from './config.ts';
import { DirectorySnapshotStore } from './directory-store.ts';
import { S3SnapshotStore } from './s3-store.ts';
import type { SnapshotStore } from './snapshot-store.ts';

/** A snapshot store kind, as the config and the wiring point see it. */
export type SnapshotStorePlugin<S extends KindSchema = KindSchema> = Plugin<S, undefined, SnapshotStore>;

const snapshotStore = <S extends KindSchema>(p: SnapshotStorePlugin<S>) => p;

export const SNAPSHOT_STORES = [
  snapshotStore({ config: directorySnapshotStoreConfig, create: (c) => new DirectorySnapshotStore(c.path) }),
  snapshotStore({
    config: s3SnapshotStoreConfig,
    create: (c) =>
      new S3SnapshotStore({
        bucket: c.bucket,
        prefix: c.prefix,
        region: c.region,
        endpoint: c.endpoint,
        forcePathStyle: c.forcePathStyle,
        compression: c.compression,
        parallel: c.parallel,
      }),
  }),
] as const;

/** A snapshot set's `store`: one of the registered slices. */
export const snapshotStoreConfig = unionOf(SNAPSHOT_STORES);
export type SnapshotStoreConfig = z.output<typeof snapshotStoreConfig>;

/** Builds the store a snapshot set names. */
export function createSnapshotStore(c: SnapshotStoreConfig): SnapshotStore {
  return createFrom(SNAPSHOT_STORES, c, undefined, 'snapshot store');
}
