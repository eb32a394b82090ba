// Snapshot store on an S3-compatible bucket, so a node in another place can restore:
// <prefix><set>/<id>/files/… and <prefix><set>/<id>/manifest.json, the manifest put last.
// Credentials come from the AWS SDK's standard chain and never appear in messages.

import type { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
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
}

export class S3SnapshotStore implements SnapshotStore {
  readonly kind = 's3';
  readonly location: string;
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;

  constructor(opts: S3StoreOptions, client?: S3Client) {
    this.#bucket = opts.bucket;
    this.#prefix = opts.prefix ?? '';
    this.location = `s3://${opts.bucket}/${this.#prefix}`;
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
    await this.#call('PutObject', () =>
      this.#client.send(
        new PutObjectCommand({
          Bucket: this.#bucket,
          Key: this.#key(set, id, `files/${relPath}`),
          Body: body,
          ContentLength: size,
        }),
      ),
    );
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
    const r = await this.#call('GetObject', () =>
      this.#client.send(
        new GetObjectCommand({ Bucket: this.#bucket, Key: this.#key(set, id, `files/${relPath}`) }),
      ),
    );
    return r.Body as Readable;
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
