// Every route of the HTTP API as data: method, path, the schemas its input is validated with,
// what it answers, and its handler. The server dispatches on this table and the OpenAPI
// document is generated from it, so the two cannot drift apart.

import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { z } from 'zod';
import type { Config, PoolConfig } from '../config/schema.ts';
import { type PoolRequestKind, poolRequestRefusal } from '../controller/pool-requests.ts';
import type { JoinTimes, MeasuredWay } from '../core/join-choice.ts';
import { readFailover } from '../failover/failover-state.ts';
import { type PromoteReview, reviewPromotion } from '../failover/promote.ts';
import type { Provider } from '../providers/provider.ts';
import type { SnapshotStore } from '../snapshots/snapshot-store.ts';
import type { PoolStatus, RequestRecord, Store, StoredNode } from '../store/store.ts';
import type { ControllerTelemetry } from './controller-telemetry.ts';
import { describeRules, seriesMetrics, seriesRange, trafficMetrics } from './pool-series.ts';
import * as s from './schemas.ts';

export interface ApiContext {
  readonly config: Config;
  /** The API's own handle on the store (reads, and requests for the controller). */
  readonly store: Store;
  readonly snapshotStores: ReadonlyMap<string, SnapshotStore>;
  /** The controller in this process, if any: its leadership, for /controller and /metrics. */
  readonly controller?:
    | {
        readonly leadership: {
          readonly leading: boolean;
          readonly term: number | undefined;
          readonly holder: string;
        };
      }
    | undefined;
  readonly telemetry?: ControllerTelemetry | undefined;
  /** Providers, for the promote dry-run. */
  readonly providers: ReadonlyMap<string, Provider>;
  /** How long a write waits for the controller to take it before answering 202. */
  readonly writeWaitMs: number;
}

export interface Answer {
  readonly status: number;
  readonly body: unknown;
  /** Default application/json. */
  readonly contentType?: string | undefined;
  readonly headers?: Readonly<Record<string, string>> | undefined;
}

export interface RouteInput<P, Q, B> {
  readonly params: P;
  readonly query: Q;
  readonly body: B;
  /** Who is asking, as recorded with every write: `dashboard at 127.0.0.1`. */
  readonly caller: string;
}

export interface ResponseSpec {
  readonly description: string;
  readonly schema?: z.ZodType | undefined;
  readonly contentType?: string | undefined;
}

export interface Route {
  readonly method: 'GET' | 'POST';
  /** OpenAPI form: /api/v1/pools/{pool} */
  readonly path: string;
  readonly operationId: string;
  readonly summary: string;
  readonly description?: string | undefined;
  readonly tag: string;
  /** Needs the bearer token when one is configured. */
  readonly auth: boolean;
  /** A write: recorded with its caller (X-Rampart-Caller names it). */
  readonly write: boolean;
  readonly params?: z.ZodObject | undefined;
  readonly query?: z.ZodObject | undefined;
  readonly body?: z.ZodType | undefined;
  readonly responses: Readonly<Record<number, ResponseSpec>>;
  handle(input: RouteInput<unknown, unknown, unknown>, ctx: ApiContext): Promise<Answer>;
}

type Out<T> = T extends z.ZodType ? z.output<T> : undefined;

function route<
  P extends z.ZodObject | undefined = undefined,
  Q extends z.ZodObject | undefined = undefined,
  B extends z.ZodType | undefined = undefined,
>(r: {
  method: 'GET' | 'POST';
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  auth?: boolean;
  params?: P;
  query?: Q;
  body?: B;
  responses: Record<number, ResponseSpec>;
  handle(input: RouteInput<Out<P>, Out<Q>, Out<B>>, ctx: ApiContext): Promise<Answer>;
}): Route {
  return {
    ...r,
    auth: r.auth ?? true,
    write: r.method !== 'GET',
    handle: r.handle as Route['handle'],
  };
}

const ok = (body: unknown): Answer => ({ status: 200, body });
const fail = (status: number, error: string): Answer => ({ status, body: { error } });

const errors = {
  400: {
    description: 'Bad request: malformed JSON, a field out of bounds, an unknown field',
    schema: s.ErrorBody,
  },
  401: { description: 'No bearer token, or not the right one', schema: s.ErrorBody },
};
const notFound = { description: 'No such pool, set or request', schema: s.ErrorBody };
const writeAnswers = {
  200: { description: 'The controller took the request and did it', schema: s.WriteAnswer },
  202: {
    description: 'Recorded; the controller has not taken it yet (follow it at Location)',
    schema: s.WriteAnswer,
  },
  409: { description: 'The controller took the request and refused or failed it', schema: s.WriteRefused },
  ...errors,
  403: { description: "Sent by a page of another origin than the API's", schema: s.ErrorBody },
  404: notFound,
  415: {
    description: 'Not sent as application/json (every write is, even without a body)',
    schema: s.ErrorBody,
  },
};

// ---------------------------------------------------------------- views

interface StatusNode {
  id: string;
  state: string;
  height: number | null;
  peers: number | null;
  catchingUp: boolean | null;
  failMarker: number;
  registered: boolean;
  connected: boolean | null;
  detail: string | null;
}

interface StatusBodyFull {
  nextJoin?: { way: MeasuredWay; why: string; ways?: MeasuredWay[] };
  decision: string;
  ready: number;
  live: number;
  desired: number;
  reasons: z.output<typeof s.Reason>[];
  nodes: StatusNode[];
}

function bodyOf(status: PoolStatus | undefined): StatusBodyFull | undefined {
  return status?.body as unknown as StatusBodyFull | undefined;
}

async function statusesByPool(store: Store): Promise<Map<string, PoolStatus>> {
  return new Map((await store.listPoolStatus()).map((st) => [st.pool, st]));
}

async function poolView(
  pool: PoolConfig,
  store: Store,
  status: PoolStatus | undefined,
): Promise<z.input<typeof s.Pool>> {
  const state = await store.getPool(pool.name);
  const body = bodyOf(status);
  const nodes = body?.nodes ?? [];
  return {
    name: pool.name,
    role: pool.role,
    provider: pool.provider,
    nodeKind: pool.node.kind,
    upstream: pool.node.validatorPool ?? null,
    size: pool.size ?? null,
    paused: state?.paused ?? false,
    pausedBy: state?.pausedBy ?? null,
    manualSize: state?.manualSize ?? null,
    scaleUpCooldownMs: pool.scaleUp.cooldown,
    scaleDownPeriodMs: pool.scaleDown.period,
    failTolerance: pool.health.failTolerance,
    rules: describeRules(pool),
    status:
      status && body
        ? {
            at: status.at,
            decision: body.decision,
            ready: body.ready,
            live: body.live,
            desired: body.desired,
            reasons: body.reasons,
          }
        : null,
    health: {
      nodes: nodes.length,
      failing: nodes.filter((n) => n.failMarker > 0).length,
      worstFailMarker: nodes.reduce((a, n) => Math.max(a, n.failMarker), 0),
    },
    joins: joinsView(state?.joins, body?.nextJoin),
  };
}

/** The pool's last join by each way it measured, and the way the controller says comes next. */
function joinsView(
  joins: JoinTimes | undefined,
  next: StatusBodyFull['nextJoin'],
): z.input<typeof s.Pool>['joins'] {
  if (!joins && !next) return null;
  const ways = [
    ['snapshot', joins?.snapshot],
    ['state-sync', joins?.stateSync],
    ['network', joins?.network],
  ] as const;
  return {
    last: ways.flatMap(([way, f]) =>
      f ? [{ way, ms: Math.round(f.ms), at: f.at, node: f.node, timedOut: f.timedOut === true }] : [],
    ),
    next: next ? { way: next.way, why: next.why } : null,
    ways: next?.ways ?? ways.filter(([, f]) => f).map(([w]) => w),
  };
}

async function nodeViews(ctx: ApiContext, only?: string): Promise<z.input<typeof s.Node>[]> {
  const statuses = await statusesByPool(ctx.store);
  const tip = (pool: string | undefined) => {
    if (pool === undefined) return undefined;
    const heights = (bodyOf(statuses.get(pool))?.nodes ?? [])
      .map((n) => n.height)
      .filter((h): h is number => typeof h === 'number');
    return heights.length ? Math.max(...heights) : undefined;
  };
  const out: z.input<typeof s.Node>[] = [];
  for (const pool of ctx.config.pools) {
    if (only !== undefined && pool.name !== only) continue;
    const probed = new Map((bodyOf(statuses.get(pool.name))?.nodes ?? []).map((n) => [n.id, n]));
    const upstreamTip = tip(pool.node.validatorPool);
    const nodes: StoredNode[] = await ctx.store.listNodes({ pool: pool.name });
    for (const n of nodes) {
      const p = probed.get(n.id);
      const height = p?.height ?? null;
      out.push({
        id: n.id,
        pool: n.pool,
        state: n.state,
        // A warm spare is synced but not capacity until a scale-up takes it.
        ready: n.state === 'ready' && !n.warm,
        warm: n.warm === true,
        height,
        lag: height !== null && upstreamTip !== undefined ? Math.max(0, upstreamTip - height) : null,
        peers: p?.peers ?? null,
        catchingUp: p?.catchingUp ?? null,
        failMarker: n.failMarker,
        // A validator is never health-replaced: no tolerance to count its fail marker against.
        failTolerance: pool.role === 'validator' ? null : pool.health.failTolerance,
        registered: n.registered,
        connected: p?.connected ?? null,
        maintenance: n.maintenance ?? null,
        detail: n.state === 'ready' ? null : (p?.detail ?? n.stateReason ?? null),
        createdAt: n.createdAt,
        readyAt: n.readyAt ?? null,
      });
    }
  }
  return out;
}

function findPool(ctx: ApiContext, name: string): PoolConfig | undefined {
  return ctx.config.pools.find((p) => p.name === name);
}

function noPool(ctx: ApiContext, name: string): Answer {
  return fail(404, `no pool "${name}" (pools: ${ctx.config.pools.map((p) => p.name).join(', ')})`);
}

/** Decisions a series answer looks through for the scale events of its range, at most. */
const DECISIONS_LOOKED_THROUGH = 10_000;

const snapshotCache = new WeakMap<ApiContext, { at: number; answer: unknown }>();
/** The promote dry-run reads the chain (commits, a standby's status): at most every 10 s. */
const dryRunCache = new WeakMap<ApiContext, Map<string, { at: number; review: PromoteReview }>>();
const DRY_RUN_TTL_MS = 10_000;

async function promoteDryRun(ctx: ApiContext, pool: PoolConfig, to: string): Promise<PromoteReview> {
  const cache = dryRunCache.get(ctx) ?? new Map();
  dryRunCache.set(ctx, cache);
  const key = `${pool.name}/${to}`;
  const hit = cache.get(key);
  if (hit && Date.now() - hit.at < DRY_RUN_TTL_MS) return hit.review;
  const review = await reviewPromotion(
    { config: ctx.config, store: ctx.store, providers: ctx.providers },
    { pool: pool.name, to, oldPoweredOff: false, caller: 'dashboard dry run' },
  );
  cache.set(key, { at: Date.now(), review });
  return review;
}

/** A validator pool's failover, as the dashboard shows it; null when the pool has none. */
async function failoverView(ctx: ApiContext, pool: PoolConfig) {
  if (!pool.failover) return null;
  const f = await readFailover(ctx.store, pool.name);
  const standbyPool = pool.failover.standbyPool ?? null;
  const standbys = standbyPool ? await ctx.store.listNodes({ pool: standbyPool }) : [];
  const target = f.signer ? undefined : (standbys.find((n) => n.state === 'ready') ?? standbys[0]);
  const review = target ? await promoteDryRun(ctx, pool, target.id) : null;
  return {
    status: f.detect.status,
    since: f.detect.since,
    address: f.address ?? null,
    lastSignedSeen: f.lastSignedSeen ?? null,
    lastPoll: f.lastPoll
      ? {
          at: f.lastPoll.at,
          reachable: f.lastPoll.reachable,
          height: f.lastPoll.height ?? null,
          networkHeight: f.lastPoll.networkHeight ?? null,
        }
      : null,
    standbyPool,
    blocks: ctx.telemetry?.series.blocks(pool.name) ?? [],
    signer: f.signer ? { pool: f.signer.pool, node: f.signer.node, since: f.signer.since } : null,
    fenced: [...f.fenced],
    transitions: f.transitions.map((t) => ({ at: t.at, from: t.from, to: t.to, summary: t.summary })),
    // The key is the operator's, checked by the command itself; every other guard counts here.
    dryRun:
      review && target
        ? {
            to: target.id,
            ok: review.checks.every((c) => c.ok || c.name === 'key'),
            checks: review.checks.map((c) => ({ ...c })),
          }
        : null,
  };
}

// ---------------------------------------------------------------- writes

/** Records a request for the acting controller, then waits a little for its outcome. */
async function ask(
  ctx: ApiContext,
  kind: string,
  body: Record<string, unknown>,
  caller: string,
): Promise<Answer> {
  const id = `r-${randomBytes(6).toString('hex')}`;
  await ctx.store.addRequest({ id, at: Date.now(), kind, body, caller });
  const deadline = Date.now() + ctx.writeWaitMs;
  let r: RequestRecord | undefined;
  for (;;) {
    r = await ctx.store.getRequest(id);
    if (r?.outcome === 'done') return ok({ request: r, message: r.detail ?? 'done' });
    if (r?.outcome === 'failed') return { status: 409, body: { error: r.detail ?? 'failed', request: r } };
    if (Date.now() >= deadline) break;
    await sleep(100);
  }
  const location = `/api/v1/requests/${id}`;
  return {
    status: 202,
    body: {
      request: r,
      message: `recorded; the controller has not taken it yet (none leads, or it is busy): follow it at ${location}`,
    },
    headers: { location },
  };
}

async function askAboutPool(
  ctx: ApiContext,
  kind: PoolRequestKind,
  body: Record<string, unknown>,
  caller: string,
): Promise<Answer> {
  const refusal = poolRequestRefusal(ctx.config, kind, body);
  if (refusal) return fail(refusal.status, refusal.message);
  return ask(ctx, kind, body, caller);
}

// ---------------------------------------------------------------- the table

export const ROUTES: readonly Route[] = [
  route({
    method: 'GET',
    path: '/api/v1/controller',
    operationId: 'getController',
    summary: 'The controller serving this API: leading or standing by, its term, store and coordination',
    tag: 'fleet',
    responses: { 200: { description: 'The controller', schema: s.ControllerInfo }, 401: errors[401] },
    handle: async (_, ctx) => {
      const l = ctx.controller?.leadership;
      return ok({
        leading: l?.leading ?? false,
        term: l?.term ?? null,
        holder: l?.holder ?? 'none (this process runs no controller)',
        store: ctx.config.controller.store.kind,
        coordination: ctx.config.controller.coordination.kind,
        evaluationIntervalMs: ctx.config.controller.evaluationInterval,
        now: Date.now(),
      });
    },
  }),
  route({
    method: 'GET',
    path: '/api/v1/pools',
    operationId: 'listPools',
    summary: 'Every pool: size against min, capacity and max, its last decision with reasons, health',
    tag: 'fleet',
    responses: { 200: { description: 'Pools, in config order', schema: s.PoolsAnswer }, 401: errors[401] },
    handle: async (_, ctx) => {
      const statuses = await statusesByPool(ctx.store);
      const pools = [];
      for (const pool of ctx.config.pools)
        pools.push(await poolView(pool, ctx.store, statuses.get(pool.name)));
      return ok({ pools });
    },
  }),
  route({
    method: 'GET',
    path: '/api/v1/pools/{pool}',
    operationId: 'getPool',
    summary: 'One pool',
    tag: 'fleet',
    params: s.PoolParams,
    responses: { 200: { description: 'The pool', schema: s.Pool }, 401: errors[401], 404: notFound },
    handle: async ({ params }, ctx) => {
      const pool = findPool(ctx, params.pool);
      if (!pool) return noPool(ctx, params.pool);
      return ok(await poolView(pool, ctx.store, (await statusesByPool(ctx.store)).get(pool.name)));
    },
  }),
  route({
    method: 'GET',
    path: '/api/v1/pools/{pool}/series',
    operationId: 'getPoolSeries',
    summary:
      "A pool's series over any range the store holds: size, every metric its rules read with the thresholds, a validator's heights, peers and signatures",
    description:
      "The last hour comes from the controller process's memory, one point per tick (with each ready node's own line when asked); older points from the store, sampled every 15 s and pruned with the history. A range of more than 1500 points is thinned to one per equal slice. Events are the decisions in the range that created or removed nodes, from the store.",
    tag: 'fleet',
    params: s.PoolParams,
    query: s.SeriesQuery,
    responses: {
      200: { description: 'Series', schema: s.SeriesAnswer },
      400: errors[400],
      401: errors[401],
      404: notFound,
    },
    handle: async ({ params, query }, ctx) => {
      const pool = findPool(ctx, params.pool);
      if (!pool) return noPool(ctx, params.pool);
      const to = query.to ?? Date.now();
      const from = query.from ?? query.since ?? to - 3_600_000;
      if (from > to) return fail(400, `query: from (${from}) is after to (${to})`);
      const memory = ctx.telemetry?.series;
      const range = await seriesRange(
        ctx.store,
        memory,
        pool.name,
        from,
        to,
        query.nodes === '1',
        query.points,
      );
      // Decisions are recorded when something is decided, not every tick: the newest 10,000
      // of a range hold its scale events even over days of a busy pool.
      const decisions = await ctx.store.listDecisions({
        pool: pool.name,
        since: from,
        until: to,
        limit: DECISIONS_LOOKED_THROUGH,
      });
      return ok({
        pool: pool.name,
        size: pool.size ?? null,
        metrics: memory?.metrics(pool.name) ?? seriesMetrics(pool),
        traffic: trafficMetrics(pool),
        points: range.points,
        nodeLines: range.nodeLines,
        nodesTotal: range.nodesTotal,
        from,
        to,
        stepMs: range.stepMs,
        source: range.from,
        events: decisions.filter((d) => d.actions.length > 0),
      });
    },
  }),
  route({
    method: 'GET',
    path: '/api/v1/nodes',
    operationId: 'listNodes',
    summary: 'Nodes with lifecycle state, readiness, height, lag, peers and fail marker',
    tag: 'fleet',
    query: s.NodesQuery,
    responses: {
      200: { description: 'Live nodes (failed and gone ones are in the history)', schema: s.NodesAnswer },
      400: errors[400],
      401: errors[401],
      404: notFound,
    },
    handle: async ({ query }, ctx) => {
      if (query.pool !== undefined && !findPool(ctx, query.pool)) return noPool(ctx, query.pool);
      return ok({ nodes: await nodeViews(ctx, query.pool) });
    },
  }),
  route({
    method: 'GET',
    path: '/api/v1/decisions',
    operationId: 'listDecisions',
    summary: 'Decisions with their reasons in plain words, oldest first',
    tag: 'history',
    query: s.HistoryQuery,
    responses: {
      200: { description: 'Decisions', schema: s.DecisionsAnswer },
      400: errors[400],
      401: errors[401],
    },
    handle: async ({ query }, ctx) => ok({ decisions: await ctx.store.listDecisions(query) }),
  }),
  route({
    method: 'GET',
    path: '/api/v1/actions',
    operationId: 'listActions',
    summary: 'Actions with their caller and outcome, oldest first',
    tag: 'history',
    query: s.HistoryQuery,
    responses: {
      200: { description: 'Actions', schema: s.ActionsAnswer },
      400: errors[400],
      401: errors[401],
    },
    handle: async ({ query }, ctx) => ok({ actions: await ctx.store.listActions(query) }),
  }),
  route({
    method: 'GET',
    path: '/api/v1/events',
    operationId: 'listEvents',
    summary: 'Events and alerts (a node gone, a join given up), oldest first',
    tag: 'history',
    query: s.HistoryQuery,
    responses: { 200: { description: 'Events', schema: s.EventsAnswer }, 400: errors[400], 401: errors[401] },
    handle: async ({ query }, ctx) => ok({ events: await ctx.store.listEvents(query) }),
  }),
  route({
    method: 'GET',
    path: '/api/v1/snapshots',
    operationId: 'listSnapshots',
    summary:
      'Snapshot sets and their complete (and incomplete) snapshots, and the machine images baked from pools, newest first',
    tag: 'snapshots',
    responses: { 200: { description: 'Snapshot sets', schema: s.SnapshotsAnswer }, 401: errors[401] },
    handle: async (_, ctx) => {
      const cached = snapshotCache.get(ctx);
      if (cached && Date.now() - cached.at < 3000) return ok(cached.answer);
      const sets = [];
      for (const set of ctx.config.snapshots) {
        const store = ctx.snapshotStores.get(set.name)!;
        let snapshots: z.input<typeof s.SnapshotsAnswer>['sets'][number]['snapshots'] = [];
        let incomplete: string[] = [];
        let error: string | null = null;
        try {
          snapshots = (await store.list(set.name)).map((m) => ({
            id: m.id,
            createdAt: m.createdAt,
            height: m.height,
            chainId: m.chainId,
            sourceNode: m.sourceNode,
            totalBytes: m.totalBytes,
            files: m.files.length,
          }));
          incomplete = await store.listIncomplete(set.name);
        } catch (e) {
          error = (e as Error).message;
        }
        sets.push({
          name: set.name,
          from: set.from,
          everyMs: set.every ?? null,
          keep: set.keep,
          location: store.location,
          snapshots,
          incomplete,
          error,
        });
      }
      const images = [];
      for (const pool of ctx.config.pools) {
        const provider = ctx.providers.get(pool.provider);
        const baking = provider?.images;
        if (!provider || !baking) continue;
        let listed: z.input<typeof s.SnapshotsAnswer>['images'][number]['images'] = [];
        let error: string | null = null;
        try {
          listed = (await baking.list()).map((i) => ({
            name: i.name,
            id: i.id ?? null,
            createdAt: i.createdAt,
          }));
        } catch (e) {
          error = (e as Error).message;
        }
        images.push({
          pool: pool.name,
          provider: provider.name,
          providerKind: provider.kind,
          everyMs: baking.everyMs ?? null,
          keep: baking.keep,
          images: listed,
          error,
        });
      }
      const answer = { sets, images };
      snapshotCache.set(ctx, { at: Date.now(), answer });
      return ok(answer);
    },
  }),
  route({
    method: 'GET',
    path: '/api/v1/validators',
    operationId: 'getValidators',
    summary: 'Validator pools (node, height, peers, connected sentries, failover) and standby pools',
    description:
      "Each guarded validator's failover: detection status with its last poll, the standby, who signs after a promotion, fenced nodes, recent transitions, and the promote dry-run (every double-sign guard as it stands now, read at most every 10 s; the key is not checked here).",
    tag: 'validators',
    responses: {
      200: { description: 'Validators and standbys', schema: s.ValidatorsAnswer },
      401: errors[401],
    },
    handle: async (_, ctx) => {
      const nodes = await nodeViews(ctx);
      const statuses = await statusesByPool(ctx.store);
      const validators = ctx.config.pools
        .filter((p) => p.role === 'validator')
        .map(async (v) => ({
          pool: v.name,
          failover: await failoverView(ctx, v),
          nodes: nodes.filter((n) => n.pool === v.name),
          sentryPools: ctx.config.pools
            .filter((p) => p.node.validatorPool === v.name)
            .map((p) => {
              const mine = nodes.filter((n) => n.pool === p.name);
              const probed = bodyOf(statuses.get(p.name))?.nodes ?? [];
              return {
                pool: p.name,
                min: p.size?.min ?? 0,
                ready: mine.filter((n) => n.ready).length,
                registered: mine.filter((n) => n.registered).length,
                connected: probed.some((n) => n.connected !== null)
                  ? probed.filter((n) => n.connected === true).length
                  : null,
              };
            }),
        }));
      const standbyPools = [];
      for (const p of ctx.config.pools.filter((x) => x.role === 'standby'))
        standbyPools.push(await poolView(p, ctx.store, statuses.get(p.name)));
      return ok({ validators: await Promise.all(validators), standbyPools });
    },
  }),
  route({
    method: 'GET',
    path: '/api/v1/requests/{id}',
    operationId: 'getRequest',
    summary: 'A write request and how it ended (absent outcome: not taken yet)',
    tag: 'writes',
    params: s.RequestParams,
    responses: {
      200: { description: 'The request', schema: s.RequestRecord },
      401: errors[401],
      404: notFound,
    },
    handle: async ({ params }, ctx) => {
      const r = await ctx.store.getRequest(params.id);
      return r ? ok(r) : fail(404, `no request "${params.id}"`);
    },
  }),
  route({
    method: 'POST',
    path: '/api/v1/pools/{pool}/pause',
    operationId: 'pausePool',
    summary: 'Pause a pool: the controller keeps observing it and acts on nothing until resumed',
    tag: 'writes',
    params: s.PoolParams,
    body: s.EmptyBody.optional(),
    responses: writeAnswers,
    handle: ({ params, caller }, ctx) => askAboutPool(ctx, 'pool-pause', { pool: params.pool }, caller),
  }),
  route({
    method: 'POST',
    path: '/api/v1/pools/{pool}/resume',
    operationId: 'resumePool',
    summary: 'Resume a paused pool',
    tag: 'writes',
    params: s.PoolParams,
    body: s.EmptyBody.optional(),
    responses: writeAnswers,
    handle: ({ params, caller }, ctx) => askAboutPool(ctx, 'pool-resume', { pool: params.pool }, caller),
  }),
  route({
    method: 'POST',
    path: '/api/v1/pools/{pool}/size',
    operationId: 'setPoolSize',
    summary: "Set a pool's size by hand, within its min and max (null: back to automatic sizing)",
    description:
      'While set, scale rules do not apply; health replacement still runs, and a scale-down still removes one node at a time through the scale-down lock.',
    tag: 'writes',
    params: s.PoolParams,
    body: s.PoolSizeBody,
    responses: writeAnswers,
    handle: ({ params, body, caller }, ctx) =>
      askAboutPool(ctx, 'pool-size', { pool: params.pool, size: body.size }, caller),
  }),
  route({
    method: 'POST',
    path: '/api/v1/snapshots',
    operationId: 'createSnapshot',
    summary:
      'Take a snapshot of a set now (from a node the validator does not need, or skipped with the reason)',
    tag: 'writes',
    body: s.SnapshotBody,
    responses: writeAnswers,
    handle: async ({ body, caller }, ctx) => {
      const set = ctx.config.snapshots.find((x) => x.name === body.set);
      if (!set)
        return fail(
          404,
          `no snapshot set "${body.set}" (sets: ${ctx.config.snapshots.map((x) => x.name).join(', ') || 'none defined'})`,
        );
      return ask(ctx, 'snapshot-create', { set: set.name }, caller);
    },
  }),
  route({
    method: 'GET',
    path: '/metrics',
    operationId: 'getMetrics',
    summary: "Rampart's own metrics in Prometheus's text format",
    tag: 'operations',
    responses: {
      200: { description: 'Prometheus text format 0.0.4', contentType: 'text/plain' },
      401: errors[401],
    },
    handle: async (_, ctx) => {
      if (!ctx.telemetry) return fail(404, 'no controller runs in this process, so it has no metrics');
      return {
        status: 200,
        body: await ctx.telemetry.render(ctx.store, ctx.controller),
        contentType: ctx.telemetry.contentType,
      };
    },
  }),
  route({
    method: 'GET',
    path: '/healthz',
    operationId: 'getHealth',
    summary: 'Liveness: answers 200 while the API serves (no token needed, tells nothing of the fleet)',
    tag: 'operations',
    auth: false,
    responses: { 200: { description: 'Serving', schema: s.HealthAnswer } },
    handle: async () => ok({ ok: true }),
  }),
];
