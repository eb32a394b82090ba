// Seed 003 end to end on a real OpenStack: an `etcd-member` pool whose members are Nova servers
// (the fake virt driver; a machines fake runs real etcd for each ACTIVE server, on a loopback
// address of its own), scaled by `rampart up` with its state, election and scale-down lock on a
// separate testbed etcd. Put load grows the cluster 3 → 5, one member at a time; without load it
// shrinks back to capacity 3 one member at a time, each removal a `member remove` followed by
// the exact server's delete; never fewer than 3 voting members. A member whose process dies
// (the server stays ACTIVE) is replaced: its dead entry leaves the member list, its server is
// deleted and a new server joins.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Member, membersApi } from '../../src/nodes/etcd-member/members-api.ts';
import type { NovaServer } from '../../src/providers/openstack/openstack-provider.ts';
import { providerTag } from '../../src/providers/openstack/openstack-provider.ts';
import type { Runtime } from '../../src/runtime/runtime.ts';
import type { StoredNode } from '../../src/store/store.ts';
import { type Replica, startReplica, stopReplica } from '../support/etcd-fleet.ts';
import { makeFleet, waitFor } from '../support/fleet.ts';
import { ADMIN_CLOUD, FLAVOR, IMAGE, openstackForFile } from '../support/openstack.ts';
import { seed003Config } from '../support/openstack-fleet.ts';
import { startOpenstackMachines } from '../support/openstack-machines-fake.ts';
import { skipUnlessInstalled, startEtcd } from '../support/servers.ts';

const os = openstackForFile();
const skip = os.skip || skipUnlessInstalled('etcd');
const ADDRESS_KEY = 'rampart:address';
const cleanups: (() => unknown)[] = [];
/** Runs (newest first) what a test left, each step whatever the others did: before the bed stops. */
async function cleanUp(): Promise<void> {
  for (const fn of cleanups.splice(0).reverse())
    await Promise.resolve()
      .then(fn)
      .catch((e) => console.error(`cleanup: ${(e as Error).message}`));
}
after(cleanUp);

const b64 = (s: string) => Buffer.from(s).toString('base64');
const clientUrl = (n: StoredNode) => `http://${n.host}:${n.ports!.client}`;

const poolConfig = (provider: string, endpoints: readonly string[]): Promise<string> =>
  seed003Config({
    bed: os.bed(),
    provider,
    endpoints,
    placement: `servers: { flavor: ${FLAVOR}, image: ${IMAGE}, networks: none }`,
    max: 5,
    select: 'newest',
  });

interface RunningPool {
  readonly rt: Runtime;
  readonly replica: Replica;
  readonly provider: string;
  readonly machines: ReturnType<typeof startOpenstackMachines>;
  live(): Promise<StoredNode[]>;
  servers(): Promise<NovaServer[]>;
  until<T>(
    what: string,
    check: () => Promise<T | undefined | false> | T | undefined | false,
    ms?: number,
  ): Promise<T>;
}

/** `rampart up` over an etcd-member pool on the bed's Nova, with its machines fake. */
async function startPool(t: TestContext): Promise<RunningPool | undefined> {
  // The test's own after hook: its controller, servers and machines go while the bed still runs.
  t.after(cleanUp);
  const etcd = await startEtcd(t);
  if (!etcd) return undefined;
  const bed = os.bed();
  const provider = `etcd-${randomBytes(3).toString('hex')}`;
  const machines = startOpenstackMachines({
    cloudsFile: bed.cloudsFile,
    cloud: ADMIN_CLOUD,
    provider,
    addressKey: ADDRESS_KEY,
  });
  cleanups.push(() => machines.stop());
  const fleet = makeFleet(await poolConfig(provider, etcd.endpoints));
  cleanups.push(() => fleet.cleanup());
  const rt: Runtime = await fleet.inspect();
  const replica = startReplica('r1', fleet.configFile);
  cleanups.push(() => stopReplica(replica, 'SIGKILL'));
  const servers = async () => {
    const r = await fetch(`${bed.urls.nova}/servers/detail?tags=${providerTag(provider)}`, {
      headers: { 'x-auth-token': await bed.token(), 'x-openstack-nova-api-version': '2.67' },
    });
    return ((await r.json()) as { servers: NovaServer[] }).servers;
  };
  return {
    rt,
    replica,
    provider,
    machines,
    servers,
    live: () => rt.store.listNodes({ pool: 'members' }),
    until: async <T>(
      what: string,
      check: () => Promise<T | undefined | false> | T | undefined | false,
      ms = 120_000,
    ) => {
      try {
        return (await waitFor(what, check, ms)) as T;
      } catch (e) {
        throw new Error(
          `${(e as Error).message}\n${replica.run.output().slice(-4000)}\n--- nova-compute:\n${bed.logTail('nova-compute', 15)}`,
        );
      }
    },
  };
}

/** Polls the cluster: member list and every member's /health, recording what breaks the rules. */
function watchCluster(pool: RunningPool) {
  const violations: string[] = [];
  let minVoters = Number.POSITIVE_INFINITY;
  let maxVoters = 0;
  let polls = 0;
  let endpoints: string[] = [];
  let watching = true;
  const done = (async () => {
    while (watching) {
      const nodes = await pool.live().catch(() => undefined);
      let members: Member[] | undefined;
      for (const n of nodes ?? []) {
        if (!n.host || !n.ports) continue;
        members = await membersApi(clientUrl(n), 1000)
          .list()
          .catch(() => undefined);
        if (members) break;
      }
      if (members) {
        const voters = members.filter((m) => !m.isLearner);
        minVoters = Math.min(minVoters, voters.length);
        maxVoters = Math.max(maxVoters, voters.length);
        if (voters.length < 3) violations.push(`poll ${polls}: ${voters.length} voting members`);
        if (members.filter((m) => m.isLearner).length > 1)
          violations.push(`poll ${polls}: two learners at once`);
        endpoints = voters.flatMap((m) => m.clientURLs.slice(0, 1));
      }
      polls++;
      await sleep(200);
    }
  })();
  return {
    violations,
    endpoints: () => endpoints,
    stats: () => ({ minVoters, maxVoters, polls }),
    stop: async () => {
      watching = false;
      await done;
    },
  };
}

describe('seed 003 on OpenStack: an etcd-member pool on Nova servers', { skip }, () => {
  test('grows 3 → 5 under load and back to 3, one member at a time, each removal the exact server', async (t) => {
    const pool = await startPool(t);
    if (!pool) return;
    const { rt, live, until } = pool;
    await until(
      '3 ready members',
      async () => (await live()).filter((n) => n.state === 'ready').length === 3,
      240_000,
    );
    const watch = watchCluster(pool);
    cleanups.push(() => watch.stop());

    const first = (await live())[0]!;
    for (let i = 0; i < 20; i++) {
      const r = await fetch(`${clientUrl(first)}/v3/kv/put`, {
        method: 'POST',
        body: JSON.stringify({ key: b64(`seed/${i}`), value: b64(`value-${i}`) }),
      });
      assert.equal(r.status, 200);
      await r.arrayBuffer();
    }

    let loading = true;
    let puts = 0;
    const load = Promise.all(
      Array.from({ length: 4 }, async (_, w) => {
        for (let i = 0; loading; i++) {
          const eps = watch.endpoints();
          const target = eps[i % Math.max(1, eps.length)];
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
      240_000,
    );
    loading = false;
    await load;
    assert.ok(puts > 0, 'the load reached the cluster');

    await until(
      'back to 3 members',
      async () => {
        const nodes = await live();
        return nodes.length === 3 && nodes.every((n) => n.state === 'ready');
      },
      180_000,
    );
    // The servers follow: exactly the three live members' servers are left.
    const servers = await until('3 servers left', async () => {
      const s = await pool.servers();
      return s.length === 3 ? s : undefined;
    });
    await watch.stop();
    const nodes = await live();
    assert.deepEqual(
      servers.map((s) => s.metadata['rampart:node']).sort(),
      nodes.map((n) => n.id).sort(),
      'one server per live member, none other',
    );
    assert.deepEqual(watch.violations, [], watch.violations.join('\n'));
    const { minVoters, maxVoters, polls } = watch.stats();
    assert.equal(maxVoters, 5, 'the cluster reached 5 voting members');
    assert.equal(minVoters, 3, 'never fewer than 3 voting members');

    const members = await membersApi(clientUrl(nodes[0]!), 2000).list();
    assert.deepEqual(
      members.map((m) => `${m.name}:${m.isLearner ? 'learner' : 'voter'}`).sort(),
      nodes.map((n) => `${n.id}:voter`).sort(),
    );
    for (const n of nodes) {
      const r = await fetch(`${clientUrl(n)}/v3/kv/range`, {
        method: 'POST',
        body: JSON.stringify({ key: b64('seed/'), range_end: b64('seed0') }),
      });
      const body = (await r.json()) as { kvs?: unknown[] };
      assert.equal(body.kvs?.length, 20, `${n.id} holds the 20 seed keys`);
    }

    const actions = (await rt.store.listActions({ pool: 'members', limit: 1000 })).sort(
      (a, b) => a.startedAt - b.startedAt,
    );
    const removals = actions.filter((a) => a.kind === 'remove');
    assert.equal(removals.length, 2, removals.map((a) => `${a.nodeId}: ${a.outcomeDetail}`).join('\n'));
    for (const r of removals) {
      assert.equal(r.outcome, 'succeeded');
      assert.equal(r.cause, 'scale-down');
      assert.match(r.outcomeDetail ?? '', new RegExp(`^member remove ${r.nodeId} .*; destroyed `));
    }
    assert.ok(removals[1]!.startedAt >= removals[0]!.outcomeAt!, 'the two removals did not overlap');
    const all = await rt.store.listNodes({ pool: 'members', all: true });
    const created = all.filter((n) => n.readyAt !== undefined);
    t.diagnostic(
      `polls ${polls}; puts ${puts}; create → ready (ms): ${created.map((n) => n.readyAt! - n.createdAt).join(', ')}; removal action (ms): ${removals.map((a) => a.outcomeAt! - a.startedAt).join(', ')}`,
    );
  });

  test('a member whose process dies is replaced: its entry and its server go, a new server joins', async (t) => {
    const pool = await startPool(t);
    if (!pool) return;
    const { rt, live, until } = pool;
    const ready = await until(
      '3 ready members',
      async () => {
        const nodes = await live();
        return nodes.filter((n) => n.state === 'ready').length === 3 ? nodes : undefined;
      },
      240_000,
    );
    const victim = ready.at(-1)!;
    const server = (await pool.servers()).find((s) => s.metadata['rampart:node'] === victim.id)!;
    pool.machines.crash(server.id);
    const survivor = ready[0]!;
    await until(
      'a member list of 3 started voters, the dead one gone, and its server deleted',
      async () => {
        const nodes = await live();
        const members = await membersApi(clientUrl(survivor), 1000).list();
        const servers = await pool.servers();
        return (
          nodes.length === 3 &&
          nodes.every((n) => n.state === 'ready') &&
          !nodes.some((n) => n.id === victim.id) &&
          members.length === 3 &&
          members.every((m) => !m.isLearner && nodes.some((n) => n.id === m.name)) &&
          !servers.some((s) => s.id === server.id) &&
          servers.length === 3
        );
      },
      240_000,
    );
    for (const n of await live())
      assert.ok(await membersApi(clientUrl(n), 2000).healthy(), `${n.id} is healthy`);
    const actions = await rt.store.listActions({ pool: 'members', limit: 1000 });
    t.diagnostic(
      actions
        .filter((a) => a.nodeId === victim.id)
        .map((a) => `${a.kind} ${a.cause}: ${a.outcome} ${a.outcomeDetail ?? ''}`)
        .join('\n'),
    );
  });
});
