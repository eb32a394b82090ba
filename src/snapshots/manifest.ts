// A snapshot's manifest: what it holds and how to check it. Written last, so a snapshot
// without one is incomplete and is never restored.

import { isForbidden } from '../core/forbidden-files.ts';

export interface SnapshotFile {
  /** Path relative to the node's data dir, with / separators. */
  readonly path: string;
  readonly size: number;
  /** Hex sha256 of the file's bytes. */
  readonly sha256: string;
}

export interface SnapshotManifest {
  readonly version: 1;
  /** Unique within its set; sorts by creation time. */
  readonly id: string;
  readonly set: string;
  readonly createdAt: number;
  readonly sourcePool: string;
  readonly sourceNode: string;
  readonly nodeKind: string;
  readonly chainId: string;
  /** Height the source had reached when it was stopped (at least this). */
  readonly height: number;
  readonly appHash: string;
  readonly totalBytes: number;
  readonly files: readonly SnapshotFile[];
  /** How the store holds the files (sizes and checksums are the uncompressed ones). Absent: as is. */
  readonly compression?: 'zstd' | undefined;
  /** Paths of the data dir this snapshot leaves out by its set's choice (its `leaveOut`). */
  readonly leftOut?: readonly string[] | undefined;
}

/** A sortable, unique snapshot id: UTC time to the millisecond plus a random tail. */
export function snapshotId(at: number, random: string): string {
  return `${new Date(at).toISOString().replace(/[-:.]/g, '').replace('T', '-').replace('Z', '')}-${random}`;
}

/** Checks a manifest read from a store; throws naming what is wrong. */
export function parseManifest(text: string, where: string): SnapshotManifest {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch (e) {
    throw new Error(`${where}: manifest is not JSON: ${(e as Error).message}`);
  }
  const o = m as Record<string, unknown>;
  const need = (k: string, type: string) => {
    if (typeof o[k] !== type) throw new Error(`${where}: manifest field ${k} must be a ${type}`);
  };
  if (o.version !== 1) throw new Error(`${where}: manifest version ${String(o.version)} is not 1`);
  for (const k of ['id', 'set', 'sourcePool', 'sourceNode', 'nodeKind', 'chainId', 'appHash'])
    need(k, 'string');
  for (const k of ['createdAt', 'height', 'totalBytes']) need(k, 'number');
  if (o.compression !== undefined && o.compression !== 'zstd')
    throw new Error(`${where}: manifest compression ${String(o.compression)} is not zstd`);
  if (o.leftOut !== undefined && !(Array.isArray(o.leftOut) && o.leftOut.every((p) => typeof p === 'string')))
    throw new Error(`${where}: manifest field leftOut must be a list of paths`);
  if (!Array.isArray(o.files)) throw new Error(`${where}: manifest field files must be a list`);
  for (const f of o.files as Record<string, unknown>[]) {
    if (typeof f.path !== 'string' || typeof f.size !== 'number' || typeof f.sha256 !== 'string')
      throw new Error(`${where}: manifest file entry needs path, size and sha256`);
    if (f.path.startsWith('/') || f.path.split('/').includes('..'))
      throw new Error(`${where}: manifest file path ${f.path} leaves the data dir`);
    if (isForbidden(f.path))
      throw new Error(`${where}: manifest lists ${f.path}, which a snapshot must never hold`);
  }
  return m as SnapshotManifest;
}
