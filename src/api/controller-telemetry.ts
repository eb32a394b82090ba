// Rampart's own metrics and the dashboard's live series, fed by the controller it runs beside:
// every tick's report (timing, metric sources, providers), and every store call the
// controller makes (decisions, actions and their outcomes, store errors). Scrape-time figures
// (pool sizes and bounds, leadership, store reachability) are read when /metrics is asked.

import type { Config } from '../config/schema.ts';
import { refsBySource } from '../controller/observe.ts';
import type { TickReport } from '../controller/tick-report.ts';
import type { Sample } from '../core/types.ts';
import type { Runtime } from '../runtime/runtime.ts';
import type { ActionKind, Store } from '../store/store.ts';
import { PoolSeries, type StatusBody } from './pool-series.ts';
import { MetricRegistry } from './prometheus-text.ts';

const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const STORE_SECONDS = [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5];

/** What a scrape reads besides the counters: the leadership of the controller in this process. */
export interface LeadershipView {
  readonly leadership: { readonly leading: boolean; readonly term: number | undefined };
}

export class ControllerTelemetry {
  readonly registry = new MetricRegistry();
  readonly series: PoolSeries;
  readonly #config: Config;
  readonly #wantedSources: ReadonlySet<string>;
  readonly #staleAfter: ReadonlyMap<string, number>;
  /** Kind and pool of every action begun here (or found open at start), for its outcome. */
  readonly #actions = new Map<string, { kind: ActionKind; pool: string }>();
  /** The last status the controller wrote for each pool, for the series. */
  readonly #lastStatus = new Map<string, { at: number; body: StatusBody }>();
  #previousSamples: readonly Sample[] = [];

  readonly #m;

  constructor(config: Config) {
    this.#config = config;
    this.series = new PoolSeries(config);
    this.#wantedSources = new Set(refsBySource(config).keys());
    this.#staleAfter = new Map(config.metrics.map((m) => [m.name, m.staleAfter]));
    const r = this.registry;
    this.#m = {
      leader: r.gauge(
        'rampart_leader',
        '1 while this process leads (acts), 0 while it stands by or has stopped.',
      ),
      term: r.gauge(
        'rampart_leadership_term',
        'Leadership term this process acts under (absent when not leading).',
      ),
      ticks: r.counter('rampart_ticks_total', 'Reconcile passes by result (ok, failed).'),
      tickSeconds: r.histogram(
        'rampart_tick_duration_seconds',
        'One reconcile pass: observe, decide, act and record for every pool.',
        SECONDS,
      ),
      lastTick: r.gauge(
        'rampart_last_tick_timestamp_seconds',
        'When the last successful reconcile pass ended (unix seconds).',
      ),
      decisionLatency: r.histogram(
        'rampart_decision_latency_seconds',
        'From the observation a decision is based on to the decision being recorded, by pool.',
        SECONDS,
      ),
      decisions: r.counter('rampart_decisions_total', 'Decisions recorded, by pool and decision.'),
      scaleEvents: r.counter(
        'rampart_scale_events_total',
        'Decisions that changed a pool size, by pool and direction (up, down).',
      ),
      actionsStarted: r.counter(
        'rampart_actions_started_total',
        'Actions whose intent was recorded, by pool and kind.',
      ),
      actions: r.counter(
        'rampart_actions_total',
        'Actions with a recorded outcome, by pool, kind and outcome.',
      ),
      lockBusy: r.counter(
        'rampart_scale_down_lock_busy_total',
        'Scale-downs held because another holder had the pool’s scale-down lock, by pool.',
      ),
      sourceUp: r.gauge(
        'rampart_metric_source_up',
        '1 when the metric source answered at the last pass, 0 when it failed or every target failed.',
      ),
      sourceErrors: r.counter(
        'rampart_metric_source_errors_total',
        'Metric source errors (per target or whole source).',
      ),
      sourceStaleness: r.gauge(
        'rampart_metric_source_staleness_seconds',
        'Age of the newest sample the source delivered at the last pass (NaN when none).',
      ),
      sourceStaleAfter: r.gauge(
        'rampart_metric_source_stale_after_seconds',
        'The source’s staleAfter: older samples count as missing.',
      ),
      providerUp: r.gauge(
        'rampart_provider_up',
        '1 when the provider’s listing worked at the last pass, else 0.',
      ),
      providerErrors: r.counter('rampart_provider_errors_total', 'Failed provider listings, by provider.'),
      storeUp: r.gauge('rampart_store_up', '1 when the store answered this scrape, else 0.'),
      storeErrors: r.counter(
        'rampart_store_errors_total',
        'Store calls by the controller that failed, by operation.',
      ),
      storeSeconds: r.histogram(
        'rampart_store_operation_duration_seconds',
        'Store calls by the controller, by operation.',
        STORE_SECONDS,
      ),
      poolNodes: r.gauge(
        'rampart_pool_nodes',
        'Nodes of a pool by lifecycle state, as the controller last saw them.',
      ),
      poolReady: r.gauge('rampart_pool_ready_nodes', 'Ready nodes (capacity) of a pool.'),
      poolLive: r.gauge('rampart_pool_live_nodes', 'Nodes that occupy a slot of a pool (every live state).'),
      poolDesired: r.gauge('rampart_pool_desired_nodes', 'Size the pool is heading for.'),
      poolMin: r.gauge('rampart_pool_min_nodes', 'The pool’s size.min.'),
      poolCapacity: r.gauge('rampart_pool_capacity_nodes', 'The pool’s size.capacity.'),
      poolMax: r.gauge('rampart_pool_max_nodes', 'The pool’s size.max.'),
      poolPaused: r.gauge('rampart_pool_paused', '1 while the pool is paused by the operator.'),
      poolManual: r.gauge('rampart_pool_manual_size', 'A size set by hand (absent when the rules decide).'),
      poolStatusAge: r.gauge(
        'rampart_pool_status_age_seconds',
        'Time since the controller last decided for the pool.',
      ),
      alerts: r.counter(
        'rampart_alert_deliveries_total',
        'Alert deliveries by receiver and outcome (delivered, retrying, failed, superseded).',
      ),
      openRequests: r.gauge(
        'rampart_open_requests',
        'Requests (API writes, CLI asks) not yet taken by the controller.',
      ),
      oldestRequest: r.gauge(
        'rampart_oldest_open_request_age_seconds',
        'Age of the oldest request not yet taken (0 when none).',
      ),
    };
  }

  /** The runtime with its store instrumented: the controller's own store calls are counted. */
  instrument(rt: Runtime): Runtime {
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
          body: StatusBody & { reasons?: { code: string }[] };
        };
        this.#lastStatus.set(s.pool, { at: s.at, body: s.body });
        if (s.body.reasons?.some((r) => r.code === 'lock-busy')) m.lockBusy.inc({ pool: s.pool });
        break;
      }
    }
  }

  /** The controller's tick listener. */
  /** Hears each alert delivery's outcome (the alert dispatcher's onOutcome). */
  readonly onAlertOutcome = (receiver: string, outcome: string): void => {
    this.#m.alerts.inc({ receiver, outcome });
  };

  readonly onTick = (report: TickReport): void => {
    const m = this.#m;
    m.ticks.inc({ result: report.error ? 'failed' : 'ok' });
    m.tickSeconds.observe({}, report.durationMs / 1000);
    if (!report.error) m.lastTick.set({}, (report.startedAt + report.durationMs) / 1000);
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
      if (status && status.at === obs.at) this.series.record(pool.name, obs.at, status.body, window);
    }
    this.#previousSamples = obs.samples;
  };

  /** Rampart's metrics in Prometheus's text format, with scrape-time figures read now. */
  async render(store: Store, controller?: LeadershipView): Promise<string> {
    const m = this.#m;
    const leadership = controller?.leadership;
    m.leader.set({}, leadership?.leading ? 1 : 0);
    m.term.reset();
    if (leadership?.term !== undefined) m.term.set({}, leadership.term);
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
    for (const pool of this.#config.pools)
      if (pool.size) {
        m.poolMin.set({ pool: pool.name }, pool.size.min);
        m.poolCapacity.set({ pool: pool.name }, pool.size.capacity);
        m.poolMax.set({ pool: pool.name }, pool.size.max);
      }
    try {
      const now = Date.now();
      const statuses = await withTimeout(store.listPoolStatus(), 2000);
      for (const s of statuses) {
        const b = s.body as unknown as StatusBody;
        m.poolReady.set({ pool: s.pool }, b.ready);
        m.poolLive.set({ pool: s.pool }, b.live);
        m.poolDesired.set({ pool: s.pool }, b.desired);
        m.poolStatusAge.set({ pool: s.pool }, Math.max(0, now - s.at) / 1000);
        const byState = new Map<string, number>();
        for (const n of b.nodes ?? []) byState.set(n.state, (byState.get(n.state) ?? 0) + 1);
        for (const [state, count] of byState) m.poolNodes.set({ pool: s.pool, state }, count);
      }
      for (const pool of this.#config.pools) {
        const state = await withTimeout(store.getPool(pool.name), 2000);
        m.poolPaused.set({ pool: pool.name }, state?.paused ? 1 : 0);
        if (state?.manualSize) m.poolManual.set({ pool: pool.name }, state.manualSize.size);
      }
      const open = await withTimeout(store.openRequests(), 2000);
      m.openRequests.set({}, open.length);
      m.oldestRequest.set({}, open.length ? Math.max(0, now - Math.min(...open.map((r) => r.at))) / 1000 : 0);
      m.storeUp.set({}, 1);
    } catch {
      m.storeUp.set({}, 0);
    }
    return this.registry.render();
  }
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
