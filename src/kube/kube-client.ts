// A small client for the Kubernetes API: JSON over HTTPS with a bearer token, in-cluster
// (the pod's ServiceAccount) or from an explicit server, CA and token file. Every provider,
// metric source and the Lease coordination talk to the cluster through it. The token is
// read from its file (bound ServiceAccount tokens rotate) and never appears in an error.

import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import path from 'node:path';

/** Where a process running in a pod finds its ServiceAccount (token, ca.crt, namespace). */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** How to reach a cluster; every field absent means in-cluster. */
export interface KubeConnection {
  /** `https://host:port`. Default: in-cluster (KUBERNETES_SERVICE_HOST / _PORT). */
  readonly server?: string | undefined;
  /** PEM file of the CA that signed the API server's certificate. Default: the ServiceAccount's ca.crt. */
  readonly caFile?: string | undefined;
  /** File holding the bearer token, re-read as it rotates. Default: the ServiceAccount's token. */
  readonly tokenFile?: string | undefined;
}

/** The resolved connection: absolute files and the server URL. */
export interface KubeEndpoint {
  readonly server: string;
  readonly caFile?: string | undefined;
  readonly tokenFile?: string | undefined;
  /** The namespace of the pod this process runs in, when in a cluster. */
  readonly podNamespace?: string | undefined;
}

/**
 * Resolves a connection: explicit fields win; the rest comes from the in-cluster
 * environment. `RAMPART_SERVICE_ACCOUNT_DIR` moves the ServiceAccount folder (tests run
 * Rampart as a process with a chart's token, outside any pod).
 */
export function resolveKubeEndpoint(
  c: KubeConnection = {},
  env: NodeJS.ProcessEnv = process.env,
  baseDir = process.cwd(),
): KubeEndpoint {
  const saDir = env.RAMPART_SERVICE_ACCOUNT_DIR ?? SERVICE_ACCOUNT_DIR;
  let server = c.server;
  if (server === undefined) {
    const host = env.KUBERNETES_SERVICE_HOST;
    const port = env.KUBERNETES_SERVICE_PORT ?? '443';
    if (!host)
      throw new Error(
        'kubernetes: no cluster given (cluster.server) and not running in a pod (KUBERNETES_SERVICE_HOST is unset)',
      );
    server = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  }
  const inCluster = c.server === undefined;
  const file = (f: string | undefined, fallback: string) =>
    f !== undefined ? path.resolve(baseDir, f) : inCluster ? path.join(saDir, fallback) : undefined;
  let podNamespace: string | undefined;
  try {
    podNamespace = readFileSync(path.join(saDir, 'namespace'), 'utf8').trim() || undefined;
  } catch {
    // Not in a pod: callers fall back to a namespace of their own.
  }
  return { server, caFile: file(c.caFile, 'ca.crt'), tokenFile: file(c.tokenFile, 'token'), podNamespace };
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

export class KubeClient {
  readonly endpoint: KubeEndpoint;
  readonly #timeoutMs: number;
  readonly #agent: Agent | undefined;
  #token: { value: string; readAt: number } | undefined;

  constructor(opts: KubeClientOptions = {}) {
    this.endpoint = resolveKubeEndpoint(opts, opts.env ?? process.env, opts.baseDir ?? process.cwd());
    this.#timeoutMs = opts.timeoutMs ?? 10_000;
    if (this.endpoint.server.startsWith('https:')) {
      let ca: Buffer | undefined;
      if (this.endpoint.caFile !== undefined) {
        try {
          ca = readFileSync(this.endpoint.caFile);
        } catch (e) {
          throw new Error(
            `kubernetes: cannot read the CA file ${this.endpoint.caFile}: ${(e as Error).message}`,
          );
        }
      }
      this.#agent = new Agent({ keepAlive: true, maxSockets: 16, ...(ca ? { ca } : {}) });
    }
  }

  /** The namespace this process runs in, else `fallback`. */
  namespaceOr(fallback: string): string {
    return this.endpoint.podNamespace ?? fallback;
  }

  #bearer(): string | undefined {
    const file = this.endpoint.tokenFile;
    if (file === undefined) return undefined;
    const now = Date.now();
    if (this.#token === undefined || now - this.#token.readAt > TOKEN_REREAD_MS) {
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

  /** One call. Resolves for 2xx; throws KubeError (status, reason, the server's message) otherwise. */
  async request<T = unknown>(method: string, urlPath: string, req: KubeRequest = {}): Promise<KubeResult<T>> {
    const url = new URL(urlPath, this.endpoint.server);
    for (const [k, v] of Object.entries(req.query ?? {}))
      if (v !== undefined) url.searchParams.set(k, String(v));
    const body = req.body === undefined ? undefined : JSON.stringify(req.body);
    const token = this.#bearer();
    const headers: Record<string, string> = { accept: 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) {
      headers['content-type'] = req.contentType ?? 'application/json';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    const timeoutMs = Math.max(1, Math.ceil(req.timeoutMs ?? this.#timeoutMs));
    const signal = req.signal
      ? AbortSignal.any([req.signal, AbortSignal.timeout(timeoutMs)])
      : AbortSignal.timeout(timeoutMs);
    const shown = `${url.pathname}`;
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      const r = send(url, { method, headers, agent: this.#agent, signal }, (res) => {
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
