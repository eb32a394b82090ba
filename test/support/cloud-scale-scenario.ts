// What every cloud provider's controller tests run. The scale scenario: a sentry pool (min 1, capacity
// 2, max 4) grows under load to max and shrinks after to capacity on a metric. At every poll
// the cloud holds at most max machines, and a ready sentry is registered with the validator;
// at the end each scale-in removed exactly the machine of the node the controller chose, the
// removed nodes are gone from the validator's peers and the remaining ones are in them. The
// cloud is read through `members`, its own listing (not Rampart's), per provider.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';
import type { Logger } from 'pino';
import { loadConfigFile } from '../../src/config/load.ts';
import { Controller } from '../../src/controller/controller.ts';
import { LoadGenerator } from '../../src/nodes/simnode/load-generator.ts';
import { createRuntime, type Runtime } from '../../src/runtime/runtime.ts';
import { waitFor } from './fleet.ts';

/** One machine of the pool as the cloud lists it: its name and the node id Rampart tagged it with. */
export interface CloudMember {
  readonly name: string;
  readonly node: string | undefined;
}

export interface CloudScaleOptions {
  /** A runtime over the fleet's config, its controller already started. */
  readonly rt: Runtime;
  /** The running machines of the pool, from the cloud's own API or fake. */
  readonly members: () => Promise<readonly CloudMember[]> | readonly CloudMember[];
  /** Further invariants checked at every poll (a group's own count): violations pushed. */
  readonly check?: ((violations: string[]) => Promise<void> | void) | undefined;
  /** Asserts what the cloud holds at max (how the machines are spread). */
  readonly atMax?: (() => Promise<void> | void) | undefined;
  /** What a poll waits for at most per phase, ms. Default 120 s. */
  readonly phaseMs?: number | undefined;
  /** What "the cloud" is called in messages: `instances`, `VMs`. */
  readonly machines: string;
}

export interface CloudScaleResult {
  /** The machines at max, by name, sorted. */
  readonly atMax: readonly string[];
  /** The machines left at capacity. */
  readonly remaining: readonly CloudMember[];
  /** Every invariant broken at some poll (asserted empty by the scenario). */
  readonly violations: readonly string[];
  /** Polls for the invariants, for a test's own later phases. */
  check(): Promise<void>;
}

const MAX = 4;

/** The validator's registered peers (its peers.json: the address book, not only live links). */
async function peersOfValidator(rt: Runtime): Promise<string[]> {
  const here = rt.providers.get('here')!;
  const v = (await here.list()).find((i) => i.pool === 'validator' && i.running);
  if (!v?.dataDir) return [];
  const saved = JSON.parse(readFileSync(path.join(v.dataDir, 'peers.json'), 'utf8')) as {
    peers: { id: string }[];
  };
  return saved.peers.map((p) => p.id);
}

export async function cloudScaleScenario(o: CloudScaleOptions): Promise<CloudScaleResult> {
  const { rt } = o;
  const phaseMs = o.phaseMs ?? 120_000;
  const cloud = rt.providers.get('cloud')!;
  const violations: string[] = [];
  const check = async () => {
    const live = await o.members();
    if (live.length > MAX) violations.push(`${live.length} ${o.machines} > max ${MAX}`);
    await o.check?.(violations);
    // A ready sentry counts only once registered with the validator.
    for (const n of await rt.store.listNodes({ pool: 'sentries' }))
      if (n.state === 'ready' && !n.registered) violations.push(`${n.id} ready but not registered`);
  };
  const ready = async () =>
    (await rt.store.listNodes({ pool: 'sentries' })).filter((n) => n.state === 'ready');

  await waitFor('two ready, registered sentries', async () => {
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
      `the pool to reach max (${MAX} ready)`,
      async () => {
        await check();
        return (await ready()).length === MAX;
      },
      phaseMs,
    );
  } finally {
    load.stop();
    clearInterval(follow);
  }
  const atMax = (await o.members()).map((m) => m.name).sort();
  assert.equal(atMax.length, MAX, `${MAX} ${o.machines} at max`);
  await o.atMax?.();

  await waitFor(
    'the pool to return to capacity (2)',
    async () => {
      await check();
      const live = await rt.store.listNodes({ pool: 'sentries' });
      return live.length === 2 && live.every((n) => n.state === 'ready') && (await o.members()).length === 2;
    },
    phaseMs,
  );
  assert.deepEqual(violations, []);

  const decisions = await rt.store.listDecisions({ pool: 'sentries', limit: 1000 });
  assert.ok(
    decisions
      .filter((d) => d.decision === 'scale-up')
      .some((d) => d.reasons.some((r) => /simnode_utilization_ratio = [\d.]+ > 0\.7/.test(r.text))),
    'a scale-up on the metric',
  );
  const removals = (await rt.store.listActions({ pool: 'sentries', limit: 1000 })).filter(
    (a) => a.kind === 'remove',
  );
  assert.equal(removals.length, 2, 'two scale-ins');
  for (const r of removals) assert.equal(r.outcome, 'succeeded');
  // Exactly the machines of the removed nodes are gone; every other one still runs.
  const removedNodes = new Set(removals.map((r) => r.nodeId));
  const remaining = await o.members();
  for (const m of remaining)
    assert.ok(!removedNodes.has(m.node), `the machine of removed node ${m.node} still runs`);
  assert.equal(
    atMax.filter((n) => !remaining.some((m) => m.name === n)).length,
    2,
    `exactly two ${o.machines} removed`,
  );
  const peers = await peersOfValidator(rt);
  for (const gone of removedNodes) assert.ok(!peers.includes(gone!), `${gone} still a peer of the validator`);
  for (const m of remaining) assert.ok(peers.includes(m.node!), `${m.node} is not a peer of the validator`);
  return { atMax, remaining, violations, check };
}

/**
 * A scale-up to three, as an operator makes one: the fleet resized (min 1, capacity and max 3)
 * and a controller started on the new config; resolves with that controller (stopped after the
 * test) once three sentries are ready, registered and out of maintenance.
 */
export async function scaledToThree(
  t: TestContext,
  fleet: { readonly configFile: string; resize(size: { min: number; capacity: number; max: number }): void },
  rt: Runtime,
  log: Logger,
  timeoutMs: number,
): Promise<Controller> {
  fleet.resize({ min: 1, capacity: 3, max: 3 });
  const controller = new Controller({ runtime: createRuntime(loadConfigFile(fleet.configFile).config), log });
  await controller.start();
  t.after(() => controller.stop());
  await waitFor(
    'three ready sentries',
    async () => {
      const live = await rt.store.listNodes({ pool: 'sentries' });
      return live.length === 3 && live.every((n) => n.state === 'ready' && n.registered && !n.maintenance);
    },
    timeoutMs,
  );
  return controller;
}
