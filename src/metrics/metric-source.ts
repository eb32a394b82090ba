// The contract every metric source implements: given the metric references the rules
// use and the nodes they may map to, return fresh samples (and what went wrong).

import type { Sample } from '../core/types.ts';

/** A node a source may map samples to. */
export interface MetricTarget {
  readonly nodeId: string;
  /** Host (IP or name) the node is reached at. */
  readonly host: string;
  /** The node's Prometheus text endpoint, for `scrape` sources. */
  readonly metricsUrl?: string | undefined;
  /** Other names the node is known by (e.g. `host:port`), for PromQL `nodeLabel` mapping. */
  readonly aliases?: readonly string[] | undefined;
}

export interface CollectError {
  /** Node id or URL that failed, or undefined for the whole source. */
  readonly target?: string | undefined;
  readonly message: string;
}

export interface CollectResult {
  readonly samples: Sample[];
  readonly errors: CollectError[];
}

export interface MetricSource {
  readonly name: string;
  readonly kind: string;
  /**
   * Fetches the given references (each `name:expr`, with `name` this source's name) for
   * the given targets. Never throws for an unreachable endpoint: that is an entry in
   * `errors`, and the missing samples make the decision hold.
   */
  collect(
    refs: readonly string[],
    targets: readonly MetricTarget[],
    signal?: AbortSignal,
  ): Promise<CollectResult>;
}
