// The contract of a snapshot store: where snapshot sets live (a directory, an S3 bucket).
// Files go first, the manifest last; only snapshots with a manifest are listed as complete.

import type { Readable } from 'node:stream';
import type { SnapshotManifest } from './manifest.ts';

export interface SnapshotStore {
  readonly kind: string;
  /** Where it is, for people: a path or s3://bucket/prefix. Never holds credentials. */
  readonly location: string;
  /** Files copied through its streams at once. Default COPY_PARALLELISM (copy-pool.ts). */
  readonly parallelism?: number | undefined;
  /** How it holds files, when not as they are (recorded in each manifest). */
  readonly compression?: 'zstd' | undefined;
  /** Complete snapshots of a set, newest first. */
  list(set: string): Promise<SnapshotManifest[]>;
  /** Ids of a set's snapshots that have files but no manifest (interrupted or in progress). */
  listIncomplete(set: string): Promise<string[]>;
  /** Stores one file of a snapshot from a stream of `size` bytes. */
  putFile(set: string, id: string, relPath: string, body: Readable, size: number): Promise<void>;
  /** Makes a snapshot complete: written only after every file is stored. */
  putManifest(manifest: SnapshotManifest): Promise<void>;
  /** Reads one file of a snapshot. */
  getFile(set: string, id: string, relPath: string): Promise<Readable>;
  /**
   * Where a snapshot's file is on this machine, for a store that is a local directory: copies
   * then go file to file on worker threads (copy-pool.ts), not through streams. Stores
   * elsewhere leave it out.
   */
  localFile?(set: string, id: string, relPath: string): string;
  /** Deletes a snapshot, manifest first (so it stops counting as complete at once). */
  remove(set: string, id: string): Promise<void>;
}
