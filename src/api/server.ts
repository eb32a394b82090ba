// The controller's HTTP server: the API (the route table), /openapi.json, /metrics and the
// dashboard's static files, over HTTP or HTTPS. Refuses to start off loopback without a token,
// and refuses requests by a foreign Host, and writes from another site (request-guard.ts).

import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { isLoopbackHost, splitListen } from '../config/listen-address.ts';
import type { Config } from '../config/schema.ts';
import type { Provider } from '../providers/provider.ts';
import type { SnapshotStore } from '../snapshots/snapshot-store.ts';
import type { Store } from '../store/store.ts';
import { ApiStartError, BearerCheck, readTokenFile } from './auth.ts';
import { RAMPART_VERSION } from './build-info.ts';
import type { ControllerTelemetry } from './controller-telemetry.ts';
import { openApiDocument } from './openapi.ts';
import { RequestGuard } from './request-guard.ts';
import { parseRequestTarget } from './request-target.ts';
import { type Answer, type ApiContext, ROUTES, type Route } from './routes.ts';

export { ApiStartError } from './auth.ts';

const WEB_DIR = fileURLToPath(new URL('../web/', import.meta.url));

/**
 * Third-party files the dashboard loads, served from node_modules by this server (never a
 * CDN: the page works offline, under the same Content-Security-Policy). uPlot draws the charts.
 */
const VENDOR_FILES: Readonly<Record<string, string>> = {
  '/web/vendor/uplot.js': 'uplot/dist/uPlot.iife.min.js',
  '/web/vendor/uplot.css': 'uplot/dist/uPlot.min.css',
};
const requireFrom = createRequire(import.meta.url);
const vendorPath = (pathname: string): string | undefined => {
  const spec = VENDOR_FILES[pathname];
  return spec === undefined ? undefined : requireFrom.resolve(spec);
};
const MAX_BODY_BYTES = 64 * 1024;
const CALLER = /^[A-Za-z0-9 ._@-]{1,64}$/;

const STATIC_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'content-security-policy':
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
};

/**
 * What the API serves, built by its caller from the config (the runtime of the controller in
 * this process, createRuntime's): the server never builds an adapter of its own, so it serves
 * exactly the fenced providers and the store the controller uses.
 */
export interface ApiAdapters {
  /** Read, and requests recorded for the controller; opened and closed by its owner. */
  readonly store: Store;
  /** For the promote dry-run (is the old validator stopped?). */
  readonly providers: ReadonlyMap<string, Provider>;
  /** The store of each snapshot set, by set name. */
  readonly snapshotStores: ReadonlyMap<string, SnapshotStore>;
}

export interface ApiServerOptions {
  readonly config: Config;
  readonly log: Logger;
  /** What it serves: the caller's runtime (createRuntime's), its store already opened by the caller. */
  readonly runtime: ApiAdapters;
  /** The controller in this process (its leadership shows in /controller and /metrics). */
  readonly controller?: ApiContext['controller'];
  readonly telemetry?: ControllerTelemetry | undefined;
  /** Overrides controller.api.listen (tests use a free port). */
  readonly listen?: string | undefined;
  /** When the port is taken, try this many next ports (the demo; `up` keeps its address). Default 0. */
  readonly portFallbacks?: number | undefined;
  /** How long a write waits for the controller before answering 202. Default from the evaluation interval. */
  readonly writeWaitMs?: number | undefined;
}

export interface ApiServer {
  /** Base URL, e.g. http://127.0.0.1:8080 */
  readonly url: string;
  readonly tokenRequired: boolean;
  close(): Promise<void>;
}

interface Matched {
  readonly route: Route;
  readonly params: Record<string, string>;
}

const compiled = ROUTES.map((route) => {
  const names: string[] = [];
  const pattern = route.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{(\w+)\}/g, (_, n: string) => {
    names.push(n);
    return '([^/]+)';
  });
  return { route, regex: new RegExp(`^${pattern}$`), names };
});

/** HEAD is GET without the body (RFC 9110): every GET route answers it. */
const isRead = (method: string): boolean => method === 'GET' || method === 'HEAD';

/** The methods an `Allow` header lists for a path whose routes have these methods. */
const allowHeader = (methods: readonly string[]): string =>
  [...methods, ...(methods.includes('GET') ? ['HEAD'] : [])].join(', ');

function match(method: string, pathname: string): Matched | { allowed: string[] } | undefined {
  const allowed: string[] = [];
  const wanted = method === 'HEAD' ? 'GET' : method;
  for (const c of compiled) {
    const m = c.regex.exec(pathname);
    if (!m) continue;
    if (c.route.method !== wanted) {
      allowed.push(c.route.method);
      continue;
    }
    const params: Record<string, string> = {};
    // The path's percent-encoding is known to decode (parseRequestTarget).
    c.names.forEach((n, i) => {
      params[n] = decodeURIComponent(m[i + 1]!);
    });
    return { route: c.route, params };
  }
  return allowed.length ? { allowed } : undefined;
}

/** `field: message` for every issue, in one line a person can act on. */
function describeIssues(where: string, error: z.ZodError): string {
  return error.issues
    .map((i) => {
      const at = [where, ...i.path.map(String)].filter(Boolean).join('.');
      if (i.code === 'unrecognized_keys')
        return `${at}: unknown field(s) ${i.keys.map((k) => `"${k}"`).join(', ')}`;
      return `${at}: ${i.message}`;
    })
    .join('; ');
}

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES)
      throw new HttpError(413, `request body is larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function startApiServer(opts: ApiServerOptions): Promise<ApiServer> {
  const { config, log } = opts;
  const api = config.controller.api;
  const listen = opts.listen ?? api.listen;
  const { host, port } = splitListen(listen);
  const bearer = api.tokenFile !== undefined ? new BearerCheck(readTokenFile(api.tokenFile)) : undefined;
  if (!bearer && !isLoopbackHost(host))
    throw new ApiStartError(
      `refusing to serve the API on ${listen}: it is not a loopback address, so a bearer token is required (set controller.api.tokenFile)`,
    );
  const guard = new RequestGuard({
    listenHost: host,
    allowedHosts: api.allowedHosts,
    tokenRequired: bearer !== undefined,
  });
  let tls: { cert: Buffer; key: Buffer } | undefined;
  if (api.tls) {
    const read = (what: string, file: string) => {
      try {
        return readFileSync(file);
      } catch (e) {
        throw new ApiStartError(
          `controller.api.tls.${what} ${file} cannot be read (${(e as NodeJS.ErrnoException).code ?? 'unreadable'})`,
        );
      }
    };
    tls = { cert: read('cert', api.tls.cert), key: read('key', api.tls.key) };
  }

  const ctx: ApiContext = {
    config,
    store: opts.runtime.store,
    snapshotStores: opts.runtime.snapshotStores,
    controller: opts.controller,
    telemetry: opts.telemetry,
    providers: opts.runtime.providers,
    writeWaitMs:
      opts.writeWaitMs ?? Math.min(15_000, Math.max(3000, 3 * config.controller.evaluationInterval + 1000)),
  };
  const openapi = openApiDocument(ROUTES, { version: RAMPART_VERSION, tokenRequired: bearer !== undefined });

  // A HEAD answer is the GET answer's status and headers, Content-Length included: Node's
  // response leaves the body out by itself.
  const send = (res: ServerResponse, answer: Answer) => {
    const type = answer.contentType ?? 'application/json; charset=utf-8';
    const text = typeof answer.body === 'string' ? answer.body : `${JSON.stringify(answer.body)}\n`;
    res.writeHead(answer.status, {
      ...SECURITY_HEADERS,
      'content-type': type,
      'content-length': Buffer.byteLength(text),
      'cache-control': 'no-store',
      ...(answer.status === 401 ? { 'www-authenticate': 'Bearer realm="rampart"' } : {}),
      ...answer.headers,
    });
    res.end(text);
  };

  const serveStatic = async (res: ServerResponse, pathname: string): Promise<boolean> => {
    const vendor = vendorPath(pathname);
    const rel =
      pathname === '/' ? 'index.html' : pathname.startsWith('/web/') ? pathname.slice(5) : undefined;
    if (rel === undefined) return false;
    const file = vendor ?? path.resolve(WEB_DIR, decodeURIComponent(rel));
    const type = STATIC_TYPES[path.extname(file)];
    if ((!vendor && !file.startsWith(WEB_DIR)) || !type || file.endsWith('.test.ts')) return false;
    let content: Buffer;
    try {
      content = await readFile(file);
    } catch {
      return false;
    }
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': type,
      'content-length': content.length,
      // The vendored files change only with an upgrade of Rampart's dependencies.
      'cache-control': vendor ? 'max-age=3600' : 'no-cache',
    });
    res.end(content);
    return true;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = req.method ?? 'GET';
    const started = performance.now();
    // For the log line: the target as sent until it is known to be a path.
    let pathname = (req.url ?? '').slice(0, 200);
    let answer: Answer;
    let caller = '';
    try {
      const refusal = guard.check({
        method,
        host: req.headers.host,
        origin: req.headers.origin,
        contentType: req.headers['content-type'],
      });
      if (refusal) throw new HttpError(refusal.status, refusal.error);
      const target = parseRequestTarget(req.url ?? '');
      if (!target.ok) throw new HttpError(400, target.error);
      pathname = target.pathname;
      if (isRead(method) && pathname === '/openapi.json') answer = { status: 200, body: openapi };
      else if (isRead(method) && (await serveStatic(res, pathname))) return;
      else {
        const found = match(method, pathname);
        if (!found) throw new HttpError(404, `no such route: ${method} ${pathname} (see /openapi.json)`);
        if (!('route' in found)) {
          res.setHeader('allow', allowHeader(found.allowed));
          throw new HttpError(
            405,
            `${method} is not allowed on ${pathname} (allowed: ${found.allowed.join(', ')})`,
          );
        }
        const { route, params } = found;
        if (route.auth && bearer) {
          const verdict = bearer.check(req.headers.authorization);
          if (verdict === 'missing')
            throw new HttpError(
              401,
              'this API needs a bearer token: send Authorization: Bearer <the token in controller.api.tokenFile>',
            );
          if (verdict === 'wrong')
            throw new HttpError(401, 'the bearer token is not the one this controller expects');
        }
        const label = req.headers['x-rampart-caller'];
        if (label !== undefined && (typeof label !== 'string' || !CALLER.test(label)))
          throw new HttpError(400, 'X-Rampart-Caller: 1 to 64 letters, digits, spaces or . _ @ -');
        caller = `${label ?? 'api client'} at ${req.socket.remoteAddress ?? 'unknown address'}`;
        const parsedParams = route.params ? route.params.safeParse(params) : undefined;
        if (parsedParams && !parsedParams.success)
          throw new HttpError(400, describeIssues('path', parsedParams.error));
        let query: unknown;
        if (route.query) {
          const raw: Record<string, string> = {};
          for (const [k, v] of target.searchParams) {
            if (k in raw) throw new HttpError(400, `query parameter "${k}" is given more than once`);
            raw[k] = v;
          }
          const q = route.query.safeParse(raw);
          if (!q.success) throw new HttpError(400, describeIssues('query', q.error));
          query = q.data;
        }
        let body: unknown;
        if (route.body) {
          const text = await readBody(req);
          let json: unknown;
          // The guard has checked that a write is sent as application/json.
          if (text.trim() !== '') {
            try {
              json = JSON.parse(text);
            } catch (e) {
              throw new HttpError(400, `request body is not valid JSON: ${(e as Error).message}`);
            }
          }
          const b = route.body.safeParse(json);
          if (!b.success)
            throw new HttpError(
              400,
              json === undefined
                ? 'this request needs a JSON body (see /openapi.json)'
                : describeIssues('body', b.error),
            );
          body = b.data;
        }
        answer = await route.handle({ params: parsedParams?.data ?? {}, query, body, caller }, ctx);
      }
    } catch (e) {
      if (e instanceof HttpError) answer = { status: e.status, body: { error: e.message } };
      else if (/ is not open$/.test((e as Error).message))
        // The controller opens the store it shares with the API a moment after the API listens.
        answer = { status: 503, body: { error: `${(e as Error).message} yet: try again in a moment` } };
      else {
        log.error({ err: e, method, path: pathname }, 'API request failed');
        answer = { status: 500, body: { error: `internal error: ${(e as Error).message}` } };
      }
    }
    send(res, answer);
    const fields = {
      method,
      path: pathname,
      status: answer.status,
      ms: Math.round(performance.now() - started),
      ...(caller && !isRead(method) ? { caller } : {}),
    };
    if (!isRead(method)) log.info(fields, 'API write');
    else log.debug(fields, 'API read');
  };

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((e) => {
      log.error({ err: e }, 'API response failed');
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  };
  const server: Server = tls
    ? createHttpsServer({ cert: tls.cert, key: tls.key }, listener)
    : createHttpServer(listener);
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;

  let bound = port;
  const fallbacks = opts.portFallbacks ?? 0;
  for (let attempt = 0; ; attempt++) {
    try {
      await new Promise<void>((resolve, reject) => {
        const onError = (e: Error) => reject(e);
        server.once('error', onError);
        server.listen(bound, host, () => {
          server.off('error', onError);
          resolve();
        });
      });
      break;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE' && attempt < fallbacks && bound !== 0) {
        bound++;
        continue;
      }
      throw new ApiStartError(
        `cannot serve the API on ${host}:${bound}: ${code === 'EADDRINUSE' ? 'the address is in use (another Rampart?); set controller.api.listen' : (e as Error).message}`,
        code === 'EADDRINUSE',
      );
    }
  }
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : bound;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  const url = `${tls ? 'https' : 'http'}://${shownHost}:${actualPort}`;
  let closed: Promise<void> | undefined;
  return {
    url,
    tokenRequired: bearer !== undefined,
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
