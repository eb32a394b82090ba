// `rampart state export|import`: SQLite → etcd → SQLite without loss (every pool state,
// node, action, decision, event, request, pool status and the term), a non-empty target
// refused unless --force, and no import while a controller runs on the target.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { Etcd3 } from 'etcd3';
import { loadConfigFile } from '../../src/config/load.ts';
import { EtcdCoordination } from '../../src/coordination/etcd.ts';
import { createRuntime } from '../../src/runtime/runtime.ts';
import { EtcdStore } from '../../src/store/etcd-store.ts';
import { SqliteStore } from '../../src/store/sqlite-store.ts';
import type { StateDump } from '../../src/store/state-dump.ts';
import type { Store } from '../../src/store/store.ts';
import { fillStore, newStateDump, storedNode } from '../contracts/store.contract.ts';
import { CLI } from '../support/fleet.ts';
import { startEtcd } from '../support/servers.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'rampart-state-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function config(name: string, store: string, coordination = ''): string {
  const file = path.join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    `version: 1
controller:
  store: ${store}
${coordination ? `  coordination: ${coordination}\n` : ''}providers:
  - { name: here, kind: local }
pools:
  - name: sentries
    role: sentry
    provider: here
    node: { kind: simnode }
    size: { min: 1, capacity: 1, max: 2 }
`,
  );
  return file;
}

/** Runs the CLI to its end (without blocking this process): exit code and everything it wrote. */
function cli(args: string[], input = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, RAMPART_LOG_FORMAT: 'json' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdin.end(input);
  return new Promise((resolve) => child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr })));
}

/** A store with some of everything, written the way the controller writes. */
async function fill(s: Store): Promise<void> {
  await s.newTerm('old leader');
  const t = await s.newTerm('rampart up on host-a (pid 1)');
  await s.putPool(
    {
      name: 'sentries',
      paused: false,
      everHadNode: true,
      clocks: { lastScaleUpAt: 900, lastScaleDownAt: 950, lastHealthCheckAt: 990 },
    },
    t,
  );
  await s.putPool({ name: 'gone-from-config', paused: true, everHadNode: true, clocks: {} }, t);
  await s.putNode(
    storedNode('sentries-1', {
      failMarker: 7,
      registered: true,
      instanceId: 'i-1',
      host: '127.0.0.1',
      ports: { rpc: 1, p2p: 2 },
    }),
    t,
  );
  await s.putNode(storedNode('sentries-2', { state: 'gone', stateReason: 'scale-down' }), t);
  await s.putNode(storedNode('validator-1', { pool: 'validator', state: 'failed' }), t);
  for (let i = 0; i < 6; i++) {
    const id = `a-${i}`;
    await s.beginAction({
      id,
      term: t,
      pool: i % 2 ? 'sentries' : 'validator',
      kind: 'create',
      nodeId: `n${i}`,
      cause: 'scale-up',
      caller: 'controller',
      startedAt: 1000 + i,
      detail: i === 0 ? { k: [1, 2] } : undefined,
    });
    if (i < 5)
      await s.finishAction(
        id,
        i === 3 ? 'failed' : 'succeeded',
        i === 4 ? undefined : `instance ${i}`,
        t,
        2000 + i,
      );
  }
  for (let i = 0; i < 8; i++)
    await s.recordDecision({
      pool: i % 2 ? 'sentries' : 'validator',
      at: 3000 + Math.floor(i / 2), // two pools decide in the same millisecond
      term: t,
      decision: i === 5 ? 'scale-up' : 'hold',
      ready: i,
      live: i,
      desired: i + 1,
      reasons: [{ code: 'rule-quiet', text: `r${i}`, value: i }],
      actions: i === 5 ? ['create 1 (scale-up)'] : [],
    });
  await s.recordEvent(
    { at: 4000, pool: 'sentries', node: 'sentries-1', severity: 'critical', text: 'join failed' },
    t,
  );
  await s.recordEvent({ at: 4001, severity: 'info', text: 'fleet-wide' }, t);
  await s.addRequest({ id: 'r-1', at: 5000, kind: 'snapshot-create', body: { set: 's' }, caller: 'ops' });
  await s.addRequest({ id: 'r-2', at: 5001, kind: 'snapshot-prune', body: { set: 's' }, caller: 'ops' });
  await s.finishRequest('r-1', 'done', 'snapshot x', t, 5002);
  await s.putPoolStatus({
    pool: 'sentries',
    at: 6000,
    term: t,
    body: { ready: 1, nodes: [{ id: 'sentries-1' }] },
  });
}

/** A dump without when and whence; absent and undefined fields alike (JSON's view). */
const comparable = ({ exportedAt: _a, from: _f, ...rest }: StateDump) => JSON.parse(JSON.stringify(rest));

async function dumpOf(file: string): Promise<StateDump> {
  const rt = createRuntime(loadConfigFile(file).config);
  await rt.store.open();
  try {
    return await rt.store.exportState();
  } finally {
    await rt.store.close();
  }
}

test('SQLite → etcd → SQLite: everything arrives, nothing is lost', async (t) => {
  const etcd = await startEtcd(t);
  if (!etcd) return;
  const prefix = `/rampart-test/${randomBytes(6).toString('hex')}/`;
  const etcdStore = `{ kind: etcd, endpoints: [${etcd.endpoints.join(', ')}], prefix: ${prefix} }`;
  const a = config('a', '{ kind: sqlite, path: a.db }');
  const b = config('b', etcdStore, '{ kind: etcd, leaseTtl: 2s }');
  const c = config('c', '{ kind: sqlite, path: c.db }');
  const source = new SqliteStore(path.join(dir, 'a.db'));
  await source.open();
  await fill(source);
  const original = await source.exportState();
  await source.close();

  const exported = await cli(['state', 'export', '-c', a]);
  assert.equal(exported.code, 0, exported.stderr);
  const imported = await cli(['state', 'import', '-c', b], exported.stdout);
  assert.equal(imported.code, 0, imported.stderr);
  assert.deepEqual(comparable(await dumpOf(b)), comparable(original), 'etcd holds what SQLite held');
  const back = await cli(['state', 'export', '-c', b]);
  assert.equal(back.code, 0, back.stderr);
  const again = await cli(['state', 'import', '-c', c], back.stdout);
  assert.equal(again.code, 0, again.stderr);
  const roundTrip = await dumpOf(c);
  const { exportedAt: _x, from: _y, ...exact } = roundTrip;
  const { exportedAt: _z, from: _w, ...expected } = original;
  assert.deepEqual(exact, expected, 'SQLite → etcd → SQLite loses nothing, field for field');
  assert.equal(roundTrip.term, 2);
  assert.equal(roundTrip.decisions.length, 8);

  // A new leader on the imported store continues above the imported term.
  const store = new EtcdStore({ endpoints: etcd.endpoints, prefix, timeoutMs: 2000 });
  await store.open();
  assert.equal(await store.newTerm('next'), 3);

  // A non-empty target is refused unless --force, which replaces it.
  const refused = await cli(['state', 'import', '-c', c], back.stdout);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /not empty/);
  const forced = await cli(['state', 'import', '-c', b, '--force'], exported.stdout);
  assert.equal(forced.code, 0, forced.stderr);
  assert.deepEqual(comparable(await dumpOf(b)), comparable(original));

  // No import while a controller runs on the target: here, a replica campaigning on it.
  const coordination = new EtcdCoordination(store, { leaseTtlMs: 5000 });
  const leadership = await coordination.campaign('a running replica');
  const busy = await cli(['state', 'import', '-c', b, '--force'], exported.stdout);
  assert.equal(busy.code, 1);
  assert.match(busy.stderr, /a controller is running/);
  await leadership.resign();
  await coordination.close();
  await store.close();

  // Not an export: refused with a usage error, nothing written.
  const garbage = await cli(
    ['state', 'import', '-c', config('d', '{ kind: sqlite, path: d.db }')],
    '{"hello": 1}',
  );
  assert.equal(garbage.code, 2);
});

test('state import --force into etcd and into SQLite: no key or row of the state before remains', async (t) => {
  const etcd = await startEtcd(t);
  if (!etcd) return;
  const prefix = `/rampart-test/${randomBytes(6).toString('hex')}/`;
  const file = config(
    'forced',
    `{ kind: etcd, endpoints: [${etcd.endpoints.join(', ')}], prefix: ${prefix} }`,
    '{ kind: etcd }',
  );
  const store = new EtcdStore({ endpoints: etcd.endpoints, prefix, timeoutMs: 2000 });
  await store.open();
  await fillStore(store, 'previous');
  // A replica that campaigned and went: its coordination keys are state of the store too.
  const coordination = new EtcdCoordination(store, { leaseTtlMs: 5000 });
  await (await coordination.campaign('previous replica')).resign();
  await coordination.close();
  await store.close();

  const dump = JSON.stringify(newStateDump());
  const refused = await cli(['state', 'import', '-c', file], dump);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /the target etcd store .* is not empty/);
  const forced = await cli(['state', 'import', '-c', file, '--force'], dump);
  assert.equal(forced.code, 0, forced.stderr);
  const client = new Etcd3({ hosts: [...etcd.endpoints] });
  try {
    const all = await client.getAll().prefix(prefix).strings();
    assert.ok(
      Object.keys(all).some((k) => k.includes('new-node')),
      'the dump is there',
    );
    for (const [key, value] of Object.entries(all))
      assert.doesNotMatch(`${key} ${value}`, /previous/, `${key} is left from the state before`);
  } finally {
    client.close();
  }

  const sqliteFile = config('forced-sqlite', '{ kind: sqlite, path: forced.db }');
  const sqlite = new SqliteStore(path.join(dir, 'forced.db'));
  await sqlite.open();
  await fillStore(sqlite, 'previous');
  await sqlite.close();
  const intoSqlite = await cli(['state', 'import', '-c', sqliteFile, '--force'], dump);
  assert.equal(intoSqlite.code, 0, intoSqlite.stderr);
  const exported = await cli(['state', 'export', '-c', sqliteFile]);
  assert.doesNotMatch(exported.stdout, /previous/);
  assert.ok(exported.stdout.includes('new-pool'));
});
