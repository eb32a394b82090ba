// A FAKE metrics-server for the Kubernetes test bed. The real one scrapes each kubelet, and kwok
// simulates Nodes without kubelets, so nothing real can serve metrics.k8s.io here. This fake
// serves that API's shape (discovery, NodeMetrics, PodMetrics) with values a test sets, and is
// registered in the REAL API server through its aggregation layer (an APIService), so clients go
// through the API server's authentication, RBAC and proxying exactly as they would to metrics-server.

import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import type { KubeControlPlane } from './kube.ts';
import { pollUntil } from './servers.ts';

function openssl(args: string[]): void {
  try {
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    const stderr = String((error as { stderr?: Buffer }).stderr ?? '').trim();
    throw new Error(`openssl ${args[0]} failed: ${stderr || (error as Error).message}`);
  }
}

/** An EC P-256 key (fast to make) and a certificate for `cn`, self-signed or signed by `ca`. */
function certificate(
  dir: string,
  name: string,
  cn: string,
  options: { ca?: { cert: string; key: string }; extensions?: string } = {},
): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key];
  if (options.ca === undefined) {
    openssl(['req', '-x509', ...newKey, '-out', cert, '-days', '2', '-subj', `/CN=${cn}`]);
    return { cert, key };
  }
  const csr = join(dir, `${name}.csr`);
  openssl(['req', ...newKey, '-out', csr, '-subj', `/CN=${cn}`]);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, options.extensions ?? '');
  openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    options.ca.cert,
    '-CAkey',
    options.ca.key,
    '-CAcreateserial',
    '-out',
    cert,
    '-days',
    '2',
    '-extfile',
    ext,
  ]);
  return { cert, key };
}

/**
 * kube-apiserver flags that turn on its aggregation layer: a front-proxy CA and the client
 * certificate (CN front-proxy-client) the API server presents to extension API servers,
 * generated with the openssl CLI into `dir/front-proxy`. Pass them as startKube's `apiserverArgs`.
 */
export function aggregatorFlags(dir: string): string[] {
  const d = join(dir, 'front-proxy');
  mkdirSync(d, { recursive: true });
  const ca = certificate(d, 'ca', 'front-proxy-ca');
  const client = certificate(d, 'client', 'front-proxy-client', {
    ca,
    extensions: 'extendedKeyUsage = clientAuth\nkeyUsage = critical, digitalSignature\n',
  });
  return [
    `--requestheader-client-ca-file=${ca.cert}`,
    `--proxy-client-cert-file=${client.cert}`,
    `--proxy-client-key-file=${client.key}`,
    '--requestheader-allowed-names=front-proxy-client',
    '--requestheader-extra-headers-prefix=X-Remote-Extra-',
    '--requestheader-group-headers=X-Remote-Group',
    '--requestheader-username-headers=X-Remote-User',
    // Dial the Service's endpoint directly: no kube-proxy runs here.
    '--enable-aggregator-routing=true',
  ];
}

export interface ResourceUsage {
  /** Cores, or Kubernetes quantity text sent as it is (`250m`, `1500000n`). */
  readonly cpu: number | string;
  /** Bytes, or Kubernetes quantity text sent as it is (`128Mi`). */
  readonly memory: number | string;
}

/**
 * What the fake reports for a Node or a pod: one usage (a pod's as its one container `main`) or,
 * for a pod, a usage per container. `at` is when metrics-server would have scraped it, ms since
 * the epoch, sent in whole seconds as metrics-server does. Default: the time of each request.
 */
export type FakeUsage = (ResourceUsage | { readonly containers: Readonly<Record<string, ResourceUsage>> }) & {
  readonly at?: number;
};

export type MetricsKind = 'nodes' | 'pods';

export interface FakeMetricsServerOptions {
  /** The `window` every item reports, seconds. Default 15 (metrics-server's resolution). */
  readonly windowSeconds?: number;
  /** Longest wait for the API server to serve metrics.k8s.io through the fake, ms. Default 60 000. */
  readonly readyTimeoutMs?: number;
}

export interface FakeMetricsServer {
  /** `https://IP:PORT` of the fake itself (self-signed certificate), for a client that bypasses the API server. */
  readonly url: string;
  /** Sets what the API reports for a Node (`name`) or a pod (`namespace/name`). A map write: cheap. */
  set(kind: MetricsKind, name: string, usage: FakeUsage): void;
  /** `set` for many at once, e.g. 1,000 Nodes of a benchmark. */
  setAll(kind: MetricsKind, entries: Iterable<readonly [string, FakeUsage]>): void;
  /** Forgets a Node or pod: it no longer appears in lists (as a pod metrics-server has not scraped yet). */
  remove(kind: MetricsKind, name: string): void;
  /** Forgets every Node or pod, or both kinds when `kind` is absent. */
  clear(kind?: MetricsKind): void;
  /**
   * Answers every nodes or pods request with this HTTP status and a Status body, until called
   * with undefined; discovery keeps working, so the APIService stays Available.
   */
  fail(status: number | undefined): void;
  /**
   * The nodes and pods requests the fake served since the last call (discovery left out, the
   * last 1,000 at most), oldest first: path and the user the API server vouched for (X-Remote-User).
   */
  takeRequests(): { readonly path: string; readonly user: string | undefined }[];
  /**
   * Stops serving: the APIService becomes unavailable and clients get 503 from the API server.
   * The APIService stays registered. Idempotent.
   */
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

const GROUP_VERSION = 'metrics.k8s.io/v1beta1';
const SERVICE = 'fake-metrics-server';
const APISERVICE = 'v1beta1.metrics.k8s.io';
const KEPT_REQUESTS = 1000;

const quantity = (value: number | string, unit: 'cores' | 'bytes'): string =>
  typeof value === 'string'
    ? value
    : unit === 'cores'
      ? `${Math.round(value * 1e9)}n`
      : `${Math.ceil(value)}`;
const usageOf = (u: ResourceUsage) => ({
  cpu: quantity(u.cpu, 'cores'),
  memory: quantity(u.memory, 'bytes'),
});
/** RFC 3339 in whole seconds, as metav1.Time is written. */
const rfc3339 = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

/**
 * Starts the fake on this machine's non-loopback address and registers it as the APIService
 * `v1beta1.metrics.k8s.io` of `kube` (which must run with `aggregatorFlags`), through a Service
 * and EndpointSlice `fake-metrics-server` in kube-system. Resolves once the API server serves a
 * list through it; throws with the APIService's conditions and the API server's log otherwise.
 */
export async function startFakeMetricsServer(
  kube: KubeControlPlane,
  options: FakeMetricsServerOptions = {},
): Promise<FakeMetricsServer> {
  const dir = join(kube.dir, 'fake-metrics-server');
  mkdirSync(dir, { recursive: true });
  const serving = certificate(dir, 'serving', `${SERVICE}.kube-system.svc`);
  const windowText = `${options.windowSeconds ?? 15}s`;
  const nodes = new Map<string, FakeUsage>();
  /** Namespace → pod → usage: a namespace's list does not walk every pod. */
  const pods = new Map<string, Map<string, FakeUsage>>();
  const requests: { path: string; user: string | undefined }[] = [];
  let failure: number | undefined;

  const podKey = (key: string): [string, string] => {
    const slash = key.indexOf('/');
    if (slash <= 0 || slash === key.length - 1 || key.indexOf('/', slash + 1) !== -1)
      throw new Error(`fake metrics server: a pod is named "namespace/name", got "${key}"`);
    return [key.slice(0, slash), key.slice(slash + 1)];
  };
  const set = (kind: MetricsKind, name: string, usage: FakeUsage) => {
    if (kind === 'nodes') {
      if ('containers' in usage) throw new Error(`fake metrics server: Node ${name} has no containers`);
      return void nodes.set(name, usage);
    }
    const [ns, pod] = podKey(name);
    const inNamespace = pods.get(ns) ?? new Map<string, FakeUsage>();
    pods.set(ns, inNamespace.set(pod, usage));
  };

  const nodeItem = (name: string, u: FakeUsage, now: number) => ({
    metadata: { name, creationTimestamp: rfc3339(now) },
    timestamp: rfc3339(u.at ?? now),
    window: windowText,
    usage: usageOf(u as ResourceUsage),
  });
  const podItem = (namespace: string, name: string, u: FakeUsage, now: number) => ({
    metadata: { name, namespace, creationTimestamp: rfc3339(now) },
    timestamp: rfc3339(u.at ?? now),
    window: windowText,
    containers:
      'containers' in u
        ? Object.entries(u.containers).map(([c, usage]) => ({ name: c, usage: usageOf(usage) }))
        : [{ name: 'main', usage: usageOf(u) }],
  });
  const list = (kind: string, items: unknown[]) => ({ kind, apiVersion: GROUP_VERSION, metadata: {}, items });
  const status = (code: number, reason: string, message: string) => ({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    reason,
    code,
    message,
  });
  const discovery = {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: GROUP_VERSION,
    resources: [
      { name: 'nodes', singularName: '', namespaced: false, kind: 'NodeMetrics', verbs: ['get', 'list'] },
      { name: 'pods', singularName: '', namespaced: true, kind: 'PodMetrics', verbs: ['get', 'list'] },
    ],
  };
  const groups = {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: [
      {
        name: 'metrics.k8s.io',
        versions: [{ groupVersion: GROUP_VERSION, version: 'v1beta1' }],
        preferredVersion: { groupVersion: GROUP_VERSION, version: 'v1beta1' },
      },
    ],
  };
  const RESOURCE_PATH =
    /^\/apis\/metrics\.k8s\.io\/v1beta1(?:\/namespaces\/([^/]+))?\/(nodes|pods)(?:\/([^/]+))?$/;

  const server = createServer(
    { cert: readFileSync(serving.cert), key: readFileSync(serving.key) },
    (req, res) => {
      const path = new URL(req.url ?? '/', 'https://fake').pathname.replace(/\/+$/, '');
      const send = (code: number, body: unknown) => {
        res.writeHead(code, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (path === '/healthz' || path === '/readyz' || path === '/livez') return send(200, 'ok');
      if (path === '/apis') return send(200, groups);
      if (path === '/apis/metrics.k8s.io/v1beta1') return send(200, discovery);
      const m = RESOURCE_PATH.exec(path);
      const notFound = () => send(404, status(404, 'NotFound', `${path} not found`));
      if (m === null) return notFound();
      requests.push({ path, user: req.headers['x-remote-user'] as string | undefined });
      if (requests.length > KEPT_REQUESTS) requests.shift();
      if (failure !== undefined)
        return send(failure, status(failure, 'InternalError', 'fake metrics server: told to fail'));
      const [, namespace, resource, name] = m;
      const now = Date.now();
      if (resource === 'nodes') {
        if (namespace !== undefined) return notFound();
        if (name === undefined)
          return send(
            200,
            list(
              'NodeMetricsList',
              Array.from(nodes, ([n, u]) => nodeItem(n, u, now)),
            ),
          );
        const u = nodes.get(name);
        return u === undefined
          ? notFound()
          : send(200, { kind: 'NodeMetrics', apiVersion: GROUP_VERSION, ...nodeItem(name, u, now) });
      }
      if (name !== undefined) {
        const u = namespace === undefined ? undefined : pods.get(namespace)?.get(name);
        return u === undefined
          ? notFound()
          : send(200, {
              kind: 'PodMetrics',
              apiVersion: GROUP_VERSION,
              ...podItem(namespace!, name, u, now),
            });
      }
      const items: unknown[] = [];
      for (const [ns, inNamespace] of namespace === undefined
        ? pods
        : [[namespace, pods.get(namespace)] as const])
        for (const [pod, u] of inNamespace ?? []) items.push(podItem(ns, pod, u, now));
      return send(200, list('PodMetricsList', items));
    },
  );
  const address = hostAddress();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, address, resolve);
  });
  const port = (server.address() as AddressInfo).port;
  let stopped = false;
  const stop = () =>
    new Promise<void>((resolve) => {
      if (stopped) return resolve();
      stopped = true;
      server.closeAllConnections();
      server.close(() => resolve());
    });

  try {
    await register(kube, address, port);
    const timeoutMs = options.readyTimeoutMs ?? 60_000;
    const last = await pollUntil(
      () => kube.request('GET', `/apis/${GROUP_VERSION}/nodes`),
      (r) => r.status === 200,
      timeoutMs,
      250,
    );
    if (last.status !== 200) {
      const apiService = await kube.request<{ status?: { conditions?: unknown } }>(
        'GET',
        `/apis/apiregistration.k8s.io/v1/apiservices/${APISERVICE}`,
      );
      throw new Error(
        `fake metrics server: the API server does not serve ${GROUP_VERSION} through it after ${timeoutMs} ms: ` +
          `HTTP ${last.status} ${last.text.slice(0, 300)}\nAPIService conditions: ` +
          `${JSON.stringify(apiService.body?.status?.conditions)}\n${kube.logTail('kube-apiserver', 15)}`,
      );
    }
  } catch (error) {
    await stop();
    throw error;
  }
  requests.length = 0;

  return {
    url: `https://${address}:${port}`,
    set,
    setAll: (kind, entries) => {
      for (const [name, usage] of entries) set(kind, name, usage);
    },
    remove: (kind, name) => {
      if (kind === 'nodes') return void nodes.delete(name);
      const [ns, pod] = podKey(name);
      pods.get(ns)?.delete(pod);
    },
    clear: (kind) => {
      if (kind !== 'pods') nodes.clear();
      if (kind !== 'nodes') pods.clear();
    },
    fail: (code) => {
      failure = code;
    },
    takeRequests: () => requests.splice(0),
    stop,
  };
}

/** Service (no selector), EndpointSlice at `address:port`, and the APIService; each created or replaced. */
async function register(kube: KubeControlPlane, address: string, port: number): Promise<void> {
  const apply = async (collection: string, body: { metadata: { name: string } }) => {
    const created = await kube.request('POST', collection, { body });
    if (created.status === 201) return;
    if (created.status !== 409)
      throw new Error(`fake metrics server: POST ${collection}: HTTP ${created.status} ${created.text}`);
    const path = `${collection}/${body.metadata.name}`;
    const { metadata } = await kube.ok<{ metadata: { resourceVersion: string } }>('GET', path);
    await kube.ok('PUT', path, {
      body: { ...body, metadata: { ...body.metadata, resourceVersion: metadata.resourceVersion } },
    });
  };
  await apply('/api/v1/namespaces/kube-system/services', {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: SERVICE },
    spec: { ports: [{ name: 'https', port: 443, targetPort: port, protocol: 'TCP' }] },
  } as { metadata: { name: string } });
  await apply('/apis/discovery.k8s.io/v1/namespaces/kube-system/endpointslices', {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: SERVICE, labels: { 'kubernetes.io/service-name': SERVICE } },
    addressType: 'IPv4',
    endpoints: [{ addresses: [address], conditions: { ready: true } }],
    ports: [{ name: 'https', port, protocol: 'TCP' }],
  } as { metadata: { name: string } });
  await apply('/apis/apiregistration.k8s.io/v1/apiservices', {
    apiVersion: 'apiregistration.k8s.io/v1',
    kind: 'APIService',
    metadata: { name: APISERVICE },
    spec: {
      group: 'metrics.k8s.io',
      version: 'v1beta1',
      service: { name: SERVICE, namespace: 'kube-system', port: 443 },
      // The fake's certificate is self-signed, as metrics-server's own default one is.
      insecureSkipTLSVerify: true,
      groupPriorityMinimum: 100,
      versionPriority: 100,
    },
  } as { metadata: { name: string } });
}
