// Every OpenStack API call the provider makes goes through here: a Keystone v3 token (issued
// again before it expires, and once more when a service answers 401), the service's endpoint
// from the token's catalog, one try at a time with a timeout, retries with backoff and full
// jitter for what may succeed later (5xx, 409, 429 with its Retry-After, timeouts, dropped
// connections), and one error naming the call, the pool and what was done. Passwords, secrets
// and tokens never reach a message.

import { setTimeout as sleep } from 'node:timers/promises';
import { type Cloud, secretsOf } from './clouds.ts';

export interface RetryPolicy {
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly callTimeoutMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  attempts: 5,
  baseDelayMs: 500,
  maxDelayMs: 20_000,
  callTimeoutMs: 30_000,
};

/** A token this close to its expiry is issued again before a call. */
const RENEW_BEFORE_MS = 60_000;

export type FailureClass = 'throttled' | 'transient' | 'conflict' | 'timeout' | 'network' | 'permanent';

/** An answer that was not 2xx, or no answer. */
export class OpenstackHttpError extends Error {
  readonly status: number | undefined;
  readonly class: FailureClass;
  readonly retryAfterMs: number | undefined;
  constructor(message: string, status: number | undefined, cls: FailureClass, retryAfterMs?: number) {
    super(message);
    this.name = 'OpenstackHttpError';
    this.status = status;
    this.class = cls;
    this.retryAfterMs = retryAfterMs;
  }
}

/** A call that failed for good: names the call, the pool, the tries and what was done. */
export class OpenstackCallError extends Error {
  readonly status: number | undefined;
  readonly failure: FailureClass;
  constructor(message: string, status: number | undefined, failure: FailureClass) {
    super(message);
    this.name = 'OpenstackCallError';
    this.status = status;
    this.failure = failure;
  }
}

export function classifyStatus(status: number): FailureClass {
  if (status === 429) return 'throttled';
  if (status === 409) return 'conflict';
  if (status >= 500) return 'transient';
  return 'permanent';
}

/** Backoff before try `attempt + 1`: full jitter under an exponential cap; Retry-After wins when longer. */
export function backoffMs(
  attempt: number,
  cls: FailureClass,
  policy: RetryPolicy,
  retryAfterMs?: number,
  random: () => number = Math.random,
): number {
  const base = policy.baseDelayMs * (cls === 'throttled' ? 5 : 1);
  const cap = Math.min(policy.maxDelayMs, base * 2 ** (attempt - 1));
  const jittered = Math.max(1, Math.round(cap * (0.5 + random() / 2)));
  return retryAfterMs !== undefined
    ? Math.min(policy.maxDelayMs, Math.max(jittered, retryAfterMs))
    : jittered;
}

/** Seconds or an HTTP date, as Retry-After carries them. */
export function retryAfter(header: string | null, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const s = Number(header);
  if (Number.isFinite(s) && s >= 0) return s * 1000;
  const at = Date.parse(header);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

/** The message of an OpenStack error body: `{"itemNotFound": {"message": ...}}`, `{"error": {...}}`, text. */
export function errorMessage(body: string): string {
  try {
    const doc = JSON.parse(body) as Record<string, unknown>;
    for (const v of Object.values(doc)) {
      if (v && typeof v === 'object' && 'message' in v) return String((v as { message: unknown }).message);
      if (typeof v === 'string' && v !== '') return v;
    }
    if (typeof doc.title === 'string')
      return `${doc.title}${doc.description ? `: ${String(doc.description)}` : ''}`;
  } catch {
    // Not JSON: the text itself.
  }
  const text = body
    .replace(/<[^>]+>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return text.length > 300 ? `${text.slice(0, 300)}…` : text || '(empty body)';
}

/** Removes every occurrence of each secret (longer than 3 characters) from `text`. */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length > 3) out = out.split(s).join('[redacted]');
  return out;
}

export type ServiceType = 'compute' | 'image' | 'network' | 'orchestration' | 'identity';

interface CatalogEntry {
  readonly type: string;
  readonly endpoints: {
    readonly interface: string;
    readonly region?: string;
    readonly region_id?: string;
    readonly url: string;
  }[];
}

interface Token {
  readonly value: string;
  readonly expiresAt: number;
  readonly catalog: readonly CatalogEntry[];
  readonly projectId: string | undefined;
}

export interface SessionOptions {
  /** Reads the cloud's credentials; called at each authentication. */
  readonly cloud: () => Cloud;
  readonly region?: string | undefined;
  readonly interface?: string | undefined;
  readonly policy?: RetryPolicy | undefined;
  /** What the calls are for, in messages: `pool etcd` or `provider os`. */
  readonly context: string;
  readonly onRetry?: ((e: RetryEvent) => void) | undefined;
  /** Microversion headers per service (compute: 2.67). */
  readonly microversions?: Partial<Record<ServiceType, string>>;
}

export interface RetryEvent {
  readonly call: string;
  readonly attempt: number;
  readonly of: number;
  readonly class: FailureClass;
  readonly status?: number | undefined;
  readonly message: string;
  readonly delayMs: number;
}

export interface CallSpec {
  readonly service: ServiceType;
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
  /** Path below the service's endpoint, e.g. /servers/detail. */
  readonly path: string;
  readonly body?: unknown;
  /** Statuses that are answers, not failures (404 on a delete). */
  readonly accept?: readonly number[];
  /** What the call is about, e.g. `node etcd-1a2b`. */
  readonly subject?: string | undefined;
  readonly headers?: Readonly<Record<string, string>>;
  /** The raw body (an image upload). */
  readonly raw?: { readonly data: Uint8Array; readonly contentType: string };
  /** The answer's body is bytes (an image download): a Buffer, not text. */
  readonly binary?: boolean | undefined;
}

export interface Answer<T> {
  readonly status: number;
  readonly body: T;
  readonly headers: Headers;
}

export class OpenstackSession {
  readonly #o: SessionOptions;
  readonly #policy: RetryPolicy;
  #token: Token | undefined;
  #issuing: Promise<Token> | undefined;
  #secrets: string[] = [];
  /** Tokens issued so far (for tests of re-issue). */
  tokensIssued = 0;

  constructor(o: SessionOptions) {
    this.#o = o;
    this.#policy = o.policy ?? DEFAULT_RETRY;
  }

  #scrub(text: string): string {
    return scrub(text, [...this.#secrets, ...(this.#token ? [this.#token.value] : [])]);
  }

  /** Issues a token (password or application credential), with the catalog. */
  async #issue(signal: AbortSignal): Promise<Token> {
    const cloud = this.#o.cloud();
    this.#secrets = secretsOf(cloud);
    const a = cloud.auth;
    const identity =
      a.type === 'password'
        ? {
            methods: ['password'],
            password: {
              user: {
                ...(a.userId ? { id: a.userId } : { name: a.username, domain: a.userDomain }),
                password: a.password,
              },
            },
          }
        : {
            methods: ['application_credential'],
            application_credential: {
              ...(a.id ? { id: a.id } : { name: a.name, user: { name: a.username, domain: a.userDomain } }),
              secret: a.secret,
            },
          };
    const scope =
      a.type === 'password'
        ? {
            project: a.project.id ? { id: a.project.id } : { name: a.project.name, domain: a.project.domain },
          }
        : undefined;
    const base = a.authUrl.endsWith('/v3') ? a.authUrl : `${a.authUrl}/v3`;
    let response: Response;
    try {
      response = await fetch(`${base}/auth/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ auth: { identity, ...(scope ? { scope } : {}) } }),
        signal,
      });
    } catch (e) {
      throw this.#networkError(e, signal);
    }
    const text = await response.text();
    if (response.status !== 201) {
      const cls = response.status === 401 ? 'permanent' : classifyStatus(response.status);
      throw new OpenstackHttpError(
        `Keystone refused the credentials of ${cloud.source}: ${this.#scrub(errorMessage(text))}`,
        response.status,
        cls,
        retryAfter(response.headers.get('retry-after')),
      );
    }
    const value = response.headers.get('x-subject-token');
    const doc = JSON.parse(text) as {
      token: { expires_at: string; catalog?: CatalogEntry[]; project?: { id: string } };
    };
    if (!value) throw new OpenstackHttpError('Keystone issued no X-Subject-Token', 201, 'permanent');
    this.tokensIssued++;
    return {
      value,
      expiresAt: Date.parse(doc.token.expires_at),
      catalog: doc.token.catalog ?? [],
      projectId: doc.token.project?.id,
    };
  }

  async #currentToken(signal: AbortSignal, renew: boolean): Promise<Token> {
    if (!renew && this.#token && this.#token.expiresAt - Date.now() > RENEW_BEFORE_MS) return this.#token;
    // One issue at a time: concurrent calls share it.
    this.#issuing ??= this.#issue(signal).finally(() => {
      this.#issuing = undefined;
    });
    this.#token = await this.#issuing;
    return this.#token;
  }

  /** The project the token is scoped to. */
  async projectId(): Promise<string | undefined> {
    return (await this.#currentToken(AbortSignal.timeout(this.#policy.callTimeoutMs), false)).projectId;
  }

  #endpoint(token: Token, service: ServiceType): string {
    const region = this.#o.region;
    const iface = this.#o.interface ?? 'public';
    const entry = token.catalog.find((c) => c.type === service);
    const ep = entry?.endpoints.find(
      (e) => e.interface === iface && (region === undefined || e.region === region || e.region_id === region),
    );
    if (!ep)
      throw new OpenstackHttpError(
        `the catalog has no ${iface} ${service} endpoint${region ? ` in region ${region}` : ''} (regions: ${
          [...new Set((entry?.endpoints ?? []).map((e) => e.region ?? e.region_id))].join(', ') || 'none'
        })`,
        undefined,
        'permanent',
      );
    return ep.url.replace(/\/+$/, '');
  }

  #networkError(e: unknown, signal: AbortSignal): OpenstackHttpError {
    if (signal.aborted)
      return new OpenstackHttpError(
        `no answer within ${this.#policy.callTimeoutMs} ms`,
        undefined,
        'timeout',
      );
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    return new OpenstackHttpError(
      `${cause?.code ?? 'network error'}: ${cause?.message ?? (e as Error).message}`,
      undefined,
      'network',
    );
  }

  /** One try of a call (a 401 issues a new token and tries once more). */
  async #once<T>(spec: CallSpec, signal: AbortSignal): Promise<Answer<T>> {
    for (let renewed = false; ; renewed = true) {
      const token = await this.#currentToken(signal, renewed);
      const url = `${this.#endpoint(token, spec.service)}${spec.path}`;
      const micro = this.#o.microversions?.[spec.service];
      const headers: Record<string, string> = {
        accept: 'application/json',
        'x-auth-token': token.value,
        ...(micro
          ? { 'openstack-api-version': `${spec.service} ${micro}`, 'x-openstack-nova-api-version': micro }
          : {}),
        ...(spec.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(spec.raw ? { 'content-type': spec.raw.contentType } : {}),
        ...spec.headers,
      };
      let response: Response;
      try {
        response = await fetch(url, {
          method: spec.method,
          headers,
          body: spec.raw ? spec.raw.data : spec.body !== undefined ? JSON.stringify(spec.body) : undefined,
          signal,
        });
      } catch (e) {
        throw this.#networkError(e, signal);
      }
      if (spec.binary && response.ok)
        return {
          status: response.status,
          body: Buffer.from(await response.arrayBuffer()) as T,
          headers: response.headers,
        };
      const text = await response.text();
      if (response.status === 401 && !renewed) continue;
      if (response.ok || spec.accept?.includes(response.status)) {
        let body: unknown = text;
        if (text !== '' && (response.headers.get('content-type') ?? '').includes('json'))
          body = JSON.parse(text);
        return { status: response.status, body: body as T, headers: response.headers };
      }
      throw new OpenstackHttpError(
        this.#scrub(errorMessage(text)),
        response.status,
        response.status === 401 ? 'permanent' : classifyStatus(response.status),
        retryAfter(response.headers.get('retry-after')),
      );
    }
  }

  /**
   * Runs a call until it succeeds, fails permanently or runs out of tries. A call that is
   * not idempotent (a create) must look before it acts through `before`: a timed-out try may
   * have taken effect.
   */
  async call<T>(
    name: string,
    spec: CallSpec,
    before?: (signal: AbortSignal) => Promise<Answer<T> | undefined>,
  ): Promise<Answer<T>> {
    const started = Date.now();
    const policy = this.#policy;
    for (let n = 1; ; n++) {
      const signal = AbortSignal.timeout(policy.callTimeoutMs);
      let failure: OpenstackHttpError;
      try {
        const earlier = before ? await before(signal) : undefined;
        if (earlier) return earlier;
        return await this.#once<T>(spec, signal);
      } catch (e) {
        if (e instanceof OpenstackCallError) throw e;
        failure =
          e instanceof OpenstackHttpError
            ? e
            : signal.aborted
              ? new OpenstackHttpError(`no answer within ${policy.callTimeoutMs} ms`, undefined, 'timeout')
              : new OpenstackHttpError(this.#scrub((e as Error).message), undefined, 'permanent');
      }
      const what = `${name} (${spec.method} ${spec.service} ${spec.path}) for ${this.#o.context}${spec.subject ? `, ${spec.subject}` : ''}`;
      const status = failure.status ? ` (HTTP ${failure.status})` : '';
      if (failure.class === 'permanent' || n >= policy.attempts) {
        const done =
          failure.class === 'permanent'
            ? 'not retried: OpenStack refused it'
            : `gave up after ${n} tries over ${((Date.now() - started) / 1000).toFixed(1)} s`;
        throw new OpenstackCallError(
          `${what} failed${status}: ${this.#scrub(failure.message)}; ${done}`,
          failure.status,
          failure.class,
        );
      }
      const delayMs = backoffMs(n, failure.class, policy, failure.retryAfterMs);
      this.#o.onRetry?.({
        call: what,
        attempt: n,
        of: policy.attempts,
        class: failure.class,
        status: failure.status,
        message: this.#scrub(failure.message),
        delayMs,
      });
      await sleep(delayMs);
    }
  }
}
