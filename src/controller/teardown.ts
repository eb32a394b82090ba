// Removes every node of a fleet: sentries before the validators they are wired to, each
// removal recorded like any other action. Used by `rampart down` and the demo's Ctrl-C.

import type { Instance } from '../providers/provider.ts';
import { type ActContext, FLEET_DOWN_CAUSE, removeNode, runAction } from './actions.ts';
import { addressOf } from './observe.ts';
import type { Runtime } from './runtime.ts';

export async function tearDownFleet(rt: Runtime, ctx: ActContext): Promise<number> {
  const listed = new Map<string, Instance[]>();
  for (const [name, provider] of rt.providers) listed.set(name, await provider.list());
  let removed = 0;
  // Pools with an upstream go first, so validators are still there to be unwired from.
  const pools = [...rt.config.pools].sort(
    (a, b) => Number(a.role === 'validator') - Number(b.role === 'validator'),
  );
  for (const pool of pools) {
    const instances = new Map(
      (listed.get(pool.provider) ?? []).filter((i) => i.pool === pool.name).map((i) => [i.nodeId, i]),
    );
    const upstream = [];
    const upPool = rt.config.pools.find((p) => p.name === pool.node.validatorPool);
    if (upPool) {
      for (const n of await rt.store.listNodes({ pool: upPool.name })) {
        const i = (listed.get(upPool.provider) ?? []).find((x) => x.nodeId === n.id);
        const a = addressOf(n, i);
        if (a && i) upstream.push(a);
      }
    }
    for (const node of await rt.store.listNodes({ pool: pool.name })) {
      await removeNode(rt, ctx, pool, node, { instances, upstream }, FLEET_DOWN_CAUSE);
      instances.delete(node.id);
      removed++;
    }
    // Instances with no live record are orphans: they go too.
    for (const orphan of instances.values()) {
      const provider = rt.providers.get(pool.provider)!;
      await runAction(
        rt,
        ctx,
        {
          pool: pool.name,
          kind: 'cleanup',
          nodeId: orphan.nodeId,
          cause: 'fleet taken down by the operator',
        },
        async () => {
          await provider.destroy(orphan);
          return `destroyed ${orphan.id}`;
        },
      );
      removed++;
    }
    // The operator took the fleet down: the next start bootstraps it afresh (its validator too).
    const state = await rt.store.getPool(pool.name);
    if (state?.everHadNode) await rt.store.putPool({ ...state, everHadNode: false }, ctx.term);
  }
  return removed;
}
