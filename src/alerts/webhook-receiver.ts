// Delivers alerts to any HTTP endpoint: one POST per alert state, its body one JSON object
// (WebhookAlertBody, documented in docs/alerts.md). A bearer token, when configured, is read
// from a file on every delivery (a rotated token is picked up) and never reaches a log or error.

import { readFileSync } from 'node:fs';
import type { Alert, AlertSeverity, AlertStatus, EvidenceValue } from './alert.ts';
import {
  type AlertReceiver,
  DeliveryError,
  postJson,
  type ReceiverEndpoint,
  receiverEndpoint,
  scrubSecrets,
} from './alert-receiver.ts';

/** The body of one webhook POST. Version 1; fields are only ever added. */
export interface WebhookAlertBody {
  readonly version: 1;
  /** Which Rampart sent it. */
  readonly source: string;
  readonly key: string;
  readonly name: string;
  readonly status: AlertStatus;
  readonly severity: AlertSeverity;
  readonly pool: string | null;
  readonly node: string | null;
  readonly summary: string;
  readonly description: string | null;
  readonly labels: Readonly<Record<string, string>>;
  readonly evidence: Readonly<Record<string, EvidenceValue>>;
  /** RFC 3339. */
  readonly startsAt: string;
  /** RFC 3339; set when resolved (and on a firing one-off event: when it expires). */
  readonly endsAt: string | null;
  /** RFC 3339: when this delivery was made (a retried delivery carries its own). */
  readonly sentAt: string;
  /** A link back to Rampart (its dashboard), when known. */
  readonly url: string | null;
}

export interface WebhookReceiverOptions {
  /** Name in logs and metrics. */
  readonly name: string;
  /** Where alerts are POSTed. A user and password in it are sent as `Authorization: Basic`. */
  readonly url: string;
  /** Longest wait for one POST, in ms. */
  readonly timeoutMs: number;
  /** Headers sent with every POST. Their values are treated as secrets. */
  readonly headers?: Readonly<Record<string, string>> | undefined;
  /** File holding a bearer token sent as `Authorization: Bearer <token>`. */
  readonly tokenFile?: string | undefined;
  /** `source` of every body. Default rampart. */
  readonly source?: string | undefined;
  /** `url` of every body. Absent: null. */
  readonly dashboardUrl?: string | undefined;
  /** Clock, ms since the epoch. Default Date.now. */
  readonly now?: (() => number) | undefined;
}

/** Reads a bearer token file: one line, surrounding whitespace removed. The error never holds the content. */
export function readBearerToken(file: string, receiver: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(
      `alert receiver ${receiver}: tokenFile ${file} cannot be read (${code === 'ENOENT' ? 'no such file' : (code ?? 'unreadable')})`,
    );
  }
  const token = text.trim();
  if (token.length === 0) throw new Error(`alert receiver ${receiver}: tokenFile ${file} is empty`);
  if (/\s/.test(token))
    throw new Error(
      `alert receiver ${receiver}: tokenFile ${file}: the token must be one line without spaces`,
    );
  return token;
}

export function toWebhookBody(
  alert: Alert,
  options: { readonly source: string; readonly dashboardUrl?: string | undefined; readonly now: number },
): WebhookAlertBody {
  const end = alert.status === 'resolved' ? (alert.endsAt ?? options.now) : alert.endsAt;
  return {
    version: 1,
    source: options.source,
    key: alert.key,
    name: alert.name,
    status: alert.status,
    severity: alert.severity,
    pool: alert.pool ?? null,
    node: alert.node ?? null,
    summary: alert.summary,
    description: alert.description ?? null,
    labels: alert.labels ?? {},
    evidence: alert.evidence ?? {},
    startsAt: new Date(alert.startsAt).toISOString(),
    endsAt: end === undefined ? null : new Date(end).toISOString(),
    sentAt: new Date(options.now).toISOString(),
    url: options.dashboardUrl ?? null,
  };
}

export class WebhookReceiver implements AlertReceiver {
  readonly kind = 'webhook';
  readonly repeatsFiring = false;
  readonly name: string;
  readonly timeoutMs: number;
  readonly #endpoint: ReceiverEndpoint;
  readonly #headers: Readonly<Record<string, string>>;
  readonly #tokenFile: string | undefined;
  readonly #source: string;
  readonly #dashboardUrl: string | undefined;
  readonly #now: () => number;

  /** Throws when the token file cannot be read: a receiver that can never deliver is a config error. */
  constructor(options: WebhookReceiverOptions) {
    this.name = options.name;
    this.timeoutMs = options.timeoutMs;
    this.#endpoint = receiverEndpoint(options.url);
    this.#headers = options.headers ?? {};
    this.#tokenFile = options.tokenFile;
    this.#source = options.source ?? 'rampart';
    this.#dashboardUrl = options.dashboardUrl;
    this.#now = options.now ?? Date.now;
    if (this.#tokenFile !== undefined) readBearerToken(this.#tokenFile, this.name);
    const authorizationHeader = Object.keys(this.#headers).some((h) => h.toLowerCase() === 'authorization');
    if (this.#endpoint.authorization !== undefined && (this.#tokenFile !== undefined || authorizationHeader))
      throw new Error(
        `alert receiver ${this.name}: the user and password in its url are sent as an Authorization header: set either them, tokenFile or an Authorization header`,
      );
  }

  async deliver(alert: Alert, signal: AbortSignal): Promise<void> {
    const { url, authorization } = this.#endpoint;
    const headers: Record<string, string> = {
      ...(authorization === undefined ? {} : { authorization }),
      ...this.#headers,
    };
    const secrets = [...Object.values(this.#headers), ...this.#endpoint.secrets];
    if (this.#tokenFile !== undefined) {
      let token: string;
      try {
        token = readBearerToken(this.#tokenFile, this.name);
      } catch (e) {
        // The file may be being rotated: a later try can succeed.
        throw new DeliveryError((e as Error).message, true);
      }
      headers.authorization = `Bearer ${token}`;
      secrets.push(token);
    }
    const body = toWebhookBody(alert, {
      source: this.#source,
      dashboardUrl: this.#dashboardUrl,
      now: this.#now(),
    });
    try {
      await postJson(url, body, { receiver: this.name, headers, signal, secrets });
    } catch (e) {
      if (e instanceof DeliveryError) throw e;
      throw new DeliveryError(scrubSecrets(`${this.name}: ${String(e)}`, secrets), true);
    }
  }
}
