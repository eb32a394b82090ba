// A small fault-injecting HTTP proxy in front of moto, for the AWS provider's fault tests:
// answers chosen calls with throttling or 5xx errors shaped as AWS sends them, or lets a
// call reach moto and then never answers (a timeout after the call took effect, the case
// that makes a naive retry launch a second instance). Every call and fault is recorded.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type FaultKind =
  /** 400 Throttling (Auto Scaling) / RequestLimitExceeded (EC2). */
  | 'throttle'
  /** 503 ServiceUnavailable (Auto Scaling) / Unavailable (EC2). */
  | 'unavailable'
  /** 500 InternalError / InternalFailure. */
  | 'internal'
  /** Forwarded to moto (it takes effect), then no answer ever comes back. */
  | 'timeout-after'
  /** Never forwarded and never answered. */
  | 'timeout-before';

export interface FaultRule {
  /** The API call, e.g. RunInstances; absent: every call. */
  readonly call?: string;
  readonly fault: FaultKind;
  /** How many matching calls get the fault (then the rule is spent). Default: all of them. */
  readonly times?: number;
  /** Chance a matching call gets the fault, 0–1. Default 1. */
  readonly probability?: number;
}

export interface ProxiedCall {
  readonly call: string;
  readonly fault?: FaultKind | undefined;
  readonly status?: number | undefined;
}

export interface FaultProxy {
  /** `http://127.0.0.1:PORT`: give it to the provider as its endpoint. */
  readonly url: string;
  /** Every call seen, in order, with the fault it got. */
  readonly calls: ProxiedCall[];
  /** Adds a rule; the first live matching rule decides. */
  inject(rule: FaultRule): void;
  /** Removes every rule: calls pass through. */
  clear(): void;
  close(): Promise<void>;
}

interface LiveRule extends FaultRule {
  left: number;
}

function errorBody(version: string | null, fault: FaultKind): { status: number; body: string } {
  const ec2 = version === '2016-11-15';
  const [status, code, message] =
    fault === 'throttle'
      ? [400, ec2 ? 'RequestLimitExceeded' : 'Throttling', 'Rate exceeded']
      : fault === 'unavailable'
        ? [
            503,
            ec2 ? 'Unavailable' : 'ServiceUnavailable',
            'The service is unavailable. Please try again shortly.',
          ]
        : [500, ec2 ? 'InternalError' : 'InternalFailure', 'An internal error has occurred.'];
  const id = crypto.randomUUID();
  const body = ec2
    ? `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${code}</Code><Message>${message}</Message></Error></Errors><RequestID>${id}</RequestID></Response>`
    : `<ErrorResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><Error><Type>${status >= 500 ? 'Receiver' : 'Sender'}</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>${id}</RequestId></ErrorResponse>`;
  return { status, body };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const rules: LiveRule[] = [];
  const calls: ProxiedCall[] = [];

  const pick = (call: string): FaultKind | undefined => {
    for (const r of rules) {
      if (r.left <= 0 || (r.call !== undefined && r.call !== call)) continue;
      if (r.probability !== undefined && Math.random() >= r.probability) continue;
      r.left--;
      return r.fault;
    }
    return undefined;
  };

  const forward = async (req: IncomingMessage, body: Buffer) => {
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers))
      if (typeof v === 'string' && k !== 'host' && k !== 'connection' && k !== 'content-length')
        headers.set(k, v);
    return fetch(`${target}${req.url ?? '/'}`, {
      method: req.method,
      headers,
      body: req.method === 'GET' || req.method === 'HEAD' ? undefined : body,
    });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readBody(req);
    const params = new URLSearchParams(
      req.method === 'GET' ? ((req.url ?? '').split('?')[1] ?? '') : body.toString('utf8'),
    );
    const call =
      params.get('Action') ?? req.headers['x-amz-target']?.toString() ?? `${req.method} ${req.url}`;
    const fault = pick(call);
    if (fault === 'timeout-before') {
      calls.push({ call, fault });
      return; // held open until the client gives up
    }
    if (fault && fault !== 'timeout-after') {
      // Refused before moto sees it, as AWS refuses a throttled or failed call.
      const { status, body: errorText } = errorBody(params.get('Version'), fault);
      calls.push({ call, fault, status });
      res.writeHead(status, { 'content-type': 'text/xml' }).end(errorText);
      return;
    }
    let upstream: Response;
    try {
      upstream = await forward(req, body);
    } catch (e) {
      calls.push({ call, fault, status: 502 });
      res.writeHead(502).end(`proxy: ${(e as Error).message}`);
      return;
    }
    const text = Buffer.from(await upstream.arrayBuffer());
    if (fault === 'timeout-after') {
      calls.push({ call, fault, status: upstream.status });
      return; // moto acted; the answer is lost
    }
    calls.push({ call, status: upstream.status });
    const headers: Record<string, string> = {};
    upstream.headers.forEach((v, k) => {
      if (
        k !== 'content-length' &&
        k !== 'transfer-encoding' &&
        k !== 'connection' &&
        k !== 'content-encoding'
      )
        headers[k] = v;
    });
    res.writeHead(upstream.status, headers).end(text);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      if (!res.headersSent) res.writeHead(500).end(`proxy failure: ${(e as Error).message}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    inject: (rule) => rules.push({ ...rule, left: rule.times ?? Number.POSITIVE_INFINITY }),
    clear: () => {
      rules.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
