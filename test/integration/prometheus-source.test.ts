// The prometheus source against a real Prometheus (Debian's package) scraping two fake nodes'
// exporters on loopback ports. Install it with scripts/testbed/prometheus.sh.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ScaleRule } from '../../src/core/policy.ts';
import { readRule } from '../../src/core/rule-evaluation.ts';
import type { MetricTarget } from '../../src/metrics/metric-source.ts';
import { PrometheusSource } from '../../src/metrics/prometheus.ts';
import { startHttpFixture } from '../support/http-fixture.ts';
import { pollUntil, startPrometheus } from '../support/servers.ts';

function exporterBody(load: number, height: number): string {
  return [
    '# HELP simnode_load Load of the simulated node, 0..1.',
    '# TYPE simnode_load gauge',
    `simnode_load{pool="sentries"} ${load}`,
    '# TYPE simnode_height gauge',
    `simnode_height ${height}`,
    '',
  ].join('\n');
}

test('prometheus source reads a real Prometheus', { timeout: 60_000 }, async (t) => {
  const startedAt = Date.now();
  const exporterA = await startHttpFixture((_request, response) => response.end(exporterBody(0.25, 100)));
  t.after(() => exporterA.close());
  const exporterB = await startHttpFixture((_request, response) => response.end(exporterBody(0.75, 102)));
  t.after(() => exporterB.close());
  const instanceA = `127.0.0.1:${exporterA.port}`;
  const instanceB = `127.0.0.1:${exporterB.port}`;

  const prometheus = await startPrometheus(t, { scrapeTargets: [instanceA, instanceB] });
  if (prometheus === undefined) return;

  // Both nodes share host 127.0.0.1: only their `host:port` aliases tell them apart.
  const targets: MetricTarget[] = [
    { nodeId: 'sentry-a', host: '127.0.0.1', aliases: [instanceA] },
    { nodeId: 'sentry-b', host: '127.0.0.1', aliases: [instanceB] },
  ];
  const source = new PrometheusSource({ name: 'prom', url: prometheus.url, timeoutMs: 2000 });

  const first = await pollUntil(
    () => source.collect(['prom:simnode_load'], targets),
    (r) => new Set(r.samples.map((s) => s.node)).size === 2,
    30_000,
  );
  assert.deepEqual(first.errors, [], `Prometheus log:\n${prometheus.logTail()}`);

  await t.test('vector series map to nodes by their instance label', () => {
    assert.deepEqual(first.samples.map((s) => [s.ref, s.node, s.value]).sort(), [
      ['prom:simnode_load', 'sentry-a', 0.25],
      ['prom:simnode_load', 'sentry-b', 0.75],
    ]);
    for (const s of first.samples) {
      assert.ok(
        s.at >= startedAt - 1000 && s.at <= Date.now() + 1000,
        `at ${s.at} is the query's evaluation time`,
      );
    }
  });

  await t.test('several expressions at once: aggregated ones are pool-level, by-node ones map', async () => {
    const result = await source.collect(
      [
        'prom:sum(simnode_load)',
        'prom:max by (instance) (simnode_height)',
        'prom:scalar(max(simnode_height))',
        'prom:up',
      ],
      targets,
    );
    assert.deepEqual(result.errors, []);
    const got = result.samples
      .map((s) => [s.ref, s.node, s.value])
      .sort((x, y) => String(x).localeCompare(String(y)));
    assert.deepEqual(got, [
      ['prom:max by (instance) (simnode_height)', 'sentry-a', 100],
      ['prom:max by (instance) (simnode_height)', 'sentry-b', 102],
      ['prom:scalar(max(simnode_height))', undefined, 102],
      ['prom:sum(simnode_load)', undefined, 1],
      ['prom:up', 'sentry-a', 1],
      ['prom:up', 'sentry-b', 1],
    ]);
  });

  await t.test('invalid PromQL and a range vector are error entries naming the query', async () => {
    const result = await source.collect(
      ['prom:sum(simnode_load', 'prom:simnode_load[30s]', 'prom:sum(simnode_load)'],
      targets,
    );
    assert.deepEqual(
      result.samples.map((s) => s.ref),
      ['prom:sum(simnode_load)'],
    );
    assert.equal(result.errors.length, 2);
    assert.match(result.errors[0]!.message, /query "sum\(simnode_load" failed: bad_data: .*parse error/);
    assert.match(result.errors[1]!.message, /query "simnode_load\[30s\]" failed: it returns a range vector/);
  });

  await t.test(
    'several series for a node give it none; NaN is no sample; +Inf reaches the rules, which hold',
    async () => {
      const several = 'prom:simnode_load or label_replace(simnode_load, "copy", "1", "instance", "(.*)")';
      const nan = 'prom:simnode_load / 0 * 0';
      const overflow = 'prom:simnode_load * 1e308 * 10';
      const result = await source.collect([several, nan, overflow], targets);
      assert.deepEqual(
        result.errors.map((e) => [e.target, e.message.replace(/ \(e\.g\..*/, '')]).sort(),
        ['sentry-a', 'sentry-b'].map((node) => [
          node,
          `query ${JSON.stringify(several.slice('prom:'.length))} returned 2 series for node ${node}, so it gets no sample; aggregate by instance`,
        ]),
      );
      assert.deepEqual(result.samples.map((s) => [s.ref, s.node, s.value]).sort(), [
        [overflow, 'sentry-a', Number.POSITIVE_INFINITY],
        [overflow, 'sentry-b', Number.POSITIVE_INFINITY],
      ]);
      const rule: ScaleRule = {
        kind: 'threshold',
        metric: overflow,
        aggregate: 'avg',
        comparator: '>',
        threshold: 0.8,
        step: { nodes: 1 },
        rate: false,
      };
      const reading = readRule(
        rule,
        ['sentry-a', 'sentry-b'],
        { current: result.samples, staleAfter: () => 30_000 },
        Date.now(),
      );
      assert.deepEqual(reading, {
        status: 'invalid',
        why: `${overflow} = Infinity on node sentry-a is not a finite number (and 1 more node(s))`,
      });
    },
  );

  await t.test('a node label Prometheus does not have makes every series pool-level', async () => {
    const byPod = new PrometheusSource({ name: 'prom', url: prometheus.url, nodeLabel: 'pod' });
    const result = await byPod.collect(['prom:simnode_load'], targets);
    assert.deepEqual(result.errors, []);
    assert.deepEqual(
      result.samples.map((s) => s.node),
      [undefined, undefined],
    );
  });
});
