// The snapshot store contract against a real S3 API: moto's server from PyPI, one server
// for the whole file.

import { after, before, type TestContext } from 'node:test';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { S3SnapshotStore } from '../../src/snapshots/s3-store.ts';
import { snapshotStoreContract } from '../contracts/snapshot-store.contract.ts';
import { startMoto } from '../support/servers.ts';

let client: S3Client | undefined;
const stops: (() => Promise<void>)[] = [];
after(async () => {
  for (const stop of stops) await stop();
});

before(async () => {
  // startMoto wants a test context only to skip (RAMPART_ALLOW_SKIP) and to stop the server.
  const fileScope = {
    skip: () => undefined,
    after: (fn: () => Promise<void>) => stops.push(fn),
  } as unknown as TestContext;
  const moto = await startMoto(fileScope);
  if (!moto) return;
  client = new S3Client({
    endpoint: moto.url,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  await client.send(new CreateBucketCommand({ Bucket: 'rampart-snapshots' }));
});

snapshotStoreContract('s3 (moto)', async () =>
  client ? new S3SnapshotStore({ bucket: 'rampart-snapshots', prefix: 'test/' }, client) : undefined,
);
