// Running a snapshot's file copies side by side: a few worker threads for file-to-file
// copies (copy-worker.ts: read, hash, write in one pass), and a bounded parallel loop for
// copies through a store's streams. Either way a failure stops new work and is reported
// only once the work in flight has ended, so nothing is still writing when the caller
// goes on (to write a manifest, or to throw the node's data dir away).

import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { CopyMessage } from './copy-worker.ts';

/** Copies in flight at once: every core hashes, and one more file's I/O overlaps them. */
export const COPY_PARALLELISM = Math.max(2, Math.min(4, availableParallelism() + 1));

/**
 * Runs `fn` over `items`, at most `limit` at a time, in order of start. The first failure
 * stops new starts; it is thrown once every started call has settled.
 */
export async function eachInParallel<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const lane = async () => {
    while (failure === undefined && next < items.length) {
      const i = next++;
      try {
        await fn(items[i]!, i);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (failure) throw failure.error;
}

export interface FileCopy {
  readonly from: string;
  /** Absent: read and hash only. */
  readonly to?: string | undefined;
}

export interface FileDigest {
  readonly sha256: string;
  readonly size: number;
}

/**
 * Copies (or only reads) files on worker threads, hashing as they go. `check` sees each
 * file's digest as it is done and may throw (a wrong checksum): that stops the rest.
 */
export async function copyFilesOnWorkers(
  copies: readonly FileCopy[],
  onBytes: (n: number) => void,
  check: (index: number, digest: FileDigest) => void,
  parallelism = COPY_PARALLELISM,
): Promise<FileDigest[]> {
  const digests: FileDigest[] = new Array(copies.length);
  if (copies.length === 0) return digests;
  const workers = Array.from({ length: Math.min(parallelism, copies.length) }, acquire);
  // Each worker takes the next file when it is done with one; a failure stops them all.
  let next = 0;
  try {
    await eachInParallel(workers, workers.length, async (worker) => {
      while (next < copies.length) {
        const i = next++;
        try {
          const d = await runOn(worker, i, copies[i]!, onBytes);
          digests[i] = d;
          check(i, d);
        } catch (e) {
          next = copies.length;
          throw e;
        }
      }
    });
  } finally {
    for (const w of workers) release(w);
  }
  return digests;
}

// Workers outlive one copy (starting one costs a few hundred ms on a busy machine); idle ones
// do not keep the process alive. One that failed is not reused.
const idle: Worker[] = [];
const broken = new WeakSet<Worker>();

function acquire(): Worker {
  let w = idle.pop();
  if (!w) {
    const made = new Worker(new URL('./copy-worker.ts', import.meta.url));
    made.on('error', () => broken.add(made));
    made.on('exit', () => {
      broken.add(made);
      const at = idle.indexOf(made);
      if (at >= 0) idle.splice(at, 1);
    });
    w = made;
  }
  w.ref();
  return w;
}

function release(w: Worker): void {
  if (broken.has(w) || idle.length >= COPY_PARALLELISM) {
    void w.terminate();
    return;
  }
  w.unref();
  idle.push(w);
}

function runOn(
  worker: Worker,
  id: number,
  copy: FileCopy,
  onBytes: (n: number) => void,
): Promise<FileDigest> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: CopyMessage) => {
      if (m.id !== id) return;
      if ('progress' in m) return onBytes(m.progress);
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
      if ('error' in m) reject(new Error(m.error));
      else resolve({ sha256: m.sha256, size: m.size });
    };
    const onError = (e: Error) => {
      broken.add(worker);
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
      reject(e);
    };
    // A worker that ends without a word (killed, out of memory) must not leave the copy waiting.
    const onExit = (code: number) =>
      onError(new Error(`copy worker exited (code ${code}) while copying ${copy.from}`));
    worker.on('message', onMessage);
    worker.once('error', onError);
    worker.once('exit', onExit);
    worker.postMessage({ id, from: copy.from, to: copy.to });
  });
}
