// Embedded coordination (one controller per SQLite store file, through a lock file beside
// it) passes the coordination contract; a lock file whose process has died is taken over,
// and one whose process lives is refused, naming its pid and holder.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { Coordination } from '../../src/coordination/coordination.ts';
import { EmbeddedCoordination, lockHolder } from '../../src/coordination/embedded.ts';
import { SqliteStore } from '../../src/store/sqlite-store.ts';
import { coordinationContract } from '../contracts/coordination.contract.ts';

const dir = mkdtempSync(join(tmpdir(), 'rampart-embedded-coordination-'));
const opened: { coordination: Coordination; store: SqliteStore }[] = [];
after(async () => {
  for (const { coordination, store } of opened.reverse()) {
    await coordination.close();
    await store.close();
  }
  rmSync(dir, { recursive: true, force: true });
});

/** A replica on the store file `<group>.db`: its own connection, the lock file beside it. */
async function replica(group: string): Promise<EmbeddedCoordination> {
  const path = join(dir, `${group}.db`);
  const store = new SqliteStore(path);
  await store.open();
  const coordination = new EmbeddedCoordination(store, `${path}.lock`);
  opened.push({ coordination, store });
  return coordination;
}

coordinationContract('embedded', {
  replica,
  whileAnotherLeads: 'is-refused',
  locksAcrossReplicas: false,
  standByMs: 0,
});

test('a lock file left by a dead process is taken over; a live holder is refused by pid and name', async () => {
  const lockFile = join(dir, 'stale.db.lock');
  const dead = spawnSync(process.execPath, ['-e', '']).pid;
  assert.ok(dead, 'a process ran and ended');
  writeFileSync(lockFile, `${dead}\nthe-crashed-one\n`);
  assert.equal(lockHolder(lockFile), undefined, 'a dead holder holds nothing');
  const c = await replica('stale');
  const leadership = await c.campaign('next');
  assert.equal(readFileSync(lockFile, 'utf8'), `${process.pid}\nnext\n`);
  assert.equal(lockHolder(lockFile), process.pid);
  const rival = await replica('stale');
  await assert.rejects(
    rival.campaign('rival'),
    new RegExp(`another controller \\(pid ${process.pid}, next\\) is running on this store; lock file `),
  );
  await leadership.resign();
  assert.equal(lockHolder(lockFile), undefined, 'resign removes the lock file');
});
