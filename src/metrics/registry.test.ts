// Tests of the metric source registry: every kind is built from its slice, and nothing is guessed.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KubernetesMetricsSource } from './kubernetes.ts';
import { NetdataSource } from './netdata.ts';
import { PrometheusSource } from './prometheus.ts';
import { createMetricSource, type MetricSourceConfig, metricSourceConfig } from './registry.ts';
import { ScrapeSource } from './scrape.ts';

const build = (entry: unknown) => createMetricSource(metricSourceConfig.parse(entry));

test('builds each kind with its name', () => {
  const scrape = build({ name: 'nodes', kind: 'scrape', timeout: '500ms' });
  assert.ok(scrape instanceof ScrapeSource);
  assert.equal(scrape.kind, 'scrape');
  assert.equal(scrape.name, 'nodes');
  const prom = build({ name: 'prom', kind: 'prometheus', url: 'http://127.0.0.1:9090', nodeLabel: 'pod' });
  assert.ok(prom instanceof PrometheusSource);
  assert.equal(prom.kind, 'prometheus');
  const nd = build({ name: 'nd', kind: 'netdata' });
  assert.ok(nd instanceof NetdataSource);
  assert.equal(nd.kind, 'netdata');
  const kube = build({ name: 'k', kind: 'kubernetes', cluster: { server: 'https://127.0.0.1:6443' } });
  assert.ok(kube instanceof KubernetesMetricsSource);
});

test('refuses an unknown kind, a missing url and options of another kind', () => {
  assert.throws(
    () => createMetricSource({ name: 'x', kind: 'graphite' } as unknown as MetricSourceConfig),
    /unknown metric source kind "graphite": expected one of scrape, prometheus, netdata, kubernetes/,
  );
  const refused = (entry: unknown, field: string) => {
    const r = metricSourceConfig.safeParse(entry);
    assert.equal(r.success, false, JSON.stringify(entry));
    assert.ok(
      r.error?.issues.some(
        (i) => i.path.includes(field) || ('keys' in i && (i.keys as string[]).includes(field)),
      ),
      `${JSON.stringify(entry)}: ${JSON.stringify(r.error?.issues)}`,
    );
  };
  refused({ name: 'p', kind: 'prometheus' }, 'url');
  refused({ name: 's', kind: 'scrape', url: 'http://x' }, 'url');
  refused({ name: 'n', kind: 'netdata', nodeLabel: 'instance' }, 'nodeLabel');
  refused({ name: 'n', kind: 'netdata', timeout: '0s' }, 'timeout');
});
