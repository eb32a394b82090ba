import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { KubeClient } from '../kube/kube-client.ts';
import { KubernetesMetricsSource, parseBytes, parseCpu, parseQuantity } from './kubernetes.ts';

describe('Kubernetes quantities', () => {
  test('cpu in cores from every suffix metrics-server uses', () => {
    assert.equal(parseCpu('250m'), 0.25);
    assert.equal(parseCpu('1'), 1);
    assert.equal(parseCpu('1500000n'), 0.0015);
    assert.ok(Math.abs(parseCpu('12345u') - 0.012345) < 1e-12);
    assert.equal(parseCpu('2.5'), 2.5);
  });
  test('memory in bytes, binary and decimal', () => {
    assert.equal(parseBytes('128Mi'), 128 * 2 ** 20);
    assert.equal(parseBytes('1Gi'), 2 ** 30);
    assert.equal(parseBytes('500Ki'), 512_000);
    assert.equal(parseBytes('1e9'), 1e9);
    assert.equal(parseBytes('1G'), 1e9);
    assert.equal(parseBytes('123456'), 123456);
    assert.equal(parseQuantity('1.5k'), 1500);
  });
  test('anything else is refused with the text', () => {
    for (const bad of ['', 'abc', '1Xi', '1 Mi', '--1'])
      assert.throws(() => parseQuantity(bad), /is not a Kubernetes quantity/);
  });
});

describe('KubernetesMetricsSource (against a canned HTTP answer)', () => {
  let server: Server;
  let pods: unknown = { items: [] };
  let nodes: unknown = { items: [] };
  let status = 200;
  const calls: string[] = [];
  before(async () => {
    server = createServer((req, res) => {
      calls.push(req.url ?? '');
      res.statusCode = status;
      res.setHeader('content-type', 'application/json');
      if (status !== 200)
        return res.end(JSON.stringify({ reason: 'Forbidden', message: 'no metrics for you' }));
      res.end(JSON.stringify(req.url?.endsWith('/nodes') ? nodes : pods));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  });
  after(() => server.close());
  const source = () =>
    new KubernetesMetricsSource({
      name: 'k8s',
      client: new KubeClient({ server: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }),
    });
  const at = '2026-11-22T10:00:00Z';

  test('pods map by namespace/name before plain name, containers summed, timestamp kept', async () => {
    pods = {
      items: [
        {
          metadata: { name: 'sentry-1', namespace: 'chain' },
          timestamp: at,
          containers: [
            { name: 'a', usage: { cpu: '250m', memory: '100Mi' } },
            { name: 'b', usage: { cpu: '500m', memory: '28Mi' } },
          ],
        },
        // Same pod name in another namespace: not this target's.
        {
          metadata: { name: 'sentry-1', namespace: 'other' },
          timestamp: at,
          containers: [{ name: 'a', usage: { cpu: '4', memory: '1Gi' } }],
        },
      ],
    };
    calls.length = 0;
    const r = await source().collect(
      ['k8s:cpu', 'k8s:memory'],
      [{ nodeId: 's1', host: '10.0.0.1', aliases: ['sentry-1', 'chain/sentry-1'] }],
    );
    assert.deepEqual(r.errors, []);
    assert.deepEqual(
      r.samples.map((s) => [s.ref, s.node, s.value, s.at]),
      [
        ['k8s:cpu', 's1', 0.75, Date.parse(at)],
        ['k8s:memory', 's1', 128 * 2 ** 20, Date.parse(at)],
      ],
    );
    assert.deepEqual(calls, ['/apis/metrics.k8s.io/v1beta1/pods'], 'no Node list when every target is a pod');
  });

  test('Nodes map by name; a target with no item has no sample', async () => {
    pods = { items: [] };
    nodes = {
      items: [
        { metadata: { name: 'ip-10-0-1-5.ec2.internal' }, timestamp: at, usage: { cpu: '3', memory: '2Gi' } },
      ],
    };
    const r = await source().collect(
      ['k8s:cpu'],
      [
        { nodeId: 'w1', host: 'ip-10-0-1-5.ec2.internal' },
        { nodeId: 'w2', host: 'ip-10-0-1-6.ec2.internal' },
      ],
    );
    assert.deepEqual(
      r.samples.map((s) => [s.node, s.value]),
      [['w1', 3]],
    );
  });

  test('unknown expressions are errors; a refused list is one error and no samples', async () => {
    const r = await source().collect(['k8s:disk'], [{ nodeId: 'x', host: 'x' }]);
    assert.match(r.errors[0]!.message, /has cpu \(cores\) and memory \(bytes\), not "disk"/);
    status = 403;
    try {
      const refused = await source().collect(['k8s:cpu'], [{ nodeId: 'x', host: 'x' }]);
      assert.equal(refused.samples.length, 0);
      assert.equal(refused.errors.length, 1);
      assert.match(
        refused.errors[0]!.message,
        /pods from metrics\.k8s\.io: .*403 Forbidden: no metrics for you/,
      );
    } finally {
      status = 200;
    }
  });
});
