// A FAKE metrics-server for the Kubernetes test bed. The real one scrapes each kubelet's
// resource metrics, and kwok simulates Nodes without kubelets, so nothing real can serve
// metrics.k8s.io here. This fake serves that API's shape (discovery, NodeMetrics,
// PodMetrics) with values a test sets, and is registered in the REAL API server through its
// aggregation layer (an APIService), so clients go through the API server's authentication,
// RBAC and proxying exactly as they would to metrics-server.

import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import type { KubeControlPlane } from './kube.ts';
import { pollUntil } from './servers.ts';

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A self-signed key pair (PEM files) for `cn`. */
function selfSigned(dir: string, name: string, cn: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  openssl([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '2',
    '-subj',
    `/CN=${cn}`,
  ]);
  return { cert, key };
}

/**
 * kube-apiserver flags for its aggregation layer: a front-proxy CA and the client
 * certificate it presents to extension API servers, generated with openssl into `dir`.
 */
export function aggregatorFlags(dir: string): string[] {
  const d = join(dir, 'front-proxy');
  mkdirSync(d, { recursive: true });
  const ca = selfSigned(d, 'ca', 'front-proxy-ca');
  const clientKey = join(d, 'client.key');
  const csr = join(d, 'client.csr');
  const clientCert = join(d, 'client.crt');
  openssl([
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    clientKey,
    '-out',
    csr,
    '-subj',
    '/CN=front-proxy-client',
  ]);
  openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    '-CAcreateserial',
    '-out',
    clientCert,
    '-days',
    '2',
  ]);
  return [
    `--requestheader-client-ca-file=${ca.cert}`,
    `--proxy-client-cert-file=${clientCert}`,
    `--proxy-client-key-file=${clientKey}`,
    '--requestheader-allowed-names=front-proxy-client',
    '--requestheader-extra-headers-prefix=X-Remote-Extra-',
    '--requestheader-group-headers=X-Remote-Group',
    '--requestheader-username-headers=X-Remote-User',
    // Dial the Service's endpoint directly: no kube-proxy runs here.
    '--enable-aggregator-routing=true',
  ];
}

export interface ResourceUsage {
  /** Cores. */
  readonly cpu: number;
  /** Bytes. */
  readonly memory: number;
}

export interface FakeMetricsServer {
  /** Sets what the API reports for a Node (`name`) or a pod (`namespace/name`). */
  set(kind: 'pods' | 'nodes', name: string, usage: ResourceUsage): void;
  /** Forgets a Node or pod: it no longer appears in lists. */
  remove(kind: 'pods' | 'nodes', name: string): void;
  /** Stops serving; the APIService becomes unavailable and clients get 503. */
  stop(): Promise<void>;
}

/** An IPv4 address of this machine that is not loopback: the API server refuses loopback endpoints. */
function hostAddress(): string {
  for (const addrs of Object.values(networkInterfaces()))
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  throw new Error(
    'fake metrics server: this machine has no non-loopback IPv4 address for the APIService endpoint',
  );
}

const GV = 'metrics.k8s.io/v1beta1';
const SERVICE = 'fake-metrics-server';

/**
 * Starts the fake and registers it as `v1beta1.metrics.k8s.io` in `kube` (started with
 * `aggregatorFlags`); resolves once the API server reports the APIService Available and
 * serves a list through it.
 */
export async function startFakeMetricsServer(kube: KubeControlPlane): Promise<FakeMetricsServer> {
  const dir = join(kube.dir, 'fake-metrics-server');
  mkdirSync(dir, { recursive: true });
  const serving = selfSigned(dir, 'serving', `${SERVICE}.kube-system.svc`);
  const usage = { pods: new Map<string, ResourceUsage>(), nodes: new Map<string, ResourceUsage>() };
  const quantity = (u: ResourceUsage) => ({
    cpu: `${Math.round(u.cpu * 1e9)}n`,
    memory: `${Math.round(u.memory)}`,
  });
  const nodeItem = (name: string, u: ResourceUsage, at: string) => ({
    metadata: { name, creationTimestamp: at },
    timestamp: at,
    window: '10s',
    usage: quantity(u),
  });
  const podItem = (key: string, u: ResourceUsage, at: string) => {
    const [namespace, name] = key.split('/') as [string, string];
    return {
      metadata: { name, namespace, creationTimestamp: at },
      timestamp: at,
      window: '10s',
      containers: [{ name: 'main', usage: quantity(u) }],
    };
  };
  const list = (kind: string, items: unknown[]) => ({ kind, apiVersion: GV, metadata: {}, items });

  const server = createServer(
    { cert: readFileSync(serving.cert), key: readFileSync(serving.key) },
    (req, res) => {
      const url = new URL(req.url ?? '/', 'https://x');
      const path = url.pathname.replace(/\/+$/, '');
      const at = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      const notFound = () =>
        send(404, {
          kind: 'Status',
          apiVersion: 'v1',
          status: 'Failure',
          reason: 'NotFound',
          code: 404,
          message: `${path} not found`,
        });
      if (path === '/healthz' || path === '/readyz' || path === '/livez') return send(200, 'ok');
      if (path === '/apis')
        return send(200, {
          kind: 'APIGroupList',
          apiVersion: 'v1',
          groups: [
            {
              name: 'metrics.k8s.io',
              versions: [{ groupVersion: GV, version: 'v1beta1' }],
              preferredVersion: { groupVersion: GV, version: 'v1beta1' },
            },
          ],
        });
      if (path === '/apis/metrics.k8s.io/v1beta1')
        return send(200, {
          kind: 'APIResourceList',
          apiVersion: 'v1',
          groupVersion: GV,
          resources: [
            {
              name: 'nodes',
              singularName: '',
              namespaced: false,
              kind: 'NodeMetrics',
              verbs: ['get', 'list'],
            },
            { name: 'pods', singularName: '', namespaced: true, kind: 'PodMetrics', verbs: ['get', 'list'] },
          ],
        });
      const m =
        /^\/apis\/metrics\.k8s\.io\/v1beta1(?:\/namespaces\/([^/]+))?\/(nodes|pods)(?:\/([^/]+))?$/.exec(
          path,
        );
      if (!m) return notFound();
      const [, namespace, resource, name] = m;
      if (resource === 'nodes') {
        if (namespace !== undefined) return notFound();
        if (name !== undefined) {
          const u = usage.nodes.get(name);
          return u
            ? send(200, { kind: 'NodeMetrics', apiVersion: GV, ...nodeItem(name, u, at) })
            : notFound();
        }
        return send(
          200,
          list(
            'NodeMetricsList',
            [...usage.nodes].map(([n, u]) => nodeItem(n, u, at)),
          ),
        );
      }
      if (name !== undefined) {
        const u = namespace === undefined ? undefined : usage.pods.get(`${namespace}/${name}`);
        return u
          ? send(200, { kind: 'PodMetrics', apiVersion: GV, ...podItem(`${namespace}/${name}`, u, at) })
          : notFound();
      }
      const items: unknown[] = [];
      for (const [key, u] of usage.pods)
        if (namespace === undefined || key.startsWith(`${namespace}/`)) items.push(podItem(key, u, at));
      return send(200, list('PodMetricsList', items));
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
  const port = (server.address() as AddressInfo).port;

  const put = async (path: string, body: { metadata: { name: string } }) => {
    const r = await kube.request('POST', path, { body });
    if (r.status === 409)
      await kube.ok('PUT', `${path}/${body.metadata.name}`, {
        body: {
          ...body,
          metadata: {
            ...body.metadata,
            resourceVersion: (
              await kube.ok<{ metadata: { resourceVersion: string } }>('GET', `${path}/${body.metadata.name}`)
            ).metadata.resourceVersion,
          },
        },
      });
    else if (r.status !== 201) throw new Error(`fake metrics server: ${path}: HTTP ${r.status} ${r.text}`);
  };
  await put('/api/v1/namespaces/kube-system/services', {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: SERVICE },
    spec: { ports: [{ name: 'https', port: 443, targetPort: port, protocol: 'TCP' }] },
  } as { metadata: { name: string } });
  await put('/apis/discovery.k8s.io/v1/namespaces/kube-system/endpointslices', {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: SERVICE, labels: { 'kubernetes.io/service-name': SERVICE } },
    addressType: 'IPv4',
    endpoints: [{ addresses: [hostAddress()], conditions: { ready: true } }],
    ports: [{ name: 'https', port, protocol: 'TCP' }],
  } as { metadata: { name: string } });
  await put('/apis/apiregistration.k8s.io/v1/apiservices', {
    apiVersion: 'apiregistration.k8s.io/v1',
    kind: 'APIService',
    metadata: { name: 'v1beta1.metrics.k8s.io' },
    spec: {
      group: 'metrics.k8s.io',
      version: 'v1beta1',
      service: { name: SERVICE, namespace: 'kube-system', port: 443 },
      insecureSkipTLSVerify: true,
      groupPriorityMinimum: 100,
      versionPriority: 100,
    },
  } as { metadata: { name: string } });

  const last = await pollUntil(
    () => kube.request('GET', `/apis/${GV}/nodes`),
    (r) => r.status === 200,
    60_000,
    250,
  );
  if (last.status !== 200) {
    const svc = await kube.request(
      'GET',
      '/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.metrics.k8s.io',
    );
    server.close();
    throw new Error(
      `fake metrics server: the API server does not serve ${GV} through it: HTTP ${last.status} ${last.text}\nAPIService: ${svc.text}\n${kube.logTail('kube-apiserver', 15)}`,
    );
  }
  return {
    set: (kind, name, u) => void usage[kind].set(name, u),
    remove: (kind, name) => void usage[kind].delete(name),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
