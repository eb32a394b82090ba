// Whether this store may act on the instances the platform runs. A store that knows less than
// the platform (emptied, deleted, another store's file, a wiped etcd prefix, a config pointed
// at a new path) must never take the running fleet for orphans: `up` refuses, naming what it
// found, unless the operator asks it to adopt them (`rampart up --adopt`).

import path from 'node:path';
import type { Config } from '../config/schema.ts';
import type { Instance } from '../providers/provider.ts';
import { type ActContext, adoptInstance, runAction } from './actions.ts';
import type { Runtime } from './runtime.ts';

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
  return s.kind === 'sqlite'
    ? `store ${path.resolve(s.path)}`
    : `etcd store ${s.endpoints.join(',')} (prefix ${s.prefix})`;
}

/** One instance the store has no record of, and why it is not this store's orphan. */
interface Unknown {
  readonly provider: string;
  readonly instance: Instance;
  /** Set when this store cannot have made it; undefined for an orphan of this store. */
  readonly foreign?: string | undefined;
}

export interface OwnershipReport {
  readonly adopted: string[];
  readonly cleanedUp: string[];
}

/**
 * Run once per leadership, before anything else acts. Every instance Rampart made that this
 * store has no record of at all is either
 * - foreign: the store has never acted, or the instance carries this leadership's term or a
 *   later one (a term this store never handed out) — refused, or adopted with `adopt`;
 * - an orphan of this store (it acted before, and the instance carries an older term): a
 *   validator's is adopted (a validator is never stopped by Rampart), any other is removed.
 * Instances of providers that keep their own shared record (a StatefulSet's annotation) are
 * adopted by the loop as before; a listing that fails leaves its instances alone.
 */
export async function settleFleetOwnership(
  rt: Runtime,
  ctx: ActContext,
  opts: { adopt: boolean },
): Promise<OwnershipReport> {
  const report: OwnershipReport = { adopted: [], cleanedUp: [] };
  const unknown = await unknownInstances(rt, ctx);
  if (unknown.length === 0) return report;
  const foreign = unknown.filter((u) => u.foreign !== undefined);
  if (foreign.length > 0 && !opts.adopt) throw new StoreBehindFleetError(refusal(rt.config, foreign));

  const pools = new Map(rt.config.pools.map((p) => [p.name, p]));
  for (const { provider, instance, foreign: why } of unknown) {
    const pool = pools.get(instance.pool);
    if (pool && (why !== undefined || pool.role === 'validator')) {
      await adoptInstance(
        rt,
        ctx,
        provider,
        instance,
        why !== undefined
          ? `adopted by \`rampart up --adopt\`: ${why}`
          : 'adopted: a validator the store had no record of (Rampart never stops a validator)',
      );
      report.adopted.push(instance.nodeId);
      continue;
    }
    if (!pool) {
      // Not a pool of this config: neither adopted nor removed; the operator decides.
      ctx.log.warn(
        { pool: instance.pool, node: instance.nodeId, instance: instance.id },
        `left alone: instance ${instance.id} of pool ${instance.pool}, which this config does not have`,
      );
      continue;
    }
    await runAction(
      rt,
      ctx,
      {
        pool: instance.pool,
        kind: 'cleanup',
        nodeId: instance.nodeId,
        cause: `instance of an earlier term (${instance.term ?? 'unrecorded'}) has no node record`,
      },
      async () => {
        await rt.providers.get(provider)!.destroy(instance);
        return `destroyed orphan ${instance.id}`;
      },
    );
    report.cleanedUp.push(instance.nodeId);
  }
  return report;
}

async function unknownInstances(rt: Runtime, ctx: ActContext): Promise<Unknown[]> {
  const acted = await storeHasActed(rt);
  const out: Unknown[] = [];
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
      let foreign: string | undefined;
      if (!acted) foreign = 'this store has never acted';
      else if (instance.term !== undefined && instance.term >= ctx.term)
        foreign = `it carries term ${instance.term}, and this store has handed out terms only up to ${ctx.term - 1}`;
      out.push({ provider: name, instance, foreign });
    }
  }
  return out;
}

/** Whether this store recorded anything before the leadership that now asks. */
async function storeHasActed(rt: Runtime): Promise<boolean> {
  if ((await rt.store.listActions({ limit: 1 })).length > 0) return true;
  return (await rt.store.listNodes({ all: true })).length > 0;
}

function refusal(config: Config, foreign: readonly Unknown[]): string {
  const lines = foreign.map(
    ({ provider, instance: i, foreign: why }) =>
      `  ${i.nodeId} (pool ${i.pool}, provider ${provider}, instance ${i.id}, term ${i.term ?? 'not recorded'}): ${why}`,
  );
  return [
    `refusing to act: the ${describeStore(config)} knows less than the platform does.`,
    `${foreign.length} running instance${foreign.length === 1 ? '' : 's'} made by Rampart ${foreign.length === 1 ? 'has' : 'have'} no record in it:`,
    ...lines,
    'Acting on this store would take them for orphans and destroy them (a validator among them).',
    'If this is the store you meant (it was emptied, deleted or replaced), run `rampart up --adopt`',
    'to record them as its nodes; otherwise point controller.store at the store that made them.',
  ].join('\n');
}
