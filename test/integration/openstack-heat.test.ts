// Heat mode on the bed's real Heat: the pool is the OS::Heat::ResourceGroup of an operator's
// stack modelled on seed 003's template (openstack-heat-stack.ts). Seed 003's etcd members,
// grown from an empty group to 3, to 4 under load, and back to 3 with the member Rampart chose
// (the oldest, which Heat on its own would never pick: it removes the highest index) removed by
// the group's removal_policies in the same update that lowers the count; a restarted controller
// adopts the three members. Then the controller is SIGKILLed once Heat took a scale-up's
// update, and once it took a scale-in's: the restart leaves no member twice and none orphaned.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { membersApi } from '../../src/nodes/etcd-member/members-api.ts';
import { simnodeKind } from '../../src/nodes/simnode/simnode-kind.ts';
import { HeatGroup } from '../../src/providers/openstack/heat-group.ts';
import { META, OpenstackProvider } from '../../src/providers/openstack/openstack-provider.ts';
import { shortId } from '../../src/runtime/action-journal.ts';
import type { Runtime } from '../../src/runtime/runtime.ts';
import type { StoredNode } from '../../src/store/store.ts';
import { providerContract } from '../contracts/provider.contract.ts';
import { startReplica, stopReplica } from '../support/etcd-fleet.ts';
import { crashAt, makeFleet, runUntil, waitFor } from '../support/fleet.ts';
import { ADMIN_CLOUD, CLOUD, openstackForFile } from '../support/openstack.ts';
import {
  assertOpenstackConsistent,
  makeOpenstackFleet,
  type OpenstackFleet,
  seed003Config,
} from '../support/openstack-fleet.ts';
import {
  COUNT_PARAMETER,
  createSeed003Stack,
  GROUP,
  type HeatStack,
  REMOVAL_PARAMETER,
} from '../support/openstack-heat-stack.ts';
import { startOpenstackMachines } from '../support/openstack-machines-fake.ts';
import { skipUnlessInstalled, startEtcd } from '../support/servers.ts';

const os = openstackForFile({ heat: true });
const skip = os.skip || skipUnlessInstalled('etcd');
const ADDRESS_KEY = 'rampart:address';
const cleanups: (() => unknown)[] = [];
async function cleanUp(): Promise<void> {
  for (const fn of cleanups.splice(0).reverse())
    await Promise.resolve()
      .then(fn)
      .catch((e) => console.error(`cleanup: ${(e as Error).message}`));
}
after(cleanUp);

const b64 = (s: string) => Buffer.from(s).toString('base64');
const clientUrl = (n: StoredNode) => `http://${n.host}:${n.ports!.client}`;
const stackName = (what: string) => `${what}-${randomBytes(3).toString('hex')}`;

async function stackFor(t: TestContext, what: string): Promise<HeatStack> {
  const stack = await createSeed003Stack(os.bed(), stackName(what));
  t.after(() => stack.delete());
  return stack;
}

const etcdPoolConfig = (provider: string, stack: HeatStack, endpoints: readonly string[]) =>
  seed003Config({
    bed: os.bed(),
    provider,
    endpoints,
    placement: `heat: { stack: ${stack.name}, group: ${GROUP}, countParameter: ${COUNT_PARAMETER}, removalParameter: ${REMOVAL_PARAMETER}, updateTimeout: 5m }`,
    max: 4,
    select: 'oldest',
  });

/** The group's members as Nova lists them: server name's index → the node it is labelled with. */
async function memberNodes(stack: HeatStack): Promise<Map<string, string | undefined>> {
  const servers = await stack.servers();
  return new Map(
    servers
      .map((s) => [s.name.slice(`${stack.name}-etcd-`.length), s.metadata[META.node]] as const)
      .sort((a, b) => Number(a[0]) - Number(b[0])),
  );
}

/** One stack for every contract case (each case removes what it made): a stack's create is the slow part. */
let contractStack: Promise<HeatStack> | undefined;
after(async () => {
  if (contractStack) await (await contractStack).delete();
});
providerContract(
  'openstack in Heat mode (members of a ResourceGroup, simnode per server)',
  async () => {
    contractStack ??= createSeed003Stack(os.bed(), stackName('contract'));
    const stack = await contractStack;
    const bed = os.bed();
    const name = `contract-${shortId()}`.toLowerCase();
    const machines = startOpenstackMachines({
      cloudsFile: bed.cloudsFile,
      cloud: ADMIN_CLOUD,
      provider: name,
      addressKey: ADDRESS_KEY,
    });
    const provider = () =>
      new OpenstackProvider({
        name,
        cloud: CLOUD,
        cloudsFile: bed.cloudsFile,
        secretFile: bed.secretFile,
        heat: {
          stack: stack.name,
          group: GROUP,
          countParameter: COUNT_PARAMETER,
          removalParameter: REMOVAL_PARAMETER,
          updateTimeoutMs: 300_000,
        },
        address: { metadata: ADDRESS_KEY },
        ports: { rpc: 26657, metrics: 26660 },
        dataDir: '/var/lib/rampart/node',
        bootTimeoutMs: 120_000,
        retry: { attempts: 4, baseDelayMs: 100, maxDelayMs: 1000, callTimeoutMs: 20_000 },
        pool: 'sentries',
        pollMs: 500,
      });
    return {
      provider,
      kind: simnodeKind,
      cleanup: async () => {
        // One update empties the group (a destroy per member is one update each: the
        // contract's own destroy cases run that path).
        const p = provider();
        if ((await p.list()).length > 0)
          await new HeatGroup(p.session, {
            stack: stack.name,
            group: GROUP,
            countParameter: COUNT_PARAMETER,
            removalParameter: REMOVAL_PARAMETER,
            updateTimeoutMs: 300_000,
            pollMs: 500,
            where: `contract cleanup of ${name}`,
          }).update('contract cleanup', 0, undefined);
        await machines.stop();
      },
    };
  },
  {
    skip,
    covered: {
      // A Heat member's stop and start are Nova's os-stop and os-start on its server, the same
      // calls (OpenstackProvider.stop/start) as in servers mode, whose contract runs this case.
      'stop and start keep the identity':
        "Heat mode stops and starts a member's server with the same Nova calls as servers mode, whose contract runs this case",
    },
  },
);

describe('Heat mode: a pool that is a ResourceGroup of the operator’s stack', { skip }, () => {
  test("seed 003's etcd members: 3 → 4 under load → 3, the chosen (oldest) member removed; a restart adopts", async (t) => {
    t.after(cleanUp);
    const etcd = await startEtcd(t);
    if (!etcd) return;
    const bed = os.bed();
    const stack = await stackFor(t, 'seed003');
    const provider = `heat-${randomBytes(3).toString('hex')}`;
    const machines = startOpenstackMachines({
      cloudsFile: bed.cloudsFile,
      cloud: ADMIN_CLOUD,
      provider,
      addressKey: ADDRESS_KEY,
    });
    cleanups.push(() => machines.stop());
    const fleet = makeFleet(await etcdPoolConfig(provider, stack, etcd.endpoints));
    cleanups.push(() => fleet.cleanup());
    const rt: Runtime = await fleet.inspect();
    let replica = startReplica('r1', fleet.configFile);
    cleanups.push(() => stopReplica(replica, 'SIGKILL'));
    const live = () => rt.store.listNodes({ pool: 'members' });
    const until = async <T>(what: string, check: () => Promise<T | undefined | false>, ms = 240_000) => {
      try {
        return (await waitFor(what, check, ms)) as T;
      } catch (e) {
        throw new Error(
          `${(e as Error).message}\n${replica.run.output().slice(-4000)}\n--- heat-engine:\n${bed.logTail('heat-engine', 20)}`,
        );
      }
    };
    const ready = (n: number) => async () => {
      const nodes = await live();
      return nodes.length === n && nodes.every((x) => x.state === 'ready') ? nodes : undefined;
    };

    const three = await until('3 ready members from the empty group', ready(3));
    let members = await memberNodes(stack);
    assert.deepEqual([...members.keys()], ['0', '1', '2'], 'Heat made members 0, 1 and 2');
    assert.deepEqual(
      [...members.values()].sort(),
      three.map((n) => n.id).sort(),
      'each member labelled with its node',
    );
    assert.equal((await stack.parameters())[COUNT_PARAMETER], '3');
    const oldest = [...three].sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1))[0]!;
    const chosen = [...members].find(([, node]) => node === oldest.id)![0];

    // Load: puts to every member until a fourth one is ready.
    let loading = true;
    let puts = 0;
    const endpoints = three.map(clientUrl);
    const load = Promise.all(
      Array.from({ length: 4 }, async (_, w) => {
        for (let i = 0; loading; i++) {
          try {
            const r = await fetch(`${endpoints[i % endpoints.length]}/v3/kv/put`, {
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
    await until('4 ready members under load', ready(4));
    loading = false;
    await load;
    assert.ok(puts > 0, 'the load reached the cluster');
    assert.deepEqual([...(await memberNodes(stack)).keys()], ['0', '1', '2', '3']);

    const back = await until('back to 3 ready members', ready(3));
    assert.ok(!back.some((n) => n.id === oldest.id), 'the oldest node was the one chosen');
    members = await until('the group down to 3 members', async () => {
      const m = await memberNodes(stack);
      return m.size === 3 ? m : undefined;
    });
    // Heat on its own removes the highest index (3); Rampart's choice went instead.
    assert.deepEqual(
      [...members.keys()],
      ['0', '1', '2', '3'].filter((i) => i !== chosen),
      `member ${chosen}, the chosen one, is gone; 3 stays`,
    );
    assert.deepEqual([...members.values()].sort(), back.map((n) => n.id).sort());
    const params = await stack.parameters();
    assert.equal(params[COUNT_PARAMETER], '3');
    assert.deepEqual(JSON.parse(params[REMOVAL_PARAMETER]!), [{ resource_list: [chosen] }]);
    const voters = await membersApi(clientUrl(back[0]!), 2000).list();
    assert.deepEqual(voters.map((m) => m.name).sort(), back.map((n) => n.id).sort());
    const removal = (await rt.store.listActions({ pool: 'members', limit: 1000 })).find(
      (a) => a.kind === 'remove',
    );
    assert.equal(removal?.nodeId, oldest.id);
    assert.equal(removal?.outcome, 'succeeded');
    const created = (await rt.store.listNodes({ pool: 'members', all: true })).filter((n) => n.readyAt);
    t.diagnostic(
      `create → ready (ms, a stack update each): ${created.map((n) => n.readyAt! - n.createdAt).join(', ')}; removal action (ms, member remove and a stack update): ${removal!.outcomeAt! - removal!.startedAt}`,
    );

    // A restart: the new controller finds the three members by their labels and adopts them.
    const servers = (await stack.servers()).map((s) => s.id).sort();
    await stopReplica(replica, 'SIGKILL');
    const restartedAt = Date.now();
    replica = startReplica('r2', fleet.configFile);
    await until('the restarted controller leading and healthy', async () => {
      return replica.leading() && (await live()).every((n) => n.state === 'ready');
    });
    await sleep(5000); // a few of its ticks (400 ms each)
    assert.deepEqual((await live()).map((n) => n.id).sort(), back.map((n) => n.id).sort());
    assert.deepEqual((await stack.servers()).map((s) => s.id).sort(), servers, 'no member made or removed');
    const actionsAfter = await rt.store.listActions({ pool: 'members', limit: 1000 });
    assert.deepEqual(
      actionsAfter
        .filter((a) => a.startedAt >= restartedAt)
        .map((a) => `${a.kind} ${a.nodeId}: ${a.outcomeDetail ?? ''}`),
      [],
      'the restart acted on nothing',
    );
  });

  const fleets = async (t: TestContext, size: { min: number; capacity: number; max: number }) => {
    const stack = await createSeed003Stack(os.bed(), stackName('crash'));
    const fleet = await makeOpenstackFleet(os.bed(), size, stack);
    // The fleet's cleanup lists the provider, which reads the stack: the stack goes last.
    t.after(async () => {
      try {
        await fleet.cleanup();
      } finally {
        await stack.delete();
      }
    });
    const rt = await fleet.inspect();
    await runUntil(
      fleet.configFile,
      `${size.capacity} ready sentries`,
      converged(rt, fleet, size.capacity),
      240_000,
    );
    return { fleet, rt, stack };
  };

  test('SIGKILL once Heat took a scale-up: the unlabelled member is removed, one new sentry, nothing orphaned', async (t) => {
    const { fleet, rt, stack } = await fleets(t, { min: 1, capacity: 1, max: 3 });
    fleet.resize({ min: 1, capacity: 2, max: 3 });
    await crashAt(fleet.configFile, 'openstack:after-stack-update', 150_000);
    // Heat finishes the update without the controller: a second member, which nobody labelled.
    const made = await waitFor('the member Heat made', async () => {
      const servers = await stack.servers();
      return servers.length === 2 ? servers : undefined;
    });
    assert.equal(made!.filter((s) => !s.metadata[META.node]).length, 1, 'one member has no label');
    await runUntil(
      fleet.configFile,
      'the pool to converge at 2 after the restart',
      converged(rt, fleet, 2),
      240_000,
    );
    await assertOpenstackConsistent(rt, fleet);
  });

  test('SIGKILL once Heat took a scale-in: the removal resumes, the chosen member only', async (t) => {
    const { fleet, rt, stack } = await fleets(t, { min: 1, capacity: 2, max: 3 });
    const before = await stack.servers();
    fleet.resize({ min: 1, capacity: 1, max: 3 });
    await crashAt(fleet.configFile, 'openstack:after-removal-update', 150_000);
    await runUntil(fleet.configFile, 'the pool to converge at 1', converged(rt, fleet, 1), 240_000);
    await assertOpenstackConsistent(rt, fleet);
    const left = await stack.servers();
    assert.ok(
      left.length === 1 && before.some((s) => s.id === left[0]!.id),
      'the member kept is one of the two there were: nothing was made to replace a wrong removal',
    );
    const removals = (await rt.store.listActions({ pool: 'sentries', limit: 1000 })).filter(
      (a) => a.kind === 'remove',
    );
    assert.equal(removals.length, 1, 'the removal ran once, resumed not repeated');
    assert.equal(removals[0]!.outcome, 'finished-after-restart');
  });
});

const converged = (rt: Runtime, fleet: OpenstackFleet, capacity: number) => async () => {
  const sentries = await rt.store.listNodes({ pool: 'sentries' });
  return (
    sentries.length === capacity &&
    sentries.every((n) => n.state === 'ready' && n.registered) &&
    (await rt.store.openActions()).length === 0 &&
    (await fleet.servers()).length === capacity
  );
};
