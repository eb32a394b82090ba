// Restart reconciliation: every intent without an outcome is settled against the
// providers' own listings — adopted, finished or cleaned up; never duplicated, never orphaned.

import type { Instance, Provider } from '../providers/provider.ts';
import type { ActContext } from '../runtime/action-journal.ts';
import { recordedInstance, withInstance } from '../runtime/node-records.ts';
import type { Runtime } from '../runtime/runtime.ts';
import type { ActionRecord, StoredNode } from '../store/store.ts';
import { removeNodeSteps } from './actions.ts';

export interface ReconcileReport {
  readonly adopted: string[];
  readonly abandoned: string[];
  readonly finished: string[];
}

export async function reconcileOnStart(rt: Runtime, ctx: ActContext): Promise<ReconcileReport> {
  const report: ReconcileReport = { adopted: [], abandoned: [], finished: [] };
  const open = await rt.store.openActions();
  const marked = (await rt.store.listNodes()).filter((n) => n.maintenance !== undefined);
  if (open.length === 0 && marked.length === 0) return report;
  const all = new Map<string, Instance[]>();
  for (const [name, provider] of rt.providers) all.set(name, await provider.list());
  const poolOf = new Map(rt.config.pools.map((p) => [p.name, p]));
  const finish = (
    a: ActionRecord,
    outcome: 'adopted' | 'abandoned' | 'finished-after-restart',
    detail: string,
  ) => rt.store.finishAction(a.id, outcome, detail, ctx.term, Date.now());

  for (const action of open) {
    const pool = poolOf.get(action.pool);
    const node = action.nodeId ? await rt.store.getNode(action.nodeId) : undefined;
    if (!pool) {
      await finish(action, 'abandoned', `pool ${action.pool} is no longer in the config`);
      report.abandoned.push(action.id);
      continue;
    }
    const provider = rt.providers.get(pool.provider)!;
    const instances = (all.get(pool.provider) ?? []).filter((i) => i.nodeId === action.nodeId && i.running);
    const made = instances.find((i) => i.actionId === action.id);
    switch (action.kind) {
      case 'create':
      case 'rejoin': {
        // A rejoin replaces the node's instance: any other instance of the node is stale.
        for (const stale of instances) if (stale !== made) await provider.destroy(stale);
        if (made && node) {
          const base: StoredNode = action.kind === 'rejoin' ? { ...node, state: 'provisioning' } : node;
          await rt.store.putNode(withInstance(base, made), ctx.term);
          await finish(action, 'adopted', `instance ${made.id} was running`);
          report.adopted.push(action.id);
          ctx.log.info({ action: action.id, node: node.id }, 'adopted instance created before restart');
        } else {
          if (made) await provider.destroy(made);
          if (node && node.state !== 'gone')
            await rt.store.putNode(
              {
                ...node,
                state: 'gone',
                instanceId: undefined,
                stateReason: `${action.kind} did not complete before a restart`,
                updatedAt: Date.now(),
              },
              ctx.term,
            );
          await finish(action, 'abandoned', 'no instance was created before the restart');
          report.abandoned.push(action.id);
        }
        break;
      }
      case 'remove': {
        if (node && node.state !== 'gone') {
          // The pool's other running instances too: an etcd member leaves its cluster through them.
          const byNode = new Map(
            (all.get(pool.provider) ?? [])
              .filter((i) => i.pool === pool.name && i.running && i.nodeId !== action.nodeId)
              .map((i) => [i.nodeId, i]),
          );
          for (const i of instances) byNode.set(i.nodeId, i);
          const upstream = [];
          const upPool = pool.node.validatorPool;
          if (upPool) {
            const upInstances = all.get(poolOf.get(upPool)?.provider ?? '') ?? [];
            for (const i of upInstances)
              if (i.pool === upPool && i.running)
                upstream.push({ id: i.nodeId, host: i.host, ports: i.ports });
          }
          // The removal's steps run again under the original action: each is idempotent.
          try {
            await removeNodeSteps(rt, ctx, pool, node, { instances: byNode, upstream }, action.cause);
          } catch (e) {
            await rt.store.finishAction(action.id, 'failed', (e as Error).message, ctx.term, Date.now());
            ctx.log.error({ action: action.id, node: node.id, err: e }, 'could not resume a removal');
            break;
          }
        }
        await finish(action, 'finished-after-restart', 'removal completed after restart');
        report.finished.push(action.id);
        break;
      }
      case 'snapshot': {
        // The controller died during a copy: the source must run again (the sweep below);
        // the partial copy has no manifest, so it is never restored and the next prune
        // removes it.
        await finish(action, 'abandoned', 'the controller restarted during the copy; the source runs again');
        report.abandoned.push(action.id);
        break;
      }
      default:
        // Registration and the like are re-derived by the next tick.
        await finish(action, 'abandoned', 'redone by the next tick if still needed');
        report.abandoned.push(action.id);
    }
  }

  // No snapshot runs in a controller that has just taken the lead: a maintenance mark left
  // by a predecessor (killed after marking the source, during the copy, or after the copy
  // but before clearing it) is released, and the source runs again.
  for (const node of marked) {
    const fresh = await rt.store.getNode(node.id);
    if (fresh?.maintenance === undefined || fresh.state === 'gone') continue;
    const pool = poolOf.get(fresh.pool);
    if (!pool) continue;
    const running = (all.get(pool.provider) ?? []).filter((i) => i.nodeId === fresh.id && i.running);
    await releaseMaintenance(rt, ctx, fresh, running[0], rt.providers.get(pool.provider)!);
    ctx.log.info(
      { node: fresh.id, mark: fresh.maintenance },
      'released a maintenance mark left before the restart',
    );
  }
  return report;
}

/**
 * Clears a node's maintenance mark, starting its stopped instance again (same identity and
 * data). When it cannot be started (its data is gone) the mark is cleared all the same: the
 * loop then sees a node without an instance, marks it failed and replaces it.
 */
async function releaseMaintenance(
  rt: Runtime,
  ctx: ActContext,
  node: StoredNode,
  running: Instance | undefined,
  provider: Provider,
): Promise<void> {
  let instanceId = node.instanceId;
  const recorded = recordedInstance(node);
  if (running) instanceId = running.id;
  // Whether its data is still there is the provider's to say: start throws when it is not
  // (a local node without its data dir, a cloud instance that was deleted).
  else if (provider.start && recorded) {
    try {
      const restarted = await provider.start(recorded);
      instanceId = restarted.id;
    } catch (e) {
      ctx.log.warn(
        { node: node.id, err: e },
        'could not start the snapshot source again; it will be replaced as a failed node',
      );
    }
  }
  await rt.store.putNode({ ...node, maintenance: undefined, instanceId, updatedAt: Date.now() }, ctx.term);
}
