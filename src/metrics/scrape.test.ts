// Tests of the scrape source against real HTTP servers on 127.0.0.1 serving exposition text.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import {
  ENDLESS_TIMEOUT_MS,
  metricSourceContract,
  streamEndlessly,
} from '../../test/contracts/metric-source.contract.ts';
import { closedPort, type HttpFixture, startHttpFixture } from '../../test/support/http-fixture.ts';
import { MAX_BODY_BYTES, MAX_LINE_BYTES } from './http-fetch.ts';
import type { MetricTarget } from './metric-source.ts';
import { ScrapeSource } from './scrape.ts';

function cometbftText(height: number, peers: number): string {
  return [
    '# HELP cometbft_consensus_height Height of the chain.',
    '# TYPE cometbft_consensus_height gauge',
    `cometbft_consensus_height{chain_id="test-1"} ${height}`,
    '# HELP cometbft_p2p_peers Number of peers.',
    '# TYPE cometbft_p2p_peers gauge',
    `cometbft_p2p_peers{chain_id="test-1"} ${peers}`,
    '# TYPE cometbft_p2p_peer_receive_bytes_total counter',
    'cometbft_p2p_peer_receive_bytes_total{chID="0x20",chain_id="test-1",peer_id="aaa"} 100',
    'cometbft_p2p_peer_receive_bytes_total{chID="0x21",chain_id="test-1",peer_id="aaa"} 20',
    'cometbft_p2p_peer_receive_bytes_total{chID="0x20",chain_id="test-1",peer_id="bbb"} 3',
    '# TYPE cometbft_consensus_block_interval_seconds histogram',
    'cometbft_consensus_block_interval_seconds_bucket{chain_id="test-1",le="1"} 4',
    'cometbft_consensus_block_interval_seconds_bucket{chain_id="test-1",le="+Inf"} 9',
    'node_time_seconds 1700000000.5 1700000000500',
    'flaky_gauge{kind="a"} NaN',
    'flaky_gauge{kind="b"} 2',
    'always_nan NaN',
    '',
  ].join('\n');
}

const fixtures: HttpFixture[] = [];
after(async () => {
  await Promise.all(fixtures.map((f) => f.close()));
});

async function serve(body: string, status = 200): Promise<HttpFixture> {
  const fixture = await startHttpFixture((_request, response) => {
    response.writeHead(status, { 'content-type': 'text/plain; version=0.0.4' });
    response.end(body);
  });
  fixtures.push(fixture);
  return fixture;
}

function target(nodeId: string, metricsUrl: string | undefined): MetricTarget {
  return { nodeId, host: '127.0.0.1', metricsUrl };
}

test('maps each endpoint to its node and sums the series a selector matches', async () => {
  const a = await serve(cometbftText(100, 7));
  const b = await serve(cometbftText(101, 9));
  const source = new ScrapeSource({ name: 'nodes' });
  const before = Date.now();
  const result = await source.collect(
    [
      'nodes:cometbft_consensus_height',
      'nodes:cometbft_p2p_peers{chain_id="test-1"}',
      'nodes:cometbft_p2p_peer_receive_bytes_total',
      'nodes:cometbft_p2p_peer_receive_bytes_total{peer_id="aaa",chID="0x21"}',
      'nodes:cometbft_p2p_peer_receive_bytes_total{peer_id!="aaa"}',
      'nodes:cometbft_consensus_block_interval_seconds_bucket{le="+Inf"}',
    ],
    [target('sentry-a', `${a.url}/metrics`), target('sentry-b', `${b.url}/metrics`)],
  );
  const after = Date.now();
  assert.deepEqual(result.errors, []);
  const value = (ref: string, node: string) =>
    result.samples.find((s) => s.ref === ref && s.node === node)?.value;
  assert.equal(value('nodes:cometbft_consensus_height', 'sentry-a'), 100);
  assert.equal(value('nodes:cometbft_consensus_height', 'sentry-b'), 101);
  assert.equal(value('nodes:cometbft_p2p_peers{chain_id="test-1"}', 'sentry-a'), 7);
  assert.equal(value('nodes:cometbft_p2p_peers{chain_id="test-1"}', 'sentry-b'), 9);
  assert.equal(value('nodes:cometbft_p2p_peer_receive_bytes_total', 'sentry-a'), 123);
  assert.equal(
    value('nodes:cometbft_p2p_peer_receive_bytes_total{peer_id="aaa",chID="0x21"}', 'sentry-a'),
    20,
  );
  assert.equal(value('nodes:cometbft_p2p_peer_receive_bytes_total{peer_id!="aaa"}', 'sentry-b'), 3);
  assert.equal(value('nodes:cometbft_consensus_block_interval_seconds_bucket{le="+Inf"}', 'sentry-a'), 9);
  assert.equal(result.samples.length, 12);
  for (const s of result.samples) {
    assert.ok(s.at >= before && s.at <= after, 'without an exposition timestamp, at is the fetch time');
  }
});

test('a sample takes the exposition timestamp when the endpoint gives one', async () => {
  const a = await serve(cometbftText(1, 1));
  const result = await new ScrapeSource({ name: 'nodes' }).collect(
    ['nodes:node_time_seconds'],
    [target('n1', a.url)],
  );
  assert.deepEqual(result.samples, [
    { ref: 'nodes:node_time_seconds', node: 'n1', value: 1700000000.5, at: 1700000000500 },
  ]);
});

test('a NaN among the series a selector sums makes its value unknown: an error naming the series, no sample', async () => {
  const a = await serve(cometbftText(1, 1));
  const result = await new ScrapeSource({ name: 'nodes' }).collect(
    ['nodes:flaky_gauge', 'nodes:always_nan', 'nodes:flaky_gauge{kind="b"}'],
    [target('n1', a.url)],
  );
  assert.deepEqual(
    result.samples.map((s) => [s.ref, s.value]),
    [['nodes:flaky_gauge{kind="b"}', 2]],
    'a selector that leaves the NaN series out still reads',
  );
  assert.deepEqual(
    result.errors.map((e) => e.message),
    [
      `${a.url}: flaky_gauge{kind="a"}, one of 2 series matching flaky_gauge, is NaN: no sample`,
      `${a.url}: always_nan is NaN: no sample`,
    ],
  );
});

test('a series repeated in one scrape, labels in any order, gives the node no sample; the error names it', async () => {
  const twice = await serve(
    [
      'cometbft_consensus_height 7',
      'cometbft_p2p_peers{chain_id="c",dir="in"} 3',
      'cometbft_p2p_peers{chain_id="c",dir="out"} 4',
      'cometbft_p2p_peers{dir="in", chain_id="c"} 3',
      '',
    ].join('\n'),
  );
  const fine = await serve(cometbftText(9, 2));
  const result = await new ScrapeSource({ name: 'nodes' }).collect(
    ['nodes:cometbft_p2p_peers', 'nodes:cometbft_consensus_height'],
    [target('twice', twice.url), target('fine', fine.url)],
  );
  assert.deepEqual(
    result.samples.map((s) => [s.ref, s.node, s.value]),
    [
      ['nodes:cometbft_p2p_peers', 'fine', 2],
      ['nodes:cometbft_consensus_height', 'fine', 9],
    ],
    'not even the unrepeated height is taken from the node that repeats a series',
  );
  assert.deepEqual(result.errors, [
    {
      target: 'twice',
      message: `${twice.url}: series cometbft_p2p_peers{chain_id="c",dir="in"} appears more than once; a scrape holds each series once, so no sample is taken from this node`,
    },
  ]);
});

test('a body past 16 MiB or a line past 64 KiB is refused while it streams, with the cap in the error', async () => {
  const endless = (head: string, chunk: string) =>
    startHttpFixture((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      streamEndlessly(response, head, chunk);
    }).then((f) => {
      fixtures.push(f);
      return f;
    });
  const manyLines = await endless('x 1\n', `# ${'x'.repeat(1000)}\n`);
  const oneLine = await endless('x 1\n', 'x{a="'.padEnd(1000, 'a'));
  const source = new ScrapeSource({ name: 'nodes', timeoutMs: ENDLESS_TIMEOUT_MS });
  const started = Date.now();
  const result = await source.collect(
    ['nodes:x'],
    [target('many', `${manyLines.url}/metrics`), target('long', `${oneLine.url}/metrics`)],
  );
  assert.ok(Date.now() - started < ENDLESS_TIMEOUT_MS / 2, 'a cap ended the reads, not the timeout');
  assert.deepEqual(result.samples, []);
  assert.deepEqual(
    result.errors.map((e) => [e.target, e.message]),
    [
      ['many', `GET ${manyLines.url}/metrics: body exceeds 16 MiB; refused`],
      ['long', `GET ${oneLine.url}/metrics: line 2 exceeds 64 KiB; refused`],
    ],
  );
  assert.equal(MAX_BODY_BYTES, 16 * 1024 * 1024);
  assert.equal(MAX_LINE_BYTES, 64 * 1024);
});

test('an unreachable endpoint is an error entry for its node, and the others still report', async () => {
  const a = await serve(cometbftText(5, 1));
  const port = await closedPort();
  const result = await new ScrapeSource({ name: 'nodes' }).collect(
    ['nodes:cometbft_consensus_height'],
    [target('up', a.url), target('down', `http://127.0.0.1:${port}/metrics`)],
  );
  assert.deepEqual(
    result.samples.map((s) => [s.node, s.value]),
    [['up', 5]],
  );
  assert.equal(result.errors.length, 1);
  assert.equal(result.errors[0]!.target, 'down');
  assert.match(
    result.errors[0]!.message,
    new RegExp(`GET http://127\\.0\\.0\\.1:${port}/metrics failed: .*ECONNREFUSED`),
  );
});

test('a target that does not answer in time is an error entry naming the timeout', async () => {
  const silent = await startHttpFixture(() => {
    // Never answers: the source must give up on its own.
  });
  fixtures.push(silent);
  const result = await new ScrapeSource({ name: 'nodes', timeoutMs: 150 }).collect(
    ['nodes:cometbft_consensus_height'],
    [target('slow', `${silent.url}/metrics`)],
  );
  assert.deepEqual(result.samples, []);
  assert.deepEqual(result.errors, [
    { target: 'slow', message: `GET ${silent.url}/metrics timed out after 150 ms` },
  ]);
});

test("the caller's abort signal ends the collect with errors instead of a throw", async () => {
  const silent = await startHttpFixture(() => undefined);
  fixtures.push(silent);
  const controller = new AbortController();
  const pending = new ScrapeSource({ name: 'nodes', timeoutMs: 60_000 }).collect(
    ['nodes:x'],
    [target('n1', `${silent.url}/a`), target('n2', `${silent.url}/b`)],
    controller.signal,
  );
  setTimeout(() => controller.abort(), 50);
  const result = await pending;
  assert.deepEqual(result.samples, []);
  assert.deepEqual(
    result.errors.map((e) => [e.target, e.message]),
    [
      ['n1', `GET ${silent.url}/a aborted`],
      ['n2', `GET ${silent.url}/b aborted`],
    ],
  );
});

test('HTTP errors, missing series and malformed lines are reported; good lines still count', async () => {
  const broken = await serve('oops', 503);
  const partial = await serve(
    'good{n="1"} 1\ngood{bad\nunwanted lines are not checked\ngood{n="2"} 2\ngood abc\n',
  );
  const result = await new ScrapeSource({ name: 'nodes' }).collect(
    ['nodes:good', 'nodes:missing_metric{a="b"}'],
    [target('broken', broken.url), target('partial', partial.url)],
  );
  assert.deepEqual(
    result.samples.map((s) => [s.ref, s.node, s.value]),
    [['nodes:good', 'partial', 3]],
  );
  assert.deepEqual(
    result.errors.map((e) => `${e.target}: ${e.message}`),
    [
      `broken: GET ${broken.url} answered HTTP 503: oops`,
      `partial: ${partial.url}: 2 malformed lines skipped; line 2: good: expected = after label bad`,
      `partial: ${partial.url} has no series matching missing_metric{a="b"}`,
    ],
  );
});

test('refs of another source or with a bad selector are errors; targets without a URL are skipped', async () => {
  const a = await serve(cometbftText(3, 1));
  const result = await new ScrapeSource({ name: 'nodes' }).collect(
    ['other:cometbft_consensus_height', 'nodes:bad{label=unquoted}', 'nodes:cometbft_consensus_height'],
    [target('with-url', a.url), target('without-url', undefined)],
  );
  assert.deepEqual(
    result.samples.map((s) => s.node),
    ['with-url'],
  );
  assert.equal(result.errors.length, 2);
  assert.match(result.errors[0]!.message, /names source "other", not "nodes"/);
  assert.match(result.errors[1]!.message, /must be in double quotes/);
});

test('no more than `concurrency` targets are fetched at once', async () => {
  let inFlight = 0;
  let maxInFlight = 0;
  const slow = await startHttpFixture((_request, response) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    setTimeout(() => {
      inFlight--;
      response.end('x 1\n');
    }, 20);
  });
  fixtures.push(slow);
  const targets = Array.from({ length: 7 }, (_, k) => target(`n${k}`, `${slow.url}/m${k}`));
  const result = await new ScrapeSource({ name: 'nodes', concurrency: 2 }).collect(['nodes:x'], targets);
  assert.equal(result.samples.length, 7);
  assert.deepEqual(result.errors, []);
  assert.equal(maxInFlight, 2);
});

test('invalid options are refused when the source is built', () => {
  assert.throws(
    () => new ScrapeSource({ name: 'nodes', timeoutMs: 0 }),
    /timeoutMs must be a positive number/,
  );
  assert.throws(
    () => new ScrapeSource({ name: 'nodes', concurrency: -1 }),
    /concurrency must be a positive number/,
  );
});

metricSourceContract('scrape', {
  serving: async (values) => {
    const targets: MetricTarget[] = [];
    for (const [node, value] of Object.entries(values)) {
      const endpoint = await serve(value === null ? 'other_metric 1\n' : `contract_metric ${value}\n`);
      targets.push(target(node, `${endpoint.url}/metrics`));
    }
    return { source: new ScrapeSource({ name: 'nodes' }), ref: 'nodes:contract_metric', targets };
  },
  unreachable: async (nodes) => {
    const port = await closedPort();
    return {
      source: new ScrapeSource({ name: 'nodes' }),
      ref: 'nodes:contract_metric',
      targets: nodes.map((node) => target(node, `http://127.0.0.1:${port}/metrics`)),
    };
  },
  endless: async (nodes) => {
    const endpoint = await startHttpFixture((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      streamEndlessly(response, 'contract_metric 1\n', `# ${'x'.repeat(1000)}\n`);
    });
    fixtures.push(endpoint);
    return {
      source: new ScrapeSource({ name: 'nodes', timeoutMs: ENDLESS_TIMEOUT_MS }),
      ref: 'nodes:contract_metric',
      targets: nodes.map((node) => target(node, `${endpoint.url}/metrics`)),
    };
  },
});
