// The copy pipeline's promises beyond the store contract: files go side by side, and a failed
// copy is reported only once nothing is still writing, so the manifest can only come last.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { test } from 'node:test';
import { DirectorySnapshotStore } from './directory-store.ts';
import { copyIntoStore } from './snapshot-files.ts';
import type { SnapshotStore } from './snapshot-store.ts';

function dataDir(files: number): { dir: string; rels: string[] } {
  const dir = mkdtempSync(path.join(tmpdir(), 'rampart-snapfiles-'));
  mkdirSync(path.join(dir, 'data', 'blockstore.db'), { recursive: true });
  const rels: string[] = [];
  for (let i = 0; i < files; i++) {
    const rel = `data/blockstore.db/${String(i).padStart(6, '0')}.ldb`;
    writeFileSync(path.join(dir, rel), Buffer.alloc(2 << 20, i));
    rels.push(rel);
  }
  return { dir, rels };
}

/** A directory store read through its streams (no localFile), counting puts in flight. */
function watched(inner: DirectorySnapshotStore) {
  const seen = { inFlight: 0, maxInFlight: 0, finishedAfterFailure: 0, failed: false };
  const store: SnapshotStore = {
    kind: 'watched',
    location: inner.location,
    list: (set) => inner.list(set),
    listIncomplete: (set) => inner.listIncomplete(set),
    putFile: async (set: string, id: string, rel: string, body: Readable) => {
      seen.inFlight++;
      seen.maxInFlight = Math.max(seen.maxInFlight, seen.inFlight);
      try {
        await inner.putFile(set, id, rel, body);
      } catch (e) {
        seen.failed = true;
        throw e;
      } finally {
        seen.inFlight--;
        if (seen.failed) seen.finishedAfterFailure++;
      }
    },
    putManifest: (m) => inner.putManifest(m),
    getFile: (set, id, rel) => inner.getFile(set, id, rel),
    remove: (set, id) => inner.remove(set, id),
  };
  return { store, seen };
}

test('files are copied side by side', async () => {
  const { dir, rels } = dataDir(8);
  const root = mkdtempSync(path.join(tmpdir(), 'rampart-snapstore-'));
  const { store, seen } = watched(new DirectorySnapshotStore(root));
  const files = await copyIntoStore(store, 'set', 'id', dir, rels);
  assert.equal(files.length, 8);
  assert.ok(seen.maxInFlight >= 2, `at most ${seen.maxInFlight} file(s) in flight`);
  rmSync(dir, { recursive: true, force: true });
  rmSync(root, { recursive: true, force: true });
});

test('a failed copy is reported only once no other copy is still writing', async () => {
  const { dir, rels } = dataDir(8);
  mkdirSync(path.join(dir, 'data', 'state.db'));
  writeFileSync(path.join(dir, 'data', 'state.db', 'CURRENT'), 'MANIFEST-000002\n');
  const root = mkdtempSync(path.join(tmpdir(), 'rampart-snapstore-'));
  // A real failure: where one file's folder should be, the store holds a file.
  mkdirSync(path.join(root, 'set', 'id', 'files', 'data'), { recursive: true });
  writeFileSync(path.join(root, 'set', 'id', 'files', 'data', 'state.db'), 'not a folder');
  const { store, seen } = watched(new DirectorySnapshotStore(root));
  // The failing file first, while the others are still being copied.
  await assert.rejects(
    copyIntoStore(store, 'set', 'id', dir, ['data/state.db/CURRENT', ...rels]),
    /ENOTDIR|EEXIST/,
  );
  assert.equal(seen.inFlight, 0, 'nothing still writing when the failure is reported');
  assert.ok(seen.finishedAfterFailure >= 2, 'copies in flight at the failure ended before it was reported');
  rmSync(dir, { recursive: true, force: true });
  rmSync(root, { recursive: true, force: true });
});
