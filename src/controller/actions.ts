// Actions: each one stores its intent before it runs and its outcome after, under the
// leadership term. Every step is idempotent, so a restart can run a removal again.

import type { PoolConfig } from '../config/schema.ts';
import { chooseRejoin, type JoinChoice, type JoinPossible, planJoin } from '../core/join-choice.ts';
import type { RemoveCause } from '../core/pool-plan.ts';
import type { NodeAddress, NodeKind, RestoreSource, StateSyncPlan } from '../nodes/node-kind.ts';
import type { Instance } from '../providers/provider.ts';
import { type ActContext, crashPoint, runAction, shortId } from '../runtime/action-journal.ts';
import { addressOf, recordedInstance, withInstance } from '../runtime/node-records.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { restoreSource } from '../snapshots/snapshot-files.ts';
import type { StoredNode } from '../store/store.ts';
import type { PoolObservation } from './observe.ts';

function upstreamFor(po: PoolObservation): NodeAddress[] {
  return [...po.upstream];
}

/** The pool's live nodes with a running instance, but `nodeId` (a new etcd member joins through them). */
function siblingsOf(po: Pick<PoolObservation, 'nodes' | 'instances'>, nodeId: string): NodeAddress[] {
  const out: NodeAddress[] = [];
  for (const n of po.nodes) {
    const instance = po.instances.get(n.id);
    const address = n.id === nodeId || !instance ? undefined : addressOf(n, instance);
    if (address) out.push(address);
  }
  return out;
}

/** Ready nodes of the pool's peer pool (a standby's sentries), as stored. */
async function peersOf(rt: Runtime, pool: PoolConfig): Promise<NodeAddress[] | undefined> {
  const peerPool = 'peerPool' in pool.node ? pool.node.peerPool : undefined;
  if (peerPool === undefined) return undefined;
  return (await rt.store.listNodes({ pool: peerPool }))
    .filter((n) => n.state === 'ready' && !n.warm && n.host !== undefined && n.ports !== undefined)
    .map((n) => ({ id: n.id, host: n.host!, ports: n.ports! }));
}

/** Cause of removals by `rampart down`: the whole pool goes, so no member leaves its cluster first. */
export const FLEET_DOWN_CAUSE = 'fleet taken down by the operator';

/**
 * Creates one node of the pool. A warm spare (`warm`) is recorded as one before its instance
 * exists, so a restart adopts it as a spare, and is launched never to dial its upstream.
 */
export async function createNode(
  rt: Runtime,
  ctx: ActContext,
  pool: PoolConfig,
  po: PoolObservation,
  cause: string,
  opts: { readonly warm?: boolean | undefined } = {},
): Promise<void> {
  const nodeId = `${pool.name}-${shortId()}`;
  const warm = opts.warm === true;
  const provider = rt.providers.get(pool.provider)!;
  await runAction(rt, ctx, { pool: pool.name, kind: 'create', nodeId, cause }, async (actionId) => {
    const now = Date.now();
    let record: StoredNode = {
      id: nodeId,
      pool: pool.name,
      provider: pool.provider,
      state: 'provisioning',
      createdAt: now,
      joinStartedAt: now,
      joinAttempts: 0,
      failMarker: 0,
      actionId,
      registered: false,
      updatedAt: now,
      stateReason: `created (${cause})`,
      ...(warm ? { warm: true } : {}),
    };
    await rt.store.putNode(record, ctx.term);
    crashPoint('create:after-node-record');
    ctx.guard();
    let instance: Instance;
    const kind = rt.nodeKind(pool.name);
    const siblings = siblingsOf(po, nodeId);
    // What is possible now (a state-sync source, a file snapshot); the pool's mode, as its kind
    // says, and with `auto` the faster measured way, pick among them (core/join-choice.ts).
    const ways = await joinWays(rt, pool, kind, siblings);
    const mode = kind.capabilities.stateSync;
    const choice = planJoin(mode, (await rt.store.getPool(pool.name))?.joins, ways.possible);
    const { stateSync, snapshot } = takenWay(choice, ways);
    // Its time to ready is measured against the other ways' (controller.ts).
    if (ways.measured) record = { ...record, ...joinRecord(choice, ways, now) };
    try {
      instance = await provider.create({
        nodeId,
        pool: pool.name,
        actionId,
        term: ctx.term,
        kind,
        launch: {
          role: pool.role,
          upstream: upstreamFor(po),
          siblings,
          peers: await peersOf(rt, pool),
          options: pool.node,
          snapshot: snapshot?.source,
          stateSync,
          ...(warm ? { warm: true } : {}),
        },
      });
    } catch (e) {
      const reason = `provider ${pool.provider} could not create it: ${(e as Error).message}`;
      await rt.store.putNode(
        { ...record, state: 'failed', stateReason: reason, updatedAt: Date.now() },
        ctx.term,
      );
      throw e;
    }
    crashPoint('create:after-provider');
    await rt.store.putNode(withInstance(record, instance), ctx.term);
    ctx.log.info(
      {
        pool: pool.name,
        node: nodeId,
        instance: instance.id,
        cause,
        snapshot: snapshot?.source.id,
        stateSync: stateSync?.sources.map((s) => s.id),
        choice: choice?.why,
        warm,
      },
      warm ? 'warm spare created' : 'node created',
    );
    const how = howJoined(pool, stateSync, snapshot);
    return `instance ${instance.id}; ${how}${mode === 'auto' ? ` (stateSync auto — ${choice.why})` : ''}`;
  });
}

/**
 * Takes a warm spare into service in place of a creation: from here on it is a serving node (the
 * caller registers it at once when it is ready). One store write under its intent: a restart
 * finds the spare either still warm or already serving, never both, never lost.
 */
export async function takeWarmNode(
  rt: Runtime,
  ctx: ActContext,
  pool: PoolConfig,
  node: StoredNode,
  cause: string,
): Promise<StoredNode> {
  let taken: StoredNode = node;
  await runAction(rt, ctx, { pool: pool.name, kind: 'take-warm', nodeId: node.id, cause }, async () => {
    const now = Date.now();
    taken = {
      ...node,
      warm: undefined,
      // A spare still joining keeps its join clock: it was started for the pool, not for this take.
      stateReason: `taken from the warm pool (${cause})`,
      updatedAt: now,
    };
    await rt.store.putNode(taken, ctx.term);
    crashPoint('take-warm:after-record');
    return `taken from the warm pool while ${node.state} (${cause})`;
  });
  return taken;
}

/** The ways a node of the pool could join now, and whether the pool measures its joins. */
interface JoinWays {
  readonly possible: JoinPossible & { readonly newestSnapshotId?: string | undefined };
  readonly planned: StateSyncPlan | undefined;
  readonly fileSnapshot: { source: RestoreSource } | undefined;
  /** The pool has a choice of ways (its kind can state sync, or it has a snapshot set). */
  readonly measured: boolean;
}

async function joinWays(
  rt: Runtime,
  pool: PoolConfig,
  kind: NodeKind,
  siblings: readonly NodeAddress[],
): Promise<JoinWays> {
  const fileSnapshot = await newestSnapshot(rt, pool);
  const planned =
    kind.capabilities.stateSync === 'never' ? undefined : await kind.planStateSync?.({ siblings });
  return {
    possible: {
      stateSync: planned !== undefined,
      snapshot: fileSnapshot !== undefined,
      newestSnapshotId: fileSnapshot?.source.id,
    },
    planned,
    fileSnapshot,
    measured: kind.capabilities.stateSync !== 'never' || pool.bootstrap !== undefined,
  };
}

/** What the launch is given for the way chosen. */
function takenWay(
  choice: JoinChoice,
  ways: JoinWays,
): { stateSync: StateSyncPlan | undefined; snapshot: { source: RestoreSource } | undefined } {
  return {
    stateSync: choice.way === 'state-sync' ? ways.planned : undefined,
    snapshot: choice.way === 'snapshot' ? ways.fileSnapshot : undefined,
  };
}

/** The node's record of the way its attempt joins by, from `since` unless it kept its way. */
function joinRecord(
  choice: JoinChoice,
  ways: JoinWays,
  since: number,
): Pick<StoredNode, 'joinedBy' | 'joinedBySince' | 'joinedFrom'> {
  return {
    joinedBy: choice.way ?? 'network',
    joinedBySince: since,
    joinedFrom: choice.way === 'snapshot' ? ways.fileSnapshot?.source.id : undefined,
  };
}

/** How the node joins, in the action's outcome. */
function howJoined(
  pool: PoolConfig,
  stateSync: StateSyncPlan | undefined,
  snapshot: { source: RestoreSource } | undefined,
): string {
  return stateSync
    ? `state sync from ${stateSync.sources.map((s) => s.id).join(', ')}, trusting height ${stateSync.trustHeight}`
    : snapshot
      ? `restored from snapshot ${snapshot.source.id} at height ${snapshot.source.height}`
      : snapshotlessWhy(pool);
}

/** The newest complete snapshot of the pool's bootstrap set, if it has one. */
async function newestSnapshot(rt: Runtime, pool: PoolConfig): Promise<{ source: RestoreSource } | undefined> {
  const set = pool.bootstrap?.snapshots;
  if (!set) return undefined;
  const store = rt.snapshotStores.get(set)!;
  const newest = (await store.list(set))[0];
  return newest ? { source: restoreSource(store, newest) } : undefined;
}

function snapshotlessWhy(pool: PoolConfig): string {
  return pool.bootstrap
    ? `no snapshot in ${pool.bootstrap.snapshots} yet: syncing from genesis`
    : 'synced from the network';
}

export async function removeNode(
  rt: Runtime,
  ctx: ActContext,
  pool: PoolConfig,
  node: StoredNode,
  po: Pick<PoolObservation, 'upstream' | 'instances'>,
  cause: string,
): Promise<void> {
  await runAction(rt, ctx, { pool: pool.name, kind: 'remove', nodeId: node.id, cause }, () =>
    removeNodeSteps(rt, ctx, pool, node, po, cause),
  );
}

/**
 * Tries again a removal that failed part-way (a provider call that failed for good, a store
 * write lost), which left its node draining or deleting with no action running: the same
 * idempotent steps, under a new action, with the cause the node was left with.
 */
export async function retryRemoval(
  rt: Runtime,
  ctx: ActContext,
  pool: PoolConfig,
  node: StoredNode,
  po: Pick<PoolObservation, 'upstream' | 'instances'>,
): Promise<void> {
  const cause = node.stateReason ?? 'scale-down';
  await runAction(
    rt,
    ctx,
    { pool: pool.name, kind: 'remove', nodeId: node.id, cause: `${cause} (tried again: left ${node.state})` },
    () => removeNodeSteps(rt, ctx, pool, node, po, cause),
  );
}

/** Removals that take a node while it serves (not because it failed or never joined). */
const SERVING_CAUSES: ReadonlySet<string> = new Set<string>([
  ...(['scale-down', 'above-max', 'manual-size', 'warm-surplus'] satisfies RemoveCause[]),
  FLEET_DOWN_CAUSE,
]);

/**
 * Whether a node goes while serving: it became ready, it is still ready (or being removed
 * from ready), and it goes for a cause other than failure. Only then may what a provider
 * keeps of it (a removal snapshot) seed new nodes. A removal tried again carries its first
 * cause ahead of ` (tried again: …)`.
 */
export function removedServing(node: StoredNode, cause: string): boolean {
  const first = cause.replace(/ \(tried again: .*\)$/, '');
  return (
    node.readyAt !== undefined &&
    (node.state === 'ready' || node.state === 'draining' || node.state === 'deleting') &&
    SERVING_CAUSES.has(first)
  );
}

/**
 * The steps of a removal: drain (unwire from the upstream), delete the instance, mark the
 * node gone. Each is idempotent, so a restart resumes an interrupted removal by running
 * them again under the original action.
 */
export async function removeNodeSteps(
  rt: Runtime,
  ctx: ActContext,
  pool: PoolConfig,
  node: StoredNode,
  po: Pick<PoolObservation, 'upstream' | 'instances'>,
  cause: string,
): Promise<string> {
  const provider = rt.providers.get(pool.provider)!;
  const kind = rt.nodeKind(pool.name);
  let current: StoredNode = { ...node, state: 'draining', stateReason: cause, updatedAt: Date.now() };
  await rt.store.putNode(current, ctx.term);
  const address = addressOf(node, po.instances.get(node.id));
  if (node.registered && address) {
    for (const upstream of po.upstream) {
      try {
        await kind.deregister(address, upstream);
      } catch (e) {
        // A healthy node is never stopped while still wired; a broken one goes anyway.
        if (cause === 'scale-down' || cause === 'above-max') {
          const state = node.state === 'draining' ? 'ready' : node.state;
          await rt.store.putNode({ ...node, state, updatedAt: Date.now() }, ctx.term);
          throw new Error(
            `could not deregister ${node.id} from ${upstream.id}: ${(e as Error).message}; kept it`,
          );
        }
        ctx.log.warn(
          { node: node.id, upstream: upstream.id },
          `deregistration failed, removing anyway (${cause})`,
        );
      }
    }
    // Still `registered` until the process stops: CometBFT cannot drop a live peer, so the
    // validator may list the node until then.
  }
  // A member of the pool's own cluster (etcd) leaves it before its process stops; an unsafe
  // removal is refused and the node kept, whatever the cause.
  let left = '';
  if (kind.membership && address && cause !== FLEET_DOWN_CAUSE) {
    const others: NodeAddress[] = [];
    for (const i of po.instances.values())
      if (i.nodeId !== node.id) others.push({ id: i.nodeId, host: i.host, ports: i.ports });
    try {
      const said = await kind.membership.leave(address, others, { pool: pool.name, cause });
      ctx.log.info({ pool: pool.name, node: node.id }, `left its cluster: ${said}`);
      left = `${said}; `;
    } catch (e) {
      const state = node.state === 'draining' ? 'ready' : node.state;
      await rt.store.putNode({ ...node, state, updatedAt: Date.now() }, ctx.term);
      throw e;
    }
  }
  crashPoint('remove:after-deregister');
  current = { ...current, state: 'deleting', updatedAt: Date.now() };
  await rt.store.putNode(current, ctx.term);
  ctx.guard();
  // An instance gone from the listing (it died, or a removal was cut short) may have left
  // its data behind: the provider is given the recorded one, and removes what is left.
  const listed = po.instances.get(node.id);
  const instance = listed ?? recordedInstance(node);
  if (instance) await provider.destroy(instance, { serving: removedServing(node, cause) });
  crashPoint('remove:after-destroy');
  await rt.store.putNode(
    { ...current, state: 'gone', registered: false, instanceId: undefined, updatedAt: Date.now() },
    ctx.term,
  );
  ctx.log.info({ pool: pool.name, node: node.id, cause }, 'node removed');
  const what = listed
    ? `destroyed ${listed.id}`
    : instance
      ? `no instance was running; removed what ${instance.id} left`
      : 'no instance was running';
  return `${left}${what}`;
}

export async function rejoinNode(
  rt: Runtime,
  ctx: ActContext,
  pool: PoolConfig,
  node: StoredNode,
  po: PoolObservation,
  attempt: number,
): Promise<void> {
  const provider = rt.providers.get(pool.provider)!;
  const kind = rt.nodeKind(pool.name);
  const siblings = siblingsOf(po, node.id);
  // The pool's bootstrap mode again, past the way that just failed (core/join-choice.ts): a
  // state sync that timed out falls back to the file snapshot, a restore to a newer snapshot or
  // to state sync, and the network only when no other way is left.
  const ways = await joinWays(rt, pool, kind, siblings);
  const failedWay = node.joinedBy === 'network' ? undefined : node.joinedBy;
  const choice = chooseRejoin(
    kind.capabilities.stateSync,
    (await rt.store.getPool(pool.name))?.joins,
    { way: failedWay, snapshotId: node.joinedFrom },
    ways.possible,
  );
  const { stateSync, snapshot } = takenWay(choice, ways);
  await runAction(
    rt,
    ctx,
    {
      pool: pool.name,
      kind: 'rejoin',
      nodeId: node.id,
      cause: `join timed out: attempt ${attempt + 1}${ways.measured ? `, by ${choice.why}` : ''}`,
    },
    async (actionId) => {
      const instance = po.instances.get(node.id);
      ctx.guard();
      if (instance) await provider.destroy(instance);
      const now = Date.now();
      // A join kept on its way (a newer snapshot) keeps its clock: the figure is the way's cost.
      const kept = ways.measured && (choice.way ?? 'network') === node.joinedBy;
      const record: StoredNode = {
        ...node,
        state: 'provisioning',
        instanceId: undefined,
        joinStartedAt: now,
        joinAttempts: attempt,
        registered: false,
        actionId,
        updatedAt: now,
        ...(ways.measured
          ? joinRecord(choice, ways, kept ? (node.joinedBySince ?? node.createdAt) : now)
          : {}),
      };
      await rt.store.putNode(record, ctx.term);
      ctx.guard();
      const fresh = await provider.create({
        nodeId: node.id,
        pool: pool.name,
        actionId,
        term: ctx.term,
        kind,
        launch: {
          role: pool.role,
          upstream: upstreamFor(po),
          siblings,
          peers: await peersOf(rt, pool),
          options: pool.node,
          snapshot: snapshot?.source,
          stateSync,
        },
      });
      await rt.store.putNode(withInstance(record, fresh), ctx.term);
      return `instance ${fresh.id}; ${howJoined(pool, stateSync, snapshot)}`;
    },
  );
}

/**
 * Records a running instance the store has no node for as a node of its pool, joining like a
 * new one (it counts once it is ready, a sentry is registered then), with an event saying why.
 */
export async function adoptInstance(
  rt: Runtime,
  ctx: ActContext,
  providerName: string,
  instance: Instance,
  why: string,
): Promise<void> {
  const now = Date.now();
  await rt.store.putNode(
    withInstance(
      {
        id: instance.nodeId,
        pool: instance.pool,
        provider: providerName,
        state: 'provisioning',
        createdAt: instance.createdAt,
        joinStartedAt: now,
        joinAttempts: 0,
        failMarker: 0,
        actionId: instance.actionId,
        registered: false,
        updatedAt: now,
        stateReason: why,
      },
      instance,
    ),
    ctx.term,
  );
  await rt.store.recordEvent(
    { at: now, pool: instance.pool, node: instance.nodeId, severity: 'warning', text: why },
    ctx.term,
  );
  ctx.log.warn({ pool: instance.pool, node: instance.nodeId, instance: instance.id }, why);
}
