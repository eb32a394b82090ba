// A real Kubernetes control plane on loopback for one test file: etcd (Debian's), the
// kube-apiserver with RBAC, a static token file and a service-account key pair, the
// controller-manager and the scheduler, and kwok simulating nodes and the pods bound to them.
// The binaries come from scripts/testbed/kubernetes.sh (built from the pinned release's Go
// modules into the cache); no containers run. Everything is stopped after the test.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  CACHE,
  freePort,
  type HookContext,
  pollUntil,
  type RunningServer,
  requireBinary,
  type ServerName,
  skipUnless,
  skipUnlessInstalled,
  startEtcd,
  startServer,
} from './servers.ts';

const SCRIPT = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'scripts',
  'testbed',
  'kubernetes.sh',
);

/** A variable of scripts/testbed/kubernetes.sh (`name="value"`): the pins live there only. */
function scriptPin(name: string): string {
  const match = new RegExp(`^${name}="([^"]+)"`, 'm').exec(readFileSync(SCRIPT, 'utf8'));
  if (!match?.[1]) throw new Error(`${SCRIPT} sets no ${name}`);
  return match[1];
}

/** The Kubernetes release the test bed builds, e.g. `v1.36.3`. */
export const KUBERNETES_VERSION = scriptPin('k8s_version');
/** kwok's pinned version; its Stage objects are written beside the binaries by the script. */
export const KWOK_VERSION = scriptPin('kwok_version');
const KWOK_STAGES = join(CACHE, 'share', `kwok-${KWOK_VERSION}`, 'stages.yaml');

/**
 * Pod annotations that shorten kwok's stage delays (by default 1–5 s before a bound pod is
 * initialised and again before it is Ready) to 50–200 ms; put them on a pod template.
 */
export const KWOK_FAST_POD_ANNOTATIONS: Readonly<Record<string, string>> = {
  'pod-create.stage.kwok.x-k8s.io/delay': '50ms',
  'pod-create.stage.kwok.x-k8s.io/jitter-delay': '200ms',
  'pod-ready.stage.kwok.x-k8s.io/delay': '50ms',
  'pod-ready.stage.kwok.x-k8s.io/jitter-delay': '200ms',
};

/** Annotation kwok's own examples put on the Nodes it simulates. */
export const KWOK_NODE_ANNOTATION = 'kwok.x-k8s.io/node';

export interface KubeResponse<T = unknown> {
  readonly status: number;
  /** The body parsed as JSON; undefined when it is empty or not JSON (see `text`). */
  readonly body: T;
  readonly text: string;
}

export interface KubeRequestOptions {
  /** JSON body (sent with `contentType`, default application/json). */
  readonly body?: unknown;
  /** Bearer token; the admin's when absent. */
  readonly token?: string;
  readonly contentType?: string;
  readonly timeoutMs?: number;
}

export interface KwokNodeOptions {
  readonly cpu?: string;
  readonly memory?: string;
  readonly pods?: number;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  /** spec.providerID, e.g. `aws:///eu-west-1a/i-0123…` for a node backed by a machine. */
  readonly providerID?: string;
  readonly taints?: readonly { key: string; value?: string; effect: string }[];
}

export type KubeComponent = 'etcd' | 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler' | 'kwok';

export interface KubeControlPlane {
  /** `https://127.0.0.1:PORT` */
  readonly url: string;
  /** Bearer token of `admin` (group system:masters) from the static token file. */
  readonly adminToken: string;
  /** A file holding `adminToken`, for clients that read their token from a file (Rampart's). */
  readonly adminTokenFile: string;
  /** A kubeconfig for the admin (server, CA file, token), for helm, kustomize, kubectl-alikes. */
  readonly kubeconfig: string;
  /** The CA that signed the API server's self-signed serving certificate (PEM file). */
  readonly caFile: string;
  readonly dir: string;
  /** A request to the API server over TLS verified against `caFile`. Never throws on a status. */
  request<T = unknown>(method: string, path: string, options?: KubeRequestOptions): Promise<KubeResponse<T>>;
  /** Like request, but throws (with the body) unless the status is 2xx. */
  ok<T = unknown>(method: string, path: string, options?: KubeRequestOptions): Promise<T>;
  /** Creates a Node that kwok manages (made Ready by its stages); returns the created object. */
  createNode(name: string, options?: KwokNodeOptions): Promise<unknown>;
  /** Waits until the Node reports Ready=True; throws with its conditions otherwise. */
  waitNodeReady(name: string, timeoutMs?: number): Promise<void>;
  /** A token for a ServiceAccount through the TokenRequest API (the SA must exist). */
  serviceAccountToken(namespace: string, name: string, expirationSeconds?: number): Promise<string>;
  logTail(component: KubeComponent, lines?: number): string;
  /** Stops every component and removes every file. Idempotent. */
  stop(): Promise<void>;
}

export interface KubeOptions {
  /** Extra kube-apiserver flags (`--name=value`), appended last. */
  readonly apiserverArgs?: readonly string[];
  /**
   * The range kwok gives pod IPs from. Default 10.244.0.0/16. A range inside 127.0.0.0/8
   * gives each pod a loopback address of its own, where the fake kubelet runs its process.
   */
  readonly podCidr?: string;
}

/** The binaries, or undefined when the test was skipped (see requireBinary). */
type KubeBinary = Exclude<KubeComponent, 'etcd'> & ServerName;

/** What a control plane runs: the servers a test needs it for (skipUnlessInstalled). */
export const KUBE_SERVERS: readonly ServerName[] = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kwok',
];

function requireAll(t: HookContext): Record<KubeBinary, string> | undefined {
  const names: readonly KubeBinary[] = [
    'kube-apiserver',
    'kube-controller-manager',
    'kube-scheduler',
    'kwok',
  ];
  const found: Partial<Record<KubeBinary, string>> = {};
  for (const name of names) {
    const binary = requireBinary(t, name);
    if (binary === undefined) return undefined;
    found[name] = binary;
  }
  const stages = `kwok's stages are missing (${KWOK_STAGES}); run bash scripts/testbed/kubernetes.sh`;
  if (skipUnless(t, existsSync(KWOK_STAGES), stages)) return undefined;
  return found as Record<KubeBinary, string>;
}

function kubeconfig(server: string, caFile: string, user: string, token: string): string {
  // JSON is YAML: no quoting questions.
  return JSON.stringify(
    {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'rampart-test', cluster: { server, 'certificate-authority': caFile } }],
      users: [{ name: user, user: { token } }],
      contexts: [{ name: 'rampart-test', context: { cluster: 'rampart-test', user } }],
      'current-context': 'rampart-test',
    },
    null,
    2,
  );
}

/** GET over TLS without verifying the certificate: only for components' /healthz. */
function insecureHealthy(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpsRequest(url, { rejectUnauthorized: false, timeout: 1000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

/**
 * Starts etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok on free
 * loopback ports; resolves once each answers its health check, with everything stopped
 * after `t` (a test's context, or `{ after, skip }` for a whole file).
 */
export async function startKube(
  t: HookContext,
  options: KubeOptions = {},
): Promise<KubeControlPlane | undefined> {
  const binaries = requireAll(t);
  if (binaries === undefined) return undefined;
  // etcd is stopped by this control plane's stop(), after the API server, not by its own hook.
  const etcd = await startEtcd({ after: () => undefined, skip: (message) => t.skip(message) });
  if (etcd === undefined) return undefined;

  const dir = mkdtempSync(join(tmpdir(), 'rampart-kube-'));
  const servers = new Map<KubeComponent, RunningServer>();
  let agent: Agent | undefined;
  let stopped = false;
  // If the test process dies first, the servers' own exit hook kills the processes; this removes
  // the keys and tokens.
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  process.on('exit', removeDir);
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    // The servers' waits use unref'd timers: at the end of a file nothing else may hold the
    // event loop, and the process would exit halfway through this graceful stop.
    const keepAlive = setInterval(() => undefined, 1000);
    try {
      agent?.destroy();
      // Clients first, then the API server, then etcd.
      for (const group of [
        ['kwok', 'kube-scheduler', 'kube-controller-manager'],
        ['kube-apiserver'],
      ] as const)
        await Promise.all(group.map((name) => servers.get(name)?.stop()));
      await etcd.stop();
    } finally {
      clearInterval(keepAlive);
      removeDir();
      process.off('exit', removeDir);
    }
  };
  t.after(stop);

  const logTail = (component: KubeComponent, lines = 30): string =>
    component === 'etcd'
      ? (etcd.members[0]?.logTail(lines) ?? '(no etcd)')
      : (servers.get(component)?.logTail(lines) ?? '(not started)');

  try {
    // Identities: a static token per client. Components use their well-known user names, which
    // the bootstrap RBAC policy binds to their roles; kwok plays every kubelet at once, so it
    // gets system:masters like the admin.
    const token = () => randomBytes(24).toString('hex');
    const tokens = {
      admin: token(),
      'system:kube-controller-manager': token(),
      'system:kube-scheduler': token(),
      kwok: token(),
    };
    const groups: Record<keyof typeof tokens, string> = {
      admin: 'system:masters',
      'system:kube-controller-manager': '',
      'system:kube-scheduler': '',
      kwok: 'system:masters',
    };
    const tokenFile = join(dir, 'tokens.csv');
    writeFileSync(
      tokenFile,
      Object.entries(tokens)
        .map(
          ([user, tok]) =>
            `${tok},${user},${user}${groups[user as keyof typeof tokens] ? `,"${groups[user as keyof typeof tokens]}"` : ''}`,
        )
        .join('\n') + '\n',
      { mode: 0o600 },
    );

    // Service-account token signing key pair.
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const saKey = join(dir, 'sa.key');
    const saPub = join(dir, 'sa.pub');
    writeFileSync(saKey, privateKey.export({ type: 'pkcs1', format: 'pem' }), { mode: 0o600 });
    writeFileSync(saPub, publicKey.export({ type: 'spki', format: 'pem' }));

    // kube-apiserver: generates a self-signed CA and serving certificate into --cert-dir.
    const certDir = join(dir, 'certs');
    mkdirSync(certDir);
    const caFile = join(certDir, 'apiserver.crt');
    const apiDir = join(dir, 'kube-apiserver');
    mkdirSync(apiDir);
    const apiPort = await freePort();
    const url = `https://127.0.0.1:${apiPort}`;
    const apiserver = await startServer({
      name: 'kube-apiserver',
      binary: binaries['kube-apiserver'],
      dir: apiDir,
      port: apiPort,
      args: [
        `--etcd-servers=${etcd.endpoints.join(',')}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${apiPort}`,
        `--cert-dir=${certDir}`,
        `--token-auth-file=${tokenFile}`,
        '--authorization-mode=RBAC',
        `--service-account-key-file=${saPub}`,
        `--service-account-signing-key-file=${saKey}`,
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
        '--service-cluster-ip-range=10.96.0.0/16',
        // The `kubernetes` Service's endpoints may not be loopback addresses: without this the
        // server retries (and logs) every 10 s. In-cluster clients are pointed at url directly.
        '--endpoint-reconciler-type=none',
        // With WatchList on (the default since 1.34), a watch from resourceVersion "" or "0"
        // is served as a watch-list stream, which needs etcd's RequestWatchProgress; Debian's
        // etcd 3.4.23 lacks it, so such watches (kwok's, for one) end at once with an error and
        // their clients see changes only when they list again, seconds later.
        '--feature-gates=WatchList=false',
        '--profiling=false',
        ...(options.apiserverArgs ?? []),
      ],
      readyPath: '/readyz',
      // The certificate exists once the server listens; until then the check just fails.
      ready: () => insecureHealthy(`${url}/readyz`),
      readyTimeoutMs: 90_000,
      stopGraceMs: 5000,
    });
    servers.set('kube-apiserver', apiserver);

    const ca = readFileSync(caFile);
    agent = new Agent({ ca, keepAlive: true });
    const kubeAgent = agent;
    const request = <T = unknown>(
      method: string,
      path: string,
      o: KubeRequestOptions = {},
    ): Promise<KubeResponse<T>> =>
      new Promise((resolve, reject) => {
        const payload = o.body === undefined ? undefined : JSON.stringify(o.body);
        const req = httpsRequest(
          `${url}${path}`,
          {
            method,
            agent: kubeAgent,
            timeout: o.timeoutMs ?? 15_000,
            headers: {
              authorization: `Bearer ${o.token ?? tokens.admin}`,
              accept: 'application/json',
              ...(payload === undefined
                ? {}
                : {
                    'content-type': o.contentType ?? 'application/json',
                    'content-length': Buffer.byteLength(payload),
                  }),
            },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => {
              const text = Buffer.concat(chunks).toString('utf8');
              let body: unknown;
              try {
                body = text === '' ? undefined : JSON.parse(text);
              } catch {
                body = undefined;
              }
              resolve({ status: res.statusCode ?? 0, body: body as T, text });
            });
            res.on('error', reject);
          },
        );
        req.on('timeout', () =>
          req.destroy(new Error(`${method} ${path}: no answer within ${o.timeoutMs ?? 15_000} ms`)),
        );
        req.on('error', reject);
        req.end(payload);
      });
    const ok = async <T = unknown>(method: string, path: string, o: KubeRequestOptions = {}): Promise<T> => {
      const r = await request<T>(method, path, o);
      if (r.status < 200 || r.status > 299) throw new Error(`${method} ${path}: HTTP ${r.status}: ${r.text}`);
      return r.body;
    };

    const adminTokenFile = join(dir, 'admin-token');
    writeFileSync(adminTokenFile, tokens.admin, { mode: 0o600 });
    const kubeconfigs = Object.fromEntries(
      (Object.keys(tokens) as (keyof typeof tokens)[]).map((user) => {
        const file = join(dir, `${user.replace(/^system:/, '')}.kubeconfig`);
        writeFileSync(file, kubeconfig(url, caFile, user, tokens[user]), { mode: 0o600 });
        return [user, file];
      }),
    ) as Record<keyof typeof tokens, string>;

    const component = async (
      name: 'kube-controller-manager' | 'kube-scheduler' | 'kwok',
      args: (port: number) => string[],
      ready: (port: number) => Promise<boolean>,
    ): Promise<void> => {
      const componentDir = join(dir, name);
      mkdirSync(componentDir);
      const port = await freePort();
      const server = await startServer({
        name,
        binary: binaries[name],
        dir: componentDir,
        port,
        args: args(port),
        env: {
          // kwok reads ~/.kwok/kwok.yaml when it exists: keep a developer's own out of the tests.
          HOME: componentDir,
        },
        readyPath: '/healthz',
        ready: () => ready(port),
        readyTimeoutMs: 60_000,
        stopGraceMs: 5000,
      });
      servers.set(name, server);
    };
    // The controller-manager and scheduler serve /healthz over TLS with their own self-signed
    // certificates; delegated authentication and authorization go through the API server.
    const delegated = (file: string) => [
      `--kubeconfig=${file}`,
      `--authentication-kubeconfig=${file}`,
      `--authorization-kubeconfig=${file}`,
      '--bind-address=127.0.0.1',
      '--leader-elect=false',
      // Client certificates are not used (tokens only): the API server publishes no
      // extension-apiserver-authentication ConfigMap, and looking for it only logs errors.
      '--authentication-skip-lookup=true',
    ];
    await Promise.all([
      component(
        'kube-controller-manager',
        (port) => [
          ...delegated(kubeconfigs['system:kube-controller-manager']),
          `--secure-port=${port}`,
          `--cert-dir=${join(dir, 'kube-controller-manager', 'certs')}`,
          '--use-service-account-credentials=true',
          `--service-account-private-key-file=${saKey}`,
          `--root-ca-file=${caFile}`,
          '--profiling=false',
        ],
        (port) => insecureHealthy(`https://127.0.0.1:${port}/healthz`),
      ),
      component(
        'kube-scheduler',
        (port) => [
          ...delegated(kubeconfigs['system:kube-scheduler']),
          `--secure-port=${port}`,
          `--cert-dir=${join(dir, 'kube-scheduler', 'certs')}`,
          '--profiling=false',
        ],
        (port) => insecureHealthy(`https://127.0.0.1:${port}/healthz`),
      ),
      component(
        'kwok',
        (port) => [
          `--kubeconfig=${kubeconfigs.kwok}`,
          `--config=${KWOK_STAGES}`,
          '--manage-all-nodes=true',
          `--server-address=127.0.0.1:${port}`,
          `--cidr=${options.podCidr ?? '10.244.0.0/16'}`,
          '--node-ip=127.0.0.1',
          // Renew each node's Lease as a kubelet does (the node lifecycle controller reads it);
          // with only Stage objects in --config, no configuration default turns it on.
          '--node-lease-duration-seconds=40',
        ],
        async (port) => {
          const r = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(1000) });
          await r.arrayBuffer();
          return r.ok;
        },
      ),
    ]);

    const createNode = (name: string, o: KwokNodeOptions = {}): Promise<unknown> =>
      ok('POST', '/api/v1/nodes', {
        body: {
          apiVersion: 'v1',
          kind: 'Node',
          metadata: {
            name,
            annotations: {
              [KWOK_NODE_ANNOTATION]: 'fake',
              'node.alpha.kubernetes.io/ttl': '0',
              ...o.annotations,
            },
            labels: {
              'kubernetes.io/hostname': name,
              'kubernetes.io/os': 'linux',
              'kubernetes.io/arch': 'amd64',
              type: 'kwok',
              ...o.labels,
            },
          },
          spec: {
            ...(o.providerID === undefined ? {} : { providerID: o.providerID }),
            ...(o.taints === undefined ? {} : { taints: o.taints }),
          },
          status: {
            allocatable: { cpu: o.cpu ?? '32', memory: o.memory ?? '256Gi', pods: String(o.pods ?? 110) },
            capacity: { cpu: o.cpu ?? '32', memory: o.memory ?? '256Gi', pods: String(o.pods ?? 110) },
            nodeInfo: {
              architecture: 'amd64',
              operatingSystem: 'linux',
              kubeletVersion: 'fake',
              kubeProxyVersion: 'fake',
            },
          },
        },
      });

    interface NodeStatus {
      status?: { conditions?: { type: string; status: string; reason?: string }[] };
    }
    const waitNodeReady = async (name: string, timeoutMs = 30_000): Promise<void> => {
      const last = await pollUntil(
        () => request<NodeStatus>('GET', `/api/v1/nodes/${encodeURIComponent(name)}`),
        (r) =>
          r.status === 200 &&
          r.body.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true,
        timeoutMs,
        200,
      );
      if (
        !(
          last.status === 200 &&
          last.body.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')
        )
      )
        throw new Error(
          `node ${name} not Ready within ${timeoutMs} ms: HTTP ${last.status} ${last.text}\nkwok:\n${logTail('kwok')}`,
        );
    };

    const serviceAccountToken = async (
      namespace: string,
      name: string,
      expirationSeconds = 3600,
    ): Promise<string> => {
      const r = await ok<{ status: { token: string } }>(
        'POST',
        `/api/v1/namespaces/${encodeURIComponent(namespace)}/serviceaccounts/${encodeURIComponent(name)}/token`,
        {
          body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds } },
        },
      );
      return r.status.token;
    };

    return {
      url,
      adminToken: tokens.admin,
      adminTokenFile,
      kubeconfig: kubeconfigs.admin,
      caFile,
      dir,
      request,
      ok,
      createNode,
      waitNodeReady,
      serviceAccountToken,
      logTail,
      stop,
    };
  } catch (e) {
    const tails = (['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok'] as const)
      .filter((c) => servers.has(c))
      .map((c) => `--- ${c}:\n${logTail(c, 15)}`)
      .join('\n');
    await stop();
    throw tails === '' ? e : new Error(`${(e as Error).message}\n${tails}`, { cause: e });
  }
}

/** CRDs the test bed holds (scripts/testbed/kubernetes.sh copies them from their modules' sources). */
export type TestCrd =
  | 'volumesnapshots'
  | 'volumesnapshotcontents'
  | 'volumesnapshotclasses'
  | 'servicemonitors'
  | 'prometheusrules';

const CRD_FILES: Readonly<Record<TestCrd, string>> = {
  volumesnapshots: 'snapshot.storage.k8s.io_volumesnapshots.yaml',
  volumesnapshotcontents: 'snapshot.storage.k8s.io_volumesnapshotcontents.yaml',
  volumesnapshotclasses: 'snapshot.storage.k8s.io_volumesnapshotclasses.yaml',
  servicemonitors: 'monitoring.coreos.com_servicemonitors.yaml',
  prometheusrules: 'monitoring.coreos.com_prometheusrules.yaml',
};

/** Installs CRDs from the test bed's copies and waits until each is Established (already there: fine). */
export async function installCrds(kube: KubeControlPlane, names: readonly TestCrd[]): Promise<void> {
  const { parse } = await import('yaml');
  for (const n of names) {
    const file = join(CACHE, 'share', 'crds', CRD_FILES[n]);
    if (!existsSync(file)) throw new Error(`${file} is missing; run bash scripts/testbed/kubernetes.sh`);
    const crd = parse(readFileSync(file, 'utf8')) as { metadata: { name: string } };
    const r = await kube.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', {
      body: crd,
    });
    if (r.status !== 201 && r.status !== 409)
      throw new Error(`CRD ${crd.metadata.name}: HTTP ${r.status} ${r.text}`);
    interface Crd {
      status?: { conditions?: { type: string; status: string }[] };
    }
    const path = `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`;
    const last = await pollUntil(
      () => kube.request<Crd>('GET', path),
      (x) =>
        x.body?.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') === true,
      30_000,
      100,
    );
    if (!last.body?.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True'))
      throw new Error(`CRD ${crd.metadata.name} not Established: ${last.text}`);
  }
}

/** Creates a namespace (an existing one is fine). */
export async function createNamespace(kube: KubeControlPlane, name: string): Promise<void> {
  const r = await kube.request('POST', '/api/v1/namespaces', {
    body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name } },
  });
  if (r.status !== 201 && r.status !== 409) throw new Error(`namespace ${name}: HTTP ${r.status} ${r.text}`);
}

/**
 * Waits until the API server's authorizer grants `user` every `checks` in `namespace`: a Role
 * and RoleBinding just created reach the RBAC authorizer's cache a moment later, and a request
 * made before then is refused (403) though the rules allow it.
 */
export async function waitForRbac(
  kube: KubeControlPlane,
  user: string,
  namespace: string,
  checks: readonly { readonly group: string; readonly resource: string; readonly verb: string }[],
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const c of checks) {
    for (;;) {
      const review = await kube.ok<{ status?: { allowed?: boolean } }>(
        'POST',
        '/apis/authorization.k8s.io/v1/subjectaccessreviews',
        {
          body: {
            apiVersion: 'authorization.k8s.io/v1',
            kind: 'SubjectAccessReview',
            spec: { user, resourceAttributes: { namespace, ...c } },
          },
        },
      );
      if (review.status?.allowed) break;
      if (Date.now() > deadline)
        throw new Error(`RBAC never granted ${user} ${c.verb} ${c.resource}.${c.group} in ${namespace}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** One control plane for a whole test file (see kubeForFile). */
export interface KubeForFile {
  /** false, or why the file's tests are skipped (skipUnlessInstalled: the test bed is not built). */
  readonly skip: string | false;
  /** The file's control plane, once its `before` has run. */
  kube(): KubeControlPlane;
  /** Runs each `fn` after the file's last test, last registered first, before the control plane stops. */
  cleanup(...fns: (() => unknown)[]): void;
}

/**
 * Starts one control plane before a file's first test (with `options`, computed then, and
 * `setup` run on it) and stops it after the last, every cleanup first.
 */
export function kubeForFile(
  options: () => KubeOptions = () => ({}),
  setup?: (kube: KubeControlPlane) => Promise<void>,
): KubeForFile {
  let kube: KubeControlPlane | undefined;
  const cleanups: (() => unknown)[] = [];
  const hooks = { after: (fn: () => unknown) => void cleanups.push(fn), skip: () => undefined };
  const skip = skipUnlessInstalled(...KUBE_SERVERS);
  before(async () => {
    if (skip) return;
    kube = await startKube(hooks, options());
    await setup?.(kube!);
  });
  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });
  return {
    skip,
    kube: () => {
      if (!kube) throw new Error('the control plane is not started (kubeForFile runs it in `before`)');
      return kube;
    },
    cleanup: (...fns) => void cleanups.push(...fns),
  };
}
