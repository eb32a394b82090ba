// etcd coordination against a real etcd: one leader among candidates, handover on resign and
// on a revoked lease, terms that only go up and fence the old leader's writes (store and
// provider wrapper), exclusive locks, and a leader that stops acting when its keep-alives
// fail — before its lease can expire — then campaigns again once etcd is back.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Leadership } from '../../src/coordination/coordination.ts';
import { EtcdCoordination, electionCandidates } from '../../src/coordination/etcd.ts';
import type { Provider } from '../../src/providers/provider.ts';
import { fencedProvider } from '../../src/runtime/runtime.ts';
import { EtcdStore } from '../../src/store/etcd-store.ts';
import { StaleTermError } from '../../src/store/store.ts';
import { coordinationContract } from '../contracts/coordination.contract.ts';
import { storedNode } from '../contracts/store.contract.ts';
import { waitFor } from '../support/fleet.ts';
import { type RunningEtcd, skipUnlessInstalled, startEtcd } from '../support/servers.ts';

const skip = skipUnlessInstalled('etcd');
const cleanups: (() => unknown)[] = [];
const hooks = { after: (fn: () => unknown) => void cleanups.push(fn), skip: () => undefined };
let etcd: RunningEtcd | undefined;
before(async () => {
  if (!skip) etcd = await startEtcd(hooks);
});
after(async () => {
  for (const fn of cleanups.reverse()) await fn();
});

/** A replica's view: its own client, store and coordination on a shared prefix. */
async function replica(server: RunningEtcd, prefix: string, leaseTtlMs = 2000) {
  const store = new EtcdStore({ endpoints: server.endpoints, prefix, timeoutMs: 2000 });
  await store.open();
  const coordination = new EtcdCoordination(store, { leaseTtlMs });
  cleanups.push(async () => {
    await coordination.close();
    await store.close();
  });
  return { store, coordination };
}

const newPrefix = () => `/rampart-test/${randomBytes(6).toString('hex')}/`;

/** A campaign whose outcome can be looked at without waiting for it. */
function pending(p: Promise<Leadership>) {
  const state: { leadership?: Leadership; error?: unknown } = {};
  p.then(
    (l) => (state.leadership = l),
    (e) => (state.error = e),
  );
  return state;
}

test('two candidates: exactly one leads; the other takes over on resign; the old term is fenced', {
  skip,
}, async () => {
  const prefix = newPrefix();
  const a = await replica(etcd!, prefix);
  const b = await replica(etcd!, prefix);
  const la = await a.coordination.campaign('a');
  const pb = b.coordination.campaign('b');
  const bState = pending(pb);
  // Several keep-alive periods pass: b still stands by, a still leads.
  await sleep(2500);
  assert.equal(bState.leadership, undefined, 'the second candidate must not lead while the first does');
  assert.equal(la.lost.aborted, false);
  assert.deepEqual(
    (await electionCandidates(a.store)).map((c) => c.holder),
    ['a', 'b'],
  );
  await a.store.putNode(storedNode('n1'), la.term);

  await la.resign();
  assert.ok(la.lost.aborted);
  const lb = await pb;
  assert.ok(lb.term > la.term, `term ${lb.term} follows ${la.term}`);
  assert.equal(await b.store.currentTerm(), lb.term);

  // The old leader's writes and creations are refused, and change nothing.
  await assert.rejects(a.store.putNode(storedNode('n1', { state: 'draining' }), la.term), StaleTermError);
  assert.equal((await b.store.getNode('n1'))?.state, 'ready');
  let created = 0;
  const provider: Provider = {
    name: 'fake',
    kind: 'fake',
    list: async () => [],
    create: async () => {
      created++;
      throw new Error('not reached');
    },
    destroy: async () => undefined,
  };
  await assert.rejects(
    fencedProvider(provider, a.store).create({
      nodeId: 'n2',
      pool: 'p',
      actionId: 'x',
      term: la.term,
      kind: {} as never,
      launch: {} as never,
    }),
    StaleTermError,
  );
  assert.equal(created, 0, 'a stale creation never reaches the provider');
  await lb.resign();
});

test('a revoked lease aborts the leader at once and hands leadership to the next candidate', {
  skip,
}, async () => {
  const prefix = newPrefix();
  const a = await replica(etcd!, prefix);
  const b = await replica(etcd!, prefix);
  const la = await a.coordination.campaign('a');
  const pb = b.coordination.campaign('b');
  const [leaderKey] = (await a.store.namespace.getAll().prefix('election/').sort('Create', 'Ascend').exec())
    .kvs;
  assert.ok(leaderKey);
  await a.store.client.leaseClient.leaseRevoke({ ID: leaderKey.lease });
  const lb = await pb;
  await waitFor('the old leader to see its leadership lost', () => la.lost.aborted, 10_000);
  assert.ok(lb.term > la.term);
  await assert.rejects(
    a.store.beginAction({
      id: 'late',
      term: la.term,
      pool: 'p',
      kind: 'create',
      cause: 'c',
      caller: 'controller',
      startedAt: 1,
    }),
    StaleTermError,
  );
  assert.deepEqual(await b.store.openActions(), []);
  await lb.resign();
});

coordinationContract('etcd', {
  replica: async (group) => (await replica(etcd!, `/rampart-test/${group}/`)).coordination,
  whileAnotherLeads: 'waits',
  locksAcrossReplicas: true,
  standByMs: 2500,
  skip,
});

test('a lock whose lease is revoked is lost: its holder hears it, and another may take it', {
  skip,
}, async () => {
  const prefix = newPrefix();
  const a = await replica(etcd!, prefix);
  const b = await replica(etcd!, prefix);
  const lock = await a.coordination.tryLock('scale-down/sentries', 'a');
  assert.ok(lock);
  const [kv] = (await a.store.namespace.getAll().prefix('locks/').exec()).kvs;
  assert.ok(kv, 'the lock key');
  await a.store.client.leaseClient.leaseRevoke({ ID: kv.lease });
  await new Promise<void>((resolve) => lock.lost.addEventListener('abort', () => resolve(), { once: true }));
  assert.match((lock.lost.reason as Error).message, /^lock scale-down\/sentries lost: /);
  const taken = await b.coordination.tryLock('scale-down/sentries', 'b');
  assert.ok(taken, 'free for another holder');
  await taken.release();
  await lock.release();
});

test('when keep-alives fail the leader stops acting before its lease can expire, then campaigns again', {
  skip,
}, async () => {
  // A member of its own: this test stops it.
  const own = (await startEtcd(hooks))!;
  const prefix = newPrefix();
  const a = await replica(own, prefix, 3000);
  const la = await a.coordination.campaign('a');
  await own.members[0]!.stop();
  await waitFor('the leader to give up its leadership', () => la.lost.aborted, 15_000);
  assert.match(
    (la.lost.reason as Error).message,
    /before the lease can expire/,
    'the watchdog, not the lease expiry, ended it',
  );
  // While etcd is down a new campaign waits (and holds); it leads again once etcd is back.
  const again = pending(a.coordination.campaign('a'));
  await sleep(1000);
  assert.equal(again.leadership, undefined);
  await own.members[0]!.start();
  await own.waitHealthy();
  const la2 = await waitFor('leadership once etcd is back', () => again.leadership, 30_000);
  assert.ok(la2 && la2.term > la.term);
  await la2.resign();
});
