// Refuses the requests a web page on another site can make a browser send to the API: a Host
// that is not a name the API answers to (DNS rebinding), and a write from another Origin or
// not sent as JSON (cross-site request forgery: a JSON write needs a CORS preflight, and the
// API never grants one).

import { isLoopbackHost } from '../config/listen-address.ts';

export interface RequestGuardOptions {
  /** The host of `controller.api.listen`: `127.0.0.1`, `::1`, `0.0.0.0`, `10.0.0.7`… */
  readonly listenHost: string;
  /** `controller.api.allowedHosts`: further names the API is reached by. */
  readonly allowedHosts: readonly string[];
  /** Whether a bearer token protects the API (`controller.api.tokenFile`). */
  readonly tokenRequired: boolean;
}

/** What the guard reads of a request: its method and three headers, as received. */
export interface GuardedRequest {
  readonly method: string;
  readonly host: string | undefined;
  readonly origin: string | undefined;
  readonly contentType: string | undefined;
}

/** Why a request is refused: the HTTP status and a message for the caller. */
export interface Refusal {
  readonly status: 400 | 403 | 415 | 421;
  readonly error: string;
}

/** Methods that change nothing: no Origin or content type is asked of them. */
const SAFE_METHODS = new Set(['GET', 'HEAD']);
/** `name`, `name:port`, `[v6]` or `[v6]:port`, and nothing else (no user, path or spaces). */
const HOST_HEADER = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:\d{1,5})?$/;
/** Every address of the machine: whoever reaches it may use any name, so no name is checked. */
const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '0:0:0:0:0:0:0:0']);

/** A header value as shown in an error: quoted, at most 100 characters. */
const quote = (value: string): string => JSON.stringify(value.slice(0, 100));

/** `[::1]` → `::1`; names compare in lower case. */
function bare(host: string): string {
  return host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
}

/** The name part of a Host header, without port or brackets; undefined when malformed. */
function hostName(header: string): string | undefined {
  const m = HOST_HEADER.exec(header.toLowerCase());
  // The URL parser refuses what the pattern lets through: a port above 65535, a bad IPv6 address.
  return m && URL.canParse(`http://${header}`) ? bare(m[1]!) : undefined;
}

export class RequestGuard {
  /** The names a request's Host may carry besides loopback ones; undefined: any. */
  readonly #names: ReadonlySet<string> | undefined;

  /**
   * On a wildcard listen address (0.0.0.0, ::) every Host is accepted, because the machine's
   * addresses and names cannot be listed and the bearer token (required there) protects the
   * API; elsewhere, the listen host, loopback names and `allowedHosts`.
   */
  constructor(o: RequestGuardOptions) {
    const wildcard = WILDCARD_HOSTS.has(bare(o.listenHost));
    this.#names =
      wildcard && o.tokenRequired
        ? undefined
        : new Set([...(wildcard ? [] : [bare(o.listenHost)]), ...o.allowedHosts.map(bare)]);
  }

  /** The names a Host may carry, as told to a refused caller. */
  #acceptedNames(): string {
    if (!this.#names) return 'any name';
    const names = ['localhost', '127.0.0.1', '[::1]'];
    for (const n of this.#names) if (!isLoopbackHost(n)) names.push(n.includes(':') ? `[${n}]` : n);
    return names.join(', ');
  }

  /** Undefined when the request may go on; otherwise why not. Host first, then Origin, then content type. */
  check(r: GuardedRequest): Refusal | undefined {
    return this.#checkHost(r) ?? this.#checkOrigin(r) ?? this.#checkContentType(r);
  }

  #checkHost(r: GuardedRequest): Refusal | undefined {
    if (r.host === undefined)
      return this.#names
        ? { status: 400, error: 'a Host header is required (send the name or address the API is reached by)' }
        : undefined;
    const name = hostName(r.host);
    if (name === undefined) return { status: 400, error: `the Host header ${quote(r.host)} is malformed` };
    if (!this.#names || isLoopbackHost(name) || this.#names.has(name)) return undefined;
    return {
      status: 421,
      error: `Host ${quote(r.host)} is not a name this API answers to (it answers to ${this.#acceptedNames()}): a page on another site reaches the API by pointing its own DNS name here (DNS rebinding). If you reach the API by this name, add it to controller.api.allowedHosts`,
    };
  }

  /**
   * A browser sends Origin with every write; a write is taken only from a page of the API's
   * own origin, or from a client that sends none (curl, scripts). The scheme is not compared:
   * behind a proxy that ends TLS the API serves http to an https page.
   */
  #checkOrigin(r: GuardedRequest): Refusal | undefined {
    if (SAFE_METHODS.has(r.method) || r.origin === undefined) return undefined;
    const refuse = (why: string): Refusal => ({
      status: 403,
      error: `${why}: the API takes writes only from its own dashboard (the page it serves) or from clients that send no Origin`,
    });
    if (r.host === undefined || hostName(r.host) === undefined)
      return refuse(`Origin ${quote(r.origin)} cannot be compared without a Host`);
    if (r.origin === 'null') return refuse('Origin null (a sandboxed page, a file or a redirect) is no site');
    let origin: URL;
    try {
      origin = new URL(r.origin);
    } catch {
      return refuse(`Origin ${quote(r.origin)} is not a URL`);
    }
    // Read the Host as a URL of the Origin's scheme, so that default ports compare equal.
    const own = URL.parse(`${origin.protocol}//${r.host}`)?.host ?? r.host;
    if (origin.host === own) return undefined;
    return refuse(`Origin ${quote(r.origin)} is another origin than this API's (${own})`);
  }

  /**
   * A page can send a form, text/plain or no body to another site without asking; only
   * application/json needs a preflight. So every write, even one without a body, is JSON.
   */
  #checkContentType(r: GuardedRequest): Refusal | undefined {
    if (SAFE_METHODS.has(r.method) || r.method === 'OPTIONS') return undefined;
    const type = (r.contentType ?? '').split(';')[0]!.trim().toLowerCase();
    if (type === 'application/json') return undefined;
    return {
      status: 415,
      error: `send writes with Content-Type: application/json, even without a body (got ${type || 'no content type'}): a web page on another site cannot send that without the API's leave, which it never gives`,
    };
  }
}
