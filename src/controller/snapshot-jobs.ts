// Snapshot jobs run beside the reconcile loop: a copy can take minutes and must not hold
// scaling decisions. The loop marks the source node (maintenance) before the job starts;
// the job never writes node records itself — it leaves a note the next tick applies, so
// the loop and the job never overwrite each other.

import type { PoolConfig, SnapshotSetConfig } from '../config/schema.ts';
import { selectSnapshotSource } from '../core/snapshot-source.ts';
import type { Instance } from '../providers/provider.ts';
import { type ActContext, crashPoint, runAction, shortId } from '../runtime/action-journal.ts';
import { addressOf } from '../runtime/node-records.ts';
import type { Runtime } from '../runtime/runtime.ts';
import type { SnapshotManifest } from '../snapshots/manifest.ts';
import { pruneSnapshots } from '../snapshots/snapshot-files.ts';
import { takeSnapshot } from '../snapshots/take-snapshot.ts';
import type { StoredNode } from '../store/store.ts';
import type { Observation } from './observe.ts';

export interface SnapshotOutcome {
  readonly ok: boolean;
  readonly detail: string;
  readonly manifest?: SnapshotManifest | undefined;
  /** Not started this tick for a passing reason: a request for it stays open. */
  readonly postponed?: boolean | undefined;
  /**
   * Skipped for the pool's present state (too few ready nodes, another one stopped): an
   * operator's request waits a while for the pool to allow it before it fails.
   */
  readonly waitable?: boolean | undefined;
}

export class SnapshotJobs {
  readonly #rt: Runtime;
  readonly #running = new Map<string, Promise<SnapshotOutcome>>();
  readonly #inProgress = new Set<string>();
  /** Nodes whose snapshot ended: the next tick clears their maintenance mark. */
  readonly #finished = new Set<string>();
  readonly #newest = new Map<string, number>();
  readonly #lastSkip = new Map<string, string>();

  readonly #onProgress: ((bytes: number, total: number) => void) | undefined;

  constructor(rt: Runtime, onProgress?: (bytes: number, total: number) => void) {
    this.#rt = rt;
    this.#onProgress = onProgress;
  }

  get busy(): boolean {
    return this.#running.size > 0;
  }

  /** Waits for every running job (for a clean stop). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.#running.values()]);
  }

  /**
   * Applies finished jobs to the observation's node records (maintenance cleared, the
   * restarted instance recorded) and stores them. Called by the loop before it plans.
   */
  async applyFinished(obs: Observation, ctx: ActContext): Promise<void> {
    if (this.#finished.size === 0) return;
    for (const po of obs.pools.values()) {
      const nodes = po.nodes as StoredNode[];
      for (const [i, n] of nodes.entries()) {
        if (!this.#finished.has(n.id)) continue;
        const instance = po.instances.get(n.id);
        const updated: StoredNode = {
          ...n,
          maintenance: undefined,
          instanceId: instance?.id ?? n.instanceId,
          updatedAt: obs.at,
        };
        nodes[i] = updated;
        await this.#rt.store.putNode(updated, ctx.term);
        this.#finished.delete(n.id);
      }
    }
  }

  /** Starts what is due: scheduled snapshots and those requested. Never waits for a copy. */
  async tick(
    obs: Observation,
    ctx: ActContext,
    requested: ReadonlySet<string>,
    requestedImages: ReadonlySet<string> = new Set(),
  ): Promise<Map<string, Promise<SnapshotOutcome>>> {
    const started = new Map<string, Promise<SnapshotOutcome>>();
    for (const set of this.#rt.config.snapshots) {
      if (this.#running.has(set.name)) continue;
      const wanted = requested.has(set.name);
      if (!wanted && (set.every === undefined || !(await this.#due(set, obs.at)))) continue;
      const { job } = await this.start(set, obs, ctx, wanted ? 'requested by the operator' : 'on schedule');
      started.set(set.name, job);
    }
    for (const [pool, job] of await this.#imageTick(obs, ctx, requestedImages))
      started.set(`image:${pool}`, job);
    return started;
  }

  /**
   * Machine images on their providers' schedules, or asked for by pool: one pool per provider,
   * one bake at a time. Resolves to the bakes started, by pool.
   */
  async #imageTick(
    obs: Observation,
    ctx: ActContext,
    requested: ReadonlySet<string>,
  ): Promise<Map<string, Promise<SnapshotOutcome>>> {
    const started = new Map<string, Promise<SnapshotOutcome>>();
    for (const pool of this.#rt.config.pools) {
      const provider = this.#rt.providers.get(pool.provider);
      const images = provider?.images;
      const wanted = requested.has(pool.name);
      if (!images || (!images.everyMs && !wanted) || !obs.pools.has(pool.name)) continue;
      const key = `image:${provider!.name}`;
      if (this.#running.has(key)) continue;
      if (!wanted) {
        if (!this.#newest.has(key)) this.#newest.set(key, (await images.list())[0]?.createdAt ?? 0);
        if (this.#newest.get(key)! + images.everyMs! > obs.at) continue;
      }
      const { job } = await this.bakeNow(
        pool,
        obs,
        ctx,
        wanted ? 'requested by the operator' : 'on schedule',
      );
      started.set(pool.name, job);
    }
    return started;
  }

  /** The node a copy may be taken from now, marked for maintenance; or why not. */
  async #takeSource(
    pool: PoolConfig,
    what: string,
    /** Why the source is stopped (its maintenance mark); undefined: it keeps serving, unmarked. */
    markFor: string | undefined,
    obs: Observation,
    ctx: ActContext,
  ): Promise<
    | { node: StoredNode; instance: Instance; why: string }
    | { skip: string; postponed?: boolean; waitable?: boolean }
  > {
    const rt = this.#rt;
    const po = obs.pools.get(pool.name)!;
    const source = selectSnapshotSource(pool, po.nodes, {
      hasUpstream: pool.node.validatorPool !== undefined,
      connectedToUpstream: po.connectedToUpstream,
      live: markFor === undefined,
    });
    if ('skip' in source) {
      if (this.#lastSkip.get(what) !== source.skip) {
        this.#lastSkip.set(what, source.skip);
        await rt.store.recordEvent(
          { at: obs.at, pool: pool.name, severity: 'info', text: `${what} skipped: ${source.skip}` },
          ctx.term,
        );
        ctx.log.info({ what }, `${what} skipped: ${source.skip}`);
      }
      return { skip: source.skip, waitable: source.waitable };
    }
    const seen = po.nodes.find((n) => n.id === source.nodeId)!;
    const instance = po.instances.get(seen.id)!;
    const node = await rt.store.getNode(seen.id);
    if (node?.state !== 'ready' || node.maintenance !== undefined || node.instanceId !== instance.id)
      return {
        skip: `${seen.id} changed during this tick (${node ? node.state : 'gone'}); trying again next tick`,
        postponed: true,
      };
    this.#lastSkip.delete(what);
    if (markFor === undefined) return { node, instance, why: source.why };
    const marked: StoredNode = { ...node, maintenance: `stopped for ${markFor}`, updatedAt: obs.at };
    await rt.store.putNode(marked, ctx.term);
    return { node: marked, instance, why: source.why };
  }

  /**
   * Stops a source node of `pool` (whose provider bakes images), bakes an image of it, starts it
   * again whatever happened. Resolves to the job, or to a finished "skipped" outcome when no
   * node may be taken now (postponed when only this tick is the trouble).
   */
  async bakeNow(
    pool: PoolConfig,
    obs: Observation,
    ctx: ActContext,
    cause: string,
  ): Promise<{ readonly job: Promise<SnapshotOutcome> }> {
    const rt = this.#rt;
    const provider = rt.providers.get(pool.provider)!;
    const images = provider.images;
    if (!images || (!images.live && (!provider.stop || !provider.start)))
      return {
        job: Promise.resolve({
          ok: false,
          detail: `skipped: provider ${provider.name} of pool ${pool.name} bakes no images`,
        }),
      };
    const key = `image:${provider.name}`;
    const what = `image of ${provider.name}`;
    if (this.#running.has(key))
      return {
        job: Promise.resolve({ ok: false, postponed: true, detail: `postponed: an ${what} is being baked` }),
      };
    const source = await this.#takeSource(pool, what, images.live ? undefined : `an ${what}`, obs, ctx);
    if ('skip' in source)
      return {
        job: Promise.resolve({
          ok: false,
          postponed: source.postponed,
          waitable: source.waitable,
          detail: `${source.postponed ? 'postponed' : 'skipped'}: ${source.skip}`,
        }),
      };
    const { node, instance } = source;
    const id = `a-${shortId()}`;
    let baked: { image: string } | undefined;
    const job = runAction(
      rt,
      ctx,
      { pool: pool.name, kind: 'snapshot', nodeId: node.id, cause: `${what}: ${cause} (${source.why})` },
      async () => {
        if (images.live) {
          // Copied while it serves: nothing to stop, nothing to start again.
          const made = await images.bake(instance, id);
          baked = made;
          this.#newest.set(key, Date.now());
          return `image ${made.image} of ${node.id}, taken while it served${made.retired.length ? `; retired ${made.retired.join(', ')}` : ''}`;
        }
        await provider.stop!(instance);
        crashPoint('image:after-stop');
        let made: Awaited<ReturnType<typeof images.bake>> | undefined;
        let error: unknown;
        try {
          made = await images.bake(instance, id);
        } catch (e) {
          error = e;
        }
        crashPoint('image:after-bake');
        // Whatever happened to the bake, the source runs again.
        await provider.start!(instance);
        if (error || !made) throw error;
        baked = made;
        this.#newest.set(key, Date.now());
        return `image ${made.image} of ${node.id}${made.retired.length ? `; retired ${made.retired.join(', ')}` : ''}`;
      },
      id,
    )
      .then((): SnapshotOutcome => ({ ok: true, detail: `image ${baked?.image} of ${node.id}` }))
      .catch((e: Error): SnapshotOutcome => {
        ctx.log.error(
          { provider: provider.name, node: node.id, err: e },
          'image bake failed; the source was started again',
        );
        // Not again at once: the schedule's next slot.
        this.#newest.set(key, Date.now());
        return { ok: false, detail: `failed: ${e.message}` };
      })
      .finally(() => {
        if (!images.live) this.#finished.add(node.id);
        this.#running.delete(key);
      });
    this.#running.set(key, job);
    return { job };
  }

  async #due(set: SnapshotSetConfig, now: number): Promise<boolean> {
    if (!this.#newest.has(set.name)) {
      const newest = (await this.#rt.snapshotStores.get(set.name)!.list(set.name))[0];
      this.#newest.set(set.name, newest?.createdAt ?? 0);
    }
    return this.#newest.get(set.name)! + set.every! <= now;
  }

  /**
   * Picks a source and starts the job; resolves to the job's promise, or to a finished
   * "skipped" outcome when no node may be taken now.
   */
  async start(
    set: SnapshotSetConfig,
    obs: Observation,
    ctx: ActContext,
    cause: string,
  ): Promise<{ readonly job: Promise<SnapshotOutcome> }> {
    const rt = this.#rt;
    const pool = rt.config.pools.find((p) => p.name === set.from) as PoolConfig;
    const picked = await this.#takeSource(
      pool,
      `snapshot of ${set.name}`,
      `a snapshot of ${set.name}`,
      obs,
      ctx,
    );
    if ('skip' in picked) {
      if (picked.postponed) {
        ctx.log.info({ set: set.name }, `snapshot postponed: ${picked.skip}`);
        return { job: Promise.resolve({ ok: false, postponed: true, detail: `postponed: ${picked.skip}` }) };
      }
      return {
        job: Promise.resolve({ ok: false, waitable: picked.waitable, detail: `skipped: ${picked.skip}` }),
      };
    }
    const { node, instance } = picked;
    const source = { why: picked.why };
    const address = addressOf(node, instance)!;
    const store = rt.snapshotStores.get(set.name)!;
    let taken: SnapshotManifest | undefined;
    let jobId: string | undefined;
    const job = runAction(
      rt,
      ctx,
      { pool: pool.name, kind: 'snapshot', nodeId: node.id, cause: `${set.name}: ${cause} (${source.why})` },
      async () => {
        const result = await takeSnapshot({
          set: set.name,
          store,
          kind: rt.nodeKind(pool.name),
          provider: rt.providers.get(pool.provider)!,
          pool: pool.name,
          nodeId: node.id,
          instance,
          address,
          leaveOut: set.leaveOut,
          onProgress: this.#onProgress,
          onStart: (id) => {
            jobId = id;
            this.#inProgress.add(id);
          },
        });
        taken = result.manifest;
        this.#newest.set(set.name, taken.createdAt);
        const pruned = await pruneSnapshots(store, set.name, set.keep, this.#inProgress);
        return `snapshot ${taken.id} of ${node.id} at height ${taken.height}, ${taken.totalBytes} bytes in ${taken.files.length} files${pruned.length ? `; pruned ${pruned.join(', ')}` : ''}`;
      },
      `a-${shortId()}`,
    )
      .then(
        (): SnapshotOutcome => ({
          ok: true,
          detail: `snapshot ${taken!.id} at height ${taken!.height}`,
          manifest: taken,
        }),
      )
      .catch((e: Error): SnapshotOutcome => {
        ctx.log.error(
          { set: set.name, node: node.id, err: e },
          'snapshot failed; the source was started again',
        );
        return { ok: false, detail: `failed: ${e.message}` };
      })
      .finally(() => {
        this.#finished.add(node.id);
        this.#running.delete(set.name);
        if (jobId) this.#inProgress.delete(jobId);
      });
    this.#running.set(set.name, job);
    // Wrapped: an awaited promise of a promise would wait for the whole copy.
    return { job };
  }
}
