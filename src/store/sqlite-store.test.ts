import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { fillStore, newStateDump, storeContract } from '../../test/contracts/store.contract.ts';
import { SqliteStore } from './sqlite-store.ts';
import { StoreUnusableError } from './store.ts';

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

test('a file that is not a database is refused, naming it, and left exactly as it was', async () => {
  const random = path.join(dir, 'random.db');
  writeFileSync(random, randomBytes(16_384));
  const truncated = path.join(dir, 'truncated.db');
  const s = new SqliteStore(truncated);
  await s.open();
  await fillStore(s, 'previous');
  await s.close();
  truncateSync(truncated, Math.floor(statSync(truncated).size / 2));
  for (const file of [random, truncated]) {
    const before = readFileSync(file);
    await assert.rejects(new SqliteStore(file).open(), (e: Error) => {
      assert.ok(e instanceof StoreUnusableError, String(e));
      assert.match(e.message, new RegExp(`^store ${file}: file is not a database \\(SQLite: .+\\)`));
      return true;
    });
    assert.deepEqual(readFileSync(file), before, `${path.basename(file)} is not written to`);
    assert.equal(existsSync(`${file}-wal`), false, 'no write-ahead log is started beside it');
  }
  // A folder where the file should be: named too, and exit 2 from a command as well.
  await assert.rejects(
    new SqliteStore(dir).open(),
    (e: Error) =>
      e instanceof StoreUnusableError && e.message.startsWith(`store ${dir}: cannot be opened (SQLite: `),
  );
});

test('a write waits for another connection’s transaction instead of failing with "database is locked"', async () => {
  const file = path.join(dir, 'busy.db');
  // Another process (here a thread: its own connection and event loop) holds a write
  // transaction on a new database for a moment, as a controller's tick does.
  const holder = new Worker(
    `const { DatabaseSync } = require('node:sqlite');
     const { parentPort, workerData } = require('node:worker_threads');
     const db = new DatabaseSync(workerData.file);
     db.exec('CREATE TABLE held (x); BEGIN EXCLUSIVE; INSERT INTO held VALUES (1);');
     parentPort.postMessage('holding');
     setTimeout(() => { db.exec('COMMIT'); db.close(); }, 400);`,
    { eval: true, workerData: { file } },
  );
  await once(holder, 'message');
  const started = Date.now();
  const s = new SqliteStore(file);
  await s.open();
  assert.equal(await s.newTerm('waiter'), 1);
  assert.ok(Date.now() - started >= 300, 'it waited for the other transaction');
  await s.close();
  await once(holder, 'exit');
});

test('a forced import leaves no row of the state before in any table', async () => {
  const s = new SqliteStore(path.join(dir, 'forced.db'));
  await s.open();
  await fillStore(s, 'previous');
  await s.importState(newStateDump(), { force: true });
  const db = new DatabaseSync(s.file);
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as {
    name: string;
  }[];
  assert.ok(tables.length >= 10, 'every table is looked at');
  for (const { name } of tables) {
    const rows = JSON.stringify(db.prepare(`SELECT * FROM "${name}"`).all());
    assert.doesNotMatch(rows, /previous/, `table ${name} still holds the state before`);
  }
  db.close();
  await s.close();
});
