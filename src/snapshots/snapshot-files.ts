// Moving a snapshot's bytes: copy into a store with checksums, restore and verify against
// the manifest. Every byte is hashed as it streams, in the same pass that copies it; nothing
// is read twice. Files go side by side (copy-pool.ts): file to file on worker threads when
// the store is a local directory, through the store's streams otherwise.

import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isForbidden } from '../core/forbidden-files.ts';
import type { RestoreSource } from '../nodes/node-kind.ts';
import { COPY_PARALLELISM, copyFilesOnWorkers, eachInParallel } from './copy-pool.ts';
import type { SnapshotFile, SnapshotManifest } from './manifest.ts';
import type { SnapshotStore } from './snapshot-store.ts';

export type Progress = (bytes: number, total: number) => void;

function mismatch(m: SnapshotManifest, f: SnapshotFile, got: { sha256: string; size: number }): Error {
  return new Error(
    `snapshot ${m.id} file ${f.path}: expected ${f.size} bytes sha256 ${f.sha256.slice(0, 12)}…, got ${got.size} bytes sha256 ${got.sha256.slice(0, 12)}…`,
  );
}

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
  const onBytes = (n: number) => {
    copied += n;
    onProgress?.(copied, total);
  };
  const changed = (rel: string) =>
    new Error(`${rel} changed size while it was copied: is the node really stopped?`);
  const localFile = store.localFile?.bind(store);
  if (localFile) {
    const digests = await copyFilesOnWorkers(
      relPaths.map((rel) => ({ from: path.join(dataDir, rel), to: localFile(set, id, rel) })),
      onBytes,
      (i, d) => {
        if (d.size !== sizes[i]) throw changed(relPaths[i]!);
      },
    );
    return relPaths.map((rel, i) => ({ path: rel, size: digests[i]!.size, sha256: digests[i]!.sha256 }));
  }
  const files: SnapshotFile[] = new Array(relPaths.length);
  await eachInParallel(relPaths, store.parallelism ?? COPY_PARALLELISM, async (rel, i) => {
    const h = hashing(onBytes);
    const source = createReadStream(path.join(dataDir, rel)).pipe(h);
    await store.putFile(set, id, rel, source, sizes[i]!);
    const { sha256, size } = h.digest();
    if (size !== sizes[i]) throw changed(rel);
    files[i] = { path: rel, size, sha256 };
  });
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
  if (got.size !== f.size || got.sha256 !== f.sha256) throw mismatch(m, f, got);
}

/**
 * Every file of `m` read once and checked, written to `destOf(file)` when it gives a path:
 * file to file on workers for a local store, through the store's streams otherwise.
 */
async function readChecked(
  store: SnapshotStore,
  m: SnapshotManifest,
  destOf: ((f: SnapshotFile) => string) | undefined,
  onProgress: Progress | undefined,
): Promise<void> {
  let done = 0;
  const onBytes = (n: number) => {
    done += n;
    onProgress?.(done, m.totalBytes);
  };
  const localFile = store.localFile?.bind(store);
  if (localFile) {
    await copyFilesOnWorkers(
      m.files.map((f) => ({ from: localFile(m.set, m.id, f.path), to: destOf?.(f) })),
      onBytes,
      (i, d) => {
        const f = m.files[i]!;
        if (d.size !== f.size || d.sha256 !== f.sha256) throw mismatch(m, f, d);
      },
    ).catch((e: Error) => {
      // A file missing from the store: say which snapshot, as the stream path does.
      throw (e as NodeJS.ErrnoException).message.startsWith('snapshot ')
        ? e
        : new Error(`snapshot ${m.id}: ${e.message}`);
    });
    return;
  }
  await eachInParallel(m.files, store.parallelism ?? COPY_PARALLELISM, async (f) => {
    const sink = destOf ? createWriteStream(destOf(f)) : new Writable({ write: (_c, _e, cb) => cb() });
    await checkFile(store, m, f, sink, onBytes);
  });
}

/** Reads every file of a snapshot and checks sizes and checksums against its manifest. */
export async function verifySnapshot(
  store: SnapshotStore,
  m: SnapshotManifest,
  onProgress?: Progress,
): Promise<void> {
  await readChecked(store, m, undefined, onProgress);
}

/** A snapshot as a new node restores it: files copied into its data dir, each verified. */
export function restoreSource(store: SnapshotStore, m: SnapshotManifest): RestoreSource {
  return {
    id: m.id,
    height: m.height,
    // A machine elsewhere restores plain files only (its boot script has no zstd).
    url: store.kind === 's3' && !m.compression ? `${store.location}${m.set}/${m.id}/` : undefined,
    restoreInto: async (dir, onProgress) => {
      const root = path.resolve(dir);
      const dests = new Map<string, string>();
      for (const f of m.files) {
        const dest = path.join(root, f.path);
        if (!dest.startsWith(root + path.sep)) throw new Error(`snapshot ${m.id}: ${f.path} leaves ${dir}`);
        dests.set(f.path, dest);
      }
      await Promise.all(
        [...new Set([...dests.values()].map((d) => path.dirname(d)))].map((d) =>
          mkdir(d, { recursive: true }),
        ),
      );
      await readChecked(store, m, (f) => dests.get(f.path)!, onProgress);
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
