// Test helpers for the alert tests: a clock the test moves by hand, a receiver server that
// records every request and answers as scripted, and logs captured through Rampart's redaction.

import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import type { Alert } from '../../src/alerts/alert.ts';
import type { DispatcherClock } from '../../src/alerts/alert-dispatcher.ts';
import { REDACTED_PATHS } from '../../src/cli/log.ts';
import { type HttpFixture, startHttpFixture } from './http-fixture.ts';

export const T0 = Date.parse('2026-03-01T12:00:00.000Z');

/** A clock that only moves when the test says so; sleeps end when it passes their time. */
export class FakeClock implements DispatcherClock {
  #now: number;
  readonly #sleepers = new Set<{ at: number; ms: number; wake: () => void }>();

  constructor(start = T0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const sleeper = {
        at: this.#now + ms,
        ms,
        wake: () => {
          this.#sleepers.delete(sleeper);
          signal.removeEventListener('abort', sleeper.wake);
          resolve();
        },
      };
      this.#sleepers.add(sleeper);
      signal.addEventListener('abort', sleeper.wake, { once: true });
    });
  }

  /** The durations of the sleeps pending now, in the order they began. */
  get sleeps(): number[] {
    return [...this.#sleepers].map((s) => s.ms);
  }

  /** Moves time on and ends every sleep that is due. */
  advance(ms: number): void {
    this.#now += ms;
    for (const s of [...this.#sleepers]) if (s.at <= this.#now) s.wake();
  }
}

/** Waits (real time, bounded) until `condition` holds; fails naming `what` otherwise. */
export async function until(condition: () => boolean, what: string, limitMs = 10_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Lets every pending callback run (the dispatcher's loops included). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: unknown;
}

/** What the receiver does with request number `n` (from 0): a status to answer, or hang (never answer). */
export type Script = (
  n: number,
  request: RecordedRequest,
) => number | 'hang' | { status: number; body: string };

export interface ReceiverServer extends HttpFixture {
  readonly requests: RecordedRequest[];
  /** Answers the oldest request still held (scripted 'hang') with `status`; false when none is held. */
  release(status: number): boolean;
}

export async function startReceiverServer(script: Script = () => 200): Promise<ReceiverServer> {
  const requests: RecordedRequest[] = [];
  const held: ServerResponse[] = [];
  const fixture = await startHttpFixture((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // Kept as text: the test says what it expected.
      }
      const recorded = {
        method: request.method ?? '',
        url: request.url ?? '',
        headers: request.headers,
        body,
      };
      const n = requests.length;
      requests.push(recorded);
      const answer = script(n, recorded);
      if (answer === 'hang') {
        held.push(response);
        return;
      }
      const { status, body: answerBody } = typeof answer === 'number' ? { status: answer, body: '' } : answer;
      response.writeHead(status, { 'content-type': 'text/plain' });
      response.end(answerBody);
    });
  });
  const release = (status: number): boolean => {
    const response = held.shift();
    if (response === undefined) return false;
    response.writeHead(status, { 'content-type': 'text/plain' });
    response.end();
    return true;
  };
  return { ...fixture, requests, release };
}

export interface CapturedLog {
  readonly log: Logger;
  /** Every line written, as JSON text (what would reach stderr). */
  readonly lines: string[];
  /** Parsed lines at `level` (pino's numbers: 30 info, 40 warn, 50 error). */
  at(level: number): { msg: string; [k: string]: unknown }[];
}

/** A logger configured as Rampart's own (same redaction), writing into memory. */
export function captureLog(): CapturedLog {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString('utf8'));
      callback();
    },
  });
  const log = pino(
    { level: 'debug', redact: { paths: REDACTED_PATHS, censor: '[redacted]' }, base: undefined },
    stream,
  );
  return {
    log,
    lines,
    at: (level) =>
      lines
        .flatMap((l) => l.split('\n'))
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as { level: number; msg: string })
        .filter((l) => l.level === level),
  };
}

export function validatorDown(overrides: Partial<Alert> = {}): Alert {
  return {
    key: 'validator-down/validator',
    name: 'RampartValidatorDown',
    severity: 'critical',
    status: 'firing',
    pool: 'validator',
    node: 'validator-0',
    summary: 'validator validator-0 is down',
    description: 'RPC unreachable for 12s; standby cloud-standby is being brought up',
    evidence: { unreachableFor: '12s', lastHeight: 1234, catchingUp: false },
    startsAt: T0 - 12_000,
    ...overrides,
  };
}
