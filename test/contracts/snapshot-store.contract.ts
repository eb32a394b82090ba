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
