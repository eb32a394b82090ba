// Every metric source kind: the slice of `metrics[]` each reads, how each is built from its
// entry, and what it accepts after `SOURCE:` in a rule's metric. A new source is a file
// beside this one and one line here.

import type { z } from 'zod';
import {
  type Connection,
  createFrom,
  type KindSchema,
  type Parts,
  type Plugin,
  pluginOf,
  unionOf,
} from '../config-kit/plugin.ts';
import { KubeClient } from '../kube/kube-client.ts';
import {
  checkNetdataVariable,
  checkResourceMetric,
  checkSelector,
  kubeMetricsConnections,
  kubeMetricsSourceConfig,
  netdataSourceConfig,
  prometheusSourceConfig,
  scrapeSourceConfig,
} from './config.ts';
import { KubernetesMetricsSource } from './kubernetes.ts';
import type { MetricSource } from './metric-source.ts';
import { NetdataSource } from './netdata.ts';
import { PrometheusSource } from './prometheus.ts';
import { ScrapeSource } from './scrape.ts';

/** A metric source kind, as the config and the wiring point see it. */
export interface MetricSourcePlugin<S extends KindSchema = KindSchema>
  extends Plugin<S, undefined, MetricSource> {
  /** What is wrong with `expr` (the part after `SOURCE:`) for this kind; undefined if nothing. */
  checkExpr?(expr: string, source: string): string | undefined;
  /** The URLs it connects to, for controller.api.requireTls. */
  connections?(entry: Parts<z.output<S>>): Connection[];
}

const source = <S extends KindSchema>(p: MetricSourcePlugin<S>) => p;

export const METRIC_SOURCES = [
  source({
    config: scrapeSourceConfig,
    create: (m) => new ScrapeSource({ name: m.name, timeoutMs: m.timeout }),
    checkExpr: checkSelector,
  }),
  source({
    config: prometheusSourceConfig,
    create: (m) =>
      new PrometheusSource({ name: m.name, url: m.url, nodeLabel: m.nodeLabel, timeoutMs: m.timeout }),
  }),
  source({
    config: netdataSourceConfig,
    create: (m) => new NetdataSource({ name: m.name, urlTemplate: m.urlTemplate, timeoutMs: m.timeout }),
    checkExpr: checkNetdataVariable,
  }),
  source({
    config: kubeMetricsSourceConfig,
    create: (m) =>
      new KubernetesMetricsSource({ name: m.name, client: new KubeClient(m.cluster), timeoutMs: m.timeout }),
    checkExpr: checkResourceMetric,
    connections: kubeMetricsConnections,
  }),
] as const;

/** A `metrics[]` entry: one of the registered slices. */
export const metricSourceConfig = unionOf(METRIC_SOURCES);
export type MetricSourceConfig = z.output<typeof metricSourceConfig>;

/** The plugin of a metric source kind. */
export const metricSourcePlugin = (kind: string): MetricSourcePlugin =>
  pluginOf<MetricSourcePlugin>(METRIC_SOURCES, kind, 'metric source');

/** Builds the metric source a `metrics[]` entry names. */
export function createMetricSource(m: MetricSourceConfig): MetricSource {
  return createFrom(METRIC_SOURCES, m, undefined, 'metric source');
}
