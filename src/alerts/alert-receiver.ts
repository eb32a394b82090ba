// The one interface every alert receiver implements, and the HTTP POST they share: a delivery
// either succeeds or throws a DeliveryError that says whether trying again can help.

import { redactUrls, urlSecrets } from '../core/url-secrets.ts';
import type { Alert } from './alert.ts';

export interface AlertReceiver {
  /** Name in logs and metrics (never the URL: a webhook's path may hold a secret). */
  readonly name: string;
  readonly kind: 'alertmanager' | 'webhook';
  /** Longest wait for one delivery, in ms. */
  readonly timeoutMs: number;
  /**
   * Firing alerts must be sent again while they fire (Alertmanager resolves an alert that is not
   * re-sent within its resolve_timeout); a plain webhook hears of each state once.
   */
  readonly repeatsFiring: boolean;
  /** Delivers one state of one alert; `signal` aborts it (timeout or shutdown). */
  deliver(alert: Alert, signal: AbortSignal): Promise<void>;
}

/**
 * A delivery that did not succeed. `retryable`: a later try may (network, timeout, 5xx, 408,
 * 429). Every URL in the message is shown without its secrets (credentials, query values,
 * token-long path segments): the message goes to the logs.
 */
export class DeliveryError extends Error {
  readonly retryable: boolean;
  constructor(message: string, retryable: boolean) {
    super(redactUrls(message));
    this.name = 'DeliveryError';
    this.retryable = retryable;
  }
}

/** Text with every secret replaced, so no error or log line can carry one. */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret.length > 0) out = out.split(secret).join('[redacted]');
  return out;
}

export interface PostJsonOptions {
  readonly receiver: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly signal: AbortSignal;
  /** Values that must never appear in an error (tokens, header values). */
  readonly secrets: readonly string[];
}

const BODY_EXCERPT = 300;

/** A receiver's URL without user and password, and how they are sent instead. */
export interface ReceiverEndpoint {
  readonly url: URL;
  /** `Basic <base64>` for the user and password the URL held; absent when it held none. */
  readonly authorization?: string | undefined;
  /** The credentials in every form an error could echo them, for scrubSecrets. */
  readonly secrets: readonly string[];
}

/**
 * Takes a URL's user and password out of it: fetch refuses a URL holding credentials, and a
 * URL is shown in errors. They are sent as `Authorization: Basic` (RFC 7617), percent-decoded
 * as a browser or curl would send them, and never appear in a log line or error.
 */
export function receiverEndpoint(text: string): ReceiverEndpoint {
  const url = new URL(text);
  if (url.username === '' && url.password === '') return { url, secrets: [] };
  const user = safeDecode(url.username);
  const password = safeDecode(url.password);
  const token = Buffer.from(`${user}:${password}`, 'utf8').toString('base64');
  // A user name of one or two letters is left alone: scrubbing it would garble every message.
  const secrets = [token, url.password, password, ...(user.length >= 3 ? [url.username, user] : [])];
  url.username = '';
  url.password = '';
  return { url, authorization: `Basic ${token}`, secrets: secrets.filter((s) => s.length > 0) };
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * POSTs `body` as JSON; resolves on 2xx. Redirects are not followed (a POST carrying a token is
 * not sent on to another address): the URL should name the final address.
 */
export async function postJson(url: URL, body: unknown, options: PostJsonOptions): Promise<void> {
  const where = `${options.receiver} (${url.origin})`;
  // A receiver that echoes its URL (a 404 naming the path) must not carry a token in the
  // path or query into an error: those parts are secrets too.
  options = { ...options, secrets: [...options.secrets, ...urlSecrets(url)] };
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'rampart', ...options.headers },
      body: JSON.stringify(body),
      redirect: 'manual',
      signal: options.signal,
    });
  } catch (e) {
    const reason = options.signal.aborted ? options.signal.reason : e;
    const text =
      reason instanceof Error && reason.name === 'TimeoutError'
        ? 'no answer in time'
        : reason instanceof Error && reason.name === 'AbortError'
          ? 'aborted (shutting down)'
          : describeNetworkError(e);
    throw new DeliveryError(scrubSecrets(`${where}: ${text}`, options.secrets), true);
  }
  let excerpt = '';
  try {
    excerpt = (await response.text()).slice(0, BODY_EXCERPT).trim();
  } catch {
    // The status says enough.
  }
  if (response.ok) return;
  const status = response.status;
  const retryable = status >= 500 || status === 408 || status === 429;
  const redirect =
    status >= 300 && status < 400
      ? `; redirects are not followed: set the url to the final address${redirectOrigin(response, url)}`
      : '';
  throw new DeliveryError(
    scrubSecrets(`${where}: HTTP ${status}${excerpt ? `: ${excerpt}` : ''}${redirect}`, options.secrets),
    retryable,
  );
}

function describeNetworkError(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = (e as { cause?: unknown }).cause;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return code ? `${code} (${cause.message})` : cause.message;
  }
  return e.message;
}

/** ` (origin)` of a redirect's target, or nothing: its path may hold a secret too. */
function redirectOrigin(response: Response, base: URL): string {
  const location = response.headers.get('location');
  if (location === null) return '';
  try {
    return ` (${new URL(location, base).origin})`;
  } catch {
    return '';
  }
}
