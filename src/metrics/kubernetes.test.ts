import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import {
  ENDLESS_TIMEOUT_MS,
  metricSourceContract,
  streamEndlessly,
} from '../../test/contracts/metric-source.contract.ts';
import { closedPort, type HttpFixture, startHttpFixture } from '../../test/support/http-fixture.ts';
import { KubeClient } from '../kube/kube-client.ts';
import { KubernetesMetricsSource, MAX_NAMESPACE_LISTS } from './kubernetes.ts';
import type { MetricTarget } from './metric-source.ts';

/** Canned metrics.k8s.io answers over plain HTTP: the unit under test is the mapping, not the transport. */
interface Canned {
  pods: {
    namespace: string;
    name: string;
    containers: { cpu?: string; memory?: string }[];
    timestamp?: string;
  }[];
  nodes: { name: string; cpu?: string; memory?: string; timestamp?: string }[];
  /** Status per resource path segment (`nodes`, `pods`) to refuse with. */
  refuse: Partial<Record<'nodes' | 'pods', number>>;
}

describe('KubernetesMetricsSource (against canned metrics.k8s.io answers)', () => {
  let server: Server;
  let canned: Canned;
  const calls: string[] = [];
  const at = '2026-11-22T10:00:00Z';
  before(async () => {
    server = createServer((req, res) => {
      const path = req.url ?? '';
      calls.push(path);
      const m = /^\/apis\/metrics\.k8s\.io\/v1beta1(?:\/namespaces\/([^/]+))?\/(nodes|pods)$/.exec(path);
      res.setHeader('content-type', 'application/json');
      if (m === null) {
        res.statusCode = 404;
        return res.end(JSON.stringify({ reason: 'NotFound', message: `${path} not found` }));
      }
      const [, namespace, resource] = m as unknown as [string, string | undefined, 'nodes' | 'pods'];
      const refused = canned.refuse[resource];
      if (refused !== undefined) {
        res.statusCode = refused;
        return res.end(JSON.stringify({ reason: 'Forbidden', message: `no ${resource} metrics for you` }));
      }
      const items =
        resource === 'nodes'
          ? canned.nodes.map((n) => ({
              metadata: { name: n.name },
              timestamp: 'timestamp' in n ? n.timestamp : at,
              window: '15s',
              usage: { cpu: n.cpu, memory: n.memory },
            }))
          : canned.pods
              .filter((p) => namespace === undefined || p.namespace === namespace)
              .map((p) => ({
                metadata: { name: p.name, namespace: p.namespace },
                timestamp: 'timestamp' in p ? p.timestamp : at,
                window: '15s',
                containers: p.containers.map((usage, i) => ({ name: `c${i}`, usage })),
              }));
      res.end(JSON.stringify({ kind: 'List', items }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  });
  after(() => server.close());
  beforeEach(() => {
    canned = { pods: [], nodes: [], refuse: {} };
    calls.length = 0;
  });
  const source = () =>
    new KubernetesMetricsSource({
      name: 'k8s',
      client: new KubeClient({ server: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }),
    });
  const API = '/apis/metrics.k8s.io/v1beta1';
  /** A target as observe builds it for a kubernetes provider's pod. */
  const podTarget = (nodeId: string, ns: string, pod: string): MetricTarget => ({
    nodeId,
    host: `${pod}.svc.${ns}.svc`,
    aliases: [pod, `${ns}/${pod}`],
  });
  const rows = (r: { samples: { ref: string; node?: string | undefined; value: number; at: number }[] }) =>
    r.samples.map((s) => [s.ref, s.node, s.value, s.at]);

  test('a pod target: its namespace listed alone, containers summed, the item timestamp kept', async () => {
    canned.pods = [
      // Same pod name in another namespace, listed first: never this target's.
      { namespace: 'other', name: 'sentry-1', containers: [{ cpu: '4', memory: '1Gi' }] },
      {
        namespace: 'chain',
        name: 'sentry-1',
        containers: [
          { cpu: '250m', memory: '100Mi' },
          { cpu: '500000000n', memory: '28Mi' },
        ],
      },
    ];
    const r = await source().collect(['k8s:cpu', 'k8s:memory'], [podTarget('s1', 'chain', 'sentry-1')]);
    assert.deepEqual(r.errors, []);
    assert.deepEqual(rows(r), [
      ['k8s:cpu', 's1', 0.75, Date.parse(at)],
      ['k8s:memory', 's1', 128 * 2 ** 20, Date.parse(at)],
    ]);
    assert.deepEqual(calls, [`${API}/namespaces/chain/pods`], 'no Node list, no list of every namespace');
  });

  test("a pod target whose pod has no metrics yet gets nothing, not a namesake's or a Node's", async () => {
    canned.pods = [{ namespace: 'other', name: 'sentry-1', containers: [{ cpu: '4', memory: '1Gi' }] }];
    canned.nodes = [{ name: 'sentry-1', cpu: '3', memory: '2Gi' }];
    const r = await source().collect(['k8s:cpu'], [podTarget('s1', 'chain', 'sentry-1')]);
    assert.deepEqual(r, { samples: [], errors: [] });
  });

  test(`more than ${MAX_NAMESPACE_LISTS} namespaces: one list of all pods, still matched by namespace`, async () => {
    const targets: MetricTarget[] = [];
    for (let i = 0; i <= MAX_NAMESPACE_LISTS; i++) {
      targets.push(podTarget(`n${i}`, `ns-${i}`, 'db-0'));
      canned.pods.push({ namespace: `ns-${i}`, name: 'db-0', containers: [{ cpu: `${i}`, memory: '1Ki' }] });
    }
    const r = await source().collect(['k8s:cpu'], targets);
    assert.deepEqual(r.errors, []);
    assert.deepEqual(calls, [`${API}/pods`]);
    assert.deepEqual(
      r.samples.map((s) => [s.node, s.value]),
      targets.map((t, i) => [t.nodeId, i]),
    );
  });

  test('Nodes map by node id, host or alias; a target with no item has no sample', async () => {
    canned.nodes = [
      { name: 'ip-10-0-1-5.ec2.internal', cpu: '3', memory: '2Gi' },
      { name: 'kwok-b', cpu: '1500m', memory: '1G' },
      { name: 'w3', cpu: '100m', memory: '1Mi' },
      { name: 'unmanaged', cpu: '8', memory: '8Gi' },
    ];
    const r = await source().collect(
      ['k8s:cpu', 'k8s:memory'],
      [
        { nodeId: 'w1', host: 'ip-10-0-1-5.ec2.internal' },
        { nodeId: 'w2', host: '10.0.0.2', aliases: ['kwok-b'] },
        { nodeId: 'w3', host: '10.0.0.3' },
        { nodeId: 'w4', host: 'ip-10-0-1-6.ec2.internal' },
      ],
    );
    assert.deepEqual(r.errors, []);
    assert.deepEqual(
      r.samples.map((s) => [s.ref, s.node, s.value]),
      [
        ['k8s:cpu', 'w1', 3],
        ['k8s:memory', 'w1', 2 ** 31],
        ['k8s:cpu', 'w2', 1.5],
        ['k8s:memory', 'w2', 1e9],
        ['k8s:cpu', 'w3', 0.1],
        ['k8s:memory', 'w3', 2 ** 20],
      ],
    );
    // w4 fits no Node, so it might be a pod known by its bare name.
    assert.deepEqual(calls, [`${API}/nodes`, `${API}/pods`]);
    calls.length = 0;
    await source().collect(['k8s:cpu'], [{ nodeId: 'w1', host: 'ip-10-0-1-5.ec2.internal' }]);
    assert.deepEqual(calls, [`${API}/nodes`], 'every target fits a Node: no pod list');
  });

  test('a bare pod name: matched in all namespaces when unique, refused when it repeats', async () => {
    canned.nodes = [{ name: 'kwok-a', cpu: '2', memory: '1Gi' }];
    canned.pods = [
      { namespace: 'apps', name: 'solo-0', containers: [{ cpu: '300m', memory: '1Mi' }] },
      { namespace: 'a', name: 'twin-0', containers: [{ cpu: '1', memory: '1Mi' }] },
      { namespace: 'b', name: 'twin-0', containers: [{ cpu: '2', memory: '1Mi' }] },
      // A pod named like a Node: the Node wins for a target without a namespace.
      { namespace: 'apps', name: 'kwok-a', containers: [{ cpu: '9', memory: '1Mi' }] },
    ];
    const r = await source().collect(
      ['k8s:cpu'],
      [
        { nodeId: 'solo', host: '10.1.0.1', aliases: ['solo-0'] },
        { nodeId: 'twin', host: '10.1.0.2', aliases: ['twin-0'] },
        { nodeId: 'node-a', host: 'kwok-a' },
      ],
    );
    assert.deepEqual(
      r.samples.map((s) => [s.node, s.value]),
      [
        ['node-a', 2],
        ['solo', 0.3],
      ],
    );
    assert.equal(r.errors.length, 1);
    assert.equal(r.errors[0]!.target, 'twin');
    assert.match(
      r.errors[0]!.message,
      /pod a\/twin-0 and pod b\/twin-0 fit node twin alike.*namespace\/pod alias/,
    );
  });

  test('a name two targets share maps to neither, with an error naming both', async () => {
    canned.nodes = [{ name: 'shared', cpu: '1', memory: '1Mi' }];
    const r = await source().collect(
      ['k8s:cpu'],
      [
        { nodeId: 'a', host: 'shared' },
        { nodeId: 'b', host: '10.0.0.2', aliases: ['shared'] },
      ],
    );
    assert.deepEqual(r.samples, []);
    assert.ok(r.errors.some((e) => /Node shared fits nodes a, b; none gets its sample/.test(e.message)));
  });

  test('references other than cpu and memory, or of another source, are errors', async () => {
    const r = await source().collect(['k8s:disk', 'prom:cpu'], [{ nodeId: 'x', host: 'x' }]);
    assert.deepEqual(r.errors.map((e) => e.message).sort(), [
      '"k8s:disk": the resource metrics API has cpu (cores) and memory (bytes), not "disk"',
      '"prom:cpu" names source "prom", not "k8s"',
    ]);
    assert.deepEqual(calls, [], 'nothing to fetch, no call');
  });

  test('a refused list is one error for the whole source, with what to grant', async () => {
    canned.refuse.pods = 403;
    canned.pods = [{ namespace: 'chain', name: 'sentry-1', containers: [{ cpu: '1', memory: '1Mi' }] }];
    const r = await source().collect(['k8s:cpu', 'k8s:memory'], [podTarget('s1', 'chain', 'sentry-1')]);
    assert.deepEqual(r.samples, []);
    assert.equal(r.errors.length, 1);
    assert.equal(r.errors[0]!.target, undefined);
    assert.match(
      r.errors[0]!.message,
      /^pod metrics: kubernetes GET \/apis\/metrics\.k8s\.io\/v1beta1\/namespaces\/chain\/pods: 403 Forbidden: no pods metrics for you \(Rampart's account needs get and list on pods\.metrics\.k8s\.io\)/,
    );
  });

  test('a refused Node list costs the Nodes only: pod targets keep their samples', async () => {
    canned.refuse.nodes = 403;
    canned.pods = [{ namespace: 'chain', name: 'sentry-1', containers: [{ cpu: '1', memory: '1Mi' }] }];
    const r = await source().collect(
      ['k8s:cpu'],
      [podTarget('s1', 'chain', 'sentry-1'), { nodeId: 'w1', host: 'kwok-a' }],
    );
    assert.deepEqual(
      r.samples.map((s) => [s.node, s.value]),
      [['s1', 1]],
    );
    assert.equal(r.errors.length, 1);
    assert.match(r.errors[0]!.message, /^Node metrics: .*403 .*nodes\.metrics\.k8s\.io/);
    assert.ok(!calls.includes(`${API}/pods`), 'no bare-name pod list after a failed Node list');
  });

  test('an unreachable API server is an error, not a throw', async () => {
    const closed = new KubernetesMetricsSource({
      name: 'k8s',
      client: new KubeClient({ server: 'http://127.0.0.1:1' }),
      timeoutMs: 1000,
    });
    const r = await closed.collect(['k8s:cpu'], [{ nodeId: 'x', host: 'x' }]);
    assert.deepEqual(r.samples, []);
    assert.equal(r.errors.length, 1);
    assert.match(
      r.errors[0]!.message,
      /^Node metrics: kubernetes GET \/apis\/metrics\.k8s\.io\/v1beta1\/nodes: /,
    );
  });

  test('an item with a missing quantity or timestamp gives no sample for it, and says why', async () => {
    canned.nodes = [
      { name: 'no-memory', cpu: '1' },
      { name: 'no-time', cpu: '1', memory: '1Mi', timestamp: undefined },
      { name: 'garbled', cpu: 'lots', memory: '1Mi' },
    ];
    canned.pods = [{ namespace: 'chain', name: 'empty-0', containers: [] }];
    const r = await source().collect(
      ['k8s:cpu', 'k8s:memory'],
      [
        { nodeId: 'a', host: 'no-memory' },
        { nodeId: 'b', host: 'no-time' },
        { nodeId: 'c', host: 'garbled' },
        podTarget('d', 'chain', 'empty-0'),
      ],
    );
    assert.deepEqual(
      r.samples.map((s) => [s.ref, s.node]),
      [
        ['k8s:cpu', 'a'],
        ['k8s:memory', 'c'],
      ],
    );
    const byTarget = Object.fromEntries(r.errors.map((e) => [e.target, e.message]));
    assert.match(byTarget.a!, /Node no-memory: no memory in its usage; no k8s:memory sample/);
    assert.match(byTarget.b!, /Node no-time: no valid timestamp/);
    assert.match(byTarget.c!, /Node garbled: "lots" is not a Kubernetes quantity; no k8s:cpu sample/);
    assert.match(byTarget.d!, /pod chain\/empty-0: no containers in its metrics/);
  });

  test('1,000 Nodes and 1,000 pods: every target gets its own values from one list each', async () => {
    const targets: MetricTarget[] = [];
    for (let i = 0; i < 1000; i++) {
      canned.nodes.push({ name: `node-${i}`, cpu: `${i}m`, memory: `${i}Ki` });
      canned.pods.push({
        namespace: 'chain',
        name: `db-${i}`,
        containers: [{ cpu: `${i}u`, memory: `${i}` }],
      });
      targets.push({ nodeId: `w${i}`, host: `node-${i}`, aliases: [`node-${i}`] });
      targets.push(podTarget(`p${i}`, 'chain', `db-${i}`));
    }
    const r = await source().collect(['k8s:cpu', 'k8s:memory'], targets);
    assert.deepEqual(r.errors, []);
    assert.equal(r.samples.length, 4000);
    const value = new Map(r.samples.map((s) => [`${s.node} ${s.ref}`, s.value]));
    for (let i = 0; i < 1000; i++) {
      assert.equal(value.get(`w${i} k8s:cpu`), i / 1000);
      assert.equal(value.get(`w${i} k8s:memory`), i * 1024);
      assert.equal(value.get(`p${i} k8s:cpu`), i / 1e6);
      assert.equal(value.get(`p${i} k8s:memory`), i);
    }
    assert.deepEqual(calls.sort(), [`${API}/namespaces/chain/pods`, `${API}/nodes`]);
  });

  test('timeoutMs must be positive', () => {
    assert.throws(
      () =>
        new KubernetesMetricsSource({
          name: 'k8s',
          client: new KubeClient({ server: 'http://x' }),
          timeoutMs: 0,
        }),
      /kubernetes metric source k8s: timeoutMs must be a positive number, got 0/,
    );
  });
});

/** metrics.k8s.io answering for pods named after the nodes in namespace `contract`, cpu in millicores. */
const contractServers: Server[] = [];
after(() => {
  for (const s of contractServers) s.close();
});
async function contractMetricsApi(values: Readonly<Record<string, number | null>>): Promise<string> {
  const server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url !== '/apis/metrics.k8s.io/v1beta1/namespaces/contract/pods') {
      res.statusCode = 404;
      return res.end(JSON.stringify({ reason: 'NotFound', message: `${req.url} not found` }));
    }
    const items = Object.entries(values)
      .filter(([, v]) => v !== null)
      .map(([pod, v]) => ({
        metadata: { name: pod, namespace: 'contract' },
        timestamp: new Date().toISOString(),
        window: '15s',
        containers: [{ name: 'node', usage: { cpu: `${Math.round(v! * 1000)}m`, memory: '1Mi' } }],
      }));
    res.end(JSON.stringify({ kind: 'PodMetricsList', items }));
  });
  contractServers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
const contractSource = (server: string) =>
  new KubernetesMetricsSource({ name: 'k8s', client: new KubeClient({ server }) });
const contractTargets = (nodes: readonly string[]): MetricTarget[] =>
  nodes.map((pod) => ({
    nodeId: pod,
    host: `${pod}.sentries.contract.svc`,
    aliases: [pod, `contract/${pod}`],
  }));

metricSourceContract('kubernetes', {
  serving: async (values) => ({
    source: contractSource(await contractMetricsApi(values)),
    ref: 'k8s:cpu',
    targets: contractTargets(Object.keys(values)),
  }),
  unreachable: async (nodes) => ({
    source: contractSource(`http://127.0.0.1:${await closedPort()}`),
    ref: 'k8s:cpu',
    targets: contractTargets(nodes),
  }),
  endless: async (nodes) => {
    const api = await startHttpFixture((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      const item = {
        metadata: { name: 'other', namespace: 'contract' },
        timestamp: new Date().toISOString(),
      };
      streamEndlessly(response, '{"kind":"PodMetricsList","items":[', `${JSON.stringify(item)},`);
    });
    endlessApis.push(api);
    return {
      source: new KubernetesMetricsSource({
        name: 'k8s',
        client: new KubeClient({ server: api.url }),
        timeoutMs: ENDLESS_TIMEOUT_MS,
      }),
      ref: 'k8s:cpu',
      targets: contractTargets(nodes),
    };
  },
});
const endlessApis: HttpFixture[] = [];
after(() => Promise.all(endlessApis.map((api) => api.close())));
