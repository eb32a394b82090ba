// HTTP plumbing shared by the metric sources: a GET bounded by a deadline, a size cap and the
// caller's abort signal that reports failures as values, and a concurrency limiter.

export interface HttpGetOptions {
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
  readonly accept?: string | undefined;
  /** Bodies larger than this are abandoned as an error (decoded characters). */
  readonly maxChars?: number | undefined;
  /**
   * For a 2xx answer, receives the body piece by piece as it arrives instead of it being
   * buffered; `body` is then ''. Other answers are always buffered (callers read error bodies).
   */
  readonly onChunk?: ((chunk: string) => void) | undefined;
}

export type HttpGetResult =
  | {
      readonly ok: true;
      readonly status: number;
      readonly body: string;
      /** When the response headers arrived, ms since the epoch. */
      readonly receivedAt: number;
    }
  | {
      readonly ok: false;
      readonly status?: number | undefined;
      readonly body?: string | undefined;
      readonly message: string;
    };

const DEFAULT_MAX_CHARS = 64 * 1024 * 1024;

/**
 * GETs `url`. Never throws: unreachable hosts, timeouts, aborts, oversize bodies and non-2xx
 * statuses come back as `ok: false` with a message that names the URL.
 */
export async function httpGet(url: string, options: HttpGetOptions): Promise<HttpGetResult> {
  const deadline = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal === undefined ? deadline : AbortSignal.any([deadline, options.signal]);
  const maxChars = options.maxChars ?? DEFAULT_MAX_CHARS;
  const why = (error: unknown): string => {
    if (options.signal?.aborted) return `GET ${url} aborted`;
    if (deadline.aborted) return `GET ${url} timed out after ${options.timeoutMs} ms`;
    return `GET ${url} failed: ${describeError(error)}`;
  };
  if (signal.aborted) return { ok: false, message: why(undefined) };

  let response: Response;
  try {
    response = await fetch(url, {
      signal,
      headers: options.accept === undefined ? {} : { accept: options.accept },
      redirect: 'follow',
    });
  } catch (error) {
    return { ok: false, message: why(error) };
  }
  const receivedAt = Date.now();
  const streaming = response.ok && options.onChunk !== undefined;
  let body = '';
  let chars = 0;
  try {
    if (response.body !== null) {
      const decoder = new TextDecoder('utf-8');
      for await (const bytes of response.body) {
        const chunk = decoder.decode(bytes, { stream: true });
        chars += chunk.length;
        if (chars > maxChars) {
          await response.body.cancel().catch(() => undefined);
          return {
            ok: false,
            status: response.status,
            message: `GET ${url}: body larger than ${maxChars} characters`,
          };
        }
        if (streaming) options.onChunk!(chunk);
        else body += chunk;
      }
      const tail = decoder.decode();
      if (streaming) {
        if (tail !== '') options.onChunk!(tail);
      } else body += tail;
    }
  } catch (error) {
    return { ok: false, status: response.status, message: why(error) };
  }
  if (!response.ok) {
    return {
      ok: false,
      status: response.status,
      body,
      message: `GET ${url} answered HTTP ${response.status}${statusDetail(body)}`,
    };
  }
  return { ok: true, status: response.status, body, receivedAt };
}

/** A short, single-line excerpt of an error body, which often says what was wrong. */
function statusDetail(body: string): string {
  const line = body.trim().replace(/\s+/g, ' ');
  if (line === '') return '';
  return `: ${line.length > 200 ? `${line.slice(0, 200)}…` : line}`;
}

/** Node's fetch hides the socket error (ECONNREFUSED, ENOTFOUND, ...) in `cause`. */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause: unknown = error.cause;
  // Several addresses tried (localhost → ::1 and 127.0.0.1): the first failure says enough.
  if (cause instanceof AggregateError && cause.errors.length > 0) return describeError(cause.errors[0]);
  if (cause instanceof Error && cause.message !== '') return cause.message;
  return error.message;
}

/** Runs `work` over `items`, at most `limit` at a time; results in the order of `items`. */
export async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!, index);
    }
  };
  const workers: Promise<void>[] = [];
  for (let k = 0; k < Math.max(1, Math.min(limit, items.length)); k++) workers.push(worker());
  await Promise.all(workers);
  return results;
}
