// The `scrape` metric source: reads each node's own Prometheus text endpoint (its metricsUrl)
// directly, with no Prometheus server in between.

import { matchesLabels } from '../core/metric-ref.ts';
import type { Sample } from '../core/types.ts';
import { httpGet, mapLimited } from './http-fetch.ts';
import type { CollectError, CollectResult, MetricSource, MetricTarget } from './metric-source.ts';
import { type ParsedSample, PrometheusTextParser } from './prom-text-parser.ts';
import { positiveOption, type SelectorRef, selectorRefsForSource } from './source-refs.ts';

export interface ScrapeSourceOptions {
  readonly name: string;
  /** Per target, for the whole request and body. Default 2000. */
  readonly timeoutMs?: number | undefined;
  /** Targets scraped at the same time at most. Default 16. */
  readonly concurrency?: number | undefined;
  /** A body larger than this (in characters) is dropped as an error. Default 64 Mi. */
  readonly maxBodyChars?: number | undefined;
}

export const DEFAULT_SCRAPE_TIMEOUT_MS = 2000;
export const DEFAULT_SCRAPE_CONCURRENCY = 16;

// Ask for the classic text format: OpenMetrics or protobuf bodies are not what the parser reads.
const ACCEPT = 'text/plain;version=0.0.4;q=1,*/*;q=0.1';

/**
 * Each ref is `name:selector`, e.g. `nodes:cometbft_p2p_peers{chain_id="x"}`. For every target
 * with a `metricsUrl` (targets without one are skipped) the value of a ref is the SUM of the
 * series that match its selector on that node, so a bare name over a labelled family (per peer,
 * per channel) adds up; add label matchers to pick a single series. NaN series are left out.
 * A sample's `at` is the oldest exposition timestamp among the series summed, where the endpoint
 * gives timestamps, and otherwise the moment the response arrived.
 * Errors: unreachable endpoints, timeouts, HTTP errors, malformed lines (the rest of the body is
 * still used), and a selector that matches nothing on a node (usually a misspelt name or label).
 */
export class ScrapeSource implements MetricSource {
  readonly kind = 'scrape';
  readonly name: string;
  readonly #timeoutMs: number;
  readonly #concurrency: number;
  readonly #maxBodyChars: number | undefined;

  constructor(options: ScrapeSourceOptions) {
    this.name = options.name;
    this.#timeoutMs = positiveOption(
      options.timeoutMs,
      DEFAULT_SCRAPE_TIMEOUT_MS,
      `scrape source ${options.name}: timeoutMs`,
    );
    this.#concurrency = Math.floor(
      positiveOption(
        options.concurrency,
        DEFAULT_SCRAPE_CONCURRENCY,
        `scrape source ${options.name}: concurrency`,
      ),
    );
    this.#maxBodyChars = options.maxBodyChars;
  }

  async collect(
    refs: readonly string[],
    targets: readonly MetricTarget[],
    signal?: AbortSignal,
  ): Promise<CollectResult> {
    const { refs: selectors, errors } = selectorRefsForSource(this.name, refs);
    const samples: Sample[] = [];
    if (selectors.length === 0) return { samples, errors };
    const names = new Set(selectors.map((r) => r.selector.name));
    const scrapeable = targets.filter((t) => t.metricsUrl !== undefined && t.metricsUrl !== '');
    const perTarget = await mapLimited(scrapeable, this.#concurrency, (target) =>
      this.#scrapeTarget(target, selectors, names, signal),
    );
    for (const result of perTarget) {
      for (const s of result.samples) samples.push(s);
      for (const e of result.errors) errors.push(e);
    }
    return { samples, errors };
  }

  async #scrapeTarget(
    target: MetricTarget,
    selectors: readonly SelectorRef[],
    names: ReadonlySet<string>,
    signal: AbortSignal | undefined,
  ): Promise<CollectResult> {
    const url = target.metricsUrl!;
    const node = target.nodeId;
    const parser = new PrometheusTextParser({ names, maxErrors: 1 });
    const response = await httpGet(url, {
      timeoutMs: this.#timeoutMs,
      signal,
      accept: ACCEPT,
      maxChars: this.#maxBodyChars,
      onChunk: (chunk) => parser.push(chunk),
    });
    if (!response.ok) return { samples: [], errors: [{ target: node, message: response.message }] };
    const parsed = parser.end();

    const errors: CollectError[] = [];
    const first = parsed.errors[0];
    if (first !== undefined) {
      const count = parsed.errorCount;
      errors.push({
        target: node,
        message: `${url}: ${count} malformed line${count === 1 ? '' : 's'} skipped; line ${first.line}: ${first.message}`,
      });
    }

    const byName = new Map<string, ParsedSample[]>();
    for (const s of parsed.samples) {
      const list = byName.get(s.name);
      if (list === undefined) byName.set(s.name, [s]);
      else list.push(s);
    }

    const samples: Sample[] = [];
    for (const { ref, expr, selector } of selectors) {
      let sum = 0;
      let matched = 0;
      let nanOnly = 0;
      let at = Number.POSITIVE_INFINITY;
      for (const s of byName.get(selector.name) ?? []) {
        if (!matchesLabels(selector.matchers, s.labels)) continue;
        if (Number.isNaN(s.value)) {
          nanOnly++;
          continue;
        }
        sum += s.value;
        matched++;
        at = Math.min(at, s.timestampMs ?? response.receivedAt);
      }
      if (matched > 0) samples.push({ ref, node, value: sum, at });
      else if (nanOnly > 0)
        errors.push({ target: node, message: `${url}: every series matching ${expr} is NaN` });
      else errors.push({ target: node, message: `${url} has no series matching ${expr}` });
    }
    return { samples, errors };
  }
}
