// Rampart's own metrics and the dashboard's live series, fed by the controller it runs beside:
// every tick's report (timing, metric sources, providers), and every store call the
// controller makes (decisions, actions and their outcomes, store errors). Scrape-time figures
// (pool sizes and bounds, leadership, store reachability) are read when /metrics is asked.
// Written with prom-client, in a registry of each ControllerTelemetry's own: several
// controllers in one process (the tests) do not share counters.

import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { DeliveryOutcome } from '../alerts/alert-dispatcher.ts';
import type { Config } from '../config/schema.ts';
import { refsBySource } from '../controller/observe.ts';
import type { TickReport } from '../controller/tick-report.ts';
import type { Decision } from '../core/pool-plan.ts';
import type { Sample } from '../core/types.ts';
import type { Runtime } from '../runtime/runtime.ts';
import type { ActionKind, ActionOutcome, Store } from '../store/store.ts';
import { buildInfo } from './build-info.ts';
import {
  PERSIST_EVERY_MS,
  PoolSeries,
  type SeriesPoint,
  type StatusBody,
  storedSample,
} from './pool-series.ts';
import { processMetrics } from './process-metrics.ts';

const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const STORE_SECONDS = [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5];

/**
 * `list` as it is, checked by the compiler to name every member of `U`: a member added to the
 * union fails the type check here until its counters start at zero too.
 */
const everyOf =
  <U extends string>() =>
  <const L extends readonly U[]>(
    list: L &
      ([Exclude<U, L[number]>] extends [never] ? unknown : { readonly missing: Exclude<U, L[number]> }),
  ): readonly U[] =>
    list;

type StoreOperation = {
  [K in keyof Store]: Store[K] extends (...args: never[]) => unknown ? K : never;
}[keyof Store];

// The label values known before anything happens: their counters start at 0, so that an alert
// on `increase(...)` fires on the first failure, not on the second.
const DECISIONS = everyOf<Decision>()([
  'bootstrap',
  'scale-up',
  'scale-down',
  'replenish',
  'replace',
  'rejoin',
  'hold',
  'steady',
]);
const ACTION_KINDS = everyOf<ActionKind>()([
  'create',
  'remove',
  'rejoin',
  'register',
  'cleanup',
  'snapshot',
  'prune',
  'pause',
  'resume',
  'size',
  'promote',
]);
const ACTION_OUTCOMES = everyOf<ActionOutcome>()([
  'succeeded',
  'failed',
  'adopted',
  'abandoned',
  'finished-after-restart',
]);
const DELIVERY_OUTCOMES = everyOf<DeliveryOutcome>()(['delivered', 'retrying', 'failed', 'superseded']);
const STORE_OPERATIONS = everyOf<StoreOperation>()([
  'open',
  'close',
  'newTerm',
  'currentTerm',
  'getPool',
  'putPool',
  'listNodes',
  'getNode',
  'putNode',
  'beginAction',
  'finishAction',
  'openActions',
  'getAction',
  'listActions',
  'recordDecision',
  'listDecisions',
  'recordEvent',
  'listEvents',
  'recordSample',
  'listSamples',
  'putPoolStatus',
  'listPoolStatus',
  'getFailover',
  'putFailover',
  'listFailover',
  'pruneHistory',
  'addRequest',
  'openRequests',
  'getRequest',
  'finishRequest',
  'exportState',
  'importState',
  'clear',
  'isEmpty',
]);

/** What a scrape reads besides the counters: the leadership of the controller in this process. */
export interface LeadershipView {
  readonly leadership: { readonly leading: boolean; readonly term: number | undefined };
}

/** What a scrape read from the store; undefined when the store did not answer. */
interface StoreFigures {
  readonly at: number;
  readonly statuses: readonly { readonly pool: string; readonly at: number; readonly body: StatusBody }[];
  readonly pools: ReadonlyMap<string, { readonly paused: boolean; readonly manualSize: number | undefined }>;
  readonly openRequestTimes: readonly number[];
}

function metricsOf(registry: Registry) {
  const registers = [registry];
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    new Counter<L>({ name, help, labelNames, registers });
  const gauge = <L extends string = never>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Gauge<L>({ name, help, labelNames, registers });
  const histogram = <L extends string = never>(
    name: string,
    help: string,
    buckets: number[],
    labelNames: readonly L[] = [],
  ) => new Histogram<L>({ name, help, labelNames, buckets, registers });
  return {
    buildInfo: gauge(
      'rampart_build_info',
      'Always 1: the Rampart version, the commit it was started from (unknown outside a checkout) and the Node version.',
      ['version', 'commit', 'node_version'],
    ),
    leader: gauge(
      'rampart_leader',
      '1 while this process leads (acts), 0 while it stands by or has stopped.',
    ),
    term: gauge(
      'rampart_leadership_term',
      'Leadership term this process acts under (absent when not leading).',
    ),
    ticks: counter('rampart_ticks_total', 'Reconcile passes by result (ok, failed).', ['result']),
    tickSeconds: histogram(
      'rampart_tick_duration_seconds',
      'One reconcile pass: observe, decide, act and record for every pool.',
      SECONDS,
    ),
    lastTick: gauge(
      'rampart_last_tick_timestamp_seconds',
      'When the last successful reconcile pass ended (unix seconds).',
    ),
    decisionLatency: histogram(
      'rampart_decision_latency_seconds',
      'From the observation a decision is based on to the decision being recorded, by pool.',
      SECONDS,
      ['pool'],
    ),
    decisions: counter('rampart_decisions_total', 'Decisions recorded, by pool and decision.', [
      'pool',
      'decision',
    ]),
    scaleEvents: counter(
      'rampart_scale_events_total',
      'Decisions that changed a pool size, by pool and direction (up, down).',
      ['pool', 'direction'],
    ),
    actionsStarted: counter(
      'rampart_actions_started_total',
      'Actions whose intent was recorded, by pool and kind.',
      ['pool', 'kind'],
    ),
    actions: counter('rampart_actions_total', 'Actions with a recorded outcome, by pool, kind and outcome.', [
      'pool',
      'kind',
      'outcome',
    ]),
    lockBusy: counter(
      'rampart_scale_down_lock_busy_total',
      'Scale-downs held because another holder had the pool’s scale-down lock, by pool.',
      ['pool'],
    ),
    sourceUp: gauge(
      'rampart_metric_source_up',
      '1 when the metric source answered at the last pass, 0 when it failed or every target failed.',
      ['source'],
    ),
    sourceErrors: counter(
      'rampart_metric_source_errors_total',
      'Metric source errors (per target or whole source).',
      ['source'],
    ),
    sourceStaleness: gauge(
      'rampart_metric_source_staleness_seconds',
      'Age of the newest sample the source delivered at the last pass (NaN when none).',
      ['source'],
    ),
    sourceStaleAfter: gauge(
      'rampart_metric_source_stale_after_seconds',
      'The source’s staleAfter: older samples count as missing.',
      ['source'],
    ),
    providerUp: gauge(
      'rampart_provider_up',
      '1 when the provider’s listing worked at the last pass, else 0.',
      ['provider'],
    ),
    providerErrors: counter('rampart_provider_errors_total', 'Failed provider listings, by provider.', [
      'provider',
    ]),
    storeUp: gauge('rampart_store_up', '1 when the store answered this scrape, else 0.'),
    storeErrors: counter(
      'rampart_store_errors_total',
      'Store calls by the controller that failed, by operation.',
      ['operation'],
    ),
    storeSeconds: histogram(
      'rampart_store_operation_duration_seconds',
      'Store calls by the controller, by operation.',
      STORE_SECONDS,
      ['operation'],
    ),
    poolNodes: gauge(
      'rampart_pool_nodes',
      'Nodes of a pool by lifecycle state, as the controller last saw them.',
      ['pool', 'state'],
    ),
    poolReady: gauge('rampart_pool_ready_nodes', 'Ready nodes (capacity) of a pool.', ['pool']),
    poolLive: gauge('rampart_pool_live_nodes', 'Nodes that occupy a slot of a pool (every live state).', [
      'pool',
    ]),
    poolDesired: gauge('rampart_pool_desired_nodes', 'Size the pool is heading for.', ['pool']),
    poolMin: gauge('rampart_pool_min_nodes', 'The pool’s size.min.', ['pool']),
    poolCapacity: gauge('rampart_pool_capacity_nodes', 'The pool’s size.capacity.', ['pool']),
    poolMax: gauge('rampart_pool_max_nodes', 'The pool’s size.max.', ['pool']),
    poolPaused: gauge('rampart_pool_paused', '1 while the pool is paused by the operator.', ['pool']),
    poolManual: gauge('rampart_pool_manual_size', 'A size set by hand (absent when the rules decide).', [
      'pool',
    ]),
    poolStatusAge: gauge(
      'rampart_pool_status_age_seconds',
      'Time since the controller last decided for the pool.',
      ['pool'],
    ),
    alerts: counter(
      'rampart_alert_deliveries_total',
      'Alert deliveries by receiver and outcome (delivered, retrying, failed, superseded).',
      ['receiver', 'outcome'],
    ),
    openRequests: gauge(
      'rampart_open_requests',
      'Requests (API writes, CLI asks) not yet taken by the controller.',
    ),
    oldestRequest: gauge(
      'rampart_oldest_open_request_age_seconds',
      'Age of the oldest request not yet taken (0 when none).',
    ),
  };
}

export class ControllerTelemetry {
  /** This controller's metrics (the process's own are served beside them, see processMetrics). */
  readonly registry = new Registry();
  /** Content type of what `render` returns: Prometheus's text format 0.0.4. */
  readonly contentType: string = this.registry.contentType;
  readonly series: PoolSeries;
  readonly #config: Config;
  readonly #wantedSources: ReadonlySet<string>;
  readonly #staleAfter: ReadonlyMap<string, number>;
  /** Kind and pool of every action begun here (or found open at start), for its outcome. */
  readonly #actions = new Map<string, { kind: ActionKind; pool: string }>();
  /** The last status the controller wrote for each pool, for the series. */
  readonly #lastStatus = new Map<string, { at: number; term: number; body: StatusBody }>();
  /** The last point of each pool sent to the store. */
  readonly #persisted = new Map<string, SeriesPoint>();
  /** The controller's own store, unobserved: the series' samples are written to it. */
  #store: Store | undefined;
  #previousSamples: readonly Sample[] = [];

  readonly #m = metricsOf(this.registry);

  constructor(config: Config) {
    this.#config = config;
    this.series = new PoolSeries(config);
    this.#wantedSources = new Set(refsBySource(config).keys());
    this.#staleAfter = new Map(config.metrics.map((m) => [m.name, m.staleAfter]));
    const m = this.#m;
    const build = buildInfo();
    m.buildInfo.set({ version: build.version, commit: build.commit, node_version: build.nodeVersion }, 1);
    // Gauges without labels read 0 until set in prom-client; these stay absent until known.
    for (const g of [m.term, m.lastTick, m.openRequests, m.oldestRequest]) g.remove();
    for (const pool of config.pools)
      if (pool.size) {
        m.poolMin.set({ pool: pool.name }, pool.size.min);
        m.poolCapacity.set({ pool: pool.name }, pool.size.capacity);
        m.poolMax.set({ pool: pool.name }, pool.size.max);
      }
    this.#startCountersAtZero();
  }

  /** Every label set known from the config and the code, at 0. */
  #startCountersAtZero(): void {
    const m = this.#m;
    const config = this.#config;
    for (const result of ['ok', 'failed']) m.ticks.inc({ result }, 0);
    for (const { name: pool } of config.pools) {
      for (const decision of DECISIONS) m.decisions.inc({ pool, decision }, 0);
      for (const direction of ['up', 'down']) m.scaleEvents.inc({ pool, direction }, 0);
      for (const kind of ACTION_KINDS) {
        m.actionsStarted.inc({ pool, kind }, 0);
        for (const outcome of ACTION_OUTCOMES) m.actions.inc({ pool, kind, outcome }, 0);
      }
      m.lockBusy.inc({ pool }, 0);
    }
    for (const source of this.#wantedSources) m.sourceErrors.inc({ source }, 0);
    for (const { name: provider } of config.providers) m.providerErrors.inc({ provider }, 0);
    for (const operation of STORE_OPERATIONS) m.storeErrors.inc({ operation }, 0);
    for (const { name: receiver } of config.alerts.receivers)
      for (const outcome of DELIVERY_OUTCOMES) m.alerts.inc({ receiver, outcome }, 0);
  }

  /** The runtime with its store instrumented: the controller's own store calls are counted. */
  instrument(rt: Runtime): Runtime {
    this.#store = rt.store;
    return { ...rt, nodeKind: rt.nodeKind, store: this.#instrumentStore(rt.store) };
  }

  #instrumentStore(store: Store): Store {
    const m = this.#m;
    const seen = (operation: string, started: number, failed: boolean) => {
      m.storeSeconds.observe({ operation }, (performance.now() - started) / 1000);
      if (failed) m.storeErrors.inc({ operation });
    };
    const after = (operation: string, args: unknown[], result: unknown) =>
      this.#afterStoreCall(operation, args, result);
    return new Proxy(store, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (typeof value !== 'function' || typeof prop !== 'string') return value;
        return (...args: unknown[]) => {
          const started = performance.now();
          let result: unknown;
          try {
            result = (value as (...a: unknown[]) => unknown).apply(target, args);
          } catch (e) {
            seen(prop, started, true);
            throw e;
          }
          if (!(result instanceof Promise)) return result;
          return result.then(
            (v) => {
              seen(prop, started, false);
              after(prop, args, v);
              return v;
            },
            (e) => {
              seen(prop, started, true);
              throw e;
            },
          );
        };
      },
    });
  }

  #afterStoreCall(operation: string, args: unknown[], result: unknown): void {
    const m = this.#m;
    switch (operation) {
      case 'beginAction': {
        const a = args[0] as { id: string; kind: ActionKind; pool: string };
        this.#actions.set(a.id, { kind: a.kind, pool: a.pool });
        m.actionsStarted.inc({ pool: a.pool, kind: a.kind });
        break;
      }
      case 'openActions':
        for (const a of result as { id: string; kind: ActionKind; pool: string }[])
          this.#actions.set(a.id, { kind: a.kind, pool: a.pool });
        break;
      case 'finishAction': {
        const [id, outcome] = args as [string, string];
        const a = this.#actions.get(id);
        this.#actions.delete(id);
        m.actions.inc({ pool: a?.pool ?? 'unknown', kind: a?.kind ?? 'unknown', outcome });
        break;
      }
      case 'recordDecision': {
        const d = args[0] as { pool: string; at: number; decision: string };
        m.decisionLatency.observe({ pool: d.pool }, Math.max(0, Date.now() - d.at) / 1000);
        m.decisions.inc({ pool: d.pool, decision: d.decision });
        if (d.decision === 'scale-up') m.scaleEvents.inc({ pool: d.pool, direction: 'up' });
        if (d.decision === 'scale-down') m.scaleEvents.inc({ pool: d.pool, direction: 'down' });
        break;
      }
      case 'putPoolStatus': {
        const s = args[0] as {
          pool: string;
          at: number;
          term: number;
          body: StatusBody & { reasons?: { code: string }[] };
        };
        this.#lastStatus.set(s.pool, { at: s.at, term: s.term, body: s.body });
        if (s.body.reasons?.some((r) => r.code === 'lock-busy')) m.lockBusy.inc({ pool: s.pool });
        break;
      }
      case 'putFailover': {
        const f = args[0] as { pool: string; body: Parameters<PoolSeries['noteFailover']>[1] };
        this.series.noteFailover(f.pool, f.body);
        break;
      }
    }
  }

  /** Hears each alert delivery's outcome (the alert dispatcher's onOutcome). */
  readonly onAlertOutcome = (receiver: string, outcome: string): void => {
    this.#m.alerts.inc({ receiver, outcome });
  };

  /** The controller's tick listener. */
  readonly onTick = (report: TickReport): void => {
    const m = this.#m;
    m.ticks.inc({ result: report.error ? 'failed' : 'ok' });
    m.tickSeconds.observe(report.durationMs / 1000);
    if (!report.error) m.lastTick.set((report.startedAt + report.durationMs) / 1000);
    const obs = report.observation;
    if (!obs) return;
    const now = report.startedAt + report.durationMs;
    for (const source of this.#config.metrics) {
      if (!this.#wantedSources.has(source.name)) continue;
      const errors = obs.metricErrors.filter((e) => e.source === source.name);
      const samples = obs.samples.filter((s) => s.ref.startsWith(`${source.name}:`));
      if (errors.length > 0) m.sourceErrors.inc({ source: source.name }, errors.length);
      const whole = errors.some((e) => e.target === undefined);
      m.sourceUp.set({ source: source.name }, whole || (errors.length > 0 && samples.length === 0) ? 0 : 1);
      const newest = samples.reduce((a, s) => Math.max(a, s.at), Number.NEGATIVE_INFINITY);
      m.sourceStaleness.set(
        { source: source.name },
        samples.length ? Math.max(0, now - newest) / 1000 : Number.NaN,
      );
      m.sourceStaleAfter.set({ source: source.name }, source.staleAfter / 1000);
    }
    for (const provider of this.#config.providers) {
      const failed = obs.providerErrors.has(provider.name);
      m.providerUp.set({ provider: provider.name }, failed ? 0 : 1);
      if (failed) m.providerErrors.inc({ provider: provider.name });
    }
    const window = {
      current: obs.samples,
      previous: this.#previousSamples,
      staleAfter: (ref: string) => this.#staleAfter.get(ref.slice(0, ref.indexOf(':'))) ?? 30_000,
    };
    for (const pool of this.#config.pools) {
      const status = this.#lastStatus.get(pool.name);
      if (!status || status.at !== obs.at) continue;
      const point = this.series.record(pool.name, obs.at, status.body, window);
      if (point) this.#persist(pool.name, status.term, point);
    }
    this.#previousSamples = obs.samples;
  };

  /**
   * Sends a pool's point to the store every PERSIST_EVERY_MS, and at once when its sizes
   * changed (so a chart read back from the store steps where the pool did). Written beside the
   * tick, never holding it up; a failed write is counted as a store error and the next
   * point tries again.
   */
  #persist(pool: string, term: number, point: SeriesPoint): void {
    const store = this.#store;
    if (!store) return;
    const last = this.#persisted.get(pool);
    const changed =
      last !== undefined &&
      (last.ready !== point.ready || last.live !== point.live || last.desired !== point.desired);
    if (last !== undefined && !changed && point.at - last.at < PERSIST_EVERY_MS) return;
    this.#persisted.set(pool, point);
    const started = performance.now();
    store.recordSample(storedSample(pool, term, point)).then(
      () => this.#m.storeSeconds.observe({ operation: 'recordSample' }, (performance.now() - started) / 1000),
      () => {
        this.#m.storeErrors.inc({ operation: 'recordSample' });
        if (this.#persisted.get(pool) === point) this.#persisted.delete(pool);
      },
    );
  }

  /**
   * Rampart's metrics in Prometheus's text format, with scrape-time figures read now, and the
   * process's own (processMetrics). The store is read first and the figures set all at once,
   * so two scrapes at a time each see a whole set.
   */
  async render(store: Store, controller?: LeadershipView): Promise<string> {
    const figures = await readStoreFigures(store, this.#config).catch(() => undefined);
    this.#setScrapeFigures(figures, controller?.leadership);
    return Registry.merge([this.registry, processMetrics()]).metrics();
  }

  #setScrapeFigures(
    figures: StoreFigures | undefined,
    leadership: LeadershipView['leadership'] | undefined,
  ): void {
    const m = this.#m;
    m.leader.set(leadership?.leading ? 1 : 0);
    if (leadership?.term !== undefined) m.term.set(leadership.term);
    else m.term.remove();
    for (const g of [
      m.poolNodes,
      m.poolReady,
      m.poolLive,
      m.poolDesired,
      m.poolPaused,
      m.poolManual,
      m.poolStatusAge,
    ])
      g.reset();
    m.storeUp.set(figures ? 1 : 0);
    if (!figures) {
      // Not known while the store does not answer: absent, not the last figures seen.
      m.openRequests.remove();
      m.oldestRequest.remove();
      return;
    }
    const { at: now, statuses, pools, openRequestTimes } = figures;
    for (const s of statuses) {
      const pool = s.pool;
      m.poolReady.set({ pool }, s.body.ready);
      m.poolLive.set({ pool }, s.body.live);
      m.poolDesired.set({ pool }, s.body.desired);
      m.poolStatusAge.set({ pool }, Math.max(0, now - s.at) / 1000);
      const byState = new Map<string, number>();
      for (const n of s.body.nodes ?? []) byState.set(n.state, (byState.get(n.state) ?? 0) + 1);
      for (const [state, count] of byState) m.poolNodes.set({ pool, state }, count);
    }
    for (const [pool, state] of pools) {
      m.poolPaused.set({ pool }, state.paused ? 1 : 0);
      if (state.manualSize !== undefined) m.poolManual.set({ pool }, state.manualSize);
    }
    m.openRequests.set(openRequestTimes.length);
    m.oldestRequest.set(
      openRequestTimes.length ? Math.max(0, now - Math.min(...openRequestTimes)) / 1000 : 0,
    );
  }
}

/** Pool statuses, pool states and open requests, each read within 2 s; rejects when one is not. */
async function readStoreFigures(store: Store, config: Config): Promise<StoreFigures> {
  const at = Date.now();
  const statuses = await withTimeout(store.listPoolStatus(), 2000);
  const pools = new Map<string, { paused: boolean; manualSize: number | undefined }>();
  for (const pool of config.pools) {
    const state = await withTimeout(store.getPool(pool.name), 2000);
    pools.set(pool.name, { paused: state?.paused ?? false, manualSize: state?.manualSize?.size });
  }
  const open = await withTimeout(store.openRequests(), 2000);
  return {
    at,
    statuses: statuses.map((s) => ({ pool: s.pool, at: s.at, body: s.body as unknown as StatusBody })),
    pools,
    openRequestTimes: open.map((r) => r.at),
  };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`store did not answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
