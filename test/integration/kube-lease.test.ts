// Kubernetes coordination against the real API server: replicas (each with its own SQLite
// store) on one Lease, most of them as a ServiceAccount allowed only get/create/update on
// leases. Exactly one leads, even when both write a free Lease at once (409); resign hands
// over at once with a higher term; a leader cut off from the API server stops acting before
// its Lease expires, and its successor starts only after; a renewal that finds another holder
// or term loses; a shared holder name steals nothing; fence refuses a deposed term; locks
// exclude each other and are freed by release and by expiry; close clears.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Leadership } from '../../src/coordination/coordination.ts';
import { KubernetesCoordination, TERM_ANNOTATION } from '../../src/coordination/kubernetes.ts';
import { coordinationPlugin } from '../../src/coordination/registry.ts';
import { KubeClient, type KubeClientOptions, KubeError } from '../../src/kube/kube-client.ts';
import { SqliteStore } from '../../src/store/sqlite-store.ts';
import { StaleTermError } from '../../src/store/store.ts';
import { coordinationContract, settledWithin } from '../contracts/coordination.contract.ts';
import { createNamespace, kubeForFile } from '../support/kube.ts';

const NS = 'rampart';
/** Lease duration of every replica here, ms. */
const TTL_MS = 2000;
let dir: string;
/** Token files: the admin's, and a ServiceAccount's that may only get/create/update leases in NS. */
const tokens = { admin: '', leasesOnly: '' };

const bed = kubeForFile(undefined, async (k) => {
  dir = mkdtempSync(join(tmpdir(), 'rampart-kube-lease-'));
  bed.cleanup(() => rmSync(dir, { recursive: true, force: true }));
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
  tokens.leasesOnly = join(dir, 'sa-token');
  writeFileSync(tokens.leasesOnly, await k.serviceAccountToken(NS, 'rampart'), { mode: 0o600 });
  tokens.admin = join(dir, 'admin-token');
  writeFileSync(tokens.admin, k.adminToken, { mode: 0o600 });
  // The Role really is that narrow: the ServiceAccount may not even list leases.
  const list = await k.request('GET', `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases`, {
    token: await k.serviceAccountToken(NS, 'rampart'),
  });
  assert.equal(list.status, 403, list.text);
});
const { skip } = bed;

/** A TCP proxy to the API server that the test can cut and heal (a partition of one replica). */
async function cuttableProxy(target: URL): Promise<{ url: string; cut(): void; heal(): void }> {
  const sockets = new Set<Socket>();
  let cut = false;
  const server = createServer((inbound) => {
    if (cut) return void inbound.destroy();
    const outbound = connect(Number(target.port), target.hostname);
    sockets.add(inbound).add(outbound);
    inbound.pipe(outbound).pipe(inbound);
    const drop = () => {
      inbound.destroy();
      outbound.destroy();
      sockets.delete(inbound);
      sockets.delete(outbound);
    };
    inbound.on('error', drop).on('close', drop);
    outbound.on('error', drop).on('close', drop);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  bed.cleanup(() => server.close());
  const port = (server.address() as { port: number }).port;
  return {
    url: `https://127.0.0.1:${port}`,
    cut: () => {
      cut = true;
      for (const s of sockets) s.destroy();
    },
    heal: () => {
      cut = false;
    },
  };
}

/**
 * The real client, except that its first PUT waits until `gate` opens: two candidates that
 * both read the Lease free then write it at once. Counts the 409s the API server answers.
 */
class GatedClient extends KubeClient {
  conflicts = 0;
  /** Settles once the held write has been answered. */
  readonly firstWrite: Promise<void>;
  #gate: (() => Promise<void>) | undefined;
  #written!: () => void;
  constructor(opts: KubeClientOptions, gate: () => Promise<void>) {
    super(opts);
    this.#gate = gate;
    this.firstWrite = new Promise<void>((r) => (this.#written = r));
  }
  override async replace<T>(urlPath: string, object: unknown, signal?: AbortSignal): Promise<T> {
    const gate = this.#gate;
    this.#gate = undefined;
    await gate?.();
    try {
      return await super.replace<T>(urlPath, object, signal);
    } catch (e) {
      if (e instanceof KubeError && e.status === 409) this.conflicts++;
      throw e;
    } finally {
      if (gate) this.#written();
    }
  }
}

/** A gate that opens once `n` callers wait at it. */
function barrier(n: number): () => Promise<void> {
  let waiting = 0;
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return () => {
    if (++waiting === n) open();
    return opened;
  };
}

interface ReplicaOptions {
  /** Reach the API server through this URL (a proxy) instead of directly. */
  readonly server?: string;
  readonly token?: keyof typeof tokens;
  /** Hold the first Lease write at this gate (see GatedClient). */
  readonly gate?: () => Promise<void>;
}

/** One Rampart replica: its own SQLite store, its own client, its own coordination. */
async function replica(name: string, leaseName: string, opts: ReplicaOptions = {}) {
  const store = new SqliteStore(join(dir, `${leaseName}-${name}.db`));
  await store.open();
  const connection = {
    server: opts.server ?? bed.kube().url,
    caFile: bed.kube().caFile,
    tokenFile: tokens[opts.token ?? 'leasesOnly'],
  };
  const client = opts.gate ? new GatedClient(connection, opts.gate) : new KubeClient(connection);
  const coordination = new KubernetesCoordination({
    client,
    namespace: NS,
    leaseName,
    leaseTtlMs: TTL_MS,
    store,
  });
  bed.cleanup(async () => {
    await coordination.close();
    client.close();
    await store.close();
  });
  return { name, coordination, store, client };
}

interface LeaseView {
  metadata: { name: string; annotations?: Record<string, string>; resourceVersion: string };
  spec: { holderIdentity?: string; leaseTransitions?: number; acquireTime?: string; renewTime?: string };
}

async function readLease(name: string): Promise<LeaseView> {
  return bed.kube().ok<LeaseView>('GET', `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/${name}`);
}

/** Writes the Lease `name` over as an admin would, retrying when a renewal lands in between. */
async function overwriteLease(name: string, change: (lease: LeaseView) => LeaseView): Promise<void> {
  for (;;) {
    const r = await bed
      .kube()
      .request('PUT', `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/${name}`, {
        body: change(await readLease(name)),
      });
    if (r.status === 200) return;
    assert.equal(r.status, 409, r.text);
  }
}

/** The reason `leadership` is lost, once it is. */
function lostReason(leadership: Leadership): Promise<string> {
  return new Promise<string>((resolve) => {
    const said = () => resolve((leadership.lost.reason as Error).message);
    if (leadership.lost.aborted) said();
    else leadership.lost.addEventListener('abort', said, { once: true });
  });
}

let replicas = 0;
coordinationContract('kubernetes', {
  replica: async (group) => (await replica(`contract-${++replicas}`, group)).coordination,
  whileAnotherLeads: 'waits',
  locksAcrossReplicas: true,
  standByMs: TTL_MS + 500,
  skip,
});

test('two campaign at once: exactly one leads; resign hands over at once with a higher term; fence refuses the old term', {
  skip,
}, async () => {
  const a = await replica('a', 'handover');
  const b = await replica('b', 'handover');
  // a's store has handed out terms b's never saw: b's terms must still come out higher,
  // through the Lease's annotation, whichever order they lead in.
  for (let i = 0; i < 5; i++) await a.store.newTerm('earlier');
  const campaigns = [a, b].map((r) => r.coordination.campaign(r.name).then((l) => ({ r, l })));
  const first = await Promise.race(campaigns);
  const [leader, waiter] = first.r === a ? [a, b] : [b, a];
  const pending = campaigns[leader === a ? 1 : 0]!;
  assert.equal(
    await settledWithin(pending, TTL_MS + 500),
    false,
    `${waiter.name} waits while ${leader.name} holds`,
  );
  assert.equal((await readLease('handover')).spec.holderIdentity, leader.name);
  await leader.coordination.fence(first.l.term);

  const terms = [first.l.term];
  await first.l.resign();
  assert.ok(first.l.lost.aborted, 'resign ends the leadership at once');
  const second = await pending;
  terms.push(second.l.term);
  await assert.rejects(leader.coordination.fence(first.l.term), StaleTermError);
  await waiter.coordination.fence(second.l.term);

  // And back again: the first leader's store is behind the Lease now if b led second.
  const back = leader.coordination.campaign(leader.name);
  assert.equal(await settledWithin(back, TTL_MS / 2), false, 'waits while the second leader holds');
  await second.l.resign();
  const third = await back;
  terms.push(third.term);
  await assert.rejects(waiter.coordination.fence(second.l.term), StaleTermError);
  assert.ok(terms[0]! < terms[1]! && terms[1]! < terms[2]!, `terms go up: ${terms.join(' < ')}`);
  // Whichever led first, b followed a once: its own store alone would have given it 1 or 2.
  const afterA = first.r === a ? terms[1]! : terms[2]!;
  assert.ok(afterA > 5, `b's term after a (${afterA}) is above a's store's terms`);

  const lease = await readLease('handover');
  assert.equal(lease.spec.holderIdentity, leader.name);
  assert.equal(lease.spec.leaseTransitions, 3);
  assert.equal(lease.metadata.annotations?.[TERM_ANNOTATION], String(third.term));
  assert.match(lease.spec.renewTime ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  await third.resign();
  assert.equal((await readLease('handover')).spec.holderIdentity, undefined, 'resign clears the holder');
});

test('both write a free Lease at once: one gets 409 and stands by, exactly one leads', { skip }, async () => {
  const gate = barrier(2);
  const a = await replica('a', 'race', { gate });
  const b = await replica('b', 'race', { gate });
  const campaigns = [a, b].map((r) => r.coordination.campaign(r.name).then((l) => ({ r, l })));
  const first = await Promise.race(campaigns);
  const loser = first.r === a ? b : a;
  await Promise.all([a, b].map((r) => (r.client as GatedClient).firstWrite));
  const conflicts = [a, b].map((r) => (r.client as GatedClient).conflicts);
  assert.deepEqual(
    conflicts.toSorted(),
    [0, 1],
    `one write won, the other was refused (409s: a ${conflicts[0]}, b ${conflicts[1]})`,
  );
  assert.equal((loser.client as GatedClient).conflicts, 1, 'the loser is the one refused');
  const pending = campaigns[first.r === a ? 1 : 0]!;
  assert.equal(await settledWithin(pending, TTL_MS + 500), false, `${loser.name} stands by`);
  const lease = await readLease('race');
  assert.equal(lease.spec.holderIdentity, first.r.name);
  assert.equal(lease.spec.leaseTransitions, 1, 'taken once');
  assert.equal(lease.metadata.annotations?.[TERM_ANNOTATION], String(first.l.term));
  await first.r.coordination.fence(first.l.term);
  await first.l.resign();
  const second = await pending;
  assert.ok(second.l.term > first.l.term, `${second.l.term} > ${first.l.term}`);
  await second.l.resign();
});

test('a renewal that finds another holder, or another term, loses at once', { skip }, async () => {
  const a = await replica('a', 'intruded');
  const la = await a.coordination.campaign('a');
  // Someone (an admin, another tool) writes the Lease over.
  await overwriteLease('intruded', (l) => ({ ...l, spec: { ...l.spec, holderIdentity: 'intruder' } }));
  assert.match(await lostReason(la), /Lease rampart\/intruded is held by intruder now/);
  await assert.rejects(a.coordination.fence(la.term), StaleTermError);
  await la.resign();
  assert.equal(
    (await readLease('intruded')).spec.holderIdentity,
    'intruder',
    'resign clears only its own hold',
  );

  // A newer term on the Lease, the holder left alone: a leader elsewhere took it.
  const b = await replica('b', 'outtermed');
  const lb = await b.coordination.campaign('b');
  const newer = lb.term + 5;
  await overwriteLease('outtermed', (l) => ({
    ...l,
    metadata: { ...l.metadata, annotations: { ...l.metadata.annotations, [TERM_ANNOTATION]: String(newer) } },
  }));
  assert.match(await lostReason(lb), new RegExp(`carries term ${newer} now, not ours \\(${lb.term}\\)`));
  await assert.rejects(b.coordination.fence(lb.term), (e: Error) => {
    assert.ok(e instanceof StaleTermError);
    assert.match(e.message, new RegExp(`term ${lb.term} is stale \\(term ${newer} has been seen\\)`));
    return true;
  });
  await lb.resign();
});

test('a holder name shared by two processes never takes the other’s live Lease', { skip }, async () => {
  // In pods every Rampart may be pid 1: a default holder name is not unique.
  const a = await replica('a', 'same-name');
  const b = await replica('b', 'same-name');
  const la = await a.coordination.campaign('pid-1');
  const pending = b.coordination.campaign('pid-1');
  assert.equal(await settledWithin(pending, TTL_MS + 500), false, 'b stands by behind a, whatever the name');
  assert.equal(la.lost.aborted, false, 'a still leads');
  await a.coordination.fence(la.term);
  await la.resign();
  const lb = await pending;
  assert.ok(lb.term > la.term, `${lb.term} > ${la.term}`);
  await assert.rejects(a.coordination.fence(la.term), StaleTermError);
  await lb.resign();
});

test('a leader cut off from the API server stops before its successor starts; its term is refused after', {
  skip,
}, async () => {
  const proxy = await cuttableProxy(new URL(bed.kube().url));
  const a = await replica('a', 'partition', { server: proxy.url, token: 'admin' });
  const b = await replica('b', 'partition');
  const la = await a.coordination.campaign('a');
  let lostAt: number | undefined;
  la.lost.addEventListener('abort', () => (lostAt = Date.now()));
  const pending = b.coordination.campaign('b');
  assert.equal(await settledWithin(pending, TTL_MS + 500), false, 'a keeps renewing while connected');
  assert.equal(lostAt, undefined);

  proxy.cut();
  // a's last renewal as the API server has it, until b takes over: when a's Lease expires.
  let lastRenewal = 0;
  let watching = true;
  const watch = (async () => {
    while (watching) {
      const l = await readLease('partition');
      if (l.spec.holderIdentity === 'a') lastRenewal = Date.parse(l.spec.renewTime ?? '');
      await sleep(100);
    }
  })();
  const lb = await pending;
  watching = false;
  await watch;
  const taken = await readLease('partition');
  assert.equal(taken.spec.holderIdentity, 'b');
  // b's acquireTime is b's clock at its write; lostAt and renewTime are the same machine's clock.
  const ledAt = Date.parse(taken.spec.acquireTime ?? '');
  assert.ok(lostAt !== undefined, 'a declared its leadership lost');
  const expiry = lastRenewal + TTL_MS;
  assert.ok(lastRenewal > 0, 'a renewal of a was seen');
  assert.ok(lostAt < expiry, `a stopped (${lostAt}) before its Lease expired (${expiry})`);
  assert.ok(expiry < ledAt, `b took the Lease (${ledAt}) only after it expired (${expiry})`);
  assert.match((la.lost.reason as Error).message, /no renewal of Lease rampart\/partition/);
  assert.ok(lb.term > la.term, `${lb.term} > ${la.term}`);

  // Reconnected, the deposed leader's term is refused, and it waits to lead again.
  proxy.heal();
  await assert.rejects(a.coordination.fence(la.term), StaleTermError);
  const again = a.coordination.campaign('a');
  assert.equal(await settledWithin(again, TTL_MS / 2), false, 'a stands by while b leads');
  await lb.resign();
  const la2: Leadership = await again;
  assert.ok(la2.term > lb.term, `${la2.term} > ${lb.term}`);
  await la2.resign();
});

test('a lock is a Lease of its own, kept by renewals and freed by expiry', { skip }, async () => {
  const proxy = await cuttableProxy(new URL(bed.kube().url));
  const a = await replica('a', 'locks', { server: proxy.url });
  const b = await replica('b', 'locks');
  const lock = await a.coordination.tryLock('scale-down/Sentries', 'a');
  assert.ok(lock);
  assert.equal((await readLease('locks-lock-scale-down-sentries')).spec.holderIdentity, 'a');
  assert.equal(await b.coordination.tryLock('scale-down/Sentries', 'b'), undefined);
  await lock.release();

  // a takes it again: renewals keep it past its duration; cut off, a's lock is lost (before it
  // can expire), then it expires and b gets it.
  const kept = await a.coordination.tryLock('scale-down/Sentries', 'a');
  assert.ok(kept);
  await sleep(TTL_MS + 500);
  assert.equal(await b.coordination.tryLock('scale-down/Sentries', 'b'), undefined, 'kept alive by renewals');
  assert.equal(kept.lost.aborted, false);
  proxy.cut();
  await new Promise<void>((resolve) => kept.lost.addEventListener('abort', () => resolve(), { once: true }));
  assert.match((kept.lost.reason as Error).message, /^lock scale-down\/Sentries lost: /);
  let taken: unknown;
  for (let i = 0; i < 40 && !taken; i++) {
    taken = await b.coordination.tryLock('scale-down/Sentries', 'b');
    if (!taken) await sleep(250);
  }
  assert.ok(taken, 'the lock of a holder that stopped renewing expires');
});

test('close ends a pending campaign and clears the Lease it holds', { skip }, async () => {
  const a = await replica('a', 'closing');
  const c = await replica('c', 'closing');
  const la = await a.coordination.campaign('a');
  const pending = c.coordination.campaign('c');
  assert.equal(await settledWithin(pending, TTL_MS / 2), false);
  await c.coordination.close();
  await assert.rejects(pending, /closed/);
  await a.coordination.close();
  assert.ok(la.lost.aborted);
  assert.equal((await readLease('closing')).spec.holderIdentity, undefined, 'closed: holder cleared');
});

test('presence, as the CLI asks it: the Lease holder while it holds, nobody once it resigned', {
  skip,
}, async () => {
  const plugin = coordinationPlugin('kubernetes');
  const entry = {
    kind: 'kubernetes' as const,
    cluster: { server: bed.kube().url, caFile: bed.kube().caFile, tokenFile: tokens.leasesOnly },
    namespace: NS,
    leaseName: 'presence',
    leaseTtl: TTL_MS,
  };
  const deps = {
    storeFile: undefined,
    openStore: () => Promise.reject(new Error('a Lease is read without the store')),
  };
  const before = await plugin.presence(entry, deps);
  assert.deepEqual(before, { running: false, controllers: [], by: `the Lease ${NS}/presence` });
  const a = await replica('a', 'presence');
  const leadership = await a.coordination.campaign('rampart up on host-a (pid 1)');
  const held = await plugin.presence(entry, deps);
  assert.equal(held.running, true);
  assert.deepEqual(held.controllers, [{ who: 'rampart up on host-a (pid 1)', leading: true }]);
  await leadership.resign();
  assert.equal((await plugin.presence(entry, deps)).running, false);
});
