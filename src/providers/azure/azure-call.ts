// Every Resource Manager call the azure provider makes goes through here. Each request is
// retried by the client's own pipeline (a 429 or 503 waits exactly its Retry-After; other
// 5xx and dropped connections back off exponentially), configured from the provider's retry
// policy, and a pipeline policy of ours reports each retry to the log. What the pipeline does
// not retry and may still succeed (a try that timed out, a 429 without Retry-After) is tried
// again here: every operation of the provider looks before it acts, so another try is safe.
// A call that fails for good is one error naming the call, the scale set, what it was about
// and Azure's code. No credential is ever printed: known secrets are scrubbed from messages.

import { setTimeout as sleep } from 'node:timers/promises';
import type { ComputeManagementClientOptionalParams } from '@azure/arm-compute';
import type { Logger } from 'pino';
import { finalFailureText } from '../call-retry.ts';

export interface AzureRetryPolicy {
  /** Tries per request, the first included. */
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** Longest wait for one answer, ms. */
  readonly callTimeoutMs: number;
  /** Time between two polls of a long-running operation without Retry-After, ms. */
  readonly pollIntervalMs: number;
  /** Longest a long-running operation may take, ms. */
  readonly operationTimeoutMs: number;
}

export const DEFAULT_AZURE_RETRY: AzureRetryPolicy = {
  attempts: 5,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  callTimeoutMs: 30_000,
  pollIntervalMs: 2000,
  operationTimeoutMs: 15 * 60_000,
};

export type FailureClass = 'throttled' | 'transient' | 'timeout' | 'network' | 'permanent';

export interface Classified {
  readonly class: FailureClass;
  /** Azure's error code (QuotaExceeded, SkuNotAvailable, AllocationFailed, ...), or the error's name. */
  readonly code: string;
  readonly status?: number | undefined;
  readonly message: string;
  /** The answer carried Retry-After: the pipeline honoured it, try after try, before giving up. */
  readonly retryAfter?: boolean | undefined;
}

const NETWORK = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EHOSTUNREACH',
]);

/** What kind of failure a client error is (a RestError, a failed long-running operation, a network error). */
export function classifyAzureError(e: unknown): Classified {
  const err = e as {
    name?: string;
    code?: string;
    statusCode?: number;
    message?: string;
    details?: { error?: { code?: string; message?: string } };
    cause?: { code?: string };
    response?: { headers?: { get?(name: string): string | undefined } };
  };
  const status = err.statusCode;
  const retryAfter = err.response?.headers?.get?.('retry-after') !== undefined;
  let code = err.details?.error?.code ?? err.code ?? (err.name && err.name !== 'Error' ? err.name : 'Error');
  let message = firstLine(err.details?.error?.message ?? err.message ?? String(e));
  // A failed long-running operation: "The long-running operation has failed. CODE. message".
  const lro = /^The long-running operation has failed\. ([A-Za-z][\w.]*)\. (.*)$/.exec(message);
  if (lro) {
    code = lro[1]!;
    message = lro[2]!;
  }
  const net = err.cause?.code ?? err.code;
  if (err.name === 'AbortError' || code === 'TimeoutError' || /timed? ?out/i.test(code))
    return { class: 'timeout', code, status, message };
  if (status === 429) return { class: 'throttled', code, status, message, retryAfter };
  if (net !== undefined && NETWORK.has(net)) return { class: 'network', code: net, status, message };
  if (status !== undefined && status >= 500 && status !== 501 && status !== 505)
    return { class: 'transient', code, status, message };
  return { class: 'permanent', code, status, message };
}

function firstLine(text: string): string {
  const line = text.split('\n')[0]!.trim();
  return line.length > 400 ? `${line.slice(0, 400)}…` : line;
}

/** Removes every occurrence of each secret (longer than 3 characters) from `text`. */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length > 3) out = out.split(s).join('[redacted]');
  return out;
}

/** A call that failed for good: the call, the scale set, the subject, Azure's code and what was done. */
export class AzureCallError extends Error {
  readonly call: string;
  readonly scaleSet: string;
  readonly failure: Classified;
  constructor(
    call: string,
    scaleSet: string,
    subject: string | undefined,
    tries: number,
    failure: Classified,
  ) {
    const what = `${call} on scale set ${scaleSet}${subject ? ` (${subject})` : ''}`;
    super(finalFailureText(what, 'Azure', failure, tries));
    this.name = 'AzureCallError';
    this.call = call;
    this.scaleSet = scaleSet;
    this.failure = failure;
  }
}

export interface CallSpec {
  /** The operation as the client names it, e.g. virtualMachines.createOrUpdate. */
  readonly call: string;
  readonly scaleSet: string;
  /** What the call is about, e.g. `node workers-1a2b, VM workers-1a2b`. */
  readonly subject?: string | undefined;
}

export interface CallOptions {
  readonly policy: AzureRetryPolicy;
  readonly secrets: () => readonly string[];
  readonly log?: Logger | undefined;
  readonly provider: string;
}

/** An error of one step, marked with the operation that raised it (a try makes several). */
export function named(call: string, e: unknown): unknown {
  if (e && typeof e === 'object') Object.assign(e, { rampartCall: call });
  return e;
}

/**
 * Runs `attempt` until it succeeds, fails permanently or runs out of tries. Throttling and
 * 5xx were already retried request by request in the pipeline: only timeouts, network
 * errors and a 429 without Retry-After come back here for another try.
 */
export async function callAzure<T>(spec: CallSpec, opts: CallOptions, attempt: () => Promise<T>): Promise<T> {
  const { policy } = opts;
  for (let n = 1; ; n++) {
    let failure: Classified;
    let call = spec.call;
    try {
      return await attempt();
    } catch (e) {
      if (e instanceof AzureCallError) throw e;
      call = (e as { rampartCall?: string }).rampartCall ?? spec.call;
      failure = classifyAzureError(e);
    }
    const scrubbed = { ...failure, message: scrub(failure.message, opts.secrets()) };
    // The pipeline already spent its tries on a 5xx or a 429 that said when to come back.
    const pipelineRetried =
      scrubbed.class === 'transient' || (scrubbed.class === 'throttled' && scrubbed.retryAfter === true);
    if (scrubbed.class === 'permanent' || pipelineRetried || n >= policy.attempts)
      throw new AzureCallError(
        call,
        spec.scaleSet,
        spec.subject,
        pipelineRetried ? policy.attempts : n,
        scrubbed,
      );
    const delayMs = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (n - 1));
    opts.log?.warn(
      {
        provider: opts.provider,
        call,
        scaleSet: spec.scaleSet,
        subject: spec.subject,
        code: scrubbed.code,
        status: scrubbed.status,
        attempt: n,
        of: policy.attempts,
        delayMs,
      },
      `azure ${call} on scale set ${spec.scaleSet}${spec.subject ? ` (${spec.subject})` : ''}: ${scrubbed.code}${scrubbed.status ? ` (HTTP ${scrubbed.status})` : ''}, try ${n} of ${policy.attempts}; retrying in ${delayMs} ms`,
    );
    await sleep(delayMs);
  }
}

/** A pipeline policy of the client, typed by the client's own options. */
type PipelinePolicy = NonNullable<
  ComputeManagementClientOptionalParams['additionalPolicies']
>[number]['policy'];

/**
 * A pipeline policy (position perRetry) that sees every try's answer and logs the ones the
 * pipeline will retry: 429 and 503 with their Retry-After, other 5xx. Never a header value
 * other than Retry-After, never a body.
 */
export function retryReporter(log: Logger | undefined, provider: string, scaleSet: string): PipelinePolicy {
  const tries = new WeakMap<object, number>();
  return {
    name: 'rampartRetryReporter',
    async sendRequest(request, next) {
      const n = (tries.get(request) ?? 0) + 1;
      tries.set(request, n);
      const response = await next(request);
      const { status } = response;
      if (status === 429 || (status >= 500 && status !== 501 && status !== 505)) {
        const retryAfter = response.headers.get('retry-after');
        const retryAfterMs =
          retryAfter !== undefined && /^\d+$/.test(retryAfter) ? Number(retryAfter) * 1000 : undefined;
        const where = new URL(request.url).pathname.replace(
          /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\//i,
          '',
        );
        log?.warn(
          { provider, scaleSet, method: request.method, path: where, status, try: n, retryAfterMs },
          `azure ${request.method} ${where}: HTTP ${status} on try ${n}${retryAfterMs !== undefined ? `; Retry-After ${retryAfterMs / 1000} s` : ''}`,
        );
      }
      return response;
    },
  };
}
