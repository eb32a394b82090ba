// The config slices of the metric source kinds (`metrics[]`), and what each accepts after
// `SOURCE:` in a rule's metric.

import { z } from 'zod';
import { httpUrl, kubeCluster, name, positiveDurationDefault } from '../config-kit/fields.ts';
import type { Connection, Parts } from '../config-kit/plugin.ts';
import { parseSelector } from '../core/metric-ref.ts';
import { kubeConnection } from '../kube/kube-client.ts';

const sourceCommon = {
  name,
  timeout: positiveDurationDefault('2s', 'Longest wait for one fetch.'),
  staleAfter: positiveDurationDefault(
    '30s',
    'A sample older than this counts as missing; one stamped further ahead of the clock is refused.',
  ),
};

/** Each node's own Prometheus text endpoint, scraped by Rampart. */
export const scrapeSourceConfig = z.strictObject({ ...sourceCommon, kind: z.literal('scrape') });

export const prometheusSourceConfig = z.strictObject({
  ...sourceCommon,
  kind: z.literal('prometheus'),
  url: httpUrl,
  /** Label whose value names the node a series belongs to. Default instance. */
  nodeLabel: z.string().default('instance'),
});

export const netdataSourceConfig = z.strictObject({
  ...sourceCommon,
  kind: z.literal('netdata'),
  /** Per-node netdata URL; {host} and {node} are replaced. Default http://{host}:19999. */
  urlTemplate: z.string().default('http://{host}:19999'),
});

export const kubeMetricsSourceConfig = z.strictObject({
  ...sourceCommon,
  /**
   * The resource metrics API (metrics.k8s.io, served by metrics-server): `NAME:cpu` in
   * cores and `NAME:memory` in bytes, per pod (kube-pod nodes) or per Node (kube-node nodes).
   */
  kind: z.literal('kubernetes'),
  cluster: kubeCluster,
});

/** A selector `name{label="value"}`: what scrape sources read. Undefined when it is one. */
export function checkSelector(expr: string): string | undefined {
  try {
    parseSelector(expr);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/** netdata variables are bare names. */
export function checkNetdataVariable(expr: string, source: string): string | undefined {
  try {
    if (parseSelector(expr).matchers.length > 0)
      return `netdata variables have no labels: write just the name, e.g. ${source}:NETDATA_SYSTEM_CPU_IDLE`;
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/** The resource metrics API has two metrics. */
export function checkResourceMetric(expr: string, source: string): string | undefined {
  if (expr !== 'cpu' && expr !== 'memory')
    return `"${expr}" is not in the resource metrics API: write ${source}:cpu (cores) or ${source}:memory (bytes)`;
  return undefined;
}

/** The cluster's API server, for controller.api.requireTls. */
export const kubeMetricsConnections = (m: Parts<z.output<typeof kubeMetricsSourceConfig>>): Connection[] => [
  kubeConnection(m.cluster),
];
