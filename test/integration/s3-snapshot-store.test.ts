// The snapshot store contract against a real S3 API: moto's server from PyPI, one server
// for the whole file.

import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { S3SnapshotStore } from '../../src/snapshots/s3-store.ts';
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
