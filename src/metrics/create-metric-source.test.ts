// Tests of the metric source factory: every kind is built, and nothing is guessed.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMetricSource, type MetricSourceConfig } from './create-metric-source.ts';
import { NetdataSource } from './netdata.ts';
import { PrometheusSource } from './prometheus.ts';
import { ScrapeSource } from './scrape.ts';

test('builds each kind with its name', () => {
  const scrape = createMetricSource({ name: 'nodes', kind: 'scrape', timeoutMs: 500 });
  assert.ok(scrape instanceof ScrapeSource);
  assert.equal(scrape.kind, 'scrape');
  assert.equal(scrape.name, 'nodes');
  const prom = createMetricSource({
    name: 'prom',
    kind: 'prometheus',
    url: 'http://127.0.0.1:9090',
    nodeLabel: 'pod',
  });
  assert.ok(prom instanceof PrometheusSource);
  assert.equal(prom.kind, 'prometheus');
  const nd = createMetricSource({ name: 'nd', kind: 'netdata', urlTemplate: undefined });
  assert.ok(nd instanceof NetdataSource);
  assert.equal(nd.kind, 'netdata');
});

test('refuses an unknown kind, a missing url and options of another kind', () => {
  assert.throws(
    () => createMetricSource({ name: 'x', kind: 'graphite' } as unknown as MetricSourceConfig),
    /metric source "x": unknown kind "graphite"; expected one of scrape, prometheus, netdata/,
  );
  assert.throws(() => createMetricSource({ name: 'p', kind: 'prometheus' }), /needs url/);
  assert.throws(
    () => createMetricSource({ name: 's', kind: 'scrape', url: 'http://x' }),
    /"s" \(kind scrape\) does not take "url"/,
  );
  assert.throws(
    () => createMetricSource({ name: 'n', kind: 'netdata', nodeLabel: 'instance' }),
    /"n" \(kind netdata\) does not take "nodeLabel"/,
  );
  assert.throws(
    () => createMetricSource({ name: 'n', kind: 'netdata', timeoutMs: -5 }),
    /timeoutMs must be a positive/,
  );
});
