// The reconcile loop: observe → decide (core) → act (providers, node kinds) → record.
// Every action's intent is stored before it runs and its outcome after, under the
// leadership term, so a controller killed at any point can be reconciled on restart.

import type { Logger } from 'pino';
import { planAlertToAlert } from '../alerts/alert.ts';
import type { AlertDispatcher } from '../alerts/alert-dispatcher.ts';
import { createAlertDispatcher } from '../alerts/create-alert-dispatcher.ts';
import type { PoolConfig } from '../config/schema.ts';
import type { Leadership, Lock } from '../coordination/coordination.ts';
import type { PlannedAction, PoolClocks, PoolPlan } from '../core/decide.ts';
import { type MeasuredWay, planJoin, recordJoin } from '../core/join-choice.ts';
import type { PoolHistory } from '../core/pool-history.ts';
import type { Sample } from '../core/types.ts';
import { FailoverMonitor } from '../failover/monitor.ts';
import { PROMOTE_REQUEST, promoteRequestFrom, promoteValidator } from '../failover/promote.ts';
import type { Instance } from '../providers/provider.ts';
import { type ActContext, guardedByLock, runAction } from '../runtime/action-journal.ts';
import { addressOf } from '../runtime/node-records.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { sleepUnless } from '../runtime/sleep-unless.ts';
import { pruneSnapshots } from '../snapshots/snapshot-files.ts';
import { EtcdUnreachableError } from '../store/etcd-store.ts';
import type { PoolState, RequestRecord, StoredNode } from '../store/store.ts';
import { createNode, rejoinNode, removeNode, retryRemoval, takeWarmNode } from './actions.ts';
import {
  cleanUpOrphans,
  describeStore,
  StoreBehindFleetError,
  settleFleetOwnership,
} from './fleet-ownership.ts';
import { HistoryRetention } from './history-retention.ts';
import { type Observation, observe, type PoolObservation } from './observe.ts';
import { emptyPoolState, planPool } from './plan-pool.ts';
import { applyPoolRequests } from './pool-requests.ts';
import { reconcileOnStart } from './reconcile.ts';
import { SnapshotJobs } from './snapshot-jobs.ts';
import type { TickReport } from './tick-report.ts';

/** A pool's policy memory is stored with the pool at most this often; a restart loses at most this much. */
export const HISTORY_STORE_EVERY_MS = 60_000;
/**
 * How long an operator's snapshot or image request waits for its pool to allow one (more ready
 * nodes than min, no other node stopped) before it fails with why: a node flapping out of
 * ready for a moment should not fail the command.
 */
export const REQUEST_PATIENCE_MS = 3 * 60_000;
/** A removal that failed part-way (its node left draining or deleting) is tried again after this. */
export const STALLED_REMOVAL_RETRY_MS = 10_000;

export interface ControllerOptions {
  readonly runtime: Runtime;
  readonly log: Logger;
  /** Name recorded as the leadership holder. */
  readonly holder?: string | undefined;
  /** Hears every tick's report (Rampart's own metrics, the dashboard's series). Must not throw. */
  readonly onTick?: ((report: TickReport) => void) | undefined;
  /** Where alerts go. Default: a dispatcher for the config's `alerts` receivers. */
  readonly alerts?: AlertDispatcher | undefined;
  /**
   * Record running instances the store has no record of as its nodes (`rampart up --adopt`)
   * instead of refusing to act when the store knows less than the platform. Default false.
   */
  readonly adopt?: boolean | undefined;
}

export class Controller {
  readonly #rt: Runtime;
  readonly #log: Logger;
  readonly #holder: string;
  #leadership: Leadership | undefined;
  #stopping = new AbortController();
  #previousSamples: Sample[] = [];
  readonly #lastSignature = new Map<string, string>();
  /** Each pool's policy memory as of this process's last tick, and when it was last stored. */
  readonly #memory = new Map<string, { history: PoolHistory; storedAt: number; stored: boolean }>();
  #loop: Promise<void> | undefined;
  #starting: Promise<void> | undefined;
  readonly #staleAfter: ReadonlyMap<string, number>;
  readonly #adopt: boolean;
  readonly #snapshots: SnapshotJobs;
  readonly #history: HistoryRetention;
  readonly #alerts: AlertDispatcher;
  readonly #failover: FailoverMonitor;
  /** Nodes dialed again since they were last seen connected (to log an episode once). */
  readonly #redialed = new Set<string>();
  /**
   * Nodes registered during the tick running now: the tick's view of who the validator is
   * connected to predates them, so they are not redialed by it (the dial is under way).
   */
  readonly #wiredThisTick = new Set<string>();
  /** Resolves after each completed tick (tests and the demo wait on it). */
  #tickWaiters: (() => void)[] = [];
  readonly #onTick: ((report: TickReport) => void) | undefined;
  #lastObservation: Observation | undefined;

  constructor(opts: ControllerOptions) {
    this.#rt = opts.runtime;
    this.#log = opts.log;
    this.#holder = opts.holder ?? `pid-${process.pid}`;
    this.#onTick = opts.onTick;
    this.#snapshots = new SnapshotJobs(opts.runtime);
    this.#history = new HistoryRetention(opts.runtime);
    this.#alerts = opts.alerts ?? createAlertDispatcher(opts.runtime.config, opts.log);
    this.#failover = new FailoverMonitor(opts.runtime, opts.log, this.#alerts);
    this.#staleAfter = new Map(opts.runtime.config.metrics.map((m) => [m.name, m.staleAfter]));
    this.#adopt = opts.adopt ?? false;
  }

  /** Whether this process acts now, and under which term (for the API and metrics). */
  get leadership(): {
    readonly leading: boolean;
    readonly term: number | undefined;
    readonly holder: string;
  } {
    const l = this.#leadership;
    const leading = l !== undefined && !l.lost.aborted && !this.#stopping.signal.aborted;
    return { leading, term: leading ? l.term : undefined, holder: this.#holder };
  }

  get term(): number {
    if (!this.#leadership) throw new Error('controller is not leading');
    return this.#leadership.term;
  }

  /**
   * Opens the store, takes leadership (a standby replica waits here until it leads),
   * reconciles unfinished intents, then loops until stopped. Resolves once leading.
   */
  async start(): Promise<void> {
    this.#starting = (async () => {
      await this.#openStore();
      await this.#lead();
      this.#loop = this.#serve();
    })();
    await this.#starting;
  }

  /** Opens the store; a shared store that is unreachable for now is waited for, not given up on. */
  async #openStore(): Promise<void> {
    for (let warned = false; ; ) {
      try {
        return await this.#rt.store.open();
      } catch (e) {
        if (!(e instanceof EtcdUnreachableError) || this.#stopping.signal.aborted) throw e;
        if (!warned)
          this.#log.warn({ err: e.message }, 'store unreachable: waiting for it; nothing is done meanwhile');
        warned = true;
        await sleepUnless(1000, this.#stopping.signal);
      }
    }
  }

  /** Campaigns, then reconciles what an earlier leader (this one or another) left in flight. */
  async #lead(): Promise<void> {
    this.#log.info(
      { holder: this.#holder, coordination: this.#rt.coordination.kind },
      'campaigning for leadership',
    );
    const leadership = await this.#rt.coordination.campaign(this.#holder, this.#stopping.signal);
    this.#leadership = leadership;
    this.#lastSignature.clear();
    this.#log.info({ term: leadership.term, store: this.#rt.store.kind }, 'leading');
    try {
      // Before anything acts: a store that knows less than the platform is refused (or, when
      // asked, adopts what runs), so no running node is ever taken for an orphan.
      await settleFleetOwnership(this.#rt, this.#context(), { adopt: this.#adopt });
      await reconcileOnStart(this.#rt, this.#context());
    } catch (e) {
      await leadership.resign().catch(() => undefined);
      throw e;
    }
  }

  /**
   * Every leadership this process holds, one after the other: when one is lost (its lease
   * could not be renewed, etcd became unreachable, a newer term appeared) the loop has
   * already stopped acting; this stands by and campaigns again until stopped.
   */
  async #serve(): Promise<void> {
    for (;;) {
      await this.#run();
      if (this.#stopping.signal.aborted) return;
      const lost = this.#leadership!;
      this.#log.warn(
        { term: lost.term, reason: (lost.lost.reason as Error | undefined)?.message },
        'not leading any more: acting stopped; standing by to campaign again',
      );
      await lost.resign().catch(() => undefined);
      for (;;) {
        try {
          await this.#lead();
          break;
        } catch (e) {
          if (this.#stopping.signal.aborted) return;
          this.#log.error({ err: e }, 'could not take leadership again; retrying');
          await sleepUnless(1000, this.#stopping.signal);
        }
      }
    }
  }

  async #run(): Promise<void> {
    const interval = Math.min(
      this.#rt.config.controller.evaluationInterval,
      ...this.#rt.config.pools.map((p) => p.health.checkInterval),
    );
    const leadership = this.#leadership!;
    const wake = AbortSignal.any([this.#stopping.signal, leadership.lost]);
    // Failover polls on its own interval beside the loop, for as long as this leadership lasts.
    const guarding = this.#failover
      .run(this.#context(), wake)
      .catch((e) => this.#log.error({ err: e }, 'failover monitor stopped'));
    let storeLost = false;
    while (!this.#stopping.signal.aborted && !leadership.lost.aborted) {
      const started = Date.now();
      let error: Error | undefined;
      try {
        await this.tick();
      } catch (e) {
        error = e as Error;
        if (e instanceof EtcdUnreachableError)
          this.#log.warn({ err: e.message }, 'etcd unreachable: holding (no action without a stored intent)');
        else if (e instanceof StoreBehindFleetError) {
          if (!storeLost) this.#log.error(e.message);
          storeLost = true;
        } else this.#log.error({ err: e }, 'tick failed; retrying next interval');
      }
      this.#report(leadership.term, started, error);
      for (const w of this.#tickWaiters.splice(0)) w();
      const wait = Math.max(0, interval - (Date.now() - started));
      await sleepUnless(wait, wake);
    }
    await guarding;
  }

  #report(term: number, startedAt: number, error: Error | undefined): void {
    const observation = this.#lastObservation;
    this.#lastObservation = undefined;
    try {
      this.#onTick?.({ term, startedAt, durationMs: Date.now() - startedAt, observation, error });
    } catch (e) {
      this.#log.warn({ err: e }, 'a tick listener failed');
    }
  }

  /** Waits until the next tick completes. */
  nextTick(): Promise<void> {
    return new Promise((resolve) => this.#tickWaiters.push(resolve));
  }

  /** Stops after the action in flight (if any) finishes; persists; releases leadership. */
  async stop(): Promise<void> {
    this.#stopping.abort();
    // A standby replica stops while campaigning: its campaign ends here.
    await this.#starting?.catch(() => undefined);
    await this.#loop;
    // A snapshot in flight finishes (its source is started again) before leadership goes.
    await this.#snapshots.settle();
    await this.#history.settle();
    await this.#storeMemory();
    await this.#leadership?.resign();
    await this.#rt.coordination.close();
    await this.#rt.store.close();
    await this.#alerts.close(5000);
    for (const w of this.#tickWaiters.splice(0)) w();
  }

  /**
   * On a graceful stop, the policy's memory newer than the copy stored with each pool (kept
   * once a minute while running) is stored, so the next leader forecasts from all of it. A
   * failure here loses only that last minute, as a crash would: it is logged, not thrown.
   */
  async #storeMemory(): Promise<void> {
    const leadership = this.#leadership;
    if (!leadership || leadership.lost.aborted) return;
    for (const [pool, m] of this.#memory) {
      if (m.stored) continue;
      try {
        const state = await this.#rt.store.getPool(pool);
        if (state) await this.#rt.store.putPool({ ...state, history: m.history }, leadership.term);
      } catch (e) {
        this.#log.warn(
          { pool, err: (e as Error).message },
          "the policy's last minute of history was not stored",
        );
      }
    }
  }

  #context(): ActContext {
    const leadership = this.#leadership!;
    return {
      term: leadership.term,
      log: this.#log,
      guard: () => {
        if (leadership.lost.aborted) throw new Error(`leadership (term ${leadership.term}) lost: not acting`);
      },
    };
  }

  /** One pass over every pool. */
  async tick(): Promise<void> {
    const ctx = this.#context();
    // A store emptied or replaced under the running controller has forgotten this term:
    // nothing is done on what it says (it would take the fleet for orphans).
    const seen = await this.#rt.store.currentTerm();
    if (seen < ctx.term)
      throw new StoreBehindFleetError(
        `the ${describeStore(this.#rt.config)} no longer knows term ${ctx.term} (it has seen ${seen}): it was emptied or replaced under the running controller; not acting. Stop this controller and run \`rampart up\` again, which checks the store against the platform`,
      );
    // The request queue is read once a tick; each kind goes to its own consumer.
    const requests = await this.#rt.store.openRequests();
    // Before observing: a promotion restarts a node, and this tick must see it as it is after.
    await this.#promoteRequests(ctx, requests);
    const obs = await observe(this.#rt, this.#stopping.signal);
    this.#lastObservation = obs;
    for (const e of obs.metricErrors) this.#log.debug({ source: e.source, target: e.target }, e.message);
    await this.#snapshots.applyFinished(obs, ctx);
    await cleanUpOrphans(this.#rt, ctx, obs);
    await applyPoolRequests(this.#rt, ctx, requests);
    for (const pool of this.#rt.config.pools) {
      if (this.#stopping.signal.aborted || this.#leadership?.lost.aborted) break;
      const po = obs.pools.get(pool.name)!;
      const providerError = obs.providerErrors.get(pool.provider);
      if (providerError) {
        this.#log.warn(
          { pool: pool.name, provider: pool.provider },
          `holding: provider listing failed: ${providerError}`,
        );
        continue;
      }
      await this.#tickPool(pool, po, obs, ctx);
    }
    this.#previousSamples = obs.samples as Sample[];
    if (!this.#stopping.signal.aborted) await this.#snapshotWork(obs, ctx, requests);
    if (!this.#stopping.signal.aborted) this.#history.maybePrune(ctx);
  }

  /** The operator's promotions (`rampart validator promote`), each under its lock, checked, recorded. */
  async #promoteRequests(ctx: ActContext, open: readonly RequestRecord[]): Promise<void> {
    for (const r of open.filter((x) => x.kind === PROMOTE_REQUEST)) {
      const req = promoteRequestFrom(r);
      const result = await promoteValidator(this.#rt, ctx, req).catch((e: Error) => ({
        ok: false,
        detail: `failed: ${e.message}`,
        review: undefined,
      }));
      const checks =
        result.review?.checks.map((c) => `${c.ok ? 'ok    ' : 'FAILED'} ${c.name}: ${c.detail}`) ?? [];
      await this.#rt.store.finishRequest(
        r.id,
        result.ok ? 'done' : 'failed',
        [result.detail, ...checks].join('\n'),
        ctx.term,
        Date.now(),
      );
      this.#log[result.ok ? 'warn' : 'error'](
        { pool: req.pool, to: req.to, caller: r.caller },
        result.detail,
      );
    }
  }

  /** Scheduled and requested snapshots, and requested prunes. Copies run in the background. */
  async #snapshotWork(obs: Observation, ctx: ActContext, open: readonly RequestRecord[]): Promise<void> {
    const requests = open.filter((r) => r.kind.startsWith('snapshot-'));
    const sets = new Map(this.#rt.config.snapshots.map((s) => [s.name, s]));
    const wanted = new Set<string>();
    for (const r of requests) {
      const set = sets.get(String(r.body.set));
      if (!set) {
        await this.#rt.store.finishRequest(
          r.id,
          'failed',
          `no snapshot set "${String(r.body.set)}" in the config`,
          ctx.term,
          Date.now(),
        );
        continue;
      }
      if (r.kind === 'snapshot-create') wanted.add(set.name);
      else if (r.kind === 'snapshot-prune' && !this.#snapshots.busy) {
        const removed = await pruneSnapshots(this.#rt.snapshotStores.get(set.name)!, set.name, set.keep);
        await this.#rt.store.finishRequest(
          r.id,
          'done',
          removed.length ? `pruned ${removed.join(', ')}` : 'nothing to prune',
          ctx.term,
          Date.now(),
        );
      }
    }
    // A bake asked for by the operator (`rampart snapshot create --images POOL`).
    const bakes = open.filter((r) => r.kind === 'image-create');
    const bakeable = new Set(
      this.#rt.config.pools.filter((p) => this.#rt.providers.get(p.provider)?.images).map((p) => p.name),
    );
    const wantedImages = new Set<string>();
    for (const r of bakes) {
      if (bakeable.has(String(r.body.pool))) wantedImages.add(String(r.body.pool));
      else
        await this.#rt.store.finishRequest(
          r.id,
          'failed',
          `pool "${String(r.body.pool)}" is not on a provider that bakes images (providers[].images)`,
          ctx.term,
          Date.now(),
        );
    }
    const started = await this.#snapshots.tick(obs, ctx, wanted, wantedImages);
    for (const r of [...requests, ...bakes]) {
      const job =
        r.kind === 'snapshot-create'
          ? started.get(String(r.body.set))
          : r.kind === 'image-create'
            ? started.get(`image:${String(r.body.pool)}`)
            : undefined;
      if (!job) continue;
      void job.then((o) =>
        o.postponed || (o.waitable && Date.now() - r.at < REQUEST_PATIENCE_MS)
          ? undefined
          : this.#rt.store
              .finishRequest(r.id, o.ok ? 'done' : 'failed', o.detail, ctx.term, Date.now())
              .catch((e) =>
                this.#log.warn({ request: r.id, err: e }, 'could not record the request outcome'),
              ),
      );
    }
  }

  async #tickPool(pool: PoolConfig, po: PoolObservation, obs: Observation, ctx: ActContext): Promise<void> {
    const store = this.#rt.store;
    const stored = await store.getPool(pool.name);
    let state: PoolState = stored ?? emptyPoolState(pool.name);
    if (state.actingSince === undefined) state = { ...state, actingSince: obs.at };
    if (!state.everHadNode) {
      // A node that ever got an instance counts (a crashed validator is failed, not gone); a
      // creation abandoned before one, or a fleet the operator took down, does not.
      const all = await store.listNodes({ pool: pool.name, all: true });
      if (all.some((n) => n.state !== 'gone' && (n.instanceId !== undefined || n.readyAt !== undefined)))
        state = { ...state, everHadNode: true };
    }
    // The policy's memory: this process's newest, or after a restart (or a change of leader) the
    // one stored with the pool, at most HISTORY_STORE_EVERY_MS old.
    const kept = this.#memory.get(pool.name);
    const { plan, nodes, vanished } = planPool(
      pool,
      po,
      kept ? { ...state, history: kept.history } : state,
      obs.at,
      { current: obs.samples, previous: this.#previousSamples },
      this.#staleAfter,
      this.#rt.nodeKind(pool.name).capabilities,
      this.#rt.config.controller.historyRetention,
    );
    // Stored once a minute, not every tick: on etcd every put is a revision kept until compaction.
    const storeHistory =
      plan.history !== undefined && (kept === undefined || obs.at - kept.storedAt >= HISTORY_STORE_EVERY_MS);
    if (plan.history)
      this.#memory.set(pool.name, {
        history: plan.history,
        storedAt: storeHistory || !kept ? obs.at : kept.storedAt,
        stored: storeHistory,
      });
    const history = storeHistory ? plan.history : state.history;
    // A node whose instance vanished (process died, VM gone) is failed: it no longer holds a slot.
    for (const n of vanished) {
      await store.putNode(
        { ...n, state: 'failed', stateReason: 'its instance is gone', updatedAt: obs.at },
        ctx.term,
      );
      await store.recordEvent(
        {
          at: obs.at,
          pool: pool.name,
          node: n.id,
          severity: 'warning',
          text: `${n.id}: instance is gone (was ${n.state})`,
        },
        ctx.term,
      );
      this.#log.warn({ pool: pool.name, node: n.id }, 'instance is gone: node marked failed');
    }
    const byId = new Map(nodes.map((n) => [n.id, n]));
    const leaving = new Set(
      plan.actions.filter((a) => a.kind === 'remove' || a.kind === 'rejoin').map((a) => a.nodeId),
    );
    const portsKey = (p: Readonly<Record<string, number>> | undefined) =>
      JSON.stringify(Object.entries(p ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    /** A recorded address its instance no longer has (a pod recreated elsewhere): rewired below. */
    const addressMoved = (n: StoredNode) => {
      const i = po.instances.get(n.id);
      return (
        n.host !== undefined &&
        i !== undefined &&
        (i.host !== n.host || portsKey(i.ports) !== portsKey(n.ports))
      );
    };
    for (const u of plan.nodeUpdates) {
      const n = byId.get(u.id)!;
      const updated: StoredNode = { ...n, ...u, updatedAt: obs.at };
      byId.set(u.id, updated);
      // A sentry turning ready is wired now, its ready state stored with its registration in
      // one write: never a ready, unwired sentry in the store while this tick's slower actions
      // (a creation, a drain) run. A failed registration stores it unregistered, retried next
      // tick; one this tick removes is never wired, one that moved is wired at its new address below.
      const turnsReady =
        n.state !== 'ready' && updated.state === 'ready' && !leaving.has(u.id) && !addressMoved(updated);
      const wired = turnsReady && (await this.#register(pool, po, updated, byId, ctx));
      if (!wired) await store.putNode(updated, ctx.term);
      // A node whose join is measured is ready for the first time: its time from its first
      // attempt by the way it joined to ready (a failed attempt by the same way included: the
      // way's whole cost) is the pool's new figure for that way, stored with the pool's state.
      if (n.readyAt === undefined && updated.readyAt !== undefined)
        state = withJoinFigure(state, n, updated.readyAt, false);
      if (u.state !== n.state)
        this.#log.info({ pool: pool.name, node: u.id, from: n.state, to: u.state }, u.stateReason ?? u.state);
    }
    // A pod's address is known only once it is scheduled: the record follows its instance, so
    // what reads records alone (a promotion's sentries, a standby's peers) reaches it.
    for (const n of byId.values()) {
      const i = po.instances.get(n.id);
      if (!i || (i.host === n.host && portsKey(i.ports) === portsKey(n.ports))) continue;
      // A registered node that moved (a pod recreated on another IP): its old address leaves
      // the upstream's lists, and it is registered at the new one — now if it is ready, else
      // once it is (unregistered meanwhile).
      const moved = n.registered && n.host !== undefined && n.ports !== undefined;
      const rewired = moved ? await this.#rewireMoved(pool, po, n, i, ctx) : undefined;
      if (rewired === 'failed') continue;
      const updated: StoredNode = {
        ...n,
        host: i.host,
        ports: i.ports,
        ...(rewired === 'unregistered' ? { registered: false } : {}),
        updatedAt: obs.at,
      };
      byId.set(n.id, updated);
      await store.putNode(updated, ctx.term);
    }

    let clocks: PoolClocks = plan.clocks;
    let finalPlan: PoolPlan = plan;
    let lock: Lock | undefined;
    if (plan.needsLock) {
      lock = await this.#rt.coordination.tryLock(`scale-down/${pool.name}`, this.#holder);
      if (!lock) {
        clocks = { ...plan.clocks, lastScaleDownAt: state.clocks.lastScaleDownAt, lastLockAttemptAt: obs.at };
        finalPlan = {
          ...plan,
          decision: 'hold',
          actions: [],
          clocks,
          reasons: [
            ...plan.reasons,
            { code: 'lock-busy', text: 'scale-down lock is held by another holder' },
          ],
        };
      }
    }
    // A join that timed out (tried again, or the last one allowed) is the way's figure too, a
    // lower bound marked so: `auto` then weighs a way that does not get there, instead of
    // trying it again as unmeasured.
    for (const a of finalPlan.actions) {
      const timedOut = a.kind === 'rejoin' || (a.kind === 'remove' && a.cause === 'join-exhausted');
      const n = timedOut ? byId.get(a.nodeId) : undefined;
      if (n && n.readyAt === undefined) state = withJoinFigure(state, n, obs.at, true);
    }
    const next: PoolState = { ...state, clocks, history };
    if (!stored || !samePoolState(stored, next)) await store.putPool(next, ctx.term);
    await this.#record(finalPlan, ctx.term);
    await this.#tendMembership(pool, po, byId, ctx);
    // A scale-down lock lost mid-way (its lease could not be kept) stops the actions before
    // their next provider call, as a lost leadership does.
    const acting = lock ? guardedByLock(ctx, lock, `pool ${pool.name}`) : ctx;
    try {
      await this.#act(pool, finalPlan, po, byId, acting);
      await this.#registerReady(pool, po, byId, acting);
    } finally {
      await lock?.release();
    }
    await store.putPoolStatus({
      pool: pool.name,
      at: obs.at,
      term: ctx.term,
      body: poolStatusBody(
        pool,
        finalPlan,
        [...byId.values()],
        po,
        next.joins,
        nextJoinOf(this.#rt, pool, next),
      ),
    });
  }

  async #record(plan: PoolPlan, term: number): Promise<void> {
    const signature = JSON.stringify([plan.decision, plan.reasons.map((r) => r.code), plan.actions]);
    const changed = this.#lastSignature.get(plan.pool) !== signature;
    if (plan.actions.length === 0 && !changed) return;
    this.#lastSignature.set(plan.pool, signature);
    await this.#rt.store.recordDecision({
      pool: plan.pool,
      at: plan.at,
      term,
      decision: plan.decision,
      ready: plan.ready,
      live: plan.live,
      desired: plan.desired,
      reasons: plan.reasons,
      actions: plan.actions.map(describeAction),
    });
    const level = plan.actions.length > 0 ? 'info' : 'debug';
    this.#log[level](
      { pool: plan.pool, decision: plan.decision, ready: plan.ready, live: plan.live, desired: plan.desired },
      plan.reasons
        .filter((r) => r.code !== 'rule-quiet')
        .map((r) => r.text)
        .join('; '),
    );
    for (const alert of plan.alerts) {
      await this.#rt.store.recordEvent(
        { at: plan.at, pool: plan.pool, node: alert.node, severity: alert.severity, text: alert.text },
        term,
      );
      this.#log.error({ pool: plan.pool, node: alert.node, alert: true }, alert.text);
      this.#alerts.send(planAlertToAlert(plan.pool, alert, plan.at));
    }
  }

  async #act(
    pool: PoolConfig,
    plan: PoolPlan,
    po: PoolObservation,
    nodes: Map<string, StoredNode>,
    ctx: ActContext,
  ): Promise<void> {
    // Warm spares first: a taken spare that is synced is registered at once, before anything
    // slower (a removal's drain, the refill's restore) runs in this tick.
    for (const action of plan.actions) {
      if (action.kind !== 'take-warm' || this.#stopping.signal.aborted) continue;
      const spare = nodes.get(action.nodeId);
      if (!spare?.warm) continue;
      try {
        const taken = await takeWarmNode(this.#rt, ctx, pool, spare, action.cause);
        nodes.set(taken.id, taken);
        if (taken.state === 'ready') await this.#register(pool, po, taken, nodes, ctx);
      } catch (e) {
        this.#log.error({ pool: pool.name, node: action.nodeId, err: e }, 'taking a warm spare failed');
      }
    }
    const removals = plan.actions.filter((a) => a.kind === 'remove' || a.kind === 'rejoin');
    let removalFailed = false;
    // Actions run one after another within a tick, so a node still draining or deleting at its
    // start is one whose removal failed part-way (a restart resumes those left open): it holds
    // a slot and blocks every scale-in until its removal is tried again.
    const planned = new Set(removals.map((a) => a.nodeId));
    const paused = plan.reasons.some((r) => r.code === 'paused');
    for (const node of paused ? [] : [...nodes.values()]) {
      if (node.state !== 'draining' && node.state !== 'deleting') continue;
      if (planned.has(node.id) || Date.now() - node.updatedAt < STALLED_REMOVAL_RETRY_MS) continue;
      if (this.#stopping.signal.aborted) return;
      this.#log.warn({ pool: pool.name, node: node.id }, `its removal stopped ${node.state}: trying again`);
      try {
        await retryRemoval(this.#rt, ctx, pool, node, po);
      } catch (e) {
        removalFailed = true;
        this.#log.error({ pool: pool.name, node: node.id, err: e }, 'action failed');
      } finally {
        const after = await this.#rt.store.getNode(node.id);
        if (after) nodes.set(node.id, after);
      }
    }
    for (const action of removals) {
      if (this.#stopping.signal.aborted) return;
      try {
        if (action.kind === 'remove')
          await removeNode(this.#rt, ctx, pool, nodes.get(action.nodeId)!, po, action.cause);
        else if (action.kind === 'rejoin')
          await rejoinNode(this.#rt, ctx, pool, nodes.get(action.nodeId)!, po, action.attempt);
      } catch (e) {
        removalFailed = true;
        this.#log.error(
          { pool: pool.name, node: 'nodeId' in action ? action.nodeId : undefined, err: e },
          'action failed',
        );
      } finally {
        // The rest of the tick (registration) sees the node as the action left it: a node
        // this tick removed is gone, never wired back to the validator.
        const after = await this.#rt.store.getNode(action.nodeId);
        if (after) nodes.set(action.nodeId, after);
      }
    }
    for (const action of plan.actions) {
      if (action.kind !== 'create') continue;
      if (removalFailed) {
        this.#log.warn(
          { pool: pool.name },
          'not creating: a removal failed this tick, so the slot count is uncertain',
        );
        return;
      }
      for (let i = 0; i < action.count; i++) {
        if (this.#stopping.signal.aborted) return;
        try {
          await createNode(this.#rt, ctx, pool, po, action.cause, { warm: action.cause === 'warm-refill' });
        } catch (e) {
          this.#log.error({ pool: pool.name, err: e }, 'create failed');
          break;
        }
      }
    }
  }

  /**
   * Takes a registered node's old address out of its upstreams' lists and, when the node is
   * ready, registers its new one, in one action. 'failed' when either failed: the record
   * keeps its old address (still registered), so the next tick tries again.
   */
  async #rewireMoved(
    pool: PoolConfig,
    po: PoolObservation,
    node: StoredNode,
    instance: Instance,
    ctx: ActContext,
  ): Promise<'registered' | 'unregistered' | 'failed'> {
    const ready = node.state === 'ready';
    const kind = this.#rt.nodeKind(pool.name);
    const old = { id: node.id, host: node.host!, ports: node.ports! };
    const where = (a: { host: string; ports: Readonly<Record<string, number>> }) =>
      `${a.host} (${Object.entries(a.ports)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')})`;
    return await runAction(
      this.#rt,
      ctx,
      {
        pool: pool.name,
        // A registration's first half: the old address out (the second is the usual register).
        kind: 'register',
        nodeId: node.id,
        cause: `address changed from ${where(old)} to ${where(instance)}`,
      },
      async () => {
        for (const upstream of po.upstream) await kind.deregister(old, upstream);
        const now = { id: node.id, host: instance.host, ports: instance.ports };
        if (ready) for (const upstream of po.upstream) await kind.register(now, upstream);
        const upstreams = po.upstream.map((u) => u.id).join(', ') || 'no upstream';
        return ready
          ? `registered with ${upstreams} at the new address`
          : `old address out of ${upstreams}; registered again once ready`;
      },
    ).then(
      () => (ready ? 'registered' : 'unregistered'),
      (e: unknown) => {
        this.#log.warn(
          { pool: pool.name, node: node.id, err: e },
          'rewiring a moved node failed; retrying next tick',
        );
        return 'failed' as const;
      },
    );
  }

  /**
   * A registered, ready node the validator is not connected to (it restarted, the link
   * dropped) is dialed again at once rather than left to CometBFT's reconnect backoff.
   */
  async #redialIfDisconnected(pool: PoolConfig, po: PoolObservation, node: StoredNode, ctx: ActContext) {
    const connected = po.connectedToUpstream;
    if (!connected || connected.has(node.id)) {
      this.#redialed.delete(node.id);
      return;
    }
    const address = addressOf(node, po.instances.get(node.id));
    if (!address) return;
    const kind = this.#rt.nodeKind(pool.name);
    try {
      for (const upstream of po.upstream) await kind.register(address, upstream);
      if (!this.#redialed.has(node.id)) {
        this.#redialed.add(node.id);
        ctx.log.info(
          { pool: pool.name, node: node.id },
          'registered but not connected to the validator: dialed again',
        );
      }
    } catch (e) {
      ctx.log.warn({ pool: pool.name, node: node.id, err: e }, 'redial failed; retrying next tick');
    }
  }

  /**
   * For kinds whose nodes form a cluster among themselves (etcd members): promotes a
   * caught-up learner (recorded as its registration) and removes member entries no running
   * node accounts for, each as an action. Runs before this tick's actions, on the nodes the
   * tick observed, so a member added by this tick is never taken for a stale one.
   */
  async #tendMembership(
    pool: PoolConfig,
    po: PoolObservation,
    nodes: Map<string, StoredNode>,
    ctx: ActContext,
  ): Promise<void> {
    const membership = this.#rt.nodeKind(pool.name).membership;
    if (!membership || this.#stopping.signal.aborted) return;
    const running = [...nodes.values()]
      .map((n) => (po.instances.has(n.id) ? addressOf(n, po.instances.get(n.id)) : undefined))
      .filter((a) => a !== undefined);
    let steps: Awaited<ReturnType<typeof membership.pending>>;
    try {
      steps = await membership.pending(running, this.#stopping.signal);
    } catch (e) {
      this.#log.warn(
        { pool: pool.name, err: e },
        'could not read the cluster membership; retrying next tick',
      );
      return;
    }
    for (const step of steps) {
      if (this.#stopping.signal.aborted) return;
      await runAction(
        this.#rt,
        ctx,
        {
          pool: pool.name,
          kind: step.kind === 'promote' ? 'register' : 'cleanup',
          nodeId: step.nodeId,
          cause: step.why,
        },
        async () => {
          const done = await membership.apply(step, running);
          const node = step.nodeId === undefined ? undefined : nodes.get(step.nodeId);
          if (step.kind === 'promote' && node) {
            const updated = { ...node, registered: true, updatedAt: Date.now() };
            nodes.set(node.id, updated);
            await this.#rt.store.putNode(updated, ctx.term);
          }
          return done;
        },
      ).catch((e) =>
        this.#log.warn(
          { pool: pool.name, step: step.kind, err: e },
          'membership step failed; retrying next tick',
        ),
      );
    }
  }

  /** Wires ready, unregistered nodes to their upstream (a sentry to its validator). */
  async #registerReady(
    pool: PoolConfig,
    po: PoolObservation,
    nodes: Map<string, StoredNode>,
    ctx: ActContext,
  ) {
    if (!pool.node.validatorPool || po.upstream.length === 0) return;
    try {
      for (const node of nodes.values()) {
        // A warm spare is never wired: its upstream learns of it only once a scale-up takes it.
        if (node.state !== 'ready' || node.warm || this.#stopping.signal.aborted) continue;
        if (node.registered) {
          if (!this.#wiredThisTick.has(node.id)) await this.#redialIfDisconnected(pool, po, node, ctx);
          continue;
        }
        await this.#register(pool, po, node, nodes, ctx);
      }
    } finally {
      for (const id of nodes.keys()) this.#wiredThisTick.delete(id);
    }
  }

  /**
   * Wires one ready, unregistered, serving node to its upstream, as an action; a failure is
   * retried next tick. True when it stored the node (registered, or as it was on a failure).
   */
  async #register(
    pool: PoolConfig,
    po: PoolObservation,
    node: StoredNode,
    nodes: Map<string, StoredNode>,
    ctx: ActContext,
  ): Promise<boolean> {
    if (!pool.node.validatorPool || po.upstream.length === 0 || node.warm || node.registered) return false;
    const kind = this.#rt.nodeKind(pool.name);
    const address = addressOf(node, po.instances.get(node.id));
    if (!address) return false;
    let stored = false;
    await runAction(
      this.#rt,
      ctx,
      { pool: pool.name, kind: 'register', nodeId: node.id, cause: 'node is ready' },
      async () => {
        // Recorded as registered before the validator is asked, so that whatever the
        // validator accepts is always a registered node (and is unwired on removal).
        const updated = { ...node, registered: true, updatedAt: Date.now() };
        nodes.set(node.id, updated);
        await this.#rt.store.putNode(updated, ctx.term);
        stored = true;
        try {
          for (const upstream of po.upstream) await kind.register(address, upstream);
          this.#wiredThisTick.add(node.id);
        } catch (e) {
          for (const upstream of po.upstream) await kind.deregister(address, upstream).catch(() => undefined);
          nodes.set(node.id, node);
          await this.#rt.store.putNode({ ...node, updatedAt: Date.now() }, ctx.term);
          throw e;
        }
        return `registered with ${po.upstream.map((u) => u.id).join(', ')}`;
      },
    ).catch((e) =>
      this.#log.warn({ pool: pool.name, node: node.id, err: e }, 'registration failed; retrying next tick'),
    );
    return stored;
  }
}

function describeAction(a: PlannedAction): string {
  switch (a.kind) {
    case 'create':
      return `create ${a.count} (${a.cause})`;
    case 'remove':
      return `remove ${a.nodeId} (${a.cause})`;
    case 'rejoin':
      return `rejoin ${a.nodeId} (attempt ${a.attempt + 1})`;
    case 'take-warm':
      return `take warm ${a.nodeId} (${a.cause})`;
  }
}

/**
 * The pool's state with a measured join's figure: from its first attempt by the way it joined to
 * `at` (ready, or timed out: a lower bound, marked). A node whose join is not measured changes nothing.
 */
function withJoinFigure(state: PoolState, n: StoredNode, at: number, timedOut: boolean): PoolState {
  if (!n.joinedBy) return state;
  const figure = { ms: at - (n.joinedBySince ?? n.createdAt), at, node: n.id };
  return {
    ...state,
    joins: recordJoin(state.joins, n.joinedBy, timedOut ? { ...figure, timedOut: true } : figure),
  };
}

function samePoolState(a: PoolState, b: PoolState): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The way the pool's next join would take once every way it allows is there (a state-sync
 * source, a file snapshot): its mode, and with `auto` the figures, decide. Undefined for a pool
 * with no choice of ways. The dashboard shows it beside the figures.
 */
function nextJoinOf(rt: Runtime, pool: PoolConfig, state: PoolState): NextJoin | undefined {
  const kind = rt.nodeKind(pool.name);
  const mode = kind.capabilities.stateSync;
  if (mode === 'never' && pool.bootstrap === undefined) return undefined;
  const possible = {
    stateSync: mode !== 'never' && kind.planStateSync !== undefined,
    snapshot: pool.bootstrap !== undefined,
  };
  const c = planJoin(mode, state.joins, possible);
  const ways: MeasuredWay[] = [
    ...(possible.snapshot ? (['snapshot'] as const) : []),
    ...(possible.stateSync ? (['state-sync'] as const) : []),
    'network',
  ];
  return { way: c.way ?? 'network', why: c.why, ways };
}

/** The next join's way and why, and the ways the pool allows (the network always). */
interface NextJoin {
  readonly way: MeasuredWay;
  readonly why: string;
  readonly ways: readonly MeasuredWay[];
}

function poolStatusBody(
  pool: PoolConfig,
  plan: PoolPlan,
  nodes: readonly StoredNode[],
  po: PoolObservation,
  joins: PoolState['joins'],
  nextJoin: NextJoin | undefined,
): Record<string, unknown> {
  return {
    role: pool.role,
    // The last measured join by each way (stateSync: auto picks by them), and the next one's way.
    ...(joins ? { joins } : {}),
    ...(nextJoin ? { nextJoin } : {}),
    size: pool.size ?? null,
    decision: plan.decision,
    ready: plan.ready,
    live: plan.live,
    desired: plan.desired,
    reasons: plan.reasons,
    warm: plan.warm ?? null,
    nodes: nodes
      .filter((n) => n.state !== 'gone' && n.state !== 'failed')
      .map((n) => {
        const p = po.probes.get(n.id);
        return {
          id: n.id,
          state: n.state,
          height: p?.height ?? null,
          peers: p?.peers ?? null,
          catchingUp: p?.catchingUp ?? null,
          failMarker: n.failMarker,
          registered: n.registered,
          warm: n.warm === true,
          connected: po.connectedToUpstream?.has(n.id) ?? null,
          detail: p?.detail ?? n.stateReason ?? null,
        };
      }),
  };
}
