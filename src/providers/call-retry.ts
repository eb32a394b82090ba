// What every cloud provider's calls share: the retry policy, the classes of failure, the
// backoff between tries (full jitter under an exponential cap, throttling slower), and the
// scrubbing of known secrets out of a message.

export interface RetryPolicy {
  /** Tries per call, the first included. */
  readonly attempts: number;
  /** First backoff, ms; doubles per retry, capped by maxDelayMs. */
  readonly baseDelayMs: number;
  /** Longest backoff between two tries, ms. */
  readonly maxDelayMs: number;
  /** Longest wait for one try, ms. */
  readonly callTimeoutMs: number;
}

/** What a failed call was: worth retrying (and how), or final. */
export type FailureClass = 'throttled' | 'transient' | 'timeout' | 'network' | 'permanent';

/** A failed call as a provider classifies it: its class, the cloud's code, HTTP status, message. */
export interface ClassifiedFailure {
  readonly class: FailureClass;
  readonly code: string;
  readonly status?: number | undefined;
  readonly message: string;
}

/**
 * The message of a call that failed for good, the same for every cloud:
 * `<what> failed: <code> (HTTP n): <message>; not retried: <vendor> refused it` or
 * `…; gave up after N tries[ over X s]`.
 */
export function finalFailureText(
  what: string,
  vendor: string,
  failure: ClassifiedFailure,
  tries: number,
  elapsedMs?: number,
): string {
  const status = failure.status ? ` (HTTP ${failure.status})` : '';
  const over = elapsedMs === undefined ? '' : ` over ${(elapsedMs / 1000).toFixed(1)} s`;
  const done =
    failure.class === 'permanent'
      ? `not retried: ${vendor} refused it`
      : `gave up after ${tries} tries${over}`;
  return `${what} failed: ${failure.code}${status}: ${failure.message}; ${done}`;
}

/** Throttling waits this many times longer than other retries: the cloud asks callers to slow down. */
const THROTTLE_FACTOR = 5;

/** Backoff before try `attempt + 1` (attempt counts from 1): full jitter under an exponential cap. */
export function backoffMs(
  attempt: number,
  cls: FailureClass,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number {
  const base = policy.baseDelayMs * (cls === 'throttled' ? THROTTLE_FACTOR : 1);
  const cap = Math.min(policy.maxDelayMs, base * 2 ** (attempt - 1));
  // Never zero: a burst of callers retrying at once is what throttled them.
  return Math.max(1, Math.round(cap * (0.5 + random() / 2)));
}

/** Removes every occurrence of each secret (longer than 3 characters) from `text`. */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length > 3) out = out.split(s).join('[redacted]');
  return out;
}
