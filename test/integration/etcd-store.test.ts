// The store contract against a real etcd (Debian's 3.4): the same cases SQLite passes, each
// on a fresh key prefix; and the basic cases again over TLS with a client certificate.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { EtcdCoordination } from '../../src/coordination/etcd.ts';
import { EtcdStore } from '../../src/store/etcd-store.ts';
import { storeContract, storedNode } from '../contracts/store.contract.ts';
import { type RunningEtcd, skipUnlessInstalled, startEtcd } from '../support/servers.ts';

// One single-member etcd and one over TLS, shared by the whole file (each test its own prefix).
let plain: RunningEtcd | undefined;
let secure: RunningEtcd | undefined;
const cleanups: (() => unknown)[] = [];
const hooks = { after: (fn: () => unknown) => void cleanups.push(fn), skip: () => undefined };
after(async () => {
  for (const fn of cleanups) await fn();
});
const skip = skipUnlessInstalled('etcd');
before(async () => {
  if (skip) return;
  [plain, secure] = await Promise.all([startEtcd(hooks), startEtcd(hooks, { tls: true })]);
});

const fresh = (which: () => RunningEtcd | undefined, withTls: boolean) => async () => {
  const etcd = which()!;
  const s = new EtcdStore({
    endpoints: etcd.endpoints,
    prefix: `/rampart-test/${randomBytes(6).toString('hex')}/`,
    timeoutMs: 5000,
    tls: withTls ? etcd.tls : undefined,
  });
  await s.open();
  return s;
};
const reopen = async (s: Awaited<ReturnType<ReturnType<typeof fresh>>> | unknown) => {
  const old = s as EtcdStore;
  await old.close();
  const again = new EtcdStore(old.options);
  await again.open();
  return again;
};

storeContract(
  'etcd',
  fresh(() => plain, false),
  reopen,
  { skip },
);
storeContract(
  'etcd over TLS with a client certificate',
  fresh(() => secure, true),
  reopen,
  { skip },
);

test('over TLS, a client without a certificate is refused', { skip }, async () => {
  const s = new EtcdStore({
    endpoints: secure!.endpoints,
    prefix: '/rampart-test/no-cert/',
    timeoutMs: 2000,
    tls: { ca: secure!.tls!.ca },
  });
  await assert.rejects(s.open());
  await s.close();
});

test('a store from a newer Rampart is refused, not mangled', { skip }, async () => {
  const s = (await fresh(() => plain, false)()) as EtcdStore;
  await s.namespace.put('schema').value(JSON.stringify({ version: 99 }));
  await assert.rejects(reopen(s), /schema version 99, newer than this Rampart knows/);
});

test('history: newest N by pool and since, ids increase, same-millisecond order kept', {
  skip,
}, async () => {
  const s = (await fresh(() => plain, false)()) as EtcdStore;
  const t = await s.newTerm('a');
  for (let i = 0; i < 30; i++)
    await s.recordDecision({
      pool: i % 3 ? 'a' : 'b',
      at: 1000 + Math.floor(i / 2),
      term: t,
      decision: 'hold',
      ready: i,
      live: i,
      desired: i,
      reasons: [],
      actions: [],
    });
  const all = await s.listDecisions({ limit: 1000 });
  assert.deepEqual(
    all.map((d) => d.ready),
    [...Array(30).keys()],
  );
  const ids = all.map((d) => d.id!);
  assert.deepEqual(
    [...ids].sort((x, y) => x - y),
    ids,
  );
  assert.deepEqual(
    (await s.listDecisions({ pool: 'b', limit: 2 })).map((d) => d.ready),
    [24, 27],
  );
  assert.deepEqual(
    (await s.listDecisions({ since: 1013 })).map((d) => d.ready),
    [26, 27, 28, 29],
  );
  await s.putNode(storedNode('n1'), t);
  await s.close();
});

test('with etcd authentication: the password comes from its file; a wrong one is refused', {
  skip,
}, async (t) => {
  const etcd = (await startEtcd(t))!;
  const ctl = (...args: string[]) =>
    execFileSync('etcdctl', [`--endpoints=${etcd.endpoints.join(',')}`, ...args], {
      env: { ...process.env, ETCDCTL_API: '3' },
      stdio: 'pipe',
    });
  ctl('user', 'add', 'root', '--new-user-password=root-secret');
  ctl('role', 'add', 'rampart');
  ctl('role', 'grant-permission', 'rampart', '--prefix=true', 'readwrite', '/rampart-auth/');
  ctl('user', 'add', 'rampart', '--new-user-password=s3cret pass');
  ctl('user', 'grant-role', 'rampart', 'rampart');
  ctl('auth', 'enable');
  const dir = mkdtempSync(path.join(tmpdir(), 'rampart-etcd-auth-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'good'), 's3cret pass\n');
  writeFileSync(path.join(dir, 'bad'), 'wrong\n');
  const store = (passwordFile: string, prefix = '/rampart-auth/') =>
    new EtcdStore({
      endpoints: etcd.endpoints,
      prefix,
      timeoutMs: 2000,
      auth: { username: 'rampart', passwordFile: path.join(dir, passwordFile) },
    });
  const s = store('good');
  await s.open();
  const term = await s.newTerm('a');
  await s.putNode(storedNode('n1'), term);
  assert.equal((await s.getNode('n1'))?.id, 'n1');
  const leadership = await new EtcdCoordination(s, { leaseTtlMs: 2000 }).campaign('a');
  assert.ok(leadership.term > term);
  await leadership.resign();
  await s.close();
  await assert.rejects(store('bad').open(), /authentication failed/);
  await assert.rejects(store('good', '/elsewhere/').open(), /permission denied/);
});
