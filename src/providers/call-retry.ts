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
