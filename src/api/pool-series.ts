// The dashboard's series: every tick, each pool's size (ready, live, desired), the value of
// every metric its rules read (computed with the core's own rule reading) and, for a guarded
// validator, its height against the network's, its peers and its signatures in the newest
// commits. The last hour is kept in memory at every tick, with each ready node's own value of
// each rule metric; a sample every PERSIST_EVERY_MS goes to the store, so any range the store
// still holds can be charted, across restarts.

import type { Config, PoolConfig } from '../config/schema.ts';
import { formatNumber } from '../core/format.ts';
import type { ScaleRule } from '../core/policy.ts';
import { readRule, type SampleWindow } from '../core/rule-evaluation.ts';
import type { Sample } from '../core/types.ts';
import type { SeriesSample, Store } from '../store/store.ts';

export interface RuleInfo {
  readonly rule: string;
  readonly kind: 'threshold' | 'target';
  readonly metric: string;
  readonly aggregate: string;
  readonly rate: boolean;
  readonly comparator?: string | undefined;
  readonly threshold?: number | undefined;
  readonly target?: number | undefined;
  readonly text: string;
}

/** One metric as the rules read it (metric, aggregate, rate), with every rule that reads it so. */
export interface SeriesMetric {
  readonly id: string;
  readonly metric: string;
  readonly aggregate: string;
  readonly rate: boolean;
  readonly rules: readonly RuleInfo[];
}

/** A guarded validator at one tick: what the chain and failover's last poll said. */
export interface ValidatorPoint {
  readonly status: string | null;
  readonly reachable: boolean | null;
  readonly height: number | null;
  readonly networkHeight: number | null;
  readonly peers: number | null;
  /** Of the newest commits failover read at its last poll: those it signed, and missed. */
  readonly signed: number | null;
  readonly missed: number | null;
}

export interface SeriesPoint {
  readonly at: number;
  readonly ready: number;
  readonly live: number;
  readonly desired: number;
  readonly decision: string;
  /** One per SeriesMetric, null when the metric was missing. */
  readonly values: readonly (number | null)[];
  /** One per TrafficMetric: summed over the ready nodes, null when none reported it. */
  readonly traffic: readonly (number | null)[];
  /** Validator pools only. */
  readonly validator?: ValidatorPoint | undefined;
}

/** Status body fields the series needs (what the controller writes to pool_status). */
export interface StatusBody {
  readonly decision: string;
  readonly ready: number;
  readonly live: number;
  readonly desired: number;
  readonly nodes: readonly {
    readonly id: string;
    readonly state: string;
    readonly height?: number | null | undefined;
    readonly peers?: number | null | undefined;
  }[];
}

/** What the series reads of a failover record's body (src/failover/failover-state.ts). */
interface FailoverBody {
  readonly detect?: { readonly status?: string };
  readonly lastPoll?: {
    readonly at: number;
    readonly reachable: boolean;
    readonly height?: number | undefined;
    readonly networkHeight?: number | undefined;
    /** Newest first: heights networkHeight − 1, − 2, … */
    readonly signed?: readonly boolean[] | undefined;
  };
}

/** One ready node's own value of a rule metric, beside the aggregate the rule read. */
export interface NodeLine {
  readonly metric: string;
  readonly node: string;
  /** Aligned with the answer's points; null where the node had no value (or no point in memory). */
  readonly values: readonly (number | null)[];
}

/** How often a pool's sample goes to the store, at most: one a tick, no more than this. ms. */
export const PERSIST_EVERY_MS = 15_000;
/** Points in an answer, at most: a longer range is thinned to one point per equal slice. */
export const MAX_POINTS = 1500;
/** Per-node lines in an answer, at most: the nodes furthest from the aggregate first. */
export const MAX_NODE_LINES = 50;
/** Points an answer with per-node lines has at most (every 5 s over the hour memory keeps). */
export const MAX_POINTS_WITH_NODES = 720;
/** Points looked at to rank the nodes furthest from the aggregate. */
const RANK_POINTS = 120;
/** Heights kept for the signed/missed block strip. */
const BLOCKS_KEPT = 200;

/** A pool's traffic as the dashboard charts it (the pool's `traffic` config). */
export interface TrafficMetric {
  readonly id: string;
  readonly metric: string;
  readonly rate: boolean;
  readonly label: string;
  readonly unit: string | null;
}

export function trafficMetrics(pool: PoolConfig): TrafficMetric[] {
  return pool.traffic.map((t, i) => ({
    id: `t${i}`,
    metric: t.metric,
    rate: t.rate,
    label: t.label ?? `${t.rate ? 'rate of ' : ''}${t.metric}`,
    unit: t.unit ?? null,
  }));
}

export function describeRules(pool: PoolConfig): RuleInfo[] {
  const out: RuleInfo[] = [];
  for (const phase of ['scaleUp', 'scaleDown'] as const)
    pool[phase].rules.forEach((r, i) => {
      out.push(ruleInfo(`${phase}.rules[${i}]`, r, phase));
    });
  return out;
}

function ruleInfo(name: string, r: ScaleRule, phase: 'scaleUp' | 'scaleDown'): RuleInfo {
  const read = `${r.aggregate}${r.rate ? ' rate of' : ''} ${r.metric}`;
  if (r.kind === 'target')
    return {
      rule: name,
      kind: 'target',
      metric: r.metric,
      aggregate: r.aggregate,
      rate: r.rate,
      target: r.target,
      text: `${phase === 'scaleUp' ? 'grow' : 'shrink'} toward ${read} = ${formatNumber(r.target)} per ready node`,
    };
  const step =
    'nodes' in r.step ? `${r.step.nodes} node${r.step.nodes === 1 ? '' : 's'}` : `${r.step.percent}%`;
  return {
    rule: name,
    kind: 'threshold',
    metric: r.metric,
    aggregate: r.aggregate,
    rate: r.rate,
    comparator: r.comparator,
    threshold: r.threshold,
    text:
      phase === 'scaleUp'
        ? `scale up by ${step} when ${read} ${r.comparator} ${formatNumber(r.threshold)}`
        : `scale down (one node) when ${read} ${r.comparator} ${formatNumber(r.threshold)}`,
  };
}

export function seriesMetrics(pool: PoolConfig): SeriesMetric[] {
  const byKey = new Map<string, { metric: string; aggregate: string; rate: boolean; rules: RuleInfo[] }>();
  for (const info of describeRules(pool)) {
    const k = `${info.aggregate}${info.rate ? ' rate' : ''} ${info.metric}`;
    const entry = byKey.get(k) ?? {
      metric: info.metric,
      aggregate: info.aggregate,
      rate: info.rate,
      rules: [],
    };
    entry.rules.push(info);
    byKey.set(k, entry);
  }
  return [...byKey.values()].map((m, i) => ({ id: `m${i}`, ...m }));
}

/** Per point, each ready node's own value of each metric (memory only: never stored). */
interface NodeValues {
  readonly ids: readonly string[];
  /** One array per metric, aligned with ids; NaN where the node had no value. */
  readonly values: readonly Float32Array[];
}

export class PoolSeries {
  readonly #config: Config;
  readonly #keepMs: number;
  readonly #points = new Map<string, SeriesPoint[]>();
  readonly #nodeValues = new Map<string, NodeValues[]>();
  readonly #metrics = new Map<string, { metrics: SeriesMetric[]; rules: ScaleRule[][] }>();
  readonly #failover = new Map<string, FailoverBody>();
  readonly #blocks = new Map<string, Map<number, boolean>>();

  /** `keepMs`: how far back points are kept in memory. Default one hour. */
  constructor(config: Config, keepMs = 3_600_000) {
    this.#config = config;
    this.#keepMs = keepMs;
    for (const pool of config.pools) {
      const metrics = seriesMetrics(pool);
      const all = [...pool.scaleUp.rules, ...pool.scaleDown.rules];
      // The first rule of each metric group reads it: every rule of a group reads the same thing.
      const rules = metrics.map((m) =>
        all.filter((r) => r.metric === m.metric && r.aggregate === m.aggregate && r.rate === m.rate),
      );
      this.#metrics.set(pool.name, { metrics, rules });
    }
  }

  metrics(pool: string): readonly SeriesMetric[] {
    return this.#metrics.get(pool)?.metrics ?? [];
  }

  /** Hears a failover record as the monitor writes it: the validator's last poll and signatures. */
  noteFailover(pool: string, body: FailoverBody): void {
    this.#failover.set(pool, body);
    const poll = body.lastPoll;
    if (!poll?.signed || poll.networkHeight === undefined) return;
    const blocks = this.#blocks.get(pool) ?? new Map<number, boolean>();
    poll.signed.forEach((signed, i) => {
      blocks.set(poll.networkHeight! - 1 - i, signed);
    });
    if (blocks.size > BLOCKS_KEPT) {
      const keep = [...blocks.keys()].sort((a, b) => b - a).slice(0, BLOCKS_KEPT);
      const kept = new Map(keep.reverse().map((hgt) => [hgt, blocks.get(hgt)!]));
      this.#blocks.set(pool, kept);
    } else this.#blocks.set(pool, blocks);
  }

  /** The newest heights failover read (oldest first) and whether the validator signed each. */
  blocks(pool: string): { height: number; signed: boolean }[] {
    return [...(this.#blocks.get(pool) ?? new Map<number, boolean>())]
      .sort(([a], [b]) => a - b)
      .map(([height, signed]) => ({ height, signed }));
  }

  /** Records one tick of one pool: its status as the controller wrote it and the samples it saw. */
  record(pool: string, at: number, status: StatusBody, window: SampleWindow): SeriesPoint | undefined {
    const meta = this.#metrics.get(pool);
    if (!meta) return undefined;
    const ready = status.nodes.filter((n) => n.state === 'ready').map((n) => n.id);
    const values = meta.rules.map((rules) => {
      const rule = rules[0];
      if (!rule) return null;
      const reading = readRule(rule, ready, window, at);
      return reading.status === 'ok' && Number.isFinite(reading.value) ? reading.value : null;
    });
    const traffic = (this.#config.pools.find((p) => p.name === pool)?.traffic ?? []).map((t) =>
      summed(nodeValues(t, ready, window, at)),
    );
    const point: SeriesPoint = {
      at,
      ready: status.ready,
      live: status.live,
      desired: status.desired,
      decision: status.decision,
      values,
      traffic,
      ...(this.#config.pools.find((p) => p.name === pool)?.role === 'validator'
        ? { validator: this.#validatorPoint(pool, at, status) }
        : {}),
    };
    const points = this.#points.get(pool) ?? [];
    const perNode = this.#nodeValues.get(pool) ?? [];
    const previousIds = perNode.at(-1)?.ids;
    const ids =
      previousIds && previousIds.length === ready.length && previousIds.every((id, i) => id === ready[i])
        ? previousIds
        : ready;
    points.push(point);
    perNode.push({
      ids,
      values: meta.rules.map((rules) =>
        rules[0] ? nodeValues(rules[0], ids, window, at) : new Float32Array(),
      ),
    });
    const cutoff = at - this.#keepMs;
    let drop = 0;
    while (drop < points.length && points[drop]!.at < cutoff) drop++;
    if (drop > 0) {
      points.splice(0, drop);
      perNode.splice(0, drop);
    }
    this.#points.set(pool, points);
    this.#nodeValues.set(pool, perNode);
    return point;
  }

  #validatorPoint(pool: string, at: number, status: StatusBody): ValidatorPoint {
    const node = status.nodes.find((n) => n.state === 'ready') ?? status.nodes[0];
    const f = this.#failover.get(pool);
    // A poll older than a minute says nothing about this tick.
    const poll = f?.lastPoll && at - f.lastPoll.at < 60_000 ? f.lastPoll : undefined;
    const signed = poll?.signed;
    return {
      status: f?.detect?.status ?? null,
      reachable: poll?.reachable ?? null,
      height: poll?.height ?? node?.height ?? null,
      networkHeight: poll?.networkHeight ?? null,
      peers: node?.peers ?? null,
      signed: signed ? signed.filter(Boolean).length : null,
      missed: signed ? signed.filter((x) => !x).length : null,
    };
  }

  points(pool: string, since = 0): readonly SeriesPoint[] {
    return (this.#points.get(pool) ?? []).filter((p) => p.at >= since);
  }

  /**
   * Points in [from, to] from memory, with each ready node's line of every metric when
   * `nodes` (at most MAX_NODE_LINES per metric: the nodes furthest from the aggregate first).
   */
  memoryRange(
    pool: string,
    from: number,
    to: number,
    nodes: boolean,
  ): { points: SeriesPoint[]; nodeLines: NodeLine[]; nodesTotal: number } {
    const all = this.#points.get(pool) ?? [];
    const perNode = this.#nodeValues.get(pool) ?? [];
    const idx: number[] = [];
    all.forEach((p, i) => {
      if (p.at >= from && p.at <= to) idx.push(i);
    });
    const points = idx.map((i) => all[i]!);
    if (!nodes || idx.length === 0) return { points, nodeLines: [], nodesTotal: 0 };
    const metrics = this.metrics(pool);
    const nodeLines: NodeLine[] = [];
    const everyNode = new Set<string>();
    // Ranking looks at RANK_POINTS points spread over the range (enough to find the node that
    // runs hot); only the lines shown are built whole.
    const stride = Math.max(1, Math.floor(idx.length / RANK_POINTS));
    metrics.forEach((m, mi) => {
      const spread = new Map<string, number>();
      for (let k = 0; k < idx.length; k += stride) {
        const row = perNode[idx[k]!]!;
        const column = row.values[mi]!;
        const agg = points[k]!.values[mi];
        row.ids.forEach((id, j) => {
          const v = column[j]!;
          if (Number.isNaN(v)) return;
          const off = agg === null || agg === undefined ? 0 : Math.abs(v - agg);
          spread.set(id, Math.max(spread.get(id) ?? 0, off));
        });
      }
      for (const id of spread.keys()) everyNode.add(id);
      const shown = [...spread]
        .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
        .slice(0, MAX_NODE_LINES)
        .map(([id]) => id)
        .sort((a, b) => a.localeCompare(b));
      for (const node of shown) {
        const values = idx.map((i) => {
          const row = perNode[i]!;
          const j = positionOf(row.ids).get(node) ?? -1;
          const v = j < 0 ? Number.NaN : row.values[mi]![j]!;
          // Stored as 32-bit floats: four significant digits say all they know.
          return Number.isNaN(v) ? null : Number(v.toPrecision(4));
        });
        nodeLines.push({ metric: m.id, node, values });
      }
    });
    return { points, nodeLines, nodesTotal: everyNode.size };
  }

  /** The oldest point held in memory, if any. */
  oldest(pool: string): number | undefined {
    return this.#points.get(pool)?.[0]?.at;
  }

  get keepMs(): number {
    return this.#keepMs;
  }

  get pools(): readonly string[] {
    return this.#config.pools.map((p) => p.name);
  }
}

/** Each id's position in a list of ready nodes; lists are shared between ticks while unchanged. */
const positions = new WeakMap<readonly string[], Map<string, number>>();
function positionOf(ids: readonly string[]): Map<string, number> {
  let map = positions.get(ids);
  if (!map) {
    map = new Map(ids.map((id, j) => [id, j]));
    positions.set(ids, map);
  }
  return map;
}

/**
 * Each node's own value of a rule's metric (its newest fresh sample, or its rate since the
 * tick before), in one pass over the samples: NaN where it has none. Values are charted as
 * seen; the rule's valid range is the rule's business.
 */
function nodeValues(
  rule: Pick<ScaleRule, 'metric' | 'rate'>,
  ids: readonly string[],
  window: SampleWindow,
  at: number,
): Float32Array {
  const out = new Float32Array(ids.length).fill(Number.NaN);
  const notBefore = at - window.staleAfter(rule.metric);
  const newest = (samples: readonly Sample[] | undefined, fresh: number) => {
    const by = new Map<string, Sample>();
    for (const s of samples ?? []) {
      if (s.ref !== rule.metric || s.node === undefined || s.at < fresh) continue;
      const prev = by.get(s.node);
      if (!prev || prev.at < s.at) by.set(s.node, s);
    }
    return by;
  };
  const current = newest(window.current, notBefore);
  const previous = rule.rate ? newest(window.previous, Number.NEGATIVE_INFINITY) : undefined;
  ids.forEach((id, j) => {
    const s = current.get(id);
    if (!s || !Number.isFinite(s.value)) return;
    if (!previous) {
      out[j] = s.value;
      return;
    }
    const p = previous.get(id);
    if (p && p.at < s.at && s.value >= p.value) out[j] = (s.value - p.value) / ((s.at - p.at) / 1000);
  });
  return out;
}

/** The sum of the values a node had (NaN: none), or null when no node had one. */
function summed(values: Float32Array): number | null {
  let sum = 0;
  let any = false;
  for (const v of values)
    if (!Number.isNaN(v)) {
      sum += v;
      any = true;
    }
  return any ? sum : null;
}

/** A point as the store keeps it (a SeriesSample's body). */
export function storedSample(pool: string, term: number, p: SeriesPoint): SeriesSample {
  const { at, ...body } = p;
  return { pool, at, term, body: body as unknown as Record<string, unknown> };
}

function pointOf(s: SeriesSample): SeriesPoint {
  const b = s.body as Partial<SeriesPoint>;
  return {
    at: s.at,
    ready: b.ready ?? 0,
    live: b.live ?? 0,
    desired: b.desired ?? 0,
    decision: b.decision ?? 'unknown',
    values: b.values ?? [],
    traffic: b.traffic ?? [],
    ...(b.validator ? { validator: b.validator } : {}),
  };
}

export interface SeriesRange {
  readonly points: SeriesPoint[];
  readonly nodeLines: NodeLine[];
  /** Ready nodes with a line of their own in memory (lines beyond MAX_NODE_LINES are left out). */
  readonly nodesTotal: number;
  /** Time between two points after thinning, ms (0: every point). */
  readonly stepMs: number;
  /** Where the points came from. */
  readonly from: { readonly store: number; readonly memory: number };
}

/**
 * A pool's points in [from, to]: the store's samples before the oldest point in memory, and
 * memory's (every tick) after it, thinned to at most `maxPoints` (the last point of each
 * equal slice of time: what the chart showed at its end).
 */
export async function seriesRange(
  store: Store,
  memory: PoolSeries | undefined,
  pool: string,
  from: number,
  to: number,
  nodes: boolean,
  maxPoints = nodes ? MAX_POINTS_WITH_NODES : MAX_POINTS,
): Promise<SeriesRange> {
  const oldest = memory?.oldest(pool);
  const mem = memory?.memoryRange(pool, from, to, nodes) ?? { points: [], nodeLines: [], nodesTotal: 0 };
  const storeUntil = oldest === undefined ? to : Math.min(to, oldest - 1);
  const stored =
    storeUntil >= from
      ? (await store.listSamples({ pool, since: from, until: storeUntil, limit: 200_000 })).map(pointOf)
      : [];
  const points = [...stored, ...mem.points];
  const nodeLines = mem.nodeLines.map((l) => ({
    ...l,
    values: [...new Array<number | null>(stored.length).fill(null), ...l.values],
  }));
  if (points.length <= maxPoints)
    return {
      points,
      nodeLines,
      nodesTotal: mem.nodesTotal,
      stepMs: 0,
      from: { store: stored.length, memory: mem.points.length },
    };
  const stepMs = Math.ceil((to - from) / maxPoints);
  const keep: number[] = [];
  points.forEach((p, i) => {
    const next = points[i + 1];
    if (!next || Math.floor((next.at - from) / stepMs) !== Math.floor((p.at - from) / stepMs)) keep.push(i);
  });
  return {
    points: keep.map((i) => points[i]!),
    nodeLines: nodeLines.map((l) => ({ ...l, values: keep.map((i) => l.values[i] ?? null) })),
    nodesTotal: mem.nodesTotal,
    stepMs,
    from: { store: stored.length, memory: mem.points.length },
  };
}
