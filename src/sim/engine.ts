// The simulation loop: one policy against one trace. It jumps from event to event (a load
// change, a node becoming ready or failing, a scrape, a decision) and integrates unserved
// work and node-seconds exactly between them, so results do not depend on a time step.

import { SimPool } from './model.ts';
import type { PolicyContext, Scrape, SimPolicy } from './policy.ts';

/** What one run produced: the raw figures that scoring and charts use. */
export interface RunResult {
  readonly policy: string;
  readonly trace: string;
  /** ∫ max(0, load − ready capacity) dt, work units. */
  readonly unservedWork: number;
  /** ∫ nodes paid for dt, node-seconds (pending, ready and failed nodes, and any warm pool). */
  readonly nodeSeconds: number;
  /** Decisions that changed the pool's size (replacing failed nodes does not count). */
  readonly actions: number;
  readonly decisions: number;
  /** Maximal intervals [start, end) in which load exceeded ready capacity, s. */
  readonly overloads: readonly (readonly [number, number])[];
  /** Ready and live node counts after each change, as a step series. */
  readonly series: { readonly t: number[]; readonly ready: number[]; readonly live: number[] };
  readonly start: number;
  readonly end: number;
}

/** Ready nodes at the start: enough for the first load at 60% utilization, within min and max. */
export function initialNodes(ctx: PolicyContext): number {
  if (ctx.model.initialNodes !== undefined) return ctx.model.initialNodes;
  const first = ctx.trace.loads[0]!;
  const wanted = Math.ceil(first / (ctx.model.nodeCapacity * 0.6));
  return Math.min(ctx.size.max, Math.max(ctx.size.min, wanted));
}

export function runSimulation(ctx: PolicyContext, policy: SimPolicy): RunResult {
  const { trace, model } = ctx;
  const { times, loads } = trace;
  if (!(policy.interval > 0))
    throw new Error(`policy ${policy.name}: decision interval must be more than 0 s`);
  if (!(model.scrapeInterval > 0)) throw new Error('the scrape interval must be more than 0 s');
  const pool = new SimPool(model, {
    replaceFailedAfter: policy.replaceFailedAfter,
    warmPool: policy.warmPool ?? 0,
  });
  const start = times[0]!;
  const end = trace.end;
  const series = { t: [] as number[], ready: [] as number[], live: [] as number[] };
  pool.onChange = (t) => {
    const n = series.t.length;
    const ready = pool.ready.length;
    const live = pool.live;
    if (n > 0 && series.t[n - 1] === t) {
      series.ready[n - 1] = ready;
      series.live[n - 1] = live;
    } else if (n === 0 || series.ready[n - 1] !== ready || series.live[n - 1] !== live) {
      series.t.push(t);
      series.ready.push(ready);
      series.live.push(live);
    }
  };
  pool.seedReady(start, initialNodes(ctx));
  policy.start?.(start, pool);

  const capacityPerNode = model.nodeCapacity;
  const overloads: [number, number][] = [];
  let unserved = 0;
  let nodeSeconds = 0;
  let actions = 0;
  let decisions = 0;
  let row = 0;
  let scrapes = 0;
  let evaluations = 0;
  let nextScrape = start;
  let nextDecision = start;
  let t = start;
  while (t < end) {
    // Everything due at t, in order: the load, the nodes, the scrape, the decision.
    while (row + 1 < times.length && times[row + 1]! <= t) row++;
    const load = loads[row]!;
    pool.advanceTo(t);
    if (t >= nextScrape) {
      policy.observe(scrape(t, load, pool.ready.length, capacityPerNode));
      nextScrape = start + ++scrapes * model.scrapeInterval;
    }
    if (t >= nextDecision) {
      actions += policy.decide(t, pool);
      decisions++;
      nextDecision = start + ++evaluations * policy.interval;
    }

    let next = end;
    if (row + 1 < times.length && times[row + 1]! < next) next = times[row + 1]!;
    if (nextScrape < next) next = nextScrape;
    if (nextDecision < next) next = nextDecision;
    const poolNext = pool.nextEventAt();
    if (poolNext < next) next = poolNext;
    if (next <= t) next = t; // an event due now is handled on the next pass

    const dt = next - t;
    const capacity = pool.ready.length * capacityPerNode;
    if (load > capacity && dt > 0) {
      unserved += (load - capacity) * dt;
      const last = overloads[overloads.length - 1];
      if (last && last[1] === t) last[1] = next;
      else overloads.push([t, next]);
    }
    nodeSeconds += pool.costRate * dt;
    if (next === t) {
      // Nothing moved time forward: an event at t is still pending (e.g. a node created now
      // with no delay). Apply it and decide nothing more at this instant.
      pool.advanceTo(t);
      if (pool.nextEventAt() <= t) throw new Error(`simulation stuck at t=${t}s`);
      continue;
    }
    t = next;
  }
  return {
    policy: policy.name,
    trace: trace.name,
    unservedWork: unserved,
    nodeSeconds,
    actions,
    decisions,
    overloads,
    series,
    start,
    end,
  };
}

/** The metrics a scrape at time t sees. */
export function scrape(t: number, load: number, ready: number, capacityPerNode: number): Scrape {
  if (ready === 0) return { t, utilization: undefined, loadPerNode: undefined, ready };
  return {
    t,
    utilization: Math.min(1, load / (ready * capacityPerNode)),
    loadPerNode: load / ready,
    ready,
  };
}
