// Every Compute Engine call the gce provider makes goes through here: one try at a time with a
// timeout, retries with exponential backoff and full jitter for what GCE says may succeed
// later (429 rateLimitExceeded, 5xx, timeouts, dropped connections), and one error naming the
// call, the group, the subject and what was done. The backoff and scrubbing are the aws
// provider's (the same policy shape in both configs).

import { setTimeout as sleep } from 'node:timers/promises';
import { backoffMs, type FailureClass, finalFailureText, type RetryPolicy, scrub } from '../call-retry.ts';

export type { RetryPolicy };

export interface GceRetryPolicy extends RetryPolicy {
  /** Longest wait for a long-running operation to be DONE, ms. */
  readonly operationTimeoutMs: number;
  /** Longest wait for a new or started instance to be RUNNING, ms. */
  readonly bootTimeoutMs: number;
}

export const DEFAULT_GCE_RETRY: GceRetryPolicy = {
  attempts: 5,
  baseDelayMs: 200,
  maxDelayMs: 10_000,
  callTimeoutMs: 30_000,
  operationTimeoutMs: 600_000,
  bootTimeoutMs: 600_000,
};

export interface GceClassified {
  readonly class: FailureClass;
  /** GCE's reason (rateLimitExceeded, quotaExceeded, notFound...) or the gRPC status name. */
  readonly code: string;
  readonly status?: number | undefined;
  readonly message: string;
}

/** gRPC status codes google-gax puts on its errors, by number. */
const GRPC: Record<number, string> = {
  1: 'CANCELLED',
  2: 'UNKNOWN',
  3: 'INVALID_ARGUMENT',
  4: 'DEADLINE_EXCEEDED',
  5: 'NOT_FOUND',
  6: 'ALREADY_EXISTS',
  7: 'PERMISSION_DENIED',
  8: 'RESOURCE_EXHAUSTED',
  9: 'FAILED_PRECONDITION',
  10: 'ABORTED',
  12: 'UNIMPLEMENTED',
  13: 'INTERNAL',
  14: 'UNAVAILABLE',
  16: 'UNAUTHENTICATED',
};

const NETWORK =
  /ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE|EAI_AGAIN|socket hang up|other side closed|fetch failed/i;

/** What kind of failure a google-gax error (or an operation's error) is. */
export function classifyGceError(e: unknown): GceClassified {
  const err = e as {
    code?: number | string;
    httpStatusCode?: number;
    reason?: string;
    message?: string;
    gceReason?: string;
  };
  const status = typeof err.httpStatusCode === 'number' ? err.httpStatusCode : undefined;
  const grpc = typeof err.code === 'number' ? GRPC[err.code] : undefined;
  const message = firstLine(err.message ?? String(e));
  const reason =
    err.gceReason ?? err.reason ?? (typeof err.code === 'string' ? err.code : undefined) ?? grpc ?? 'Error';
  if (/quota/i.test(reason) || /\bquota\b.*exceeded/i.test(message))
    return { class: 'permanent', code: /quota/i.test(reason) ? reason : 'QUOTA_EXCEEDED', status, message };
  if (status === 429 || /rateLimitExceeded|RATE_LIMIT_EXCEEDED/.test(reason) || grpc === 'RESOURCE_EXHAUSTED')
    return { class: 'throttled', code: status === 429 ? 'rateLimitExceeded' : reason, status, message };
  if (grpc === 'DEADLINE_EXCEEDED') return { class: 'timeout', code: grpc, status, message };
  if (status !== undefined && status >= 500)
    return { class: 'transient', code: reason === 'Error' ? `HTTP ${status}` : reason, status, message };
  if (status === undefined && (grpc === 'UNAVAILABLE' || NETWORK.test(message)))
    return { class: 'network', code: grpc ?? 'network', status, message };
  return { class: 'permanent', code: reason, status, message };
}

function firstLine(text: string): string {
  const line = text.split('\n')[0]!.trim();
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

export interface GceRetryEvent {
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

/** A call that failed for good: names the call, the group, the subject, the tries and what was done. */
export class GceCallError extends Error {
  readonly call: string;
  readonly group: string;
  readonly attempts: number;
  readonly failure: GceClassified;
  constructor(
    call: string,
    group: string,
    subject: string | undefined,
    attempts: number,
    failure: GceClassified,
    elapsedMs: number,
  ) {
    const what = `${call} on managed instance group ${group}${subject ? ` (${subject})` : ''}`;
    super(finalFailureText(what, 'GCE', failure, attempts, elapsedMs));
    this.name = 'GceCallError';
    this.call = call;
    this.group = group;
    this.attempts = attempts;
    this.failure = failure;
  }
}

export interface GceCallOptions {
  readonly policy: RetryPolicy;
  readonly onRetry?: ((e: GceRetryEvent) => void) | undefined;
  readonly secrets?: () => readonly string[];
}

/** Marks an error with the call that raised it (a try may make several calls). */
export function named(call: string, e: unknown): unknown {
  if (e && typeof e === 'object') Object.assign(e, { rampartCall: call });
  return e;
}

/**
 * Runs `attempt` until it succeeds, fails permanently or runs out of tries. A try that is not
 * idempotent must make itself so (look before it acts): a try whose answer was lost may have
 * taken effect.
 */
export async function callGce<T>(
  spec: { readonly call: string; readonly group: string; readonly subject?: string | undefined },
  opts: GceCallOptions,
  attempt: () => Promise<T>,
): Promise<T> {
  const started = Date.now();
  const { policy } = opts;
  for (let n = 1; ; n++) {
    let failure: GceClassified;
    let call = spec.call;
    try {
      return await attempt();
    } catch (e) {
      if (e instanceof GceCallError) throw e;
      call = (e as { rampartCall?: string }).rampartCall ?? spec.call;
      failure = classifyGceError(e);
    }
    const scrubbed = { ...failure, message: scrub(failure.message, opts.secrets?.() ?? []) };
    if (scrubbed.class === 'permanent' || n >= policy.attempts)
      throw new GceCallError(call, spec.group, spec.subject, n, scrubbed, Date.now() - started);
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
