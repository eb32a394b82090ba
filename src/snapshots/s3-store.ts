// Snapshot store on an S3-compatible bucket, so a node in another place can restore:
// <prefix><set>/<id>/files/… and <prefix><set>/<id>/manifest.json, the manifest put last.
// Credentials come from the AWS SDK's standard chain and never appear in messages.
// Large files go up as multipart uploads (parts in parallel; an upload that fails is aborted,
// so a part-written file is never an object) and come down as parallel ranged GETs, handed
// on in order. Optionally zstd-compressed (files/<path>.zst); checksums stay those of the
// uncompressed bytes.

import { pipeline, Readable } from 'node:stream';
import { createZstdCompress, createZstdDecompress } from 'node:zlib';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { parseManifest, type SnapshotManifest } from './manifest.ts';
import type { SnapshotStore } from './snapshot-store.ts';

export interface S3StoreOptions {
  readonly bucket: string;
  /** Key prefix, e.g. `rampart/`. Default none. */
  readonly prefix?: string | undefined;
  readonly region?: string | undefined;
  /** For S3-compatible services (MinIO, moto, Ceph): their URL. */
  readonly endpoint?: string | undefined;
  /** Path-style addressing (bucket in the path), which most S3-compatible services need. */
  readonly forcePathStyle?: boolean | undefined;
  /** Compress files with zstd on their way in. Default none. */
  readonly compression?: 'zstd' | undefined;
  /** Files, and parts or ranges of one file, in flight at once. Default 4. */
  readonly parallel?: number | undefined;
}

/** Size of a multipart upload's part and of a ranged GET (S3's minimum part is 5 MiB). */
export const S3_PART_BYTES = 8 << 20;

const ZST = '.zst';

export class S3SnapshotStore implements SnapshotStore {
  readonly kind = 's3';
  readonly location: string;
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly compression: 'zstd' | undefined;
  readonly parallelism: number;

  constructor(opts: S3StoreOptions, client?: S3Client) {
    this.#bucket = opts.bucket;
    this.#prefix = opts.prefix ?? '';
    this.location = `s3://${opts.bucket}/${this.#prefix}`;
    this.compression = opts.compression;
    this.parallelism = opts.parallel ?? 4;
    this.#client =
      client ??
      new S3Client({
        region: opts.region ?? process.env.AWS_REGION ?? 'us-east-1',
        ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
        forcePathStyle: opts.forcePathStyle ?? opts.endpoint !== undefined,
      });
  }

  async #call<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (e) {
      const err = e as Error & { name?: string; $metadata?: { httpStatusCode?: number } };
      const status = err.$metadata?.httpStatusCode;
      throw new Error(
        `S3 ${what} on bucket ${this.#bucket} failed: ${err.name ?? 'Error'}${status ? ` (HTTP ${status})` : ''}: ${err.message}`,
      );
    }
  }

  #key(set: string, id: string, rest: string): string {
    return `${this.#prefix}${set}/${id}/${rest}`;
  }

  async #keys(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.#call('ListObjectsV2', () =>
        this.#client.send(
          new ListObjectsV2Command({ Bucket: this.#bucket, Prefix: prefix, ContinuationToken: token }),
        ),
      );
      for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys;
  }

  async #snapshotIds(set: string): Promise<{ complete: string[]; all: Set<string> }> {
    const base = `${this.#prefix}${set}/`;
    const all = new Set<string>();
    const complete: string[] = [];
    for (const key of await this.#keys(base)) {
      const [id, ...rest] = key.slice(base.length).split('/');
      if (!id) continue;
      all.add(id);
      if (rest.join('/') === 'manifest.json') complete.push(id);
    }
    return { complete, all };
  }

  async list(set: string): Promise<SnapshotManifest[]> {
    const { complete } = await this.#snapshotIds(set);
    const out: SnapshotManifest[] = [];
    for (const id of complete) {
      const key = this.#key(set, id, 'manifest.json');
      const body = await this.#call('GetObject', () =>
        this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: key })),
      );
      out.push(parseManifest(await body.Body!.transformToString(), `s3://${this.#bucket}/${key}`));
    }
    return out.sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1));
  }

  async listIncomplete(set: string): Promise<string[]> {
    const { complete, all } = await this.#snapshotIds(set);
    return [...all].filter((id) => !complete.includes(id)).sort();
  }

  async putFile(set: string, id: string, relPath: string, body: Readable, size: number): Promise<void> {
    const zstd = this.compression === 'zstd';
    const key = this.#key(set, id, `files/${relPath}${zstd ? ZST : ''}`);
    if (!zstd && size <= S3_PART_BYTES) {
      const bytes = await collect(body);
      await this.#call('PutObject', () =>
        this.#client.send(new PutObjectCommand({ Bucket: this.#bucket, Key: key, Body: bytes })),
      );
      return;
    }
    await this.#multipart(key, zstd ? through(body, createZstdCompress()) : body);
  }

  /** Uploads a stream in parts, a few at a time; aborted on any failure, so no object appears. */
  async #multipart(key: string, body: Readable): Promise<void> {
    const created = await this.#call('CreateMultipartUpload', () =>
      this.#client.send(new CreateMultipartUploadCommand({ Bucket: this.#bucket, Key: key })),
    );
    const uploadId = created.UploadId!;
    const parts: { PartNumber: number; ETag: string }[] = [];
    const inFlight = new Set<Promise<void>>();
    let failure: { error: unknown } | undefined;
    const send = (bytes: Buffer, n: number) => {
      const p = this.#call('UploadPart', () =>
        this.#client.send(
          new UploadPartCommand({
            Bucket: this.#bucket,
            Key: key,
            UploadId: uploadId,
            PartNumber: n,
            Body: bytes,
          }),
        ),
      )
        .then((r) => {
          parts.push({ PartNumber: n, ETag: r.ETag! });
        })
        .catch((error) => {
          failure ??= { error };
        })
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
    };
    try {
      let n = 0;
      for await (const part of inParts(body, S3_PART_BYTES)) {
        if (failure) break;
        send(part, ++n);
        while (inFlight.size >= this.parallelism) await Promise.race(inFlight);
      }
      // An empty stream still makes an (empty) object.
      if (n === 0) send(Buffer.alloc(0), ++n);
      await Promise.all(inFlight);
      if (failure) throw failure.error;
      parts.sort((a, b) => a.PartNumber - b.PartNumber);
      await this.#call('CompleteMultipartUpload', () =>
        this.#client.send(
          new CompleteMultipartUploadCommand({
            Bucket: this.#bucket,
            Key: key,
            UploadId: uploadId,
            MultipartUpload: { Parts: parts },
          }),
        ),
      );
    } catch (e) {
      body.destroy();
      await Promise.all(inFlight);
      await this.#call('AbortMultipartUpload', () =>
        this.#client.send(
          new AbortMultipartUploadCommand({ Bucket: this.#bucket, Key: key, UploadId: uploadId }),
        ),
      ).catch(() => undefined);
      throw e;
    }
  }

  async putManifest(m: SnapshotManifest): Promise<void> {
    await this.#call('PutObject', () =>
      this.#client.send(
        new PutObjectCommand({
          Bucket: this.#bucket,
          Key: this.#key(m.set, m.id, 'manifest.json'),
          Body: `${JSON.stringify(m, null, 2)}\n`,
          ContentType: 'application/json',
        }),
      ),
    );
  }

  async getFile(set: string, id: string, relPath: string): Promise<Readable> {
    // A snapshot is read the way it was written, whatever the store's setting is now.
    const plain = this.#key(set, id, `files/${relPath}`);
    const order = this.compression === 'zstd' ? [plain + ZST, plain] : [plain, plain + ZST];
    for (const key of order) {
      const first = await this.#open(key, 0);
      if (first === undefined) continue;
      const body = Readable.from(this.#ranges(key, first));
      return key.endsWith(ZST) ? through(body, createZstdDecompress()) : body;
    }
    // Neither exists: the error of a plain GET, naming the key.
    return (
      await this.#call('GetObject', () =>
        this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: plain })),
      )
    ).Body as Readable;
  }

  /**
   * One range of `key` from `start` (a part's worth), as it streams in, and the object's size;
   * undefined when there is no such object.
   */
  async #open(key: string, start: number): Promise<{ body: Readable; total: number } | undefined> {
    try {
      const r = await this.#client.send(
        new GetObjectCommand({
          Bucket: this.#bucket,
          Key: key,
          Range: `bytes=${start}-${start + S3_PART_BYTES - 1}`,
        }),
      );
      const body = r.Body as Readable;
      const total = Number(/\/(\d+)$/.exec(r.ContentRange ?? '')?.[1] ?? r.ContentLength ?? 0);
      return { body, total };
    } catch (e) {
      const err = e as Error & { name?: string; $metadata?: { httpStatusCode?: number } };
      const status = err.$metadata?.httpStatusCode;
      // An empty object has no byte 0: S3 answers 416.
      if (status === 416 || err.name === 'InvalidRange') return { body: Readable.from([]), total: 0 };
      if (status === 404 || err.name === 'NoSuchKey') return undefined;
      return this.#call('GetObject', () => Promise.reject(e));
    }
  }

  /** A later range, read whole (it waits its turn behind the ones before it). */
  async #range(key: string, start: number): Promise<Buffer> {
    const r = await this.#open(key, start);
    if (!r) throw new Error(`S3 GetObject on bucket ${this.#bucket}: ${key} disappeared while it was read`);
    const chunks: Buffer[] = [];
    for await (const c of r.body) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  /**
   * An object: its first range streamed as it arrives (a file of one part is read just like a
   * plain GET), the next ones fetched a few ahead meanwhile, all yielded in order.
   */
  async *#ranges(key: string, first: { body: Readable; total: number }): AsyncGenerator<Buffer> {
    const starts: number[] = [];
    for (let at = S3_PART_BYTES; at < first.total; at += S3_PART_BYTES) starts.push(at);
    const ahead: Promise<Buffer>[] = [];
    const fetch = (at: number) => {
      const p = this.#range(key, at);
      p.catch(() => undefined);
      ahead.push(p);
    };
    let next = 0;
    try {
      // Ranges after the first are on their way while the first one streams.
      while (next < starts.length && ahead.length < this.parallelism - 1) fetch(starts[next++]!);
      for await (const chunk of first.body) yield chunk as Buffer;
      if (ahead.length === 0 && next < starts.length) fetch(starts[next++]!);
      while (ahead.length > 0) {
        const bytes = await ahead.shift()!;
        if (next < starts.length) fetch(starts[next++]!);
        yield bytes;
      }
    } finally {
      // The reader stopped early (or failed): end the first body, let the fetches in flight end.
      first.body.destroy();
      await Promise.allSettled(ahead);
    }
  }

  async remove(set: string, id: string): Promise<void> {
    await this.#call('DeleteObject', () =>
      this.#client.send(
        new DeleteObjectCommand({ Bucket: this.#bucket, Key: this.#key(set, id, 'manifest.json') }),
      ),
    );
    const keys = await this.#keys(this.#key(set, id, ''));
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      await this.#call('DeleteObjects', () =>
        this.#client.send(
          new DeleteObjectsCommand({
            Bucket: this.#bucket,
            Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
          }),
        ),
      );
    }
  }
}

/** `body` through a transform, an error on either side ending the other. */
function through<T extends NodeJS.ReadWriteStream & Readable>(body: Readable, t: T): T {
  pipeline(body, t, (e) => {
    if (e) t.destroy(e);
  });
  return t;
}

async function collect(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** A stream's bytes cut into parts of exactly `size` (the last one shorter). */
async function* inParts(body: Readable, size: number): AsyncGenerator<Buffer> {
  let chunks: Buffer[] = [];
  let held = 0;
  for await (const c of body) {
    let chunk = c as Buffer;
    while (held + chunk.length >= size) {
      const take = size - held;
      chunks.push(chunk.subarray(0, take));
      yield Buffer.concat(chunks);
      chunks = [];
      held = 0;
      chunk = chunk.subarray(take);
    }
    if (chunk.length > 0) {
      chunks.push(chunk);
      held += chunk.length;
    }
  }
  if (held > 0) yield Buffer.concat(chunks);
}
