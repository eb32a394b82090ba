// The whole controller with its sentry pool on GCE (fake-gce through the official client;
// machines booted by the machines fake): the pool grows under load 2 -> 4 and shrinks back to
// 2 on a metric, each scale-in deleting exactly the instance of the node the controller chose;
// every sentry is registered with the validator before it counts and deregistered before it
// goes; a machine that dies while GCE still says RUNNING is replaced.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { loadConfigFile } from '../../src/config/load.ts';
import { Controller } from '../../src/controller/controller.ts';
import { LoadGenerator } from '../../src/nodes/simnode/load-generator.ts';
import { createRuntime } from '../../src/runtime/runtime.ts';
import { waitFor } from '../support/fleet.ts';
import { fakeGceForFile } from '../support/gce-bed.ts';
import { assertGceConsistent, liveMembers, makeGceFleet } from '../support/gce-fleet.ts';

const bed = fakeGceForFile();
const silent = pino({ level: 'silent' });

test('a pool on GCE scales 2 -> 4 -> 2 on load, removing the chosen instances, and replaces a dead machine', async (t) => {
  const max = 4;
  const fleet = await makeGceFleet(bed.fake(), { min: 1, capacity: 2, max });
  const config = loadConfigFile(fleet.configFile).config;
  const controller = new Controller({ runtime: createRuntime(config), log: silent });
  await controller.start();
  t.after(async () => {
    await controller.stop();
    await fleet.cleanup();
  });
  const rt = await fleet.inspect();
  const cloud = rt.providers.get('cloud')!;
  const here = rt.providers.get('here')!;

  const violations: string[] = [];
  /** The validator's registered peers (its peers.json: the address book, not only live links). */
  const peersOfValidator = async (): Promise<string[]> => {
    const v = (await here.list()).find((i) => i.pool === 'validator' && i.running);
    if (!v?.dataDir) return [];
    const saved = JSON.parse(readFileSync(path.join(v.dataDir, 'peers.json'), 'utf8')) as {
      peers: { id: string }[];
    };
    return saved.peers.map((p) => p.id);
  };
  const check = async () => {
    const live = liveMembers(fleet);
    if (live.length > max) violations.push(`${live.length} instances > max ${max}`);
    // A ready sentry counts only once registered with the validator.
    for (const n of await rt.store.listNodes({ pool: 'sentries' }))
      if (n.state === 'ready' && !n.registered) violations.push(`${n.id} ready but not registered`);
  };
  const ready = async () =>
    (await rt.store.listNodes({ pool: 'sentries' })).filter((n) => n.state === 'ready');

  await waitFor('two ready, registered sentries on GCE', async () => {
    await check();
    return (await ready()).filter((n) => n.registered).length === 2;
  });

  const load = new LoadGenerator({ rate: 120 });
  const follow = setInterval(async () => {
    const ids = new Set((await ready()).map((n) => n.id));
    const instances = (await cloud.list().catch(() => [])).filter((i) => ids.has(i.nodeId) && i.host);
    load.setTargets(instances.map((i) => `http://${i.host}:${i.ports.rpc}`));
  }, 300);
  load.start();
  try {
    await waitFor(
      `the pool to reach max (${max} ready)`,
      async () => {
        await check();
        return (await ready()).length === max;
      },
      120_000,
    );
  } finally {
    load.stop();
    clearInterval(follow);
  }
  const atMax = liveMembers(fleet)
    .map((m) => m.name)
    .sort();
  assert.equal(atMax.length, max);

  await waitFor(
    'the pool to return to capacity (2)',
    async () => {
      await check();
      const live = await rt.store.listNodes({ pool: 'sentries' });
      return live.length === 2 && live.every((n) => n.state === 'ready');
    },
    120_000,
  );
  const removals = (await rt.store.listActions({ pool: 'sentries', limit: 1000 })).filter(
    (a) => a.kind === 'remove',
  );
  assert.equal(removals.length, 2, 'two scale-ins');
  for (const r of removals) assert.equal(r.outcome, 'succeeded');
  const removedNodes = new Set(removals.map((r) => r.nodeId));
  const remaining = liveMembers(fleet);
  for (const m of remaining)
    assert.ok(!removedNodes.has(m.node), `instance of removed node ${m.node} still runs`);
  assert.equal(
    atMax.filter((n) => !remaining.some((m) => m.name === n)).length,
    2,
    'exactly two instances deleted',
  );
  const peers = await peersOfValidator();
  for (const gone of removedNodes) assert.ok(!peers.includes(gone!), `${gone} still a peer of the validator`);
  for (const m of remaining) assert.ok(peers.includes(m.node!), `${m.node} is not a peer of the validator`);

  // A machine dies (its process killed) while GCE still says RUNNING: the node fails its
  // health checks and the controller replaces it with a new instance.
  const victim = remaining[0]!;
  fleet.machines.crash(victim.name);
  await waitFor(
    `the dead ${victim.name} replaced`,
    async () => {
      await check();
      const live = await rt.store.listNodes({ pool: 'sentries' });
      return (
        live.length === 2 &&
        live.every((n) => n.state === 'ready' && n.registered) &&
        !live.some((n) => n.id === victim.node) &&
        !liveMembers(fleet).some((m) => m.name === victim.name)
      );
    },
    120_000,
  );
  await controller.stop();
  assert.deepEqual(violations, []);
  const decisions = await rt.store.listDecisions({ pool: 'sentries', limit: 1000 });
  assert.ok(
    decisions
      .filter((d) => d.decision === 'scale-up')
      .some((d) => d.reasons.some((r) => /simnode_utilization_ratio = [\d.]+ > 0\.7/.test(r.text))),
  );
  await assertGceConsistent(rt, fleet);
});
