// HTTP plumbing shared by the metric sources: a GET bounded by a deadline, size caps and the
// caller's abort signal that reports failures as values, the capped body reader every source's
// body goes through, and a concurrency limiter.

/**
 * Largest body a metric source reads: 16 MiB, for a node's /metrics, a netdata export, a PromQL
 * answer or a metrics.k8s.io list. A large node's exposition is a few MiB; more is a broken or
 * hostile endpoint, and reading on would hold that much per target in memory.
 */
export const MAX_BODY_BYTES = 16 * 1024 * 1024;

/**
 * Longest line of a line-oriented body (Prometheus text, netdata shell): 64 KiB. A real series
 * line is well under 1 KiB; without a cap, a body with no newline is held whole as one line.
 * JSON answers are often one line and are bounded by MAX_BODY_BYTES alone.
 */
export const MAX_LINE_BYTES = 64 * 1024;

export interface BodyLimits {
  /** Bytes the whole body may hold. */
  readonly maxBytes: number;
  /** Bytes one line may hold (a line ends at \n). Default: no line limit. */
  readonly maxLineBytes?: number | undefined;
}

/** A body refused for its size; the message says which limit: `body exceeds 16 MiB; refused`. */
export class BodyLimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BodyLimitError';
  }
}

/** 16 MiB, 64 KiB, or bytes: a limit as errors show it. */
export function formatBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

/**
 * Reads a body as it arrives, decoding UTF-8, and stops with a BodyLimitError as soon as it
 * exceeds `limits` — at most one chunk past a limit is ever held. With `onText` the text goes
 * there piece by piece and '' is returned; otherwise the whole text is returned. Leaving early
 * ends the stream (a fetch body is cancelled, a Node response destroyed).
 */
export async function readCappedBody(
  chunks: AsyncIterable<Uint8Array>,
  limits: BodyLimits,
  onText?: (text: string) => void,
): Promise<string> {
  const maxLine = limits.maxLineBytes ?? Number.POSITIVE_INFINITY;
  const decoder = new TextDecoder('utf-8');
  let body = '';
  let bytes = 0;
  let line = 1;
  let lineBytes = 0;
  for await (const chunk of chunks) {
    bytes += chunk.length;
    if (bytes > limits.maxBytes)
      throw new BodyLimitError(`body exceeds ${formatBytes(limits.maxBytes)}; refused`);
    if (maxLine !== Number.POSITIVE_INFINITY) {
      let from = 0;
      for (;;) {
        const nl = chunk.indexOf(10, from);
        lineBytes += (nl < 0 ? chunk.length : nl) - from;
        if (lineBytes > maxLine)
          throw new BodyLimitError(`line ${line} exceeds ${formatBytes(maxLine)}; refused`);
        if (nl < 0) break;
        line++;
        lineBytes = 0;
        from = nl + 1;
      }
    }
    const text = decoder.decode(chunk, { stream: true });
    if (onText) onText(text);
    else body += text;
  }
  const tail = decoder.decode();
  if (onText) {
    if (tail !== '') onText(tail);
  } else body += tail;
  return body;
}

export interface HttpGetOptions {
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
  readonly accept?: string | undefined;
  /** A body past these is abandoned as an error. Default MAX_BODY_BYTES, no line limit. */
  readonly limits?: BodyLimits | undefined;
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

/**
 * GETs `url`. Never throws: unreachable hosts, timeouts, aborts, oversize bodies and non-2xx
 * statuses come back as `ok: false` with a message that names the URL.
 */
export async function httpGet(url: string, options: HttpGetOptions): Promise<HttpGetResult> {
  const deadline = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal === undefined ? deadline : AbortSignal.any([deadline, options.signal]);
  const limits = options.limits ?? { maxBytes: MAX_BODY_BYTES };
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
  const onText = response.ok ? options.onChunk : undefined;
  let body = '';
  try {
    if (response.body !== null) body = await readCappedBody(response.body, limits, onText);
  } catch (error) {
    if (error instanceof BodyLimitError)
      return { ok: false, status: response.status, message: `GET ${url}: ${error.message}` };
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
