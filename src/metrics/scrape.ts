// The `scrape` metric source: reads each node's own Prometheus text endpoint (its metricsUrl)
// directly, with no Prometheus server in between.

import { matchesLabels } from '../core/metric-ref.ts';
import type { Sample } from '../core/types.ts';
import { httpGet, MAX_BODY_BYTES, MAX_LINE_BYTES, mapLimited } from './http-fetch.ts';
import type { CollectError, CollectResult, MetricSource, MetricTarget } from './metric-source.ts';
import {
  findDuplicateSeries,
  type ParsedSample,
  PrometheusTextParser,
  seriesName,
} from './prom-text-parser.ts';
import { positiveOption, type SelectorRef, selectorRefsForSource } from './source-refs.ts';

export interface ScrapeSourceOptions {
  readonly name: string;
  /** Per target, for the whole request and body. Default 2000. */
  readonly timeoutMs?: number | undefined;
  /** Targets scraped at the same time at most. Default 16. */
  readonly concurrency?: number | undefined;
  /** A body larger than this (bytes) is refused as an error. Default MAX_BODY_BYTES (16 MiB). */
  readonly maxBodyBytes?: number | undefined;
  /** A body with a longer line (bytes) is refused as an error. Default MAX_LINE_BYTES (64 KiB). */
  readonly maxLineBytes?: number | undefined;
}

export const DEFAULT_SCRAPE_TIMEOUT_MS = 2000;
export const DEFAULT_SCRAPE_CONCURRENCY = 16;

// Ask for the classic text format: OpenMetrics or protobuf bodies are not what the parser reads.
const ACCEPT = 'text/plain;version=0.0.4;q=1,*/*;q=0.1';

/**
 * Each ref is `name:selector`, e.g. `nodes:cometbft_p2p_peers{chain_id="x"}`. For every target
 * with a `metricsUrl` (targets without one are skipped) the value of a ref is the SUM of the
 * series that match its selector on that node, so a bare name over a labelled family (per peer,
 * per channel) adds up; add label matchers to pick a single series. A NaN among the series
 * makes the sum unknown: that ref gets no sample from the node (±Inf is passed on, for the rules
 * to refuse). A sample's `at` is the oldest exposition timestamp among the series summed, where
 * the endpoint gives timestamps, and otherwise the moment the response arrived.
 * Errors: unreachable endpoints, timeouts, HTTP errors, bodies or lines past their caps, malformed
 * lines (the rest of the body is still used), a selector that matches nothing on a node (usually
 * a misspelt name or label), and a series of a wanted metric that appears twice: the format has
 * one sample per series and Prometheus refuses such a scrape, so the node gets no sample at all.
 */
export class ScrapeSource implements MetricSource {
  readonly kind = 'scrape';
  readonly name: string;
  readonly #timeoutMs: number;
  readonly #concurrency: number;
  readonly #maxBodyBytes: number;
  readonly #maxLineBytes: number;

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
    this.#maxBodyBytes = positiveOption(
      options.maxBodyBytes,
      MAX_BODY_BYTES,
      `scrape source ${options.name}: maxBodyBytes`,
    );
    this.#maxLineBytes = positiveOption(
      options.maxLineBytes,
      MAX_LINE_BYTES,
      `scrape source ${options.name}: maxLineBytes`,
    );
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
      limits: { maxBytes: this.#maxBodyBytes, maxLineBytes: this.#maxLineBytes },
      onChunk: (chunk) => parser.push(chunk),
    });
    if (!response.ok) return { samples: [], errors: [{ target: node, message: response.message }] };
    const parsed = parser.end();

    const duplicates = findDuplicateSeries(parsed.samples);
    const duplicate = duplicates[0];
    if (duplicate !== undefined) {
      const more = duplicates.length - 1;
      return {
        samples: [],
        errors: [
          {
            target: node,
            message: `${url}: series ${duplicate} appears more than once${more > 0 ? ` (and ${more} more series)` : ''}; a scrape holds each series once, so no sample is taken from this node`,
          },
        ],
      };
    }

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
      let nan: ParsedSample | undefined;
      let at = Number.POSITIVE_INFINITY;
      for (const s of byName.get(selector.name) ?? []) {
        if (!matchesLabels(selector.matchers, s.labels)) continue;
        matched++;
        if (Number.isNaN(s.value)) nan ??= s;
        sum += s.value;
        at = Math.min(at, s.timestampMs ?? response.receivedAt);
      }
      if (matched === 0) errors.push({ target: node, message: `${url} has no series matching ${expr}` });
      else if (nan !== undefined)
        errors.push({
          target: node,
          message: `${url}: ${matched === 1 ? `${expr} is NaN` : `${seriesName(nan)}, one of ${matched} series matching ${expr}, is NaN`}: no sample`,
        });
      else samples.push({ ref, node, value: sum, at });
    }
    return { samples, errors };
  }
}
