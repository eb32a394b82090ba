// Moving a snapshot's bytes: copy into a store with checksums, restore and verify against
// the manifest. Every byte is hashed as it streams; nothing is read twice.

import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isForbidden } from '../core/forbidden-files.ts';
import type { RestoreSource } from '../nodes/node-kind.ts';
import type { SnapshotFile, SnapshotManifest } from './manifest.ts';
import type { SnapshotStore } from './snapshot-store.ts';

export type Progress = (bytes: number, total: number) => void;

/** A pass-through stream that hashes and counts what flows through it. */
function hashing(onBytes?: (n: number) => void): Transform & { digest(): { sha256: string; size: number } } {
  const hash = createHash('sha256');
  let size = 0;
  const t = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      size += chunk.length;
      onBytes?.(chunk.length);
      done(null, chunk);
    },
  });
  return Object.assign(t, { digest: () => ({ sha256: hash.digest('hex'), size }) });
}

/** Copies files of `dataDir` into a snapshot of the store; returns their manifest entries. */
export async function copyIntoStore(
  store: SnapshotStore,
  set: string,
  id: string,
  dataDir: string,
  relPaths: readonly string[],
  onProgress?: Progress,
): Promise<SnapshotFile[]> {
  for (const p of relPaths)
    if (isForbidden(p))
      throw new Error(`refusing to snapshot ${p}: keys and signing state never leave a node`);
  const sizes = await Promise.all(relPaths.map(async (p) => (await stat(path.join(dataDir, p))).size));
  const total = sizes.reduce((a, b) => a + b, 0);
  let copied = 0;
  const files: SnapshotFile[] = [];
  for (const [i, rel] of relPaths.entries()) {
    const h = hashing((n) => {
      copied += n;
      onProgress?.(copied, total);
    });
    const source = createReadStream(path.join(dataDir, rel)).pipe(h);
    await store.putFile(set, id, rel, source, sizes[i]!);
    const { sha256, size } = h.digest();
    if (size !== sizes[i])
      throw new Error(`${rel} changed size while it was copied: is the node really stopped?`);
    files.push({ path: rel, size, sha256 });
  }
  return files;
}

async function checkFile(
  store: SnapshotStore,
  m: SnapshotManifest,
  f: SnapshotFile,
  sink: Writable,
  onBytes: (n: number) => void,
): Promise<void> {
  const h = hashing(onBytes);
  await pipeline(await store.getFile(m.set, m.id, f.path), h, sink);
  const got = h.digest();
  if (got.size !== f.size || got.sha256 !== f.sha256)
    throw new Error(
      `snapshot ${m.id} file ${f.path}: expected ${f.size} bytes sha256 ${f.sha256.slice(0, 12)}…, got ${got.size} bytes sha256 ${got.sha256.slice(0, 12)}…`,
    );
}

/** Reads every file of a snapshot and checks sizes and checksums against its manifest. */
export async function verifySnapshot(
  store: SnapshotStore,
  m: SnapshotManifest,
  onProgress?: Progress,
): Promise<void> {
  let done = 0;
  for (const f of m.files) {
    const discard = new Writable({ write: (_c, _e, cb) => cb() });
    await checkFile(store, m, f, discard, (n) => {
      done += n;
      onProgress?.(done, m.totalBytes);
    });
  }
}

/** A snapshot as a new node restores it: files copied into its data dir, each verified. */
export function restoreSource(store: SnapshotStore, m: SnapshotManifest): RestoreSource {
  return {
    id: m.id,
    height: m.height,
    url: store.kind === 's3' ? `${store.location}${m.set}/${m.id}/` : undefined,
    restoreInto: async (dir, onProgress) => {
      let done = 0;
      for (const f of m.files) {
        const dest = path.join(dir, f.path);
        if (!dest.startsWith(path.resolve(dir) + path.sep))
          throw new Error(`snapshot ${m.id}: ${f.path} leaves ${dir}`);
        await mkdir(path.dirname(dest), { recursive: true });
        await checkFile(store, m, f, createWriteStream(dest), (n) => {
          done += n;
          onProgress?.(done, m.totalBytes);
        });
      }
    },
  };
}

/** Keeps the newest `keep` complete snapshots; removes the rest and abandoned incomplete ones. */
export async function pruneSnapshots(
  store: SnapshotStore,
  set: string,
  keep: number,
  inProgress: ReadonlySet<string> = new Set(),
): Promise<string[]> {
  const removed: string[] = [];
  for (const m of (await store.list(set)).slice(keep)) {
    await store.remove(set, m.id);
    removed.push(m.id);
  }
  for (const id of await store.listIncomplete(set)) {
    if (inProgress.has(id)) continue;
    await store.remove(set, id);
    removed.push(id);
  }
  return removed;
}
