// Which running instances this store may act on. Every instance Rampart makes carries the id
// of the action that made it (and the term), and the store records that action before the
// instance exists. An instance with no node record is this store's orphan only when the store
// holds the action that made it; otherwise the store knows less than the platform (emptied,
// deleted, another store's file, a wiped etcd prefix, a config pointed at a new path), and
// taking the fleet for orphans would destroy it, validator included. `up` refuses, naming
// what runs, unless the operator asks it to adopt them (`rampart up --adopt`).

import type { Config } from '../config/schema.ts';
import { readFailover } from '../failover/failover-state.ts';
import type { Instance } from '../providers/provider.ts';
import { type ActContext, runAction } from '../runtime/action-journal.ts';
import { withInstance } from '../runtime/node-records.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { storePlugin } from '../store/registry.ts';
import type { StoredNode } from '../store/store.ts';
import { adoptInstance } from './actions.ts';
import type { Observation } from './observe.ts';

/** `up` refused: the store knows less than the platform. Exit 2, like a config error. */
export class StoreBehindFleetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreBehindFleetError';
  }
}

/** The store in words an operator recognises: its file, or its etcd endpoints and prefix. */
export function describeStore(config: Config): string {
  const s = config.controller.store;
  return storePlugin(s.kind).describe(s);
}

/**
 * Whether this store made `instance`: it holds the action whose id the instance carries.
 * Undefined when it did; otherwise why not, in words for the operator.
 */
class Lineage {
  readonly #rt: Runtime;
  readonly #term: number;
  #acted: Promise<boolean> | undefined;

  constructor(rt: Runtime, term: number) {
    this.#rt = rt;
    this.#term = term;
  }

  async foreignBecause(instance: Instance): Promise<string | undefined> {
    if ((await this.#rt.store.getAction(instance.actionId)) !== undefined) return undefined;
    this.#acted ??= this.#rt.store
      .listActions({ limit: 1 })
      .then(async (a) => a.length > 0 || (await this.#rt.store.listNodes({ all: true })).length > 0);
    if (!(await this.#acted)) return 'this store has never acted';
    if (instance.term !== undefined && instance.term >= this.#term)
      return `it carries term ${instance.term}, and this store has handed out terms only up to ${this.#term - 1}`;
    return `the action that made it (${instance.actionId}) is not in this store`;
  }
}

/** One instance the store has no node record of, and why this store did not make it. */
interface Unrecorded {
  readonly provider: string;
  readonly instance: Instance;
  readonly foreign: string | undefined;
}

export interface OwnershipReport {
  readonly adopted: string[];
  readonly cleanedUp: string[];
}

/**
 * Run once per leadership, before anything else acts. Every instance Rampart made that this
 * store has no node record of is either foreign (refused, or adopted with `adopt`) or an orphan
 * of this store: a validator's is adopted (Rampart never stops a validator), any other is
 * removed. Instances of providers that keep their own shared record (a StatefulSet's
 * annotation) are adopted by the loop as before; a listing that fails leaves its instances alone.
 */
export async function settleFleetOwnership(
  rt: Runtime,
  ctx: ActContext,
  opts: { adopt: boolean },
): Promise<OwnershipReport> {
  const report: OwnershipReport = { adopted: [], cleanedUp: [] };
  const unrecorded = await unrecordedInstances(rt, ctx);
  const foreign = unrecorded.filter((u) => u.foreign !== undefined);
  if (foreign.length > 0 && !opts.adopt) throw new StoreBehindFleetError(refusal(rt.config, foreign));

  const pools = new Map(rt.config.pools.map((p) => [p.name, p]));
  for (const { provider, instance, foreign: why } of unrecorded) {
    const pool = pools.get(instance.pool);
    if (!pool) {
      // Not a pool of this config: neither adopted nor removed; the operator decides.
      ctx.log.warn(
        { pool: instance.pool, node: instance.nodeId, instance: instance.id },
        `left alone: instance ${instance.id} of pool ${instance.pool}, which this config does not have`,
      );
      continue;
    }
    if (why !== undefined || pool.role === 'validator') {
      await adoptInstance(
        rt,
        ctx,
        provider,
        instance,
        why !== undefined
          ? `${instance.nodeId} adopted by \`rampart up --adopt\` (${instance.id}): ${why}`
          : `validator ${instance.nodeId} adopted (${instance.id}): the store had no record of it, and Rampart never stops a validator`,
      );
      report.adopted.push(instance.nodeId);
      continue;
    }
    if (await destroyOrphan(rt, ctx, provider, instance, 'instance has no node record'))
      report.cleanedUp.push(instance.nodeId);
  }
  return report;
}

async function unrecordedInstances(rt: Runtime, ctx: ActContext): Promise<Unrecorded[]> {
  const lineage = new Lineage(rt, ctx.term);
  const out: Unrecorded[] = [];
  for (const [name, provider] of rt.providers) {
    if (provider.sharedRecord) continue;
    let listed: Instance[];
    try {
      listed = await provider.list();
    } catch (e) {
      ctx.log.warn(
        { provider: name, err: e },
        'could not list the provider to check the store against it; its instances are left alone',
      );
      continue;
    }
    for (const instance of listed) {
      // Not made by Rampart (an instance an autoscaling group launched by itself): the loop's
      // orphan cleanup deals with those as before.
      if (instance.actionId === '') continue;
      if ((await rt.store.getNode(instance.nodeId)) !== undefined) continue;
      out.push({ provider: name, instance, foreign: await lineage.foreignBecause(instance) });
    }
  }
  return out;
}

function refusal(config: Config, foreign: readonly Unrecorded[]): string {
  const lines = foreign.map(
    ({ provider, instance: i, foreign: why }) =>
      `  ${i.nodeId} (pool ${i.pool}, provider ${provider}, instance ${i.id}, term ${i.term ?? 'not recorded'}): ${why}`,
  );
  const many = foreign.length !== 1;
  return [
    `refusing to act: the ${describeStore(config)} knows less than the platform does.`,
    `${foreign.length} running instance${many ? 's' : ''} made by Rampart ${many ? 'have' : 'has'} no record in it:`,
    ...lines,
    'Acting on this store would take them for orphans and destroy them.',
    'If this is the store you meant (it was emptied, deleted or replaced), run `rampart up --adopt`',
    'to record them as its nodes; otherwise point controller.store at the store that made them.',
  ].join('\n');
}

/**
 * Instances Rampart created whose node is not live in the store: stopped, never left behind —
 * with two exceptions that no orphan cleanup may cross. A validator's instance is never
 * stopped (one that runs again is adopted, or reported when a promotion fenced it). An
 * instance this store did not make (the store lost what it knew while this controller ran) is
 * reported and left running: at the next start, `settleFleetOwnership` refuses or adopts it.
 */
export async function cleanUpOrphans(rt: Runtime, ctx: ActContext, obs: Observation): Promise<void> {
  const live = new Map<string, StoredNode>();
  for (const po of obs.pools.values()) for (const n of po.nodes) live.set(n.id, n);
  const validatorPools = new Set(rt.config.pools.filter((p) => p.role === 'validator').map((p) => p.name));
  const lineage = new Lineage(rt, ctx.term);
  // Read once per pool per pass: a member left alone is met again at every tick.
  const actingSince = new Map<string, number | undefined>();
  for (const [providerName, instances] of obs.instances) {
    const provider = rt.providers.get(providerName)!;
    for (const instance of instances) {
      const node = live.get(instance.nodeId);
      if (node) {
        if (isDuplicate(instance, node, instances)) await destroyDuplicate(rt, ctx, providerName, instance);
        continue;
      }
      if (validatorPools.has(instance.pool)) {
        await keepValidator(rt, ctx, instance);
        continue;
      }
      const record = await rt.store.getNode(instance.nodeId);
      if (provider.sharedRecord && record === undefined) {
        if (rt.config.pools.some((p) => p.name === instance.pool && p.provider === providerName)) {
          await adoptInstance(
            rt,
            ctx,
            providerName,
            instance,
            `adopted ${instance.id} (node ${instance.nodeId}): made by a Rampart replica with another store`,
          );
          continue;
        }
      } else if (record === undefined && instance.actionId === '') {
        // Made by the platform, not by Rampart: launched by the group itself after Rampart took
        // the pool (a replacement, a resize by hand) it is an orphan; there before (the
        // operator's existing members, an etcd cluster among them) it is left alone.
        if (!actingSince.has(instance.pool))
          actingSince.set(instance.pool, (await rt.store.getPool(instance.pool))?.actingSince);
        const since = actingSince.get(instance.pool);
        if (since === undefined || instance.createdAt < since) {
          reportOnce(
            ctx,
            `predates:${instance.id}`,
            { pool: instance.pool, instance: instance.id },
            `instance ${instance.id} in pool ${instance.pool}'s group was not made by Rampart and was there before Rampart acted on the pool (created ${new Date(instance.createdAt).toISOString()}): left running, not counted; remove it yourself once Rampart's nodes serve`,
            'warn',
          );
          continue;
        }
      } else if (record === undefined && instance.actionId !== '') {
        const why = await lineage.foreignBecause(instance);
        if (why !== undefined) {
          reportOnce(
            ctx,
            `unrecorded:${instance.id}`,
            { pool: instance.pool, node: instance.nodeId, instance: instance.id },
            `instance ${instance.id} of ${instance.nodeId} runs but this store did not make it (${why}): left running; restart \`rampart up\` to check the store, \`--adopt\` to record it`,
          );
          continue;
        }
      }
      await destroyOrphan(rt, ctx, providerName, instance, 'instance has no live node record');
    }
  }
}

/**
 * A second instance one create made: the node's record names another instance of the same
 * creating action, which the platform lists too. A create whose call's outcome was unknown (a
 * timed-out POST the cloud carried out only after the retry had looked for it and made its
 * own) leaves one. Same action only: a rejoin's or a replacement's new instance carries a new
 * action id, and a node whose create is still running names no instance yet.
 */
function isDuplicate(instance: Instance, node: StoredNode, listed: readonly Instance[]): boolean {
  return (
    node.instanceId !== undefined &&
    instance.id !== node.instanceId &&
    instance.actionId !== '' &&
    instance.actionId === node.actionId &&
    listed.some((i) => i.id === node.instanceId && i.nodeId === node.id && i.running)
  );
}

/** Destroys a duplicate once the store's current record still names the other instance. */
async function destroyDuplicate(
  rt: Runtime,
  ctx: ActContext,
  providerName: string,
  instance: Instance,
): Promise<void> {
  // The observation may be a tick old: an action may have moved the node on since.
  const now = await rt.store.getNode(instance.nodeId);
  if (!now || now.state === 'gone' || now.actionId !== instance.actionId || now.instanceId === undefined)
    return;
  if (now.instanceId === instance.id) return;
  await destroyOrphan(
    rt,
    ctx,
    providerName,
    instance,
    `duplicate: node ${instance.nodeId}'s create (action ${instance.actionId}) made a second instance; its record names ${now.instanceId}`,
  );
}

/** Destroys an orphan as a recorded cleanup action; a failure is logged and retried next time. */
async function destroyOrphan(
  rt: Runtime,
  ctx: ActContext,
  providerName: string,
  instance: Instance,
  cause: string,
): Promise<boolean> {
  return runAction(
    rt,
    ctx,
    { pool: instance.pool, kind: 'cleanup', nodeId: instance.nodeId, cause },
    async () => {
      await rt.providers.get(providerName)!.destroy(instance);
      return `destroyed orphan ${instance.id}`;
    },
  ).then(
    () => true,
    (e) => {
      ctx.log.error({ instance: instance.id, err: e }, 'orphan cleanup failed; retried next time');
      return false;
    },
  );
}

/** Things already reported (once per instance, not every tick). */
const reported = new Set<string>();

function reportOnce(
  ctx: ActContext,
  key: string,
  fields: Record<string, unknown>,
  text: string,
  level: 'warn' | 'error' = 'error',
): void {
  if (reported.has(key)) return;
  reported.add(key);
  ctx.log[level](fields, text);
}

/**
 * A validator instance with no live node: Rampart never stops or deletes it, whatever its
 * record says. One whose node failed (its process died, then ran again) is adopted — unless a
 * promotion fenced the node, which is reported. One the store has no record of, or records as
 * gone, is reported and left running.
 */
async function keepValidator(rt: Runtime, ctx: ActContext, instance: Instance): Promise<void> {
  const node = await rt.store.getNode(instance.nodeId);
  if (node?.state !== 'failed') {
    reportOnce(
      ctx,
      `validator:${instance.id}`,
      { pool: instance.pool, node: instance.nodeId, instance: instance.id },
      `validator instance ${instance.id} of ${instance.nodeId} runs but the store ${node ? 'records the node as gone' : 'has no record of it'}: left running (Rampart never stops a validator)`,
    );
    return;
  }
  const failover = await readFailover(rt.store, instance.pool);
  if (failover.fenced.includes(node.id)) {
    if (reported.has(`fenced:${instance.id}`)) return;
    reported.add(`fenced:${instance.id}`);
    const text = `fenced validator ${node.id} runs again (${instance.id}): its signing moved by promotion; its double-sign check should stop it — stop it for good`;
    await rt.store.recordEvent(
      { at: Date.now(), pool: node.pool, node: node.id, severity: 'critical', text },
      ctx.term,
    );
    ctx.log.error({ pool: node.pool, node: node.id, instance: instance.id }, text);
    return;
  }
  await rt.store.putNode(
    { ...withInstance(node, instance), state: 'provisioning', updatedAt: Date.now() },
    ctx.term,
  );
  const text = `validator ${node.id} runs again (${instance.id}, started outside Rampart): adopted`;
  await rt.store.recordEvent(
    { at: Date.now(), pool: node.pool, node: node.id, severity: 'info', text },
    ctx.term,
  );
  ctx.log.warn({ pool: node.pool, node: node.id }, text);
}
