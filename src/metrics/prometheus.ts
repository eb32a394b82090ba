// The `prometheus` metric source: runs each ref's PromQL expression as an instant query against
// a Prometheus server's HTTP API and maps the series it returns to nodes by one label.

import type { Sample } from '../core/types.ts';
import { httpGet, MAX_BODY_BYTES } from './http-fetch.ts';
import type { CollectResult, MetricSource, MetricTarget } from './metric-source.ts';
import { positiveOption, refsForSource } from './source-refs.ts';

export interface PrometheusSourceOptions {
  readonly name: string;
  /** Base URL of the server, e.g. `http://prometheus:9090` (a path prefix is kept). */
  readonly url: string;
  /** The label whose value names the node a series belongs to. Default `instance`. */
  readonly nodeLabel?: string | undefined;
  /** Per query. Default 2000. */
  readonly timeoutMs?: number | undefined;
}

export const DEFAULT_PROMETHEUS_TIMEOUT_MS = 2000;
export const DEFAULT_NODE_LABEL = 'instance';

/**
 * Each ref is `name:PromQL`. Every distinct expression is queried once per collect, all in
 * parallel. A vector element becomes a sample of the node its `nodeLabel` value names: matched
 * exactly against node ids, then aliases, then hosts, then (port stripped, `10.0.0.5:26660` →
 * `10.0.0.5`) against hosts. An element without that label (`sum(x)`) is a pool-level sample
 * (node undefined); one that names no node Rampart manages is dropped (a shared Prometheus
 * scrapes other fleets too); one whose value names several nodes is dropped with an
 * error, as mapping it to either would be a guess; so is a query that returns several series for
 * one node: that node gets no sample from it, and an error. A scalar is a pool-level sample. NaN
 * values are no sample. `at` is the timestamp Prometheus gives the value.
 */
export class PrometheusSource implements MetricSource {
  readonly kind = 'prometheus';
  readonly name: string;
  readonly #baseUrl: string;
  readonly #nodeLabel: string;
  readonly #timeoutMs: number;

  constructor(options: PrometheusSourceOptions) {
    this.name = options.name;
    if (!/^https?:\/\/[^/]/.test(options.url)) {
      throw new Error(`prometheus source ${options.name}: url must be an http(s) URL, got "${options.url}"`);
    }
    this.#baseUrl = options.url.replace(/\/+$/, '');
    this.#nodeLabel = options.nodeLabel ?? DEFAULT_NODE_LABEL;
    if (this.#nodeLabel === '')
      throw new Error(`prometheus source ${options.name}: nodeLabel must not be empty`);
    this.#timeoutMs = positiveOption(
      options.timeoutMs,
      DEFAULT_PROMETHEUS_TIMEOUT_MS,
      `prometheus source ${options.name}: timeoutMs`,
    );
  }

  async collect(
    refs: readonly string[],
    targets: readonly MetricTarget[],
    signal?: AbortSignal,
  ): Promise<CollectResult> {
    const { refs: accepted, errors } = refsForSource(this.name, refs);
    const refsByExpr = new Map<string, string[]>();
    for (const { ref, expr } of accepted) {
      const list = refsByExpr.get(expr);
      if (list === undefined) refsByExpr.set(expr, [ref]);
      else list.push(ref);
    }
    const nodeOf = nodeResolver(targets);
    const answers = await Promise.all([...refsByExpr.keys()].map((expr) => this.#query(expr, signal)));
    const samples: Sample[] = [];
    for (const answer of answers) {
      if ('message' in answer) {
        errors.push({ target: this.#baseUrl, message: answer.message });
        continue;
      }
      const refsOfExpr = refsByExpr.get(answer.expr)!;
      const seriesPerNode = new Map<string, number>();
      const found: Sample[] = [];
      for (const point of answer.points) {
        let node: string | undefined;
        const labels = point.labels;
        const labelValue =
          labels !== undefined && Object.hasOwn(labels, this.#nodeLabel)
            ? String(labels[this.#nodeLabel])
            : undefined;
        if (labelValue !== undefined) {
          const resolved = nodeOf(labelValue);
          if (resolved.ambiguous !== undefined) {
            errors.push({
              target: this.#baseUrl,
              message:
                `query ${JSON.stringify(answer.expr)}: ${this.#nodeLabel}="${labelValue}" fits nodes ` +
                `${resolved.ambiguous.join(', ')}; the series is dropped (give each node a distinct alias)`,
            });
            continue;
          }
          // A series that names a node Rampart does not manage is not this pool's: a shared
          // Prometheus also scrapes other fleets, and their values must not stand in for ours.
          if (resolved.node === undefined) continue;
          node = resolved.node;
        }
        if (Number.isNaN(point.value)) continue;
        if (node !== undefined) seriesPerNode.set(node, (seriesPerNode.get(node) ?? 0) + 1);
        for (const ref of refsOfExpr) found.push({ ref, node, value: point.value, at: point.at });
      }
      for (const [node, count] of seriesPerNode) {
        if (count < 2) continue;
        errors.push({
          target: node,
          message:
            `query ${JSON.stringify(answer.expr)} returned ${count} series for node ${node}, so it gets no sample; ` +
            `aggregate by ${this.#nodeLabel} (e.g. max by (${this.#nodeLabel}) (...)) to get one`,
        });
      }
      // Which of several series is the node's would be a guess.
      for (const s of found)
        if (s.node === undefined || (seriesPerNode.get(s.node) ?? 0) < 2) samples.push(s);
    }
    return { samples, errors };
  }

  async #query(expr: string, signal: AbortSignal | undefined): Promise<QueryAnswer | { message: string }> {
    const params = new URLSearchParams({ query: expr, timeout: `${this.#timeoutMs}ms` });
    const url = `${this.#baseUrl}/api/v1/query?${params}`;
    const fail = (why: string) => ({
      message: `prometheus ${this.#baseUrl}: query ${JSON.stringify(expr)} failed: ${why}`,
    });
    // A JSON answer is often one line: only the body as a whole is capped.
    const response = await httpGet(url, {
      timeoutMs: this.#timeoutMs,
      signal,
      accept: 'application/json',
      limits: { maxBytes: MAX_BODY_BYTES },
    });
    if (!response.ok && response.body === undefined) return fail(response.message);
    const body = response.ok ? response.body : response.body!;
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      if (!response.ok) return fail(response.message);
      return fail(`the answer is not JSON (is ${this.#baseUrl} a Prometheus server?)`);
    }
    if (!isRecord(json)) return fail('the answer is not a JSON object');
    if (json.status === 'error') {
      const type = typeof json.errorType === 'string' ? `${json.errorType}: ` : '';
      return fail(`${type}${typeof json.error === 'string' ? json.error : 'no error message'}`);
    }
    if (!response.ok) return fail(response.message);
    if (json.status !== 'success' || !isRecord(json.data))
      return fail('the answer has no status "success" and data');
    const { resultType, result } = json.data;
    if (resultType === 'scalar') {
      const point = readPoint(result);
      if (point === undefined) return fail('malformed scalar result');
      return { expr, points: [{ labels: undefined, ...point }] };
    }
    if (resultType === 'vector') {
      if (!Array.isArray(result)) return fail('malformed vector result');
      const points: QueryPoint[] = [];
      for (const element of result) {
        if (!isRecord(element) || !isRecord(element.metric)) return fail('malformed vector element');
        const point = readPoint(element.value);
        if (point === undefined) return fail('malformed vector element value');
        points.push({ labels: element.metric as Record<string, string>, ...point });
      }
      return { expr, points };
    }
    if (resultType === 'matrix') {
      return fail(
        'it returns a range vector (matrix); use an instant vector, e.g. wrap it in avg_over_time(...)',
      );
    }
    return fail(`result type ${JSON.stringify(resultType)} is not a vector or scalar`);
  }
}

interface QueryPoint {
  readonly labels: Readonly<Record<string, string>> | undefined;
  readonly value: number;
  readonly at: number;
}

interface QueryAnswer {
  readonly expr: string;
  readonly points: QueryPoint[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `[1700000000.123, "42"]`: seconds since the epoch and the value as a string. */
function readPoint(pair: unknown): { value: number; at: number } | undefined {
  if (!Array.isArray(pair) || pair.length !== 2) return undefined;
  const [seconds, text] = pair as [unknown, unknown];
  if (typeof seconds !== 'number' || typeof text !== 'string') return undefined;
  const value = parsePromValue(text);
  if (value === undefined) return undefined;
  return { value, at: Math.round(seconds * 1000) };
}

function parsePromValue(text: string): number | undefined {
  if (text === 'NaN') return Number.NaN;
  if (text === '+Inf' || text === 'Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  if (text.trim() === '') return undefined;
  const n = Number(text);
  return Number.isNaN(n) ? undefined : n;
}

export interface Resolution {
  readonly node?: string | undefined;
  /** Every node the value fits, when more than one does. */
  readonly ambiguous?: string[] | undefined;
}

/** Maps a label value to a node id, by the precedence documented on PrometheusSource. */
export function nodeResolver(targets: readonly MetricTarget[]): (labelValue: string) => Resolution {
  const byId = new Map<string, Set<string>>();
  const byAlias = new Map<string, Set<string>>();
  const byHost = new Map<string, Set<string>>();
  const add = (index: Map<string, Set<string>>, key: string, node: string) => {
    if (key === '') return;
    const set = index.get(key);
    if (set === undefined) index.set(key, new Set([node]));
    else set.add(node);
  };
  for (const t of targets) {
    add(byId, t.nodeId, t.nodeId);
    for (const alias of t.aliases ?? []) add(byAlias, alias, t.nodeId);
    add(byHost, t.host, t.nodeId);
  }
  const pick = (set: Set<string> | undefined): Resolution | undefined => {
    if (set === undefined) return undefined;
    if (set.size === 1) return { node: set.values().next().value };
    return { ambiguous: [...set].sort() };
  };
  return (labelValue) =>
    pick(byId.get(labelValue)) ??
    pick(byAlias.get(labelValue)) ??
    pick(byHost.get(labelValue)) ??
    pick(byHost.get(stripPort(labelValue))) ?? { node: undefined };
}

/** `10.0.0.5:9100` → `10.0.0.5`, `[::1]:9100` → `::1`; anything else unchanged. */
function stripPort(value: string): string {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):\d+$/.exec(value);
  if (match === null) return value;
  return match[1] ?? match[2]!;
}
