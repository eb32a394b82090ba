// A small fault-injecting HTTP proxy in front of one OpenStack service (Nova), for the
// provider's fault tests: answers chosen calls with a 5xx, a 409 or a 429 shaped as Nova sends
// them, or lets a call reach Nova and then drops the answer (the call took effect; a naive
// retry would make a second server). Every call and fault is recorded.

import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type OpenstackFault = 'unavailable' | 'conflict' | 'rate-limited' | 'drop-answer';

export interface OpenstackFaultRule {
  readonly method: string;
  /** Matched against the path (query included). */
  readonly path: RegExp;
  readonly fault: OpenstackFault;
  /** How many matching calls get the fault. */
  readonly times: number;
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

const BODIES: Record<
  Exclude<OpenstackFault, 'drop-answer'>,
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
    if (rule && rule.fault !== 'drop-answer') {
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
