// The snapshot store contract against a real S3 API (moto's server from PyPI, one server for
// the whole file), plain and zstd; then what only S3 does: parts, ranges, aborted uploads.

import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import {
  CreateBucketCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import type { SnapshotManifest } from '../../src/snapshots/manifest.ts';
import { S3_PART_BYTES, S3SnapshotStore } from '../../src/snapshots/s3-store.ts';
import { restoreSource } from '../../src/snapshots/snapshot-files.ts';
import { snapshotStoreContract } from '../contracts/snapshot-store.contract.ts';
import { motoForFile } from '../support/moto-group.ts';

const moto = motoForFile();

/** The bucket's client, made on first use: once the file's moto server is up. */
let client: Promise<S3Client> | undefined;
function bucketClient(): Promise<S3Client> {
  client ??= (async () => {
    const c = new S3Client({
      endpoint: moto.server().url,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    await c.send(new CreateBucketCommand({ Bucket: 'rampart-snapshots' }));
    return c;
  })();
  return client;
}

snapshotStoreContract(
  's3 (moto)',
  async () => new S3SnapshotStore({ bucket: 'rampart-snapshots', prefix: 'test/' }, await bucketClient()),
  { skip: moto.skip },
);

snapshotStoreContract(
  's3 (moto) with zstd',
  async () =>
    new S3SnapshotStore(
      { bucket: 'rampart-snapshots', prefix: 'zstd/', compression: 'zstd' },
      await bucketClient(),
    ),
  { skip: moto.skip },
);

/** The commands a client sends, by name, with their input. */
function recording(c: S3Client): { name: string; input: Record<string, unknown> }[] {
  const seen: { name: string; input: Record<string, unknown> }[] = [];
  c.middlewareStack.add(
    (next, context) => async (args) => {
      seen.push({ name: String(context.commandName), input: args.input as Record<string, unknown> });
      return next(args);
    },
    { step: 'initialize', name: `recorder-${Math.random()}` },
  );
  return seen;
}

function s3Client(): S3Client {
  return new S3Client({
    endpoint: moto.server().url,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
}

describe('s3 snapshot store: parts, ranges, compression', { skip: moto.skip }, () => {
  const big = Buffer.alloc(3 * S3_PART_BYTES + 1000);
  for (let i = 0; i < big.length; i += 8) big.writeUInt32LE(i, i);

  test('a large file goes up in parts and comes down in parallel ranges', async () => {
    await bucketClient();
    const c = s3Client();
    const seen = recording(c);
    const store = new S3SnapshotStore({ bucket: 'rampart-snapshots', prefix: 'parts/' }, c);
    await store.putFile('s', 'i', 'data/big.ldb', Readable.from([big]), big.length);
    assert.equal(seen.filter((s) => s.name === 'UploadPartCommand').length, 4);
    assert.equal(seen.filter((s) => s.name === 'CompleteMultipartUploadCommand').length, 1);
    seen.length = 0;
    const got: Buffer[] = [];
    for await (const chunk of await store.getFile('s', 'i', 'data/big.ldb')) got.push(chunk as Buffer);
    assert.ok(Buffer.concat(got).equals(big));
    const ranges = seen.filter((s) => s.name === 'GetObjectCommand').map((s) => s.input.Range);
    assert.equal(ranges.length, 4);
    assert.ok(ranges.every((r) => typeof r === 'string' && r.startsWith('bytes=')));
  });

  test('`parallel` bounds the requests in flight: one at a time at 1, more at the default', async () => {
    await bucketClient();
    const most = async (parallel: number | undefined) => {
      const c = s3Client();
      let now = 0;
      let max = 0;
      c.middlewareStack.add(
        (next) => async (args) => {
          now++;
          max = Math.max(max, now);
          try {
            return await next(args);
          } finally {
            now--;
          }
        },
        { step: 'initialize', name: 'in-flight' },
      );
      const store = new S3SnapshotStore(
        { bucket: 'rampart-snapshots', prefix: `par${parallel}/`, parallel },
        c,
      );
      await store.putFile('s', 'i', 'data/big.ldb', Readable.from([big]), big.length);
      for await (const _ of await store.getFile('s', 'i', 'data/big.ldb'));
      return max;
    };
    assert.equal(await most(1), 1);
    assert.ok((await most(undefined)) > 1);
  });

  test('an upload that fails part-way leaves no object and no open multipart upload', async () => {
    const c = await bucketClient();
    const store = new S3SnapshotStore({ bucket: 'rampart-snapshots', prefix: 'broken/' }, c);
    async function* failing() {
      yield big.subarray(0, 2 * S3_PART_BYTES + 5);
      throw new Error('disk read error');
    }
    await assert.rejects(
      store.putFile('s', 'half', 'data/big.ldb', Readable.from(failing()), big.length),
      /disk read error/,
    );
    const listed = await c.send(new ListObjectsV2Command({ Bucket: 'rampart-snapshots', Prefix: 'broken/' }));
    assert.equal(listed.KeyCount ?? 0, 0, 'no object, not even a part-written one');
    assert.deepEqual(await store.listIncomplete('s'), []);
    const uploads = await c.send(
      new ListMultipartUploadsCommand({ Bucket: 'rampart-snapshots', Prefix: 'broken/' }),
    );
    assert.deepEqual(uploads.Uploads ?? [], [], 'the multipart upload was aborted');
  });

  test('zstd files are smaller, read back whatever the reader is set to, and have no remote URL', async () => {
    const c = await bucketClient();
    const zstd = new S3SnapshotStore({ bucket: 'rampart-snapshots', prefix: 'mix/', compression: 'zstd' }, c);
    const plain = new S3SnapshotStore({ bucket: 'rampart-snapshots', prefix: 'mix/' }, c);
    const text = Buffer.from('key=value;'.repeat(200_000));
    await zstd.putFile('s', 'z', 'data/t.ldb', Readable.from([text]), text.length);
    await plain.putFile('s', 'p', 'data/t.ldb', Readable.from([text]), text.length);
    const head = await c.send(
      new ListObjectsV2Command({ Bucket: 'rampart-snapshots', Prefix: 'mix/s/z/files/' }),
    );
    assert.deepEqual(
      head.Contents?.map((o) => o.Key),
      ['mix/s/z/files/data/t.ldb.zst'],
    );
    assert.ok((head.Contents?.[0]?.Size ?? Infinity) < text.length / 10);
    const read = async (s: S3SnapshotStore, id: string) => {
      const parts: Buffer[] = [];
      for await (const chunk of await s.getFile('s', id, 'data/t.ldb')) parts.push(chunk as Buffer);
      return Buffer.concat(parts);
    };
    assert.ok((await read(plain, 'z')).equals(text), 'a plain store reads a zstd snapshot');
    assert.ok((await read(zstd, 'p')).equals(text), 'a zstd store reads a plain snapshot');
    const m = { id: 'z', set: 's', height: 1, compression: 'zstd' } as unknown as SnapshotManifest;
    assert.equal(restoreSource(zstd, m).url, undefined, 'a boot script cannot unpack zstd');
    assert.equal(
      restoreSource(plain, { ...m, compression: undefined }).url,
      's3://rampart-snapshots/mix/s/z/',
    );
  });
});
