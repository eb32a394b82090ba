// Tests of the prometheus source against a fake /api/v1/query that answers as Prometheus does.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  ENDLESS_TIMEOUT_MS,
  metricSourceContract,
  streamEndlessly,
} from '../../test/contracts/metric-source.contract.ts';
import { closedPort, type HttpFixture, startHttpFixture } from '../../test/support/http-fixture.ts';
import type { MetricTarget } from './metric-source.ts';
import { nodeResolver, PrometheusSource } from './prometheus.ts';

const T = 1700000000.123;
const vector = (result: unknown[]) => ({ status: 'success', data: { resultType: 'vector', result } });

// query → [HTTP status, body]
const ANSWERS: Record<string, [number, unknown]> = {
  peers: [
    200,
    vector([
      { metric: { __name__: 'peers', instance: '10.0.0.1:26660' }, value: [T, '7'] },
      { metric: { __name__: 'peers', instance: 'sentry-b' }, value: [T, '9'] },
      { metric: { __name__: 'peers', instance: '10.0.0.3:26660' }, value: [T, '4'] },
      { metric: { __name__: 'peers', instance: 'elsewhere:9100' }, value: [T, '1'] },
      { metric: { __name__: 'peers', instance: '10.0.0.9:26660' }, value: [T, 'NaN'] },
    ]),
  ],
  'sum(peers)': [200, vector([{ metric: {}, value: [T, '21'] }])],
  'scalar(sum(peers))': [200, { status: 'success', data: { resultType: 'scalar', result: [T, '+Inf'] } }],
  'peers[1m]': [200, { status: 'success', data: { resultType: 'matrix', result: [] } }],
  'sum(': [
    400,
    {
      status: 'error',
      errorType: 'bad_data',
      error: 'invalid parameter "query": 1:5: parse error: unclosed left parenthesis',
    },
  ],
  by_pod: [200, vector([{ metric: { pod: 'sentry-a' }, value: [T, '3'] }])],
  shared_host: [200, vector([{ metric: { instance: '10.0.0.50:9100' }, value: [T, '1'] }])],
  per_cpu: [
    200,
    vector([
      { metric: { instance: 'sentry-a', cpu: '0' }, value: [T, '1'] },
      { metric: { instance: 'sentry-a', cpu: '1' }, value: [T, '2'] },
    ]),
  ],
  '"a string"': [200, { status: 'success', data: { resultType: 'string', result: [T, 'a string'] } }],
};

let api: HttpFixture;
let notJson: HttpFixture;
const queries: string[] = [];
before(async () => {
  api = await startHttpFixture((request, response) => {
    const url = new URL(request.url ?? '/', 'http://x');
    const query = url.searchParams.get('query') ?? '';
    queries.push(`${url.pathname} ${query}`);
    const [status, body] = ANSWERS[query] ?? [
      422,
      { status: 'error', errorType: 'execution', error: 'unknown' },
    ];
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(JSON.stringify(body));
  });
  notJson = await startHttpFixture((_request, response) => response.end('<html>not prometheus</html>'));
});
after(async () => {
  await api.close();
  await notJson.close();
});

const targets: MetricTarget[] = [
  { nodeId: 'sentry-a', host: '10.0.0.1' },
  { nodeId: 'sentry-b', host: '10.0.0.2' },
  { nodeId: 'sentry-c', host: '10.0.0.3', aliases: ['10.0.0.3:26660'] },
  { nodeId: 'shared-1', host: '10.0.0.50' },
  { nodeId: 'shared-2', host: '10.0.0.50' },
];

test('vector series map to nodes by the node label; series of unmanaged nodes are dropped, aggregated ones are pool-level', async () => {
  queries.length = 0;
  const source = new PrometheusSource({ name: 'prom', url: `${api.url}/` });
  const result = await source.collect(['prom:peers', 'prom: peers', 'prom:sum(peers)'], targets);
  assert.deepEqual(result.errors, []);
  assert.deepEqual(
    result.samples.map((s) => [s.ref, s.node, s.value, s.at]),
    [
      ['prom:peers', 'sentry-a', 7, 1700000000123],
      ['prom: peers', 'sentry-a', 7, 1700000000123],
      ['prom:peers', 'sentry-b', 9, 1700000000123],
      ['prom: peers', 'sentry-b', 9, 1700000000123],
      ['prom:peers', 'sentry-c', 4, 1700000000123],
      ['prom: peers', 'sentry-c', 4, 1700000000123],
      ['prom:sum(peers)', undefined, 21, 1700000000123],
    ],
  );
  assert.deepEqual(
    queries.sort(),
    ['/api/v1/query peers', '/api/v1/query sum(peers)'],
    'one query per distinct expr',
  );
});

test('a scalar is a pool-level sample and ±Inf is read', async () => {
  const result = await new PrometheusSource({ name: 'prom', url: api.url }).collect(
    ['prom:scalar(sum(peers))'],
    targets,
  );
  assert.deepEqual(result.errors, []);
  assert.deepEqual(result.samples, [
    { ref: 'prom:scalar(sum(peers))', node: undefined, value: Number.POSITIVE_INFINITY, at: 1700000000123 },
  ]);
});

test('nodeLabel picks the label that names the node', async () => {
  const result = await new PrometheusSource({ name: 'prom', url: api.url, nodeLabel: 'pod' }).collect(
    ['prom:by_pod'],
    targets,
  );
  assert.deepEqual(
    result.samples.map((s) => [s.node, s.value]),
    [['sentry-a', 3]],
  );
});

test('invalid PromQL, a matrix, a string, a non-Prometheus server and an unreachable one are errors naming the query', async () => {
  const source = new PrometheusSource({ name: 'prom', url: api.url });
  const result = await source.collect(
    ['prom:sum(', 'prom:peers[1m]', 'prom:"a string"', 'prom:sum(peers)'],
    targets,
  );
  assert.deepEqual(
    result.samples.map((s) => s.ref),
    ['prom:sum(peers)'],
    'a bad query does not spoil the others',
  );
  assert.deepEqual(
    result.errors.map((e) => e.message),
    [
      `prometheus ${api.url}: query "sum(" failed: bad_data: invalid parameter "query": 1:5: parse error: unclosed left parenthesis`,
      `prometheus ${api.url}: query "peers[1m]" failed: it returns a range vector (matrix); use an instant vector, e.g. wrap it in avg_over_time(...)`,
      `prometheus ${api.url}: query "\\"a string\\"" failed: result type "string" is not a vector or scalar`,
    ],
  );
  assert.ok(result.errors.every((e) => e.target === api.url));

  const html = await new PrometheusSource({ name: 'prom', url: notJson.url }).collect(['prom:up'], targets);
  assert.match(html.errors[0]!.message, /query "up" failed: the answer is not JSON/);

  const port = await closedPort();
  const down = await new PrometheusSource({ name: 'prom', url: `http://127.0.0.1:${port}` }).collect(
    ['prom:up'],
    targets,
  );
  assert.deepEqual(down.samples, []);
  assert.match(
    down.errors[0]!.message,
    new RegExp(`GET http://127\\.0\\.0\\.1:${port}/api/v1/query\\?query=up.*ECONNREFUSED`),
  );
});

test('a series whose label fits several nodes is dropped; a node with several series gets none of them', async () => {
  const result = await new PrometheusSource({ name: 'prom', url: api.url }).collect(
    ['prom:shared_host', 'prom:per_cpu', 'prom:peers'],
    targets,
  );
  assert.deepEqual(
    result.samples.map((s) => [s.ref, s.node, s.value]),
    [
      ['prom:peers', 'sentry-a', 7],
      ['prom:peers', 'sentry-b', 9],
      ['prom:peers', 'sentry-c', 4],
    ],
    "which of the per_cpu series is sentry-a's would be a guess",
  );
  assert.deepEqual(
    result.errors.map((e) => e.message),
    [
      'query "shared_host": instance="10.0.0.50:9100" fits nodes shared-1, shared-2; the series is dropped (give each node a distinct alias)',
      'query "per_cpu" returned 2 series for node sentry-a, so it gets no sample; aggregate by instance (e.g. max by (instance) (...)) to get one',
    ],
  );
});

test('node resolution prefers ids, then aliases, then hosts, then hosts without the port', () => {
  const resolve = nodeResolver([
    { nodeId: 'a', host: '10.0.0.1', aliases: ['10.0.0.1:1', 'b'] },
    { nodeId: 'b', host: '10.0.0.1', aliases: ['10.0.0.1:2'] },
    { nodeId: 'c', host: 'v6host', aliases: [] },
    { nodeId: 'd', host: '::1' },
  ]);
  assert.deepEqual(resolve('b'), { node: 'b' }, 'an id beats an alias');
  assert.deepEqual(resolve('10.0.0.1:2'), { node: 'b' });
  assert.deepEqual(resolve('10.0.0.1:3'), { ambiguous: ['a', 'b'] });
  assert.deepEqual(resolve('v6host:9100'), { node: 'c' });
  assert.deepEqual(resolve('[::1]:9100'), { node: 'd' });
  assert.deepEqual(resolve('nowhere'), { node: undefined });
});

test('a url that is not http(s) is refused', () => {
  assert.throws(
    () => new PrometheusSource({ name: 'p', url: 'prometheus:9090' }),
    /must be an http\(s\) URL/,
  );
});

/** A Prometheus answering `contract_metric` with one series per node, labelled instance="<node>:26660". */
async function contractPrometheus(values: Readonly<Record<string, number | null>>): Promise<HttpFixture> {
  const result = Object.entries(values)
    .filter(([, v]) => v !== null)
    .map(([node, v]) => ({ metric: { instance: `${node}:26660` }, value: [Date.now() / 1000, String(v)] }));
  const server = await startHttpFixture((request, response) => {
    const query = new URL(request.url ?? '/', 'http://x').searchParams.get('query');
    response.writeHead(query === 'contract_metric' ? 200 : 422, { 'content-type': 'application/json' });
    response.end(
      JSON.stringify(query === 'contract_metric' ? vector(result) : { status: 'error', error: '?' }),
    );
  });
  contractServers.push(server);
  return server;
}
const contractServers: HttpFixture[] = [];
after(() => Promise.all(contractServers.map((s) => s.close())));
const contractTargets = (nodes: readonly string[]): MetricTarget[] =>
  nodes.map((node, i) => ({ nodeId: node, host: `10.0.9.${i + 1}`, aliases: [`${node}:26660`] }));

metricSourceContract('prometheus', {
  serving: async (values) => ({
    source: new PrometheusSource({ name: 'prom', url: (await contractPrometheus(values)).url }),
    ref: 'prom:contract_metric',
    targets: contractTargets(Object.keys(values)),
  }),
  unreachable: async (nodes) => ({
    source: new PrometheusSource({ name: 'prom', url: `http://127.0.0.1:${await closedPort()}` }),
    ref: 'prom:contract_metric',
    targets: contractTargets(nodes),
  }),
  endless: async (nodes) => {
    const server = await startHttpFixture((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      streamEndlessly(
        response,
        '{"status":"success","data":{"resultType":"vector","result":[',
        '{"metric":{"instance":"elsewhere:9100"},"value":[1700000000,"1"]},',
      );
    });
    contractServers.push(server);
    return {
      source: new PrometheusSource({ name: 'prom', url: server.url, timeoutMs: ENDLESS_TIMEOUT_MS }),
      ref: 'prom:contract_metric',
      targets: contractTargets(nodes),
    };
  },
});
