// Offered load for the demo: broadcasts transactions to the serving simnodes at a total rate,
// optionally following a piecewise-linear LoadProfile so scale-up and scale-down are visible.

import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';

export interface LoadPoint {
  /** Seconds since the profile started. */
  readonly at: number;
  /** Total offered load at that moment, tx/s. */
  readonly rate: number;
}

export interface LoadProfileOptions {
  /** Start over after the last point (the period is the last point's `at`). */
  readonly loop?: boolean;
}

/** A schedule of offered load: straight lines between points, flat before the first and after the last. */
export class LoadProfile {
  readonly points: readonly LoadPoint[];
  readonly loop: boolean;

  constructor(points: readonly LoadPoint[], options: LoadProfileOptions = {}) {
    if (points.length === 0) throw new Error('a load profile needs at least one point');
    points.forEach((p, i) => {
      if (!Number.isFinite(p.at) || p.at < 0)
        throw new Error(`load profile point ${i}: at must be >= 0, got ${p.at}`);
      if (!Number.isFinite(p.rate) || p.rate < 0) {
        throw new Error(`load profile point ${i}: rate must be >= 0, got ${p.rate}`);
      }
      const prev = points[i - 1];
      if (prev !== undefined && p.at < prev.at) {
        throw new Error(`load profile point ${i}: at ${p.at} comes before the previous point's ${prev.at}`);
      }
    });
    this.points = points.map((p) => ({ at: p.at, rate: p.rate }));
    this.loop = options.loop ?? false;
  }

  /** Length of one loop in seconds (the last point's `at`). */
  get period(): number {
    return this.points[this.points.length - 1]!.at;
  }

  rateAt(elapsedSeconds: number): number {
    const points = this.points;
    let t = Math.max(0, elapsedSeconds);
    if (this.loop && this.period > 0) t %= this.period;
    const first = points[0]!;
    if (t < first.at) return first.rate;
    for (let i = points.length - 1; i >= 0; i--) {
      const p = points[i]!;
      if (t < p.at) continue;
      const next = points[i + 1];
      if (next === undefined || next.at === p.at) return p.rate;
      return p.rate + ((next.rate - p.rate) * (t - p.at)) / (next.at - p.at);
    }
    return first.rate;
  }
}

export interface LoadGeneratorOptions {
  /** Base RPC URLs of the nodes to load, e.g. `http://127.0.0.1:26657`. */
  readonly targets?: readonly string[];
  /** Total offered load, tx/s. Ignored while a profile is set. */
  readonly rate?: number;
  readonly profile?: LoadProfile;
  /** Requests in flight at most; beyond it a tick's transactions are dropped. */
  readonly maxInFlight?: number;
  readonly tickMs?: number;
  readonly requestTimeoutMs?: number;
}

export interface LoadStats {
  /** Requests issued. */
  readonly sent: number;
  /** Requests answered with HTTP 200. */
  readonly succeeded: number;
  /** Requests that errored, timed out or got a non-200 answer (a full mempool is one). */
  readonly failed: number;
  /** The failed requests by reason (`HTTP 500: mempool is full`, `connection refused`, …). */
  readonly failures: Readonly<Record<string, number>>;
  /** Transactions not sent: the concurrency cap was reached or there was no target. */
  readonly dropped: number;
  readonly inFlight: number;
  /** The total rate currently offered, tx/s. */
  readonly rate: number;
  readonly targets: number;
}

interface Target {
  readonly url: string;
  readonly hostname: string;
  readonly port: number;
  readonly basePath: string;
}

function parseTarget(url: string): Target {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`load target "${url}" is not a URL`);
  }
  if (parsed.protocol !== 'http:') throw new Error(`load target "${url}" must be an http URL`);
  return {
    url,
    hostname: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: parsed.port === '' ? 80 : Number(parsed.port),
    basePath: parsed.pathname.replace(/\/+$/, ''),
  };
}

/** Sends `broadcast_tx_async` requests round-robin over the targets, batched per tick. */
export class LoadGenerator {
  private targets: Target[] = [];
  private rate = 0;
  private profile: LoadProfile | undefined;
  private profileStartedAt = 0;
  private readonly maxInFlight: number;
  private readonly tickMs: number;
  private readonly requestTimeoutMs: number;
  private readonly agent: Agent;
  private readonly txPrefix = randomBytes(4).toString('hex');
  private timer: NodeJS.Timeout | undefined;
  private carry = 0;
  private cursor = 0;
  private seq = 0;
  private counters = { sent: 0, succeeded: 0, failed: 0, dropped: 0, inFlight: 0 };
  private readonly failures = new Map<string, number>();

  constructor(options: LoadGeneratorOptions = {}) {
    this.maxInFlight = options.maxInFlight ?? 256;
    this.tickMs = options.tickMs ?? 100;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 2_000;
    // maxSockets is per target; a few keep-alive sockets each carry hundreds of tx/s on loopback.
    this.agent = new Agent({ keepAlive: true, maxSockets: 8 });
    this.setTargets(options.targets ?? []);
    this.setRate(options.rate ?? 0);
    if (options.profile !== undefined) this.setProfile(options.profile);
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => this.tick(), this.tickMs);
  }

  /** Stops sending and closes idle connections; requests in flight still finish or fail. */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.agent.destroy();
  }

  setTargets(urls: readonly string[]): void {
    this.targets = urls.map(parseTarget);
    if (this.targets.length > 0) this.cursor %= this.targets.length;
  }

  setRate(txPerSecond: number): void {
    if (!Number.isFinite(txPerSecond) || txPerSecond < 0) {
      throw new Error(`load rate must be a number >= 0 tx/s, got ${txPerSecond}`);
    }
    this.rate = txPerSecond;
  }

  /** Follows the profile from now on (its time 0 is now); undefined returns to the fixed rate. */
  setProfile(profile: LoadProfile | undefined): void {
    this.profile = profile;
    this.profileStartedAt = Date.now();
  }

  currentRate(): number {
    if (this.profile === undefined) return this.rate;
    return this.profile.rateAt((Date.now() - this.profileStartedAt) / 1000);
  }

  stats(): LoadStats {
    return {
      ...this.counters,
      failures: Object.fromEntries(this.failures),
      rate: this.currentRate(),
      targets: this.targets.length,
    };
  }

  private tick(): void {
    this.carry += (this.currentRate() * this.tickMs) / 1000;
    const due = Math.floor(this.carry);
    this.carry -= due;
    if (due === 0) return;
    if (this.targets.length === 0) {
      this.counters.dropped += due;
      return;
    }
    for (let i = 0; i < due; i++) {
      if (this.counters.inFlight >= this.maxInFlight) {
        this.counters.dropped += due - i;
        return;
      }
      const target = this.targets[this.cursor % this.targets.length]!;
      this.cursor = (this.cursor + 1) % this.targets.length;
      this.send(target);
    }
  }

  private send(target: Target): void {
    this.seq += 1;
    const tx = `0x${this.txPrefix}${this.seq.toString(16).padStart(12, '0')}`;
    this.counters.sent += 1;
    this.counters.inFlight += 1;
    let settled = false;
    const settle = (ok: boolean, reason = 'unknown') => {
      if (settled) return;
      settled = true;
      this.counters.inFlight -= 1;
      if (ok) this.counters.succeeded += 1;
      else {
        this.counters.failed += 1;
        this.failures.set(reason, (this.failures.get(reason) ?? 0) + 1);
      }
    };
    const req = request(
      {
        agent: this.agent,
        hostname: target.hostname,
        port: target.port,
        path: `${target.basePath}/broadcast_tx_async?tx=${tx}`,
        method: 'GET',
        timeout: this.requestTimeoutMs,
      },
      (res) => {
        const ok = res.statusCode === 200;
        // A refusal's body says why (CometBFT: a JSON-RPC error); only its start is kept.
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (!ok && body.length < 4096) body += chunk;
        });
        const refused = () => `HTTP ${res.statusCode}${rpcErrorOf(body)}`;
        res.on('error', (e) => settle(false, failureOf(e)));
        res.on('end', () => settle(ok, ok ? undefined : refused()));
        res.on('close', () => settle(ok && res.complete, ok ? 'answer cut off' : refused()));
      },
    );
    req.on('timeout', () => req.destroy(new TimeoutError(`no answer within ${this.requestTimeoutMs} ms`)));
    req.on('error', (e) => settle(false, failureOf(e)));
    req.end();
  }
}

class TimeoutError extends Error {}

/** A failed request's reason, the same for every request that failed the same way. */
function failureOf(e: Error): string {
  if (e instanceof TimeoutError) return e.message;
  const code = (e as NodeJS.ErrnoException).code;
  const known: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ECONNRESET: 'connection reset',
    EHOSTUNREACH: 'host unreachable',
    ENOTFOUND: 'host not found',
    ETIMEDOUT: 'connect timed out',
    EPIPE: 'connection closed',
  };
  return code ? (known[code] ?? code) : e.message;
}

/**
 * `: why` from a JSON-RPC error body, up to its first colon (`mempool is full: number of txs
 * 5000 …` counts as `mempool is full`, whatever the numbers); empty when there is none.
 */
function rpcErrorOf(body: string): string {
  try {
    const error = (JSON.parse(body) as { error?: { data?: unknown; message?: unknown } }).error;
    const why = String(error?.data ?? error?.message ?? '')
      .split(':')[0]!
      .trim();
    return why ? `: ${why.slice(0, 120)}` : '';
  } catch {
    return '';
  }
}
