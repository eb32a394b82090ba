import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, test } from 'node:test';
import { storeContract } from '../../test/contracts/store.contract.ts';
import { SqliteStore } from './sqlite-store.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'rampart-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

storeContract(
  'sqlite',
  async () => {
    const s = new SqliteStore(path.join(dir, `s${n++}.db`));
    await s.open();
    return s;
  },
  async (s) => {
    await s.close();
    const again = new SqliteStore((s as SqliteStore).file);
    await again.open();
    return again;
  },
);

test('a store from a newer Rampart is refused, not mangled', async () => {
  const file = path.join(dir, 'newer.db');
  const s = new SqliteStore(file);
  await s.open();
  await s.close();
  const db = new DatabaseSync(file);
  db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (99, 0)').run();
  db.close();
  await assert.rejects(new SqliteStore(file).open(), /schema version 99, newer than this Rampart knows/);
});
