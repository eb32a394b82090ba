// A small client for the Kubernetes API: JSON over HTTPS. It reaches a cluster in-cluster
// (the pod's ServiceAccount), from an explicit server, CA and token file, or from a kubeconfig
// (tokens, client certificates, exec credential plugins), as kubectl does. Tokens are read from
// their files as they rotate, exec credentials re-run on expiry or a 401; no secret ever
// appears in an error.

import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import path from 'node:path';
import type { Connection } from '../config-kit/plugin.ts';
import { type ExecCredential, runExecPlugin } from './exec-credential.ts';
import { defaultKubeconfigFiles, type KubeAccess, loadKubeconfig } from './kubeconfig.ts';

/** Where a process running in a pod finds its ServiceAccount (token, ca.crt, namespace). */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** How to reach a cluster (Rampart's `cluster:` block); every field absent means in-cluster, else a kubeconfig. */
export interface KubeConnection {
  /** `https://host:port`. Default: in-cluster (KUBERNETES_SERVICE_HOST / _PORT). */
  readonly server?: string | undefined;
  /** PEM file of the CA that signed the API server's certificate. Default: the ServiceAccount's ca.crt. */
  readonly caFile?: string | undefined;
  /** File holding the bearer token, re-read as it rotates. Default: the ServiceAccount's token. */
  readonly tokenFile?: string | undefined;
  /** A kubeconfig file to read (instead of $KUBECONFIG or ~/.kube/config). */
  readonly kubeconfig?: string | undefined;
  /** The kubeconfig's context. Default its current-context. */
  readonly context?: string | undefined;
  /** Accept a kubeconfig cluster with insecure-skip-tls-verify (the server's certificate unchecked). Default false. */
  readonly insecureSkipTlsVerify?: boolean | undefined;
}

/**
 * Where a cluster's access comes from, in this order: a kubeconfig named in the config
 * (`kubeconfig:` or `context:`), an explicit `server:`, the pod's ServiceAccount when in a
 * pod (KUBERNETES_SERVICE_HOST), then $KUBECONFIG or ~/.kube/config. In a pod, the
 * ServiceAccount wins over a KUBECONFIG variable (the issue: out of a cluster, a kubeconfig;
 * in one, the ServiceAccount).
 */
export function kubeSource(
  c: KubeConnection,
  env: NodeJS.ProcessEnv = process.env,
): 'kubeconfig' | 'explicit' | 'in-cluster' {
  if (c.kubeconfig !== undefined || c.context !== undefined) return 'kubeconfig';
  if (c.server !== undefined) return 'explicit';
  if (env.KUBERNETES_SERVICE_HOST) return 'in-cluster';
  return 'kubeconfig';
}

/**
 * The API server a connection reaches, for `controller.api.requireTls`: `cluster.server` when the
 * entry gives it, else the one its kubeconfig names (read when the config file is loaded).
 */
export function kubeConnection(c: KubeConnection | undefined): Connection {
  if (c?.server !== undefined) return { path: ['cluster', 'server'], url: c.server };
  return {
    path: ['cluster'],
    url: undefined,
    resolve: (baseDir) => {
      if (kubeSource(c ?? {}) !== 'kubeconfig') return undefined;
      try {
        const access = resolveKubeAccess(c, process.env, baseDir);
        return { url: access.server, from: access.source };
      } catch {
        return undefined; // no kubeconfig to read: the client says so when it starts
      }
    },
  };
}

/**
 * Resolves a connection: explicit fields win; the rest comes from the in-cluster
 * environment, else a kubeconfig. `RAMPART_SERVICE_ACCOUNT_DIR` moves the ServiceAccount folder
 * (tests run Rampart as a process with a chart's token, outside any pod).
 */
export function resolveKubeAccess(
  c: KubeConnection = {},
  env: NodeJS.ProcessEnv = process.env,
  baseDir = process.cwd(),
): KubeAccess {
  const source = kubeSource(c, env);
  if (c.insecureSkipTlsVerify && source !== 'kubeconfig')
    throw new Error(
      'kubernetes: cluster.insecureSkipTlsVerify only applies to a kubeconfig cluster; give cluster.caFile instead',
    );
  if (source === 'kubeconfig') {
    if (c.server !== undefined || c.caFile !== undefined || c.tokenFile !== undefined)
      throw new Error(
        'kubernetes: cluster.kubeconfig/context and cluster.server/caFile/tokenFile both given: choose the kubeconfig or the explicit fields',
      );
    const files =
      c.kubeconfig !== undefined ? [path.resolve(baseDir, c.kubeconfig)] : defaultKubeconfigFiles(env);
    if (c.kubeconfig === undefined && c.context === undefined && files.length === 1) {
      // Nothing in the config asked for a kubeconfig: say what was looked for.
      try {
        readFileSync(files[0]!);
      } catch {
        throw new Error(
          `kubernetes: no cluster given (cluster.server or cluster.kubeconfig), not running in a pod (KUBERNETES_SERVICE_HOST is unset) and no kubeconfig at ${files[0]} (KUBECONFIG is ${env.KUBECONFIG ? 'set' : 'unset'})`,
        );
      }
    }
    return loadKubeconfig({
      files,
      context: c.context,
      allowInsecure: c.insecureSkipTlsVerify === true,
      env,
    });
  }
  const saDir = env.RAMPART_SERVICE_ACCOUNT_DIR ?? SERVICE_ACCOUNT_DIR;
  let server = c.server;
  if (server === undefined) {
    const host = env.KUBERNETES_SERVICE_HOST!;
    const port = env.KUBERNETES_SERVICE_PORT ?? '443';
    server = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  }
  const inCluster = source === 'in-cluster';
  const file = (f: string | undefined, fallback: string) =>
    f !== undefined ? path.resolve(baseDir, f) : inCluster ? path.join(saDir, fallback) : undefined;
  let podNamespace: string | undefined;
  try {
    podNamespace = readFileSync(path.join(saDir, 'namespace'), 'utf8').trim() || undefined;
  } catch {
    // Not in a pod: callers fall back to a namespace of their own.
  }
  const caFile = file(c.caFile, 'ca.crt');
  let ca: Buffer | undefined;
  if (caFile !== undefined && server.startsWith('https:')) {
    try {
      ca = readFileSync(caFile);
    } catch (e) {
      throw new Error(`kubernetes: cannot read the CA file ${caFile}: ${(e as Error).message}`);
    }
  }
  return {
    server,
    ca,
    insecureSkipTlsVerify: false,
    auth: { tokenFile: file(c.tokenFile, 'token') },
    namespace: podNamespace,
    source: inCluster ? `the ServiceAccount in ${saDir}` : `cluster.server ${server}`,
  };
}

/** A refusal or failure of the API server, with its status and reason (`NotFound`, `Conflict`, …). */
export class KubeError extends Error {
  readonly status: number;
  readonly reason: string;
  readonly details: unknown;
  constructor(
    method: string,
    urlPath: string,
    status: number,
    reason: string,
    message: string,
    details?: unknown,
  ) {
    super(`kubernetes ${method} ${urlPath}: ${status} ${reason}: ${message}`);
    this.name = 'KubeError';
    this.status = status;
    this.reason = reason;
    this.details = details;
  }
}

export interface KubeRequest {
  readonly body?: unknown;
  /** Default application/json; merge patches use application/merge-patch+json. */
  readonly contentType?: string | undefined;
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>> | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Longest wait for the answer, ms. Default the client's. */
  readonly timeoutMs?: number | undefined;
  /**
   * Reads the answer's body as it arrives instead of buffering it whole (e.g. with a size cap);
   * what it throws fails the call, with its message. Default: the whole body is read.
   */
  readonly readBody?: ((body: AsyncIterable<Uint8Array>) => Promise<string>) | undefined;
}

export interface KubeResult<T> {
  readonly status: number;
  readonly body: T;
}

/** The metadata every object has, as far as Rampart reads it. */
export interface ObjectMeta {
  readonly name: string;
  readonly namespace?: string;
  readonly uid?: string;
  readonly resourceVersion?: string;
  readonly creationTimestamp?: string;
  readonly deletionTimestamp?: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
  readonly ownerReferences?: readonly { kind: string; name: string; controller?: boolean }[];
  readonly finalizers?: readonly string[];
}

export interface KubeObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata: ObjectMeta;
}

export interface KubeList<T> {
  readonly items: T[];
  readonly metadata: { resourceVersion?: string; continue?: string };
}

export interface KubeClientOptions extends KubeConnection {
  /** Default timeout of one call, ms. Default 10s. */
  readonly timeoutMs?: number | undefined;
  readonly env?: NodeJS.ProcessEnv | undefined;
  /** Folder relative files are resolved against (the config file's). */
  readonly baseDir?: string | undefined;
}

/** How long a read token is trusted before the file is read again (kubelet rotates at 80 % of an hour). */
const TOKEN_REREAD_MS = 60_000;

/** What one request authenticates with. Secret values: never in a message. */
interface Credential {
  readonly token?: string | undefined;
  readonly clientCert?: { readonly cert: Buffer; readonly key: Buffer } | undefined;
}

export class KubeClient {
  /** The cluster's access (holds secrets: never log it whole; `source` and `server` are fine). */
  readonly #access: KubeAccess;
  readonly #timeoutMs: number;
  readonly #agent: Agent | undefined;
  readonly #env: NodeJS.ProcessEnv;
  #token: { value: string; readAt: number } | undefined;
  /** The exec plugin's credential, or the run that fetches it (one at a time for all requests). */
  #exec: { cred?: ExecCredential; running?: Promise<ExecCredential> } = {};
  /** How many times the exec plugin ran (for tests and the log). */
  execRuns = 0;

  constructor(opts: KubeClientOptions = {}) {
    this.#env = opts.env ?? process.env;
    this.#access = resolveKubeAccess(opts, this.#env, opts.baseDir ?? process.cwd());
    this.#timeoutMs = opts.timeoutMs ?? 10_000;
    if (this.#access.server.startsWith('https:')) {
      const a = this.#access;
      this.#agent = new Agent({
        keepAlive: true,
        maxSockets: 16,
        ...(a.ca ? { ca: a.ca } : {}),
        ...(a.insecureSkipTlsVerify ? { rejectUnauthorized: false } : {}),
        ...(a.tlsServerName ? { servername: a.tlsServerName } : {}),
        ...(a.auth.clientCert ? { cert: a.auth.clientCert.cert, key: a.auth.clientCert.key } : {}),
      });
    }
  }

  /** The API server's URL. */
  get server(): string {
    return this.#access.server;
  }

  /** Where the access came from: `kubeconfig <file>, context "<name>"`, the ServiceAccount, cluster.server. */
  get source(): string {
    return this.#access.source;
  }

  /** The namespace this process runs in (or the kubeconfig context's), else `fallback`. */
  namespaceOr(fallback: string): string {
    return this.#access.namespace ?? fallback;
  }

  #fileToken(force = false): string | undefined {
    const file = this.#access.auth.tokenFile;
    if (file === undefined) return undefined;
    const now = Date.now();
    if (force || this.#token === undefined || now - this.#token.readAt > TOKEN_REREAD_MS) {
      try {
        this.#token = { value: readFileSync(file, 'utf8').trim(), readAt: now };
      } catch (e) {
        // The message names the file, never its content.
        throw new Error(
          `kubernetes: cannot read the token file ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
        );
      }
    }
    return this.#token.value;
  }

  /** The exec plugin's credential: the one held until it expires, else a new run (shared by concurrent callers). */
  async #execCredential(): Promise<ExecCredential> {
    const plugin = this.#access.auth.exec!;
    const held = this.#exec.cred;
    if (held && (held.expiresAt === undefined || Date.now() < held.expiresAt)) return held;
    if (!this.#exec.running) {
      this.execRuns++;
      const running = runExecPlugin(plugin, this.#env).finally(() => {
        if (this.#exec.running === running) this.#exec.running = undefined;
      });
      this.#exec.running = running;
      running.then(
        (cred) => {
          this.#exec.cred = cred;
        },
        () => undefined,
      );
    }
    return await this.#exec.running;
  }

  async #credential(): Promise<Credential> {
    const auth = this.#access.auth;
    if (auth.exec) return await this.#execCredential();
    return { token: this.#fileToken() ?? auth.token };
  }

  /**
   * The server refused `used` (401): forget it if it is still the one held. True when a new
   * credential may differ (an exec plugin runs again, a token file changed): worth one retry.
   */
  #refused(used: Credential): boolean {
    const auth = this.#access.auth;
    if (auth.exec) {
      if (this.#exec.cred === used) this.#exec.cred = undefined;
      return true;
    }
    if (auth.tokenFile !== undefined) return this.#fileToken(true) !== used.token;
    return false;
  }

  /**
   * One call. Resolves for 2xx; throws KubeError (status, reason, the server's message)
   * otherwise. A 401 is retried once with a fresh credential (an exec plugin's token revoked
   * early, a rotated token file): the server authenticates before doing anything.
   */
  async request<T = unknown>(method: string, urlPath: string, req: KubeRequest = {}): Promise<KubeResult<T>> {
    for (let attempt = 0; ; attempt++) {
      const cred = await this.#credential();
      try {
        return await this.#send<T>(method, urlPath, req, cred);
      } catch (e) {
        if (e instanceof KubeError && e.status === 401 && attempt === 0 && this.#refused(cred)) continue;
        throw e;
      }
    }
  }

  async #send<T>(
    method: string,
    urlPath: string,
    req: KubeRequest,
    cred: Credential,
  ): Promise<KubeResult<T>> {
    const url = new URL(urlPath, this.#access.server);
    for (const [k, v] of Object.entries(req.query ?? {}))
      if (v !== undefined) url.searchParams.set(k, String(v));
    const body = req.body === undefined ? undefined : JSON.stringify(req.body);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (cred.token) headers.authorization = `Bearer ${cred.token}`;
    if (body !== undefined) {
      headers['content-type'] = req.contentType ?? 'application/json';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    // An exec plugin's certificate: per request (the agent pools connections by certificate).
    const tls =
      this.#access.auth.exec && cred.clientCert
        ? { cert: cred.clientCert.cert, key: cred.clientCert.key }
        : {};
    const timeoutMs = Math.max(1, Math.ceil(req.timeoutMs ?? this.#timeoutMs));
    const signal = req.signal
      ? AbortSignal.any([req.signal, AbortSignal.timeout(timeoutMs)])
      : AbortSignal.timeout(timeoutMs);
    const shown = `${url.pathname}`;
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      const r = send(url, { method, headers, agent: this.#agent, signal, ...tls }, (res) => {
        if (req.readBody !== undefined) {
          req.readBody(res).then(
            (text) => resolve({ status: res.statusCode ?? 0, text }),
            (e: unknown) => {
              const timedOut = signal.aborted && !req.signal?.aborted;
              const why = timedOut ? `no answer within ${timeoutMs} ms` : (e as Error).message;
              reject(new Error(`kubernetes ${method} ${shown}: ${why}`));
            },
          );
          return;
        }
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      });
      r.on('error', (e) => {
        const why = signal.aborted && !req.signal?.aborted ? `no answer within ${timeoutMs} ms` : e.message;
        reject(new Error(`kubernetes ${method} ${shown}: ${why}`));
      });
      r.end(body);
    });
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (status < 200 || status > 299) {
      const s = (parsed ?? {}) as { reason?: string; message?: string; details?: unknown };
      throw new KubeError(
        method,
        shown,
        status,
        s.reason ?? statusReason(status),
        s.message ?? text.slice(0, 300),
        s.details,
      );
    }
    return { status, body: parsed as T };
  }

  async get<T extends KubeObject>(urlPath: string, signal?: AbortSignal): Promise<T> {
    return (await this.request<T>('GET', urlPath, { signal })).body;
  }

  /** GET that answers undefined for 404. */
  async find<T extends KubeObject>(urlPath: string, signal?: AbortSignal): Promise<T | undefined> {
    try {
      return await this.get<T>(urlPath, signal);
    } catch (e) {
      if (e instanceof KubeError && e.status === 404) return undefined;
      throw e;
    }
  }

  /** Every item of a collection, following `continue` pages. Never a watch (see TESTBED notes: etcd 3.4). */
  async list<T>(
    urlPath: string,
    query: { labelSelector?: string; fieldSelector?: string } = {},
    signal?: AbortSignal,
  ): Promise<T[]> {
    const items: T[] = [];
    let cont: string | undefined;
    do {
      const page = await this.request<KubeList<T>>('GET', urlPath, {
        query: { ...query, limit: 500, continue: cont },
        signal,
      });
      items.push(...page.body.items);
      cont = page.body.metadata.continue || undefined;
    } while (cont);
    return items;
  }

  async create<T>(urlPath: string, object: unknown, signal?: AbortSignal): Promise<T> {
    return (await this.request<T>('POST', urlPath, { body: object, signal })).body;
  }

  /** JSON merge patch (RFC 7386); include metadata.resourceVersion to make it conditional. */
  async mergePatch<T>(urlPath: string, patch: unknown, signal?: AbortSignal): Promise<T> {
    return (
      await this.request<T>('PATCH', urlPath, {
        body: patch,
        contentType: 'application/merge-patch+json',
        signal,
      })
    ).body;
  }

  async replace<T>(urlPath: string, object: unknown, signal?: AbortSignal): Promise<T> {
    return (await this.request<T>('PUT', urlPath, { body: object, signal })).body;
  }

  /** DELETE; a gone object is not an error. Answers whether it was there. */
  async delete(urlPath: string, body?: unknown, signal?: AbortSignal): Promise<boolean> {
    try {
      await this.request('DELETE', urlPath, { body, signal });
      return true;
    } catch (e) {
      if (e instanceof KubeError && e.status === 404) return false;
      throw e;
    }
  }

  close(): void {
    this.#agent?.destroy();
  }
}

function statusReason(status: number): string {
  switch (status) {
    case 401:
      return 'Unauthorized';
    case 403:
      return 'Forbidden';
    case 404:
      return 'NotFound';
    case 409:
      return 'Conflict';
    case 422:
      return 'Invalid';
    case 429:
      return 'TooManyRequests';
    default:
      return status >= 500 ? 'InternalError' : 'Error';
  }
}

/** Path of a namespaced object or collection: `/apis/apps/v1/namespaces/ns/statefulsets/name`. */
export function kubePath(
  group: string,
  version: string,
  resource: string,
  namespace?: string,
  name?: string,
  subresource?: string,
): string {
  const base = group === '' ? `/api/${version}` : `/apis/${group}/${version}`;
  const ns = namespace === undefined ? '' : `/namespaces/${encodeURIComponent(namespace)}`;
  const n = name === undefined ? '' : `/${encodeURIComponent(name)}`;
  const sub = subresource === undefined ? '' : `/${subresource}`;
  return `${base}${ns}/${resource}${n}${sub}`;
}

/** The Ready condition of a pod or Node. */
export function readyCondition(obj: {
  status?: { conditions?: readonly { type: string; status: string; reason?: string; message?: string }[] };
}): { ready: boolean; detail: string } {
  const c = obj.status?.conditions?.find((x) => x.type === 'Ready');
  if (!c) return { ready: false, detail: 'no Ready condition yet' };
  if (c.status === 'True') return { ready: true, detail: 'Ready' };
  return {
    ready: false,
    detail: `Ready=${c.status}${c.reason ? ` (${c.reason}${c.message ? `: ${c.message}` : ''})` : ''}`,
  };
}
