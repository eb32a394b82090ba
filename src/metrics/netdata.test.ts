// Tests of netdata's shell-format parser and of the netdata source against a fake agent.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import {
  ENDLESS_TIMEOUT_MS,
  metricSourceContract,
  streamEndlessly,
} from '../../test/contracts/metric-source.contract.ts';
import { closedPort, type HttpFixture, startHttpFixture } from '../../test/support/http-fixture.ts';
import { NetdataSource, netdataBaseUrl, parseNetdataShell } from './netdata.ts';

// As netdata 1.37 writes it: a chart comment, padded `# units` comments, alarms at the end.
const SHELL_BODY = [
  '',
  '# chart: system.cpu (name: system.cpu)',
  'NETDATA_SYSTEM_CPU_GUEST_NICE="0"      # percentage',
  'NETDATA_SYSTEM_CPU_USER="7"      # percentage',
  'NETDATA_SYSTEM_CPU_IDLE="89"      # percentage',
  'NETDATA_SYSTEM_CPU_VISIBLETOTAL="11"      # percentage',
  '',
  '# chart: system.net (name: system.net)',
  'NETDATA_SYSTEM_NET_RECEIVED="1234"      # kilobits/s',
  'NETDATA_SYSTEM_NET_SENT="-567"      # kilobits/s',
  'NETDATA_SYSTEM_NET_VISIBLETOTAL="667"      # kilobits/s',
  'NETDATA_NEW_DIMENSION=""      # no data yet',
  '',
  '# NETDATA ALARMS RUNNING',
  'NETDATA_ALARM_SYSTEM_SWAP_USED_SWAP_VALUE="51"',
  'NETDATA_ALARM_SYSTEM_SWAP_USED_SWAP_STATUS="CLEAR"',
  '',
].join('\n');

test('parses variables, negative values and VISIBLETOTAL; skips comments, blanks and empty values', () => {
  const parsed = parseNetdataShell(SHELL_BODY);
  assert.deepEqual(parsed.errors, []);
  assert.deepEqual(Object.fromEntries(parsed.values), {
    NETDATA_SYSTEM_CPU_GUEST_NICE: 0,
    NETDATA_SYSTEM_CPU_USER: 7,
    NETDATA_SYSTEM_CPU_IDLE: 89,
    NETDATA_SYSTEM_CPU_VISIBLETOTAL: 11,
    NETDATA_SYSTEM_NET_RECEIVED: 1234,
    NETDATA_SYSTEM_NET_SENT: -567,
    NETDATA_SYSTEM_NET_VISIBLETOTAL: 667,
    NETDATA_ALARM_SYSTEM_SWAP_USED_SWAP_VALUE: 51,
  });
  assert.equal(parsed.values.has('NETDATA_NEW_DIMENSION'), false);
  assert.deepEqual(Object.fromEntries(parsed.texts), { NETDATA_ALARM_SYSTEM_SWAP_USED_SWAP_STATUS: 'CLEAR' });
});

test('reads CRLF bodies, unquoted and decimal values; reports other lines by number', () => {
  const parsed = parseNetdataShell('A="1"\r\nB=2\r\nC="2.5"  # x\r\n<html>\r\nD="3" trailing\r\n');
  assert.deepEqual(Object.fromEntries(parsed.values), { A: 1, B: 2, C: 2.5 });
  assert.deepEqual(
    parsed.errors.map((e) => e.line),
    [4, 5],
  );
  assert.match(parsed.errors[0]!.message, /not NAME="value": <html>/);
});

test('the agent URL fills {host} and {node}, encoded, and brackets an IPv6 host', () => {
  const t = { nodeId: 'sentry a/1', host: '10.0.0.5' };
  assert.equal(netdataBaseUrl('http://{host}:19999', t), 'http://10.0.0.5:19999');
  assert.equal(netdataBaseUrl('http://proxy/{node}/', t), 'http://proxy/sentry%20a%2F1');
  assert.equal(netdataBaseUrl('http://{host}:19999', { nodeId: 'x', host: '::1' }), 'http://[::1]:19999');
});

const fixtures: HttpFixture[] = [];
after(async () => {
  await Promise.all(fixtures.map((f) => f.close()));
});

test('collect maps each agent to its node and reports what it cannot read', async () => {
  const paths: string[] = [];
  const agent = await startHttpFixture((request, response) => {
    paths.push(request.url ?? '');
    response.end(SHELL_BODY);
  });
  fixtures.push(agent);
  const down = await closedPort();
  const source = new NetdataSource({ name: 'nd', urlTemplate: `http://{host}:${agent.port}` });
  const before = Date.now();
  const result = await source.collect(
    [
      'nd:NETDATA_SYSTEM_CPU_IDLE',
      'nd:NETDATA_SYSTEM_NET_SENT',
      'nd:NETDATA_NOT_THERE',
      'nd:NETDATA_ALARM_SYSTEM_SWAP_USED_SWAP_STATUS',
      'nd:NETDATA_SYSTEM_CPU_IDLE{dimension="idle"}',
    ],
    [{ nodeId: 'host-a', host: '127.0.0.1' }],
  );
  const afterCollect = Date.now();
  assert.deepEqual(paths, ['/api/v1/allmetrics?format=shell']);
  assert.deepEqual(
    result.samples.map((s) => [s.ref, s.node, s.value]),
    [
      ['nd:NETDATA_SYSTEM_CPU_IDLE', 'host-a', 89],
      ['nd:NETDATA_SYSTEM_NET_SENT', 'host-a', -567],
    ],
  );
  for (const s of result.samples) assert.ok(s.at >= before && s.at <= afterCollect);
  assert.deepEqual(
    result.errors.map((e) => [e.target, e.message]),
    [
      [
        undefined,
        '"nd:NETDATA_SYSTEM_CPU_IDLE{dimension="idle"}": netdata variables have no labels; write the bare variable name, e.g. NETDATA_SYSTEM_CPU_IDLE',
      ],
      ['host-a', `${agent.url}/api/v1/allmetrics?format=shell has no variable NETDATA_NOT_THERE (yet)`],
      [
        'host-a',
        `${agent.url}/api/v1/allmetrics?format=shell: NETDATA_ALARM_SYSTEM_SWAP_USED_SWAP_STATUS is "CLEAR", not a number`,
      ],
    ],
  );

  const unreachable = new NetdataSource({ name: 'nd', urlTemplate: `http://{host}:${down}` });
  const failed = await unreachable.collect(
    ['nd:NETDATA_SYSTEM_CPU_IDLE'],
    [{ nodeId: 'host-b', host: '127.0.0.1' }],
  );
  assert.deepEqual(failed.samples, []);
  assert.equal(failed.errors.length, 1);
  assert.equal(failed.errors[0]!.target, 'host-b');
  assert.match(failed.errors[0]!.message, /ECONNREFUSED/);
});

test('a urlTemplate that is not http(s) is refused', () => {
  assert.throws(() => new NetdataSource({ name: 'nd', urlTemplate: '{host}:19999' }), /must start with http/);
});

/** One fake agent serving every node under /<node>/, as urlTemplate http://127.0.0.1:PORT/{node} asks. */
async function contractAgent(values: Readonly<Record<string, number | null>>): Promise<HttpFixture> {
  const agent = await startHttpFixture((request, response) => {
    const node = decodeURIComponent((request.url ?? '').split('/')[1] ?? '');
    const value = values[node];
    response.end(
      value === null || value === undefined
        ? 'NETDATA_OTHER_METRIC="1"\n'
        : `# chart: contract\nNETDATA_CONTRACT_METRIC="${value}"      # units\n`,
    );
  });
  fixtures.push(agent);
  return agent;
}
const contractTargets = (nodes: readonly string[]) =>
  nodes.map((node) => ({ nodeId: node, host: '127.0.0.1' }));

metricSourceContract('netdata', {
  serving: async (values) => ({
    source: new NetdataSource({ name: 'nd', urlTemplate: `${(await contractAgent(values)).url}/{node}` }),
    ref: 'nd:NETDATA_CONTRACT_METRIC',
    targets: contractTargets(Object.keys(values)),
  }),
  unreachable: async (nodes) => ({
    source: new NetdataSource({ name: 'nd', urlTemplate: `http://127.0.0.1:${await closedPort()}/{node}` }),
    ref: 'nd:NETDATA_CONTRACT_METRIC',
    targets: contractTargets(nodes),
  }),
  endless: async (nodes) => {
    const agent = await startHttpFixture((_request, response) => {
      streamEndlessly(response, 'NETDATA_CONTRACT_METRIC="1"\n', `# ${'x'.repeat(1000)}\n`);
    });
    fixtures.push(agent);
    return {
      source: new NetdataSource({
        name: 'nd',
        urlTemplate: `${agent.url}/{node}`,
        timeoutMs: ENDLESS_TIMEOUT_MS,
      }),
      ref: 'nd:NETDATA_CONTRACT_METRIC',
      targets: contractTargets(nodes),
    };
  },
});
