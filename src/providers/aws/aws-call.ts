// Every AWS API call the provider makes goes through here: one try at a time with a
// timeout, retries with exponential backoff and full jitter for what AWS says may succeed
// later (throttling, 5xx, timeouts, dropped connections), and one error naming the call,
// the group and what was done about it. Nothing here ever sees or prints a credential.

import { setTimeout as sleep } from 'node:timers/promises';
import { backoffMs, type FailureClass, finalFailureText, type RetryPolicy, scrub } from '../call-retry.ts';

export const DEFAULT_RETRY: RetryPolicy = {
  attempts: 5,
  baseDelayMs: 200,
  maxDelayMs: 10_000,
  callTimeoutMs: 10_000,
};

/** Error codes AWS uses for "too many requests": retried, more slowly. */
const THROTTLING = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'SlowDown',
  'EC2ThrottledException',
  'PriorRequestNotComplete',
  'BandwidthLimitExceeded',
]);

/** Error codes that are AWS's own trouble, whatever the status: retried. */
const TRANSIENT = new Set([
  'InternalError',
  'InternalFailure',
  'InternalServerError',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'Unavailable',
  'ResourceContention',
  'ResourceContentionFault',
  'RequestTimeout',
  'RequestTimeoutException',
  'IDPCommunicationError',
]);

/** Network failures a retry may get past. */
const NETWORK = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EHOSTUNREACH',
]);

export interface Classified {
  readonly class: FailureClass;
  /** AWS's error code, the network code, or the error's name. */
  readonly code: string;
  readonly status?: number | undefined;
  /** AWS's message, first line only. */
  readonly message: string;
}

/** What kind of failure an SDK error is, and so whether it is worth another try. */
export function classifyAwsError(e: unknown): Classified {
  const err = e as {
    name?: string;
    Code?: string;
    code?: string;
    message?: string;
    $metadata?: { httpStatusCode?: number };
    $response?: { statusCode?: number };
    cause?: { code?: string };
  };
  const status = err.$metadata?.httpStatusCode ?? err.$response?.statusCode;
  const code = err.Code ?? (err.name && err.name !== 'Error' ? err.name : undefined) ?? err.code ?? 'Error';
  const message = firstLine(err.message ?? String(e));
  const netCode = err.code ?? err.cause?.code;
  if (
    code === 'TimeoutError' ||
    code === 'AbortError' ||
    code === 'RequestTimeout' ||
    netCode === 'ETIMEDOUT'
  )
    return { class: 'timeout', code, status, message };
  if (THROTTLING.has(code) || status === 429) return { class: 'throttled', code, status, message };
  if (netCode !== undefined && NETWORK.has(netCode))
    return { class: 'network', code: netCode, status, message };
  if (TRANSIENT.has(code) || (status !== undefined && status >= 500))
    return { class: 'transient', code, status, message };
  // An answer cut off mid-body, a socket closed under the SDK: the server may be fine.
  if (/socket hang up|ECONNRESET|premature close|other side closed/i.test(message))
    return { class: 'network', code, status, message };
  return { class: 'permanent', code, status, message };
}

function firstLine(text: string): string {
  const line = text.split('\n')[0]!.trim();
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

/** One retry, as reported to the caller's log. */
export interface RetryEvent {
  readonly call: string;
  readonly group: string;
  readonly subject?: string | undefined;
  readonly attempt: number;
  readonly of: number;
  readonly class: FailureClass;
  readonly code: string;
  readonly status?: number | undefined;
  readonly delayMs: number;
}

/** A call that failed for good: names the call, the group, the tries and what was done. */
export class AwsCallError extends Error {
  readonly call: string;
  readonly group: string;
  readonly attempts: number;
  readonly failure: Classified;
  constructor(
    call: string,
    group: string,
    subject: string | undefined,
    attempts: number,
    failure: Classified,
    elapsedMs: number,
  ) {
    const what = `${call} on Auto Scaling group ${group}${subject ? ` (${subject})` : ''}`;
    super(finalFailureText(what, 'AWS', failure, attempts, elapsedMs));
    this.name = 'AwsCallError';
    this.call = call;
    this.group = group;
    this.attempts = attempts;
    this.failure = failure;
  }
}

export interface CallSpec {
  /** The API call's name as AWS documents it, e.g. RunInstances. */
  readonly call: string;
  readonly group: string;
  /** What the call is about, e.g. `node sentries-1a2b` or `instance i-0abc`. */
  readonly subject?: string | undefined;
}

export interface CallOptions {
  readonly policy: RetryPolicy;
  readonly onRetry?: ((e: RetryEvent) => void) | undefined;
  /** Strings that must never appear in an error message (e.g. the secret key, if known). */
  readonly secrets?: () => readonly string[];
}

/**
 * Runs `attempt` until it succeeds, fails permanently or runs out of tries. Each try gets
 * its own abort signal, fired after the policy's call timeout. A try that is not idempotent
 * must make itself so (look before it acts): a timed-out try may have taken effect.
 */
export async function callAws<T>(
  spec: CallSpec,
  opts: CallOptions,
  attempt: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const started = Date.now();
  const { policy } = opts;
  for (let n = 1; ; n++) {
    const signal = AbortSignal.timeout(policy.callTimeoutMs);
    let failure: Classified;
    let call = spec.call;
    try {
      return await attempt(signal);
    } catch (e) {
      if (e instanceof AwsCallError) throw e;
      // A try may make several calls: the one that failed says so.
      call = (e as { rampartCall?: string }).rampartCall ?? spec.call;
      // An aborted try failed because it took too long, whatever the SDK made of the abort.
      failure = signal.aborted
        ? { class: 'timeout', code: 'TimeoutError', message: `no answer within ${policy.callTimeoutMs} ms` }
        : classifyAwsError(e);
    }
    const scrubbed = { ...failure, message: scrub(failure.message, opts.secrets?.() ?? []) };
    if (scrubbed.class === 'permanent' || n >= policy.attempts)
      throw new AwsCallError(call, spec.group, spec.subject, n, scrubbed, Date.now() - started);
    const delayMs = backoffMs(n, scrubbed.class, policy);
    opts.onRetry?.({
      call,
      group: spec.group,
      subject: spec.subject,
      attempt: n,
      of: policy.attempts,
      class: scrubbed.class,
      code: scrubbed.code,
      status: scrubbed.status,
      delayMs,
    });
    await sleep(delayMs);
  }
}
