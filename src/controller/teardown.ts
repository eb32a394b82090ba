// Removes every node of a fleet: sentries before the validators they are wired to, each
// pool's instances in the order its provider can remove them, each removal recorded like any
// other action. Used by `rampart down` and the demo's Ctrl-C. A removal that fails does not
// stop the others; whatever is left is named at the end, never passed over.

import type { PoolConfig } from '../config/schema.ts';
import type { Instance, Provider } from '../providers/provider.ts';
import { type ActContext, runAction } from '../runtime/action-journal.ts';
import { addressOf } from '../runtime/node-records.ts';
import type { Runtime } from '../runtime/runtime.ts';
import type { StoredNode } from '../store/store.ts';
import { FLEET_DOWN_CAUSE, removeNode } from './actions.ts';

/** A node or instance the teardown could not remove, and why. */
export interface LeftBehind {
  readonly pool: string;
  readonly nodeId: string;
  /** The provider's id of its instance, when one is listed. */
  readonly instanceId?: string | undefined;
  readonly reason: string;
}

/** The teardown ended with nodes still there: every one of them, with its reason. */
export class FleetNotDownError extends Error {
  readonly removed: number;
  readonly left: readonly LeftBehind[];
  constructor(removed: number, left: readonly LeftBehind[]) {
    super(
      `${left.length} node(s) left behind:\n${left
        .map(
          (l) => `  ${l.pool}/${l.nodeId}${l.instanceId ? ` (instance ${l.instanceId})` : ''}: ${l.reason}`,
        )
        .join('\n')}`,
    );
    this.name = 'FleetNotDownError';
    this.removed = removed;
    this.left = left;
  }
}

/** Removes every node and instance of the config's pools; throws FleetNotDownError naming what is left. */
export async function tearDownFleet(rt: Runtime, ctx: ActContext): Promise<number> {
  const listed = new Map<string, Instance[]>();
  /** Providers that could not list their instances, and why: their pools are left as they are. */
  const unlisted = new Map<string, string>();
  for (const [name, provider] of rt.providers) {
    try {
      listed.set(name, await provider.list());
    } catch (e) {
      unlisted.set(name, (e as Error).message);
    }
  }
  let removed = 0;
  const left: LeftBehind[] = [];
  // Pools with an upstream go first, so validators are still there to be unwired from.
  const pools = [...rt.config.pools].sort(
    (a, b) => Number(a.role === 'validator') - Number(b.role === 'validator'),
  );
  for (const pool of pools) {
    const provider = rt.providers.get(pool.provider)!;
    const unlistable = unlisted.get(pool.provider);
    if (unlistable !== undefined) {
      for (const n of await rt.store.listNodes({ pool: pool.name }))
        left.push({
          pool: pool.name,
          nodeId: n.id,
          instanceId: n.instanceId,
          reason: `provider ${pool.provider} could not list its instances, so none was removed: ${unlistable}`,
        });
      continue;
    }
    const ofPool = (listed.get(pool.provider) ?? []).filter((i) => i.pool === pool.name);
    // One per node (the last listed, as removalSteps takes it).
    const instances = new Map(ofPool.map((i) => [i.nodeId, i]));
    const upstream = [];
    const upPool = rt.config.pools.find((p) => p.name === pool.node.validatorPool);
    if (upPool) {
      for (const n of await rt.store.listNodes({ pool: upPool.name })) {
        const i = (listed.get(upPool.provider) ?? []).find((x) => x.nodeId === n.id);
        const a = addressOf(n, i);
        if (a && i) upstream.push(a);
      }
    }
    const nodes = await rt.store.listNodes({ pool: pool.name });
    let failed = false;
    for (const step of removalSteps(provider, nodes, ofPool)) {
      try {
        if (step.node) await removeNode(rt, ctx, pool, step.node, { instances, upstream }, FLEET_DOWN_CAUSE);
        else await removeOrphan(rt, ctx, pool, provider, step.instance!);
        if (instances.get(step.nodeId) === step.instance) instances.delete(step.nodeId);
        removed++;
      } catch (e) {
        failed = true;
        const reason = (e as Error).message;
        left.push({ pool: pool.name, nodeId: step.nodeId, instanceId: step.instance?.id, reason });
        ctx.log.error(
          { pool: pool.name, node: step.nodeId, instance: step.instance?.id, err: reason },
          'could not remove it; going on with the others',
        );
      }
    }
    // The operator took the fleet down: the next start bootstraps it afresh (its validator
    // too) — unless some of it is still there, for the next start to adopt.
    const state = await rt.store.getPool(pool.name);
    if (!failed && state?.everHadNode) await rt.store.putPool({ ...state, everHadNode: false }, ctx.term);
  }
  // What the providers still run for these pools: made meanwhile, or not gone though its
  // removal said so. A stopping instance (not running) is on its way out.
  const named = new Set(left.map((l) => l.nodeId));
  for (const [name, provider] of rt.providers) {
    if (unlisted.has(name)) continue;
    const pools = new Set(rt.config.pools.filter((p) => p.provider === name).map((p) => p.name));
    let now: Instance[];
    try {
      now = await provider.list();
    } catch (e) {
      for (const pool of pools)
        left.push({
          pool,
          nodeId: '(unchecked)',
          reason: `provider ${name} could not be listed again to check that nothing is left: ${(e as Error).message}`,
        });
      continue;
    }
    for (const i of now)
      if (i.running && pools.has(i.pool) && !named.has(i.nodeId))
        left.push({
          pool: i.pool,
          nodeId: i.nodeId,
          instanceId: i.id,
          reason: `provider ${name} still lists it running after the teardown`,
        });
  }
  if (left.length > 0) throw new FleetNotDownError(removed, left);
  return removed;
}

interface RemovalStep {
  readonly nodeId: string;
  /** Its live record; absent for an orphan (an instance no live record claims). */
  readonly node?: StoredNode | undefined;
  readonly instance?: Instance | undefined;
}

/**
 * A pool's removals in the order they can run: nodes without a listed instance first (the
 * platform has nothing to remove for them), then every listed instance — its node's, or an
 * orphan's — in the provider's removal order.
 */
function removalSteps(provider: Provider, nodes: readonly StoredNode[], ofPool: readonly Instance[]) {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const listedNodes = new Set(ofPool.map((i) => i.nodeId));
  const steps: RemovalStep[] = nodes
    .filter((n) => !listedNodes.has(n.id))
    .map((n) => ({ nodeId: n.id, node: n }));
  // A node's removal destroys the instance the pool's map holds for it; any other instance
  // of the same node is an orphan.
  const mapped = new Map(ofPool.map((i) => [i.nodeId, i]));
  const ordered = provider.removalOrder ? provider.removalOrder(ofPool) : ofPool;
  for (const instance of ordered) {
    const node = mapped.get(instance.nodeId) === instance ? byId.get(instance.nodeId) : undefined;
    steps.push({ nodeId: instance.nodeId, node, instance });
  }
  return steps;
}

/** An instance with no live record: it goes too. */
async function removeOrphan(
  rt: Runtime,
  ctx: ActContext,
  pool: PoolConfig,
  provider: Provider,
  orphan: Instance,
): Promise<void> {
  await runAction(
    rt,
    ctx,
    { pool: pool.name, kind: 'cleanup', nodeId: orphan.nodeId, cause: FLEET_DOWN_CAUSE },
    async () => {
      await provider.destroy(orphan);
      return `destroyed ${orphan.id}`;
    },
  );
}
