// A pool of real etcd members (node kind `etcd-member`) scaled by `rampart up`, whose own
// state, election and scale-down lock live on a separate testbed etcd (seed 003's lock):
// bootstrapped one member at a time, grown from 3 to 5 under put load and shrunk back to 3
// once the load stops. Throughout, the member list and every member's /health are polled:
// the cluster stays healthy, never has fewer than 3 voting members or more than one
// learner, and lists no member Rampart does not run; data written before is readable at the
// end from every member.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { after, type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Member, membersApi } from '../../src/nodes/etcd-member/members-api.ts';
import type { Runtime } from '../../src/runtime/runtime.ts';
import type { StoredNode } from '../../src/store/store.ts';
import { type Replica, startReplica, stopReplica } from '../support/etcd-fleet.ts';
import { makeFleet, waitFor } from '../support/fleet.ts';
import { requireBinary, startEtcd } from '../support/servers.ts';

const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const fn of cleanups.reverse()) await fn();
});

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** Client URL of a stored node of the pool. */
const clientUrl = (n: StoredNode) => `http://${n.host}:${n.ports!.client}`;

function poolConfig(endpoints: readonly string[], dataDir: string): string {
  const prefix = `/rampart-test/${randomBytes(6).toString('hex')}/`;
  return `version: 1
controller:
  evaluationInterval: 400ms
  store: { kind: etcd, endpoints: [${endpoints.join(', ')}], prefix: ${prefix}, timeout: 2s }
  coordination: { kind: etcd, leaseTtl: 3s }
metrics:
  - { name: etcd, kind: scrape, staleAfter: 5s, timeout: 1s }
providers:
  - { name: here, kind: local, dataDir: ${dataDir} }
pools:
  - name: members
    role: member
    provider: here
    node: { kind: etcd-member, minMembers: 3, timeout: 1s }
    size: { min: 3, capacity: 3, max: 5 }
    scaleUp:
      cooldown: 1s
      rules: [ { metric: "etcd:etcd_mvcc_put_total", rate: true, aggregate: max, comparator: ">", threshold: 40, step: 1 } ]
    scaleDown:
      period: 1s
      lockAttemptPeriod: 200ms
      rules: [ { metric: "etcd:etcd_mvcc_put_total", rate: true, aggregate: max, comparator: "<", threshold: 5 } ]
    health: { checkInterval: 400ms, failTolerance: 20, joinRetries: 3, joinTimeout: 30s }
    scaleIn: { select: newest }
`;
}

interface RunningPool {
  readonly rt: Runtime;
  readonly replica: Replica;
  live(): Promise<StoredNode[]>;
  until<T>(what: string, check: () => Promise<T> | T, ms?: number): Promise<T>;
}

/** `rampart up` over a pool of etcd members, its state on a testbed etcd; undefined when skipped. */
async function startPool(t: TestContext): Promise<RunningPool | undefined> {
  if (requireBinary(t, 'etcd') === undefined) return undefined;
  const etcd = await startEtcd(t);
  if (!etcd) return undefined;
  // Member data on tmpfs: etcd 3.4 fsyncs every write and has no flag against it.
  const dataDir = mkdtempSync('/dev/shm/rampart-etcd-pool-');
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const fleet = makeFleet(poolConfig(etcd.endpoints, dataDir));
  cleanups.push(() => fleet.cleanup());
  const rt: Runtime = await fleet.inspect();
  const replica = startReplica('r1', fleet.configFile);
  cleanups.push(() => stopReplica(replica, 'SIGKILL'));
  return {
    rt,
    replica,
    live: () => rt.store.listNodes({ pool: 'members' }),
    until: async (what, check, ms = 60_000) => {
      try {
        return await waitFor(what, check, ms);
      } catch (e) {
        throw new Error(`${(e as Error).message}\n${replica.run.output().slice(-4000)}`);
      }
    },
  };
}

test('an etcd-member pool grows 3 → 5 under load and back to 3, one member at a time, healthy throughout', async (t) => {
  const pool = await startPool(t);
  if (!pool) return;
  const { rt, live, until } = pool;

  // --- Bootstrap: three members, each one joining only once the one before is ready.
  await until('3 ready members', async () => (await live()).filter((n) => n.state === 'ready').length === 3);

  // --- From here on, the cluster is watched: membership and every member's /health.
  const violations: string[] = [];
  let minVoters = Number.POSITIVE_INFINITY;
  let maxVoters = 0;
  let polls = 0;
  let endpoints: string[] = [];
  let watching = true;
  const watch = (async () => {
    while (watching) {
      const nodes = await live().catch(() => undefined);
      const ours = new Set((await rt.store.listNodes({ pool: 'members', all: true })).map((n) => n.id));
      let members: Member[] | undefined;
      for (const n of nodes ?? []) {
        if (!n.host || !n.ports) continue;
        members = await membersApi(clientUrl(n), 1000)
          .list()
          .catch(() => undefined);
        if (members) break;
      }
      if (!members) {
        violations.push(`poll ${polls}: no member answered the member list`);
      } else {
        const voters = members.filter((m) => !m.isLearner);
        const learners = members.filter((m) => m.isLearner);
        minVoters = Math.min(minVoters, voters.length);
        maxVoters = Math.max(maxVoters, voters.length);
        if (voters.length < 3) violations.push(`poll ${polls}: ${voters.length} voting members`);
        if (learners.length > 1) violations.push(`poll ${polls}: ${learners.length} learners at once`);
        for (const m of members) {
          if (m.name && !ours.has(m.name))
            violations.push(`poll ${polls}: member ${m.name} is no node of ours`);
          // A member that was started must answer healthy; one added but not started yet is a learner.
          if (m.clientURLs.length === 0) {
            if (!m.isLearner) violations.push(`poll ${polls}: unstarted voting member ${m.id}`);
            continue;
          }
          if (await membersApi(m.clientURLs[0]!, 2000).healthy()) continue;
          // The list was read before this check: a member removed (and stopped) since is gone,
          // not unhealthy. Only one still listed, and failing a second check, counts.
          let listedNow: Member[] | undefined;
          for (const n of (await live().catch(() => undefined)) ?? []) {
            if (!n.host || !n.ports || n.id === m.name) continue;
            listedNow = await membersApi(clientUrl(n), 1000)
              .list()
              .catch(() => undefined);
            if (listedNow) break;
          }
          if (listedNow && !listedNow.some((x) => x.id === m.id)) continue;
          if (!(await membersApi(m.clientURLs[0]!, 2000).healthy()))
            violations.push(`poll ${polls}: member ${m.name} (${m.clientURLs[0]}) is not healthy`);
        }
        endpoints = voters.flatMap((m) => m.clientURLs.slice(0, 1));
      }
      polls++;
      await sleep(150);
    }
  })();
  cleanups.push(() => {
    watching = false;
    return watch;
  });

  // --- Data written before any scaling must survive it.
  const first = (await live())[0]!;
  for (let i = 0; i < 20; i++) {
    const r = await fetch(`${clientUrl(first)}/v3/kv/put`, {
      method: 'POST',
      body: JSON.stringify({ key: b64(`seed/${i}`), value: b64(`value-${i}`) }),
    });
    assert.equal(r.status, 200);
  }

  // --- Load: puts spread over the voting members, well above the scale-up threshold.
  let loading = true;
  let puts = 0;
  const load = Promise.all(
    Array.from({ length: 4 }, async (_, w) => {
      for (let i = 0; loading; i++) {
        const target = endpoints[i % Math.max(1, endpoints.length)];
        if (!target) {
          await sleep(50);
          continue;
        }
        try {
          const r = await fetch(`${target}/v3/kv/put`, {
            method: 'POST',
            body: JSON.stringify({ key: b64(`load/${w}/${i % 100}`), value: b64(String(i)) }),
            signal: AbortSignal.timeout(2000),
          });
          if (r.ok) puts++;
          await r.arrayBuffer();
        } catch {
          // A member leaving or starting: the next put goes elsewhere.
        }
        await sleep(5);
      }
    }),
  );
  cleanups.push(() => {
    loading = false;
    return load;
  });

  await until(
    '5 ready members under load',
    async () => (await live()).filter((n) => n.state === 'ready').length === 5,
    90_000,
  );
  loading = false;
  await load;
  assert.ok(puts > 0, 'the load reached the cluster');

  // --- No load: back to capacity, one member at a time.
  await until(
    'back to 3 members',
    async () => {
      const nodes = await live();
      return nodes.length === 3 && nodes.every((n) => n.state === 'ready');
    },
    90_000,
  );
  // A few more polls of the settled cluster.
  const settledAt = polls;
  await until('the watcher to poll the settled cluster', () => polls >= settledAt + 3);
  watching = false;
  await watch;

  assert.deepEqual(violations, [], violations.join('\n'));
  assert.ok(polls > 10, `the cluster was polled (${polls} polls)`);
  assert.equal(maxVoters, 5, 'the cluster reached 5 voting members');
  assert.equal(minVoters, 3);

  // The member list is exactly Rampart's live nodes, every one a voting member.
  const nodes = await live();
  const members = await membersApi(clientUrl(nodes[0]!), 2000).list();
  assert.deepEqual(
    members.map((m) => `${m.name}:${m.isLearner ? 'learner' : 'voter'}`).sort(),
    nodes.map((n) => `${n.id}:voter`).sort(),
  );

  // Data written before the scaling is readable from every remaining member.
  for (const n of nodes) {
    const r = await fetch(`${clientUrl(n)}/v3/kv/range`, {
      method: 'POST',
      body: JSON.stringify({ key: b64('seed/'), range_end: b64('seed0') }),
    });
    const body = (await r.json()) as { kvs?: { key: string; value: string }[] };
    assert.equal(body.kvs?.length, 20, `${n.id} holds the 20 seed keys`);
    assert.equal(Buffer.from(body.kvs![0]!.value, 'base64').toString(), 'value-0');
  }

  // --- The action log: joins one at a time, removals one at a time, each through member remove.
  const actions = (await rt.store.listActions({ pool: 'members', limit: 1000 })).sort(
    (a, b) => a.startedAt - b.startedAt,
  );
  const all = await rt.store.listNodes({ pool: 'members', all: true });
  const created = all.filter((n) => n.readyAt !== undefined).sort((a, b) => a.createdAt - b.createdAt);
  assert.equal(created.length, 5, 'five members joined in all');
  for (let i = 1; i < created.length; i++)
    assert.ok(
      created[i]!.createdAt >= created[i - 1]!.readyAt!,
      `${created[i]!.id} was created only once ${created[i - 1]!.id} was ready`,
    );
  const promotions = actions.filter((a) => a.kind === 'register' && a.outcome === 'succeeded');
  assert.equal(promotions.length, 4, 'every member after the first joined as a learner and was promoted');

  const removals = actions.filter((a) => a.kind === 'remove');
  assert.equal(removals.length, 2, removals.map((a) => `${a.nodeId}: ${a.outcomeDetail}`).join('\n'));
  for (const r of removals) {
    assert.equal(r.outcome, 'succeeded');
    assert.equal(r.cause, 'scale-down');
    // The member left the cluster before its process was stopped (one step, in this order).
    assert.match(r.outcomeDetail ?? '', new RegExp(`^member remove ${r.nodeId} .*; destroyed `));
  }
  assert.ok(removals[1]!.startedAt >= removals[0]!.outcomeAt!, 'the two removals did not overlap');
  assert.ok(
    actions.every((a) => a.outcome !== 'failed'),
    actions
      .filter((a) => a.outcome === 'failed')
      .map((a) => `${a.kind} ${a.nodeId}: ${a.outcomeDetail}`)
      .join('\n'),
  );
  const promotedAfter = promotions.map((a) => {
    const n = created.find((x) => x.id === a.nodeId);
    return n ? a.outcomeAt! - n.createdAt : Number.NaN;
  });
  const removalMs = removals.map((a) => a.outcomeAt! - a.startedAt);
  t.diagnostic(
    `polls ${polls}; puts ${puts}; create → ready (ms): ${created.map((n) => n.readyAt! - n.createdAt).join(', ')}; create → promoted (ms): ${promotedAfter.join(', ')}; removal action (ms): ${removalMs.join(', ')}`,
  );
});

test('a member whose process dies: its dead entry leaves the member list and a new member takes its place', async (t) => {
  const pool = await startPool(t);
  if (!pool) return;
  const { rt, live, until } = pool;
  const ready = await until('3 ready members', async () => {
    const nodes = await live();
    return nodes.filter((n) => n.state === 'ready').length === 3 ? nodes : undefined;
  });
  if (!ready) return assert.fail('unreachable: until resolves only with the nodes');
  const victim = ready.at(-1)!;
  const provider = rt.providers.get('here')!;
  const instance = (await provider.list()).find((i) => i.nodeId === victim.id)!;
  process.kill(Number(instance.id.split(':')[0]), 'SIGKILL');

  // The dead voter's entry is removed (it would raise the quorum), and a fourth member joins.
  const survivor = ready[0]!;
  await until(
    'a member list of 3 started voters, the dead one gone',
    async () => {
      const nodes = await live();
      const members = await membersApi(clientUrl(survivor), 1000).list();
      return (
        nodes.length === 3 &&
        nodes.every((n) => n.state === 'ready') &&
        !nodes.some((n) => n.id === victim.id) &&
        members.length === 3 &&
        members.every((m) => !m.isLearner && nodes.some((n) => n.id === m.name))
      );
    },
    60_000,
  );
  for (const n of await live())
    assert.ok(await membersApi(clientUrl(n), 2000).healthy(), `${n.id} is healthy`);
  const cleanupsDone = (await rt.store.listActions({ pool: 'members', limit: 1000 })).filter(
    (a) => a.kind === 'cleanup' && a.outcome === 'succeeded',
  );
  assert.ok(
    cleanupsDone.some(
      (a) => a.cause.includes(`"${victim.id}"`) && /removed stale member/.test(a.outcomeDetail ?? ''),
    ),
    cleanupsDone.map((a) => `${a.cause} → ${a.outcomeDetail}`).join('\n'),
  );
});
