// A small client for the Kubernetes API: JSON over HTTPS. It reaches a cluster in-cluster
// (the pod's ServiceAccount), from an explicit server, CA and token file, or from a kubeconfig;
// credentials come from @kubernetes/client-node's KubeConfig (tokens re-read from their files as
// they rotate, exec plugins re-run on expiry), and on a 401 once more from a fresh one. No secret
// ever appears in an error.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { Agent, request as httpsRequest, type RequestOptions } from 'node:https';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import type { Connection } from '../config-kit/plugin.ts';
import { defaultKubeconfigFiles, type KubeAccess, libraryConfig, loadKubeconfig } from './kubeconfig.ts';

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
  if (caFile !== undefined && server.startsWith('https:')) {
    try {
      readFileSync(caFile);
    } catch (e) {
      throw new Error(`kubernetes: cannot read the CA file ${caFile}: ${(e as Error).message}`);
    }
  }
  const tokenFile = file(c.tokenFile, 'token');
  // As KubeConfig.loadFromCluster builds it, from this environment rather than process.env's.
  const config = libraryConfig(
    {
      name: 'cluster',
      server,
      skipTLSVerify: false,
      ...(server.startsWith('https:') && caFile ? { caFile } : {}),
    },
    {
      name: 'user',
      ...(tokenFile !== undefined ? { authProvider: { name: 'tokenFile', config: { tokenFile } } } : {}),
    },
    podNamespace,
  );
  return {
    config,
    server,
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

/** Longest an exec credential plugin may take (a cloud CLI fetching a token takes a second or two). */
const EXEC_TIMEOUT_MS = 60_000;

/** What one request authenticates and connects with: the library's options. Secrets: never in a message. */
interface Credential {
  readonly authorization?: string | undefined;
  readonly tls: Pick<RequestOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized' | 'servername'>;
}

export class KubeClient {
  /** The cluster's access (holds secrets: never log it whole; `source` and `server` are fine). */
  readonly #access: KubeAccess;
  /** The library's config credentials come from; replaced by a fresh one (empty caches) on a 401. */
  #config: KubeConfig;
  readonly #timeoutMs: number;
  /** Credentials are applied one request at a time, so concurrent first requests share one plugin run. */
  #applying: Promise<unknown> = Promise.resolve();
  /** The agent, and a digest of the TLS options it was built with (an exec plugin's certificate may change). */
  #agent: { agent: Agent; digest: string } | undefined;

  constructor(opts: KubeClientOptions = {}) {
    this.#access = resolveKubeAccess(opts, opts.env ?? process.env, opts.baseDir ?? process.cwd());
    this.#config = this.#access.config;
    this.#timeoutMs = opts.timeoutMs ?? 10_000;
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

  /** The credential the library gives now (a held exec credential until it expires, else a new run). */
  async #credential(): Promise<Credential> {
    const config = this.#config;
    const o: RequestOptions = { headers: {} };
    const run = this.#applying.then(() => withTimeout(config.applyToHTTPSOptions(o), EXEC_TIMEOUT_MS));
    this.#applying = run.catch(() => undefined);
    try {
      await run;
    } catch (e) {
      throw new Error(this.#credentialError(e));
    }
    const auth = (o.headers as Record<string, unknown>).Authorization;
    return {
      // Trimmed: a token file written with a trailing newline is common, and illegal in a header.
      authorization: typeof auth === 'string' ? auth.trim() : undefined,
      tls: {
        ...(o.ca ? { ca: o.ca } : {}),
        ...(o.cert ? { cert: o.cert } : {}),
        ...(o.key ? { key: o.key } : {}),
        ...(o.rejectUnauthorized === false ? { rejectUnauthorized: false } : {}),
        ...(o.servername ? { servername: o.servername } : {}),
      },
    };
  }

  /**
   * What went wrong getting a credential, without it: the library's messages for a plugin quote
   * what the plugin printed on stdout when it is not JSON, so those are replaced; a failed
   * plugin's message is its stderr (its own diagnostics), kept as its tail.
   */
  #credentialError(e: unknown): string {
    const err = e as NodeJS.ErrnoException;
    const exec = this.#access.exec;
    if (!exec) return `kubernetes (${this.#access.source}): cannot read the credentials: ${err.message}`;
    const who = `kubernetes: the exec credential plugin ${exec.command} (${exec.where})`;
    const hint = exec.installHint ? ` — ${exec.installHint.trim()}` : '';
    if (err instanceof TimeoutError) return `${who} gave no answer within ${EXEC_TIMEOUT_MS / 1000} s`;
    if (err.code === 'ENOENT') return `${who} is not installed (not found)${hint}`;
    if (err.code !== undefined || err.syscall !== undefined)
      return `${who} cannot run: ${err.code ?? 'error'}`;
    if (err instanceof SyntaxError) return `${who} printed no JSON ExecCredential on stdout`;
    if (err instanceof TypeError) return `${who} printed JSON that is not an ExecCredential with a status`;
    const said = String(err.message ?? '')
      .trim()
      .split('\n')
      .slice(-5)
      .join(' | ')
      .slice(-500);
    return `${who} failed${said ? `; it said: ${said}` : ' (no message on stderr)'}`;
  }

  /** The agent for these TLS options: one per certificate, so connections are reused while it holds. */
  #agentFor(tls: Credential['tls']): Agent {
    const digest = createHash('sha256')
      .update(JSON.stringify([tls.ca, tls.cert, tls.key, tls.rejectUnauthorized, tls.servername].map(String)))
      .digest('hex');
    if (this.#agent?.digest !== digest) {
      // The old agent's connections finish their requests and close when idle.
      const old = this.#agent?.agent;
      this.#agent = { agent: new Agent({ keepAlive: true, maxSockets: 16, ...tls }), digest };
      setTimeout(() => old?.destroy(), 60_000).unref();
    }
    return this.#agent.agent;
  }

  /**
   * One call. Resolves for 2xx; throws KubeError (status, reason, the server's message)
   * otherwise. A 401 is retried once with a fresh credential when a fresh config gives a
   * different one (an exec plugin's token revoked early, a rotated token file): the server
   * authenticates before doing anything.
   */
  async request<T = unknown>(method: string, urlPath: string, req: KubeRequest = {}): Promise<KubeResult<T>> {
    const config = this.#config;
    const used = await this.#credential();
    try {
      return await this.#send<T>(method, urlPath, req, used);
    } catch (e) {
      if (!(e instanceof KubeError && e.status === 401)) throw e;
      // A fresh library config (its exec plugin runs again, its token file is read again),
      // made once for all the requests this credential failed.
      if (this.#config === config) this.#config = cloneConfig(config);
      const fresh = await this.#credential();
      if (sameCredential(used, fresh)) throw e;
      return await this.#send<T>(method, urlPath, req, fresh);
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
    if (cred.authorization) headers.authorization = cred.authorization;
    if (body !== undefined) {
      headers['content-type'] = req.contentType ?? 'application/json';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    const agent = url.protocol === 'https:' ? this.#agentFor(cred.tls) : undefined;
    const timeoutMs = Math.max(1, Math.ceil(req.timeoutMs ?? this.#timeoutMs));
    const signal = req.signal
      ? AbortSignal.any([req.signal, AbortSignal.timeout(timeoutMs)])
      : AbortSignal.timeout(timeoutMs);
    const shown = `${url.pathname}`;
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      const r = send(url, { method, headers, agent, signal }, (res) => {
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
    this.#agent?.agent.destroy();
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

/** The library's config anew: same clusters, users and context, none of its cached credentials. */
function cloneConfig(c: KubeConfig): KubeConfig {
  const fresh = new KubeConfig();
  fresh.loadFromOptions({
    clusters: c.getClusters(),
    users: c.getUsers(),
    contexts: c.getContexts(),
    currentContext: c.getCurrentContext(),
  });
  return fresh;
}

function sameCredential(a: Credential, b: Credential): boolean {
  return a.authorization === b.authorization && String(a.tls.cert) === String(b.tls.cert);
}

class TimeoutError extends Error {}

/** The promise, or a TimeoutError after `ms` (the library gives an exec plugin no time limit). */
async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new TimeoutError()), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
