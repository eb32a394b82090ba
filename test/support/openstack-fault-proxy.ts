// A small fault-injecting HTTP proxy in front of one OpenStack service (Nova or Keystone), for
// the provider's fault tests: answers chosen calls with a 5xx, a 409 or a 429 shaped as Nova
// sends them, or a 401 as a service answers an expired token; lets a call reach the service
// and then drops the answer (the call took effect; a naive retry would make a second server);
// or passes Keystone's token on with an expiry a few seconds away; or holds a call and passes
// it on only after `holdMs` (`late`: Nova carries out a POST after the caller gave it up and
// after its retry had looked for what it made). Every call is recorded.

import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type OpenstackFault =
  | 'unavailable'
  | 'conflict'
  | 'rate-limited'
  | 'token-expired'
  | 'drop-answer'
  | 'expires-soon'
  | 'late';

export interface OpenstackFaultRule {
  readonly method: string;
  /** Matched against the path (query included). */
  readonly path: RegExp;
  readonly fault: OpenstackFault;
  /** How many matching calls get the fault. */
  readonly times: number;
  /** `late`: how long the call is held before it is passed on (its answer then dropped). */
  readonly holdMs?: number | undefined;
}

export interface ProxiedCall {
  readonly method: string;
  readonly path: string;
  readonly fault?: OpenstackFault | undefined;
}

export interface OpenstackFaultProxy {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly calls: ProxiedCall[];
  inject(rule: OpenstackFaultRule): void;
  close(): Promise<void>;
}

/** Seconds left on a token passed on by an `expires-soon` fault. */
const EXPIRES_SOON_S = 5;

const BODIES: Record<
  Exclude<OpenstackFault, 'drop-answer' | 'expires-soon' | 'late'>,
  { status: number; body: unknown; headers?: Record<string, string> }
> = {
  unavailable: {
    status: 503,
    body: {
      computeFault: {
        code: 503,
        message: 'The server is currently unavailable. Please try again at a later time.',
      },
    },
  },
  conflict: {
    status: 409,
    body: {
      conflictingRequest: {
        code: 409,
        message: "Cannot 'delete' instance while it is in task_state spawning",
      },
    },
  },
  'rate-limited': {
    status: 429,
    body: { overLimit: { code: 429, message: 'This request was rate-limited.' } },
    headers: { 'retry-after': '1' },
  },
  // What keystonemiddleware answers for a token that expired or was revoked.
  'token-expired': {
    status: 401,
    body: {
      error: {
        code: 401,
        title: 'Unauthorized',
        message: 'The request you have made requires authentication.',
      },
    },
    headers: { 'www-authenticate': 'Keystone uri="http://127.0.0.1/v3"' },
  },
};

/** Starts the proxy in front of `target` (`http://127.0.0.1:PORT`). */
export async function startOpenstackFaultProxy(target: string): Promise<OpenstackFaultProxy> {
  const upstream = new URL(target);
  const rules: (OpenstackFaultRule & { left: number })[] = [];
  const calls: ProxiedCall[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const rule = rules.find((r) => r.left > 0 && r.method === method && r.path.test(path));
    if (rule) rule.left--;
    calls.push({ method, path, fault: rule?.fault });
    if (rule?.fault === 'late') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.once('end', () => {
        setTimeout(() => {
          res.destroy();
          const out = httpRequest(
            { host: upstream.hostname, port: upstream.port, method, path, headers: req.headers },
            (answer) => answer.resume(),
          );
          out.on('error', () => undefined);
          out.end(Buffer.concat(chunks));
        }, rule.holdMs ?? 30_000).unref();
      });
      return;
    }
    if (rule && rule.fault !== 'drop-answer' && rule.fault !== 'expires-soon') {
      const f = BODIES[rule.fault];
      req.resume();
      res.writeHead(f.status, { 'content-type': 'application/json', ...f.headers });
      res.end(JSON.stringify(f.body));
      return;
    }
    const out = httpRequest(
      { host: upstream.hostname, port: upstream.port, method, path, headers: req.headers },
      (answer) => {
        if (rule?.fault === 'drop-answer') {
          // It reached Nova and took effect; the caller never hears of it.
          answer.resume();
          answer.once('end', () => res.destroy());
          return;
        }
        if (rule?.fault === 'expires-soon') {
          // Keystone's answer with the token's expiry moved close: as a token issued long ago.
          const chunks: Buffer[] = [];
          answer.on('data', (c: Buffer) => chunks.push(c));
          answer.once('end', () => {
            const doc = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
              token: { expires_at: string };
            };
            doc.token.expires_at = new Date(Date.now() + EXPIRES_SOON_S * 1000).toISOString();
            const body = JSON.stringify(doc);
            const headers = { ...answer.headers, 'content-length': String(Buffer.byteLength(body)) };
            delete headers['transfer-encoding'];
            res.writeHead(answer.statusCode ?? 502, headers);
            res.end(body);
          });
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    inject: (rule) => rules.push({ ...rule, left: rule.times }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
