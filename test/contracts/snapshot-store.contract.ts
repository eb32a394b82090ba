// The contract every snapshot store passes: files then manifest, only complete snapshots
// listed, checksums verified on restore, keys refused, pruning by retention.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { type SnapshotManifest, snapshotId } from '../../src/snapshots/manifest.ts';
import {
  copyIntoStore,
  pruneSnapshots,
  restoreSource,
  verifySnapshot,
} from '../../src/snapshots/snapshot-files.ts';
import type { SnapshotStore } from '../../src/snapshots/snapshot-store.ts';

function dataDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'rampart-snapdata-'));
  mkdirSync(path.join(dir, 'data', 'blockstore.db'), { recursive: true });
  writeFileSync(path.join(dir, 'data', 'blockstore.db', '000001.ldb'), Buffer.alloc(300_000, 7));
  writeFileSync(path.join(dir, 'data', 'state.json'), '{"height": 42}');
  mkdirSync(path.join(dir, 'config'), { recursive: true });
  writeFileSync(path.join(dir, 'config', 'genesis.json'), '{"chain_id":"c"}');
  return dir;
}

const FILES = ['data/blockstore.db/000001.ldb', 'data/state.json', 'config/genesis.json'];

async function take(store: SnapshotStore, set: string, dir: string, at: number): Promise<SnapshotManifest> {
  const id = snapshotId(at, Math.random().toString(16).slice(2, 8));
  const files = await copyIntoStore(store, set, id, dir, FILES);
  const m: SnapshotManifest = {
    version: 1,
    id,
    set,
    createdAt: at,
    sourcePool: 'sentries',
    sourceNode: 'sentries-1',
    nodeKind: 'test',
    chainId: 'c',
    height: 42,
    appHash: 'AB',
    totalBytes: files.reduce((a, f) => a + f.size, 0),
    files,
  };
  await store.putManifest(m);
  return m;
}

/**
 * `make` gives a store over an empty set; `skip` is the cases' skip option when the backend is
 * not installed here (skipUnlessInstalled in test/support/servers.ts).
 */
export function snapshotStoreContract(
  name: string,
  make: () => Promise<SnapshotStore>,
  options: { readonly skip?: string | false } = {},
): void {
  describe(`snapshot store contract: ${name}`, { skip: options.skip ?? false }, () => {
    test('a snapshot is listed only once its manifest is written; restore gives the same bytes', async () => {
      const store = await make();
      const dir = dataDir();
      const set = `s${Date.now()}a`;
      const id = snapshotId(1000, 'half');
      await copyIntoStore(store, set, id, dir, FILES);
      assert.deepEqual(await store.list(set), [], 'no manifest: not a snapshot yet');
      assert.deepEqual(await store.listIncomplete(set), [id]);
      const m = await take(store, set, dir, 2000);
      assert.deepEqual(
        (await store.list(set)).map((x) => x.id),
        [m.id],
      );
      assert.equal(m.totalBytes, 300_000 + 14 + 16);
      await verifySnapshot(store, m);
      const into = mkdtempSync(path.join(tmpdir(), 'rampart-restore-'));
      let progressed = 0;
      await restoreSource(store, m).restoreInto(into, (bytes) => (progressed = bytes));
      assert.equal(progressed, m.totalBytes);
      for (const f of FILES)
        assert.deepEqual(readFileSync(path.join(into, f)), readFileSync(path.join(dir, f)));
      rmSync(dir, { recursive: true, force: true });
      rmSync(into, { recursive: true, force: true });
    });

    test('a corrupted file fails verification and restore, naming the file', async () => {
      const store = await make();
      const dir = dataDir();
      const set = `s${Date.now()}b`;
      const m = await take(store, set, dir, 3000);
      await store.putFile(set, m.id, 'data/state.json', Readable.from([Buffer.from('{"height": 41}')]), 14);
      await assert.rejects(verifySnapshot(store, m), /file data\/state\.json: expected 14 bytes sha256/);
      const into = mkdtempSync(path.join(tmpdir(), 'rampart-restore-'));
      await assert.rejects(restoreSource(store, m).restoreInto(into), /data\/state\.json/);
      rmSync(dir, { recursive: true, force: true });
      rmSync(into, { recursive: true, force: true });
    });

    test('keys and signing state are refused before anything is copied', async () => {
      const store = await make();
      const dir = dataDir();
      writeFileSync(path.join(dir, 'data', 'priv_validator_state.json'), '{}');
      const set = `s${Date.now()}c`;
      await assert.rejects(
        copyIntoStore(store, set, 'x', dir, [...FILES, 'data/priv_validator_state.json']),
        /refusing to snapshot data\/priv_validator_state\.json/,
      );
      assert.deepEqual(await store.listIncomplete(set), []);
      rmSync(dir, { recursive: true, force: true });
    });

    test('a file of several parts and an empty file come back byte for byte, each read once', async () => {
      const inner = await make();
      const reads = new Map<string, number>();
      const count = (p: string) => reads.set(p, (reads.get(p) ?? 0) + 1);
      // The same store, counting every way a file of it is read.
      const store: SnapshotStore = {
        kind: inner.kind,
        location: inner.location,
        compression: inner.compression,
        list: (set) => inner.list(set),
        listIncomplete: (set) => inner.listIncomplete(set),
        putFile: (set, id, p, body, size) => inner.putFile(set, id, p, body, size),
        putManifest: (m) => inner.putManifest(m),
        getFile: (set, id, p) => {
          count(p);
          return inner.getFile(set, id, p);
        },
        ...(inner.localFile
          ? {
              localFile: (set: string, id: string, p: string) => {
                count(p);
                return inner.localFile!(set, id, p);
              },
            }
          : {}),
        remove: (set, id) => inner.remove(set, id),
      };
      const dir = dataDir();
      // 21 MiB + a little: several S3 parts and ranges, and a file no read block divides.
      const big = Buffer.alloc(21 * 1024 * 1024 + 12_345);
      for (let i = 0; i < big.length; i += 4096) big.writeUInt32LE((i * 2654435761) >>> 0, i);
      writeFileSync(path.join(dir, 'data', 'blockstore.db', '000002.ldb'), big);
      writeFileSync(path.join(dir, 'data', 'empty'), '');
      const files = [...FILES, 'data/blockstore.db/000002.ldb', 'data/empty'];
      const set = `s${Date.now()}e`;
      const id = snapshotId(4000, 'big');
      const copied = await copyIntoStore(store, set, id, dir, files);
      const m: SnapshotManifest = {
        version: 1,
        id,
        set,
        createdAt: 4000,
        sourcePool: 'sentries',
        sourceNode: 'sentries-1',
        nodeKind: 'test',
        chainId: 'c',
        height: 42,
        appHash: 'AB',
        totalBytes: copied.reduce((a, f) => a + f.size, 0),
        files: copied,
      };
      await store.putManifest(m);
      reads.clear();
      const into = mkdtempSync(path.join(tmpdir(), 'rampart-restore-'));
      await restoreSource(store, m).restoreInto(into);
      for (const f of files)
        assert.ok(readFileSync(path.join(into, f)).equals(readFileSync(path.join(dir, f))), `${f} differs`);
      assert.deepEqual(
        [...reads].sort(),
        files.map((f) => [f, 1]).sort(),
        'every file read exactly once: verified as it is copied, never read again',
      );
      rmSync(dir, { recursive: true, force: true });
      rmSync(into, { recursive: true, force: true });
    });

    test('a corrupted part of a large file fails the restore in the same pass, naming the file', async () => {
      const store = await make();
      const dir = dataDir();
      const big = Buffer.alloc(17 * 1024 * 1024, 3);
      writeFileSync(path.join(dir, 'data', 'blockstore.db', '000003.ldb'), big);
      const set = `s${Date.now()}f`;
      const m = await take(store, set, dir, 5000);
      const files = [...FILES, 'data/blockstore.db/000003.ldb'];
      const copied = await copyIntoStore(store, set, m.id, dir, files);
      const full: SnapshotManifest = {
        ...m,
        files: copied,
        totalBytes: copied.reduce((a, f) => a + f.size, 0),
      };
      await store.putManifest(full);
      big[16 * 1024 * 1024 + 7] = 4;
      await store.putFile(set, m.id, 'data/blockstore.db/000003.ldb', Readable.from([big]), big.length);
      const into = mkdtempSync(path.join(tmpdir(), 'rampart-restore-'));
      await assert.rejects(
        restoreSource(store, full).restoreInto(into),
        /file data\/blockstore\.db\/000003\.ldb: expected 17825792 bytes sha256 [0-9a-f]{12}…, got 17825792 bytes/,
      );
      rmSync(dir, { recursive: true, force: true });
      rmSync(into, { recursive: true, force: true });
    });

    test('prune keeps the newest N and removes abandoned incomplete ones, not those in progress', async () => {
      const store = await make();
      const dir = dataDir();
      const set = `s${Date.now()}d`;
      const made = [];
      for (let i = 0; i < 4; i++) made.push(await take(store, set, dir, 10_000 + i));
      await copyIntoStore(store, set, 'abandoned', dir, FILES.slice(1));
      await copyIntoStore(store, set, 'running', dir, FILES.slice(1));
      const removed = await pruneSnapshots(store, set, 2, new Set(['running']));
      assert.deepEqual(removed.sort(), [made[0]!.id, made[1]!.id, 'abandoned'].sort());
      assert.deepEqual(
        (await store.list(set)).map((m) => m.id),
        [made[3]!.id, made[2]!.id],
      );
      assert.deepEqual(await store.listIncomplete(set), ['running']);
      rmSync(dir, { recursive: true, force: true });
    });
  });
}
