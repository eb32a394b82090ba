// Builds a metric source from its config entry: the one place that knows every source kind.

import type { MetricSource } from './metric-source.ts';
import { NetdataSource } from './netdata.ts';
import { PrometheusSource } from './prometheus.ts';
import { ScrapeSource } from './scrape.ts';

export type MetricSourceKind = 'scrape' | 'prometheus' | 'netdata';
export const METRIC_SOURCE_KINDS: readonly MetricSourceKind[] = ['scrape', 'prometheus', 'netdata'];

export interface MetricSourceConfig {
  readonly name: string;
  readonly kind: MetricSourceKind;
  /** prometheus: the server's base URL (required). */
  readonly url?: string | undefined;
  /** prometheus: the label naming the node. Default `instance`. */
  readonly nodeLabel?: string | undefined;
  /** netdata: agent URL with `{host}`/`{node}`. Default `http://{host}:19999`. */
  readonly urlTemplate?: string | undefined;
  /** Every kind: per request. Default 2000. */
  readonly timeoutMs?: number | undefined;
}

const OPTIONS_OF_KIND: Readonly<Record<MetricSourceKind, readonly string[]>> = {
  scrape: ['timeoutMs'],
  prometheus: ['url', 'nodeLabel', 'timeoutMs'],
  netdata: ['urlTemplate', 'timeoutMs'],
};

/**
 * Throws an Error naming the source for an unknown kind, a missing required option, or an option
 * the kind does not use (a misplaced option is a misunderstanding worth stopping for).
 */
export function createMetricSource(config: MetricSourceConfig): MetricSource {
  const { name, kind } = config;
  if (typeof name !== 'string' || name === '') throw new Error('a metric source needs a name');
  if (!Object.hasOwn(OPTIONS_OF_KIND, kind)) {
    throw new Error(
      `metric source "${name}": unknown kind ${JSON.stringify(kind)}; expected one of ${METRIC_SOURCE_KINDS.join(', ')}`,
    );
  }
  const allowed = OPTIONS_OF_KIND[kind];
  for (const [option, value] of Object.entries(config)) {
    if (option === 'name' || option === 'kind' || value === undefined) continue;
    if (!allowed.includes(option)) {
      throw new Error(
        `metric source "${name}" (kind ${kind}) does not take "${option}"; it takes ${allowed.join(', ')}`,
      );
    }
  }
  switch (kind) {
    case 'scrape':
      return new ScrapeSource({ name, timeoutMs: config.timeoutMs });
    case 'prometheus':
      if (config.url === undefined || config.url === '') {
        throw new Error(
          `metric source "${name}" (kind prometheus) needs url, the Prometheus server's base URL`,
        );
      }
      return new PrometheusSource({
        name,
        url: config.url,
        nodeLabel: config.nodeLabel,
        timeoutMs: config.timeoutMs,
      });
    case 'netdata':
      return new NetdataSource({ name, urlTemplate: config.urlTemplate, timeoutMs: config.timeoutMs });
  }
}
