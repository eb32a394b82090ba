// Kubernetes coordination against the real API server: two replicas (each with its own
// SQLite store) on one Lease, as a ServiceAccount allowed only get/create/update on leases.
// One leads; resign hands over at once with a higher term; a leader cut off from the API
// server stops acting before its successor starts; fence refuses a deposed term; locks
// exclude each other and are freed by release and by expiry.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubernetesCoordination } from '../../src/coordination/kubernetes.ts';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { SqliteStore } from '../../src/store/sqlite-store.ts';
import { StaleTermError } from '../../src/store/store.ts';
import { createNamespace, type KubeControlPlane, startKube } from '../support/kube.ts';
import { findBinary } from '../support/servers.ts';

let kube: KubeControlPlane | undefined;
const cleanups: (() => unknown)[] = [];
const hooks = { after: (fn: () => unknown) => void cleanups.push(fn), skip: () => undefined };
after(async () => {
  for (const fn of cleanups.reverse()) await fn();
});
const installed = findBinary('kube-apiserver') !== undefined || process.env.RAMPART_ALLOW_SKIP !== '1';
const skip = installed ? false : 'the Kubernetes test bed is not built (RAMPART_ALLOW_SKIP=1)';
const NS = 'rampart';
let dir: string;
let tokenFile: string;

before(async () => {
  if (!installed) return;
  kube = await startKube(hooks);
  const k = kube!;
  dir = mkdtempSync(join(tmpdir(), 'rampart-kube-lease-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  await createNamespace(k, NS);
  await k.ok('POST', `/api/v1/namespaces/${NS}/serviceaccounts`, {
    body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'rampart' } },
  });
  await k.ok('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/roles`, {
    body: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'leases' },
      rules: [
        { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
      ],
    },
  });
  await k.ok('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/rolebindings`, {
    body: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'leases' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'leases' },
      subjects: [{ kind: 'ServiceAccount', name: 'rampart', namespace: NS }],
    },
  });
  tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, await k.serviceAccountToken(NS, 'rampart'), { mode: 0o600 });
});

/** A TCP proxy to the API server that the test can cut (a partition between one replica and it). */
async function cuttableProxy(target: URL): Promise<{ url: string; cut(): void }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((inbound) => {
    const outbound = connect(Number(target.port), target.hostname);
    sockets.add(inbound).add(outbound);
    inbound.pipe(outbound).pipe(inbound);
    const drop = () => {
      inbound.destroy();
      outbound.destroy();
    };
    inbound.on('error', drop).on('close', drop);
    outbound.on('error', drop).on('close', drop);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => server.close());
  const port = (server.address() as { port: number }).port;
  return {
    url: `https://127.0.0.1:${port}`,
    cut: () => {
      server.close();
      for (const s of sockets) s.destroy();
    },
  };
}

async function replica(name: string, leaseName: string, server?: string) {
  const store = new SqliteStore(join(dir, `${leaseName}-${name}.db`));
  await store.open();
  const client = new KubeClient({ server: server ?? kube!.url, caFile: kube!.caFile, tokenFile });
  const coordination = new KubernetesCoordination({
    client,
    namespace: NS,
    leaseName,
    leaseTtlMs: 2000,
    store,
  });
  cleanups.push(async () => {
    await coordination.close();
    client.close();
    await store.close();
  });
  return { coordination, store };
}

/** Resolves with the moment `p` settles, or undefined if it has not within `ms`. */
async function settledWithin<T>(p: Promise<T>, ms: number): Promise<boolean> {
  let done = false;
  void p.then(
    () => (done = true),
    () => (done = true),
  );
  await sleep(ms);
  return done;
}

test('one leads; the other waits; resign hands over with a higher term; fence refuses the old term', {
  skip,
}, async () => {
  const a = await replica('a', 'handover');
  const b = await replica('b', 'handover');
  // b's store has already handed out higher terms than a's: terms still go up through the Lease.
  for (let i = 0; i < 5; i++) await b.store.newTerm('earlier');
  const la = await a.coordination.campaign('a');
  const pending = b.coordination.campaign('b');
  assert.equal(await settledWithin(pending, 2500), false, 'b waits while a holds a live Lease');
  await a.coordination.fence(la.term);
  await la.resign();
  assert.ok(la.lost.aborted);
  const lb = await pending;
  assert.ok(lb.term > la.term, `${lb.term} > ${la.term}`);
  assert.ok(lb.term > 5, 'above every term b’s own store had seen');
  await b.coordination.fence(lb.term);
  await assert.rejects(a.coordination.fence(la.term), StaleTermError);
  const lease = await kube!.ok<{ spec: { holderIdentity: string; leaseTransitions: number } }>(
    'GET',
    `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/handover`,
  );
  assert.equal(lease.spec.holderIdentity, 'b');
  assert.equal(lease.spec.leaseTransitions, 2);
  await lb.resign();
});

test('a leader cut off from the API server stops before its successor starts', { skip }, async () => {
  const proxy = await cuttableProxy(new URL(kube!.url));
  const a = await replica('a', 'partition', proxy.url);
  const b = await replica('b', 'partition');
  const la = await a.coordination.campaign('a');
  let lostAt: number | undefined;
  la.lost.addEventListener('abort', () => (lostAt = performance.now()));
  const pending = b.coordination.campaign('b');
  assert.equal(await settledWithin(pending, 2000), false, 'a renews while connected');
  proxy.cut();
  const lb = await pending;
  const ledAt = performance.now();
  assert.ok(lostAt !== undefined && lostAt < ledAt, 'a declared its leadership lost before b led');
  assert.match(String((la.lost.reason as Error).message), /no renewal of Lease partition/);
  assert.ok(lb.term > la.term);
  await assert.rejects(a.coordination.fence(la.term));
  await lb.resign();
});

test('locks: one holder at a time; freed by release and by expiry', { skip }, async () => {
  const proxy = await cuttableProxy(new URL(kube!.url));
  const a = await replica('a', 'locks', proxy.url);
  const b = await replica('b', 'locks');
  const lock = await a.coordination.tryLock('scale-down/sentries', 'a');
  assert.ok(lock);
  assert.equal(await b.coordination.tryLock('scale-down/sentries', 'b'), undefined);
  assert.ok(await b.coordination.tryLock('scale-down/other', 'b'), 'another name is another lock');
  await lock.release();
  const lb = await b.coordination.tryLock('scale-down/sentries', 'b');
  assert.ok(lb, 'released: b takes it');
  await lb.release();
  // a takes it again, then is cut off: it expires and b gets it (and never before a's renewals stop).
  assert.ok(await a.coordination.tryLock('scale-down/sentries', 'a'));
  await sleep(2500);
  assert.equal(await b.coordination.tryLock('scale-down/sentries', 'b'), undefined, 'kept alive by renewals');
  proxy.cut();
  let taken: unknown;
  for (let i = 0; i < 40 && !taken; i++) {
    taken = await b.coordination.tryLock('scale-down/sentries', 'b');
    if (!taken) await sleep(250);
  }
  assert.ok(taken, 'the lock of a holder that stopped renewing expires');
});
