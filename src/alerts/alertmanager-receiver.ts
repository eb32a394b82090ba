// Delivers alerts to an Alertmanager (or anything speaking its API v2): POST <url>/api/v2/alerts
// with an array of postableAlert. Alertmanager knows an alert by its label set, resolves it when
// endsAt passes, and gives one sent without endsAt an endsAt of now + resolve_timeout (default
// 5m): so a firing alert goes without endsAt and is sent again while it fires (the dispatcher's
// repeat interval), and a resolved one goes with endsAt.

import { type Alert, formatEvidence } from './alert.ts';
import { type AlertReceiver, postJson, receiverEndpoint } from './alert-receiver.ts';

export type LabelSet = Record<string, string>;

/** Alertmanager API v2 `postableAlert`. Times are RFC 3339. */
export interface PostableAlert {
  labels: LabelSet;
  annotations: LabelSet;
  startsAt: string;
  endsAt?: string;
  generatorURL?: string;
}

export interface AlertmanagerReceiverOptions {
  /** Name in logs and metrics. */
  readonly name: string;
  /**
   * Alertmanager's base URL, e.g. http://127.0.0.1:9093 (a route prefix path is kept). A user
   * and password in it are sent as `Authorization: Basic`, never as part of the URL.
   */
  readonly url: string;
  /** Longest wait for one POST, in ms. */
  readonly timeoutMs: number;
  /** Value of the `rampart` label: which Rampart sent it. Keep it the same on every replica. Default rampart. */
  readonly source?: string | undefined;
  /** generatorURL of every alert: a link back to Rampart (its dashboard). Absent: none. */
  readonly generatorURL?: string | undefined;
  /** Clock, ms since the epoch. Default Date.now. */
  readonly now?: (() => number) | undefined;
}

/** Labels Rampart sets itself; an alert's own labels cannot replace them. */
const RESERVED_LABELS = ['alertname', 'severity', 'rampart', 'pool', 'node'];

/** A valid Alertmanager label (or annotation) name: invalid characters become `_`. */
export function labelName(raw: string): string {
  const name = raw.replace(/[^a-zA-Z0-9_]/g, '_');
  return /^[a-zA-Z_]/.test(name) ? name : `_${name}`;
}

/** The postableAlert for one state of an alert; `now` gives a resolved alert without endsAt its end. */
export function toPostableAlert(
  alert: Alert,
  options: { readonly source: string; readonly generatorURL?: string | undefined; readonly now: number },
): PostableAlert {
  const labels: LabelSet = {};
  for (const [k, v] of Object.entries(alert.labels ?? {})) {
    const name = labelName(k);
    if (v !== '' && !RESERVED_LABELS.includes(name)) labels[name] = v;
  }
  labels.alertname = alert.name;
  labels.severity = alert.severity;
  labels.rampart = options.source;
  if (alert.pool) labels.pool = alert.pool;
  if (alert.node) labels.node = alert.node;

  const annotations: LabelSet = { summary: alert.summary, key: alert.key };
  if (alert.description) annotations.description = alert.description;
  if (alert.evidence && Object.keys(alert.evidence).length > 0)
    annotations.evidence = formatEvidence(alert.evidence);

  const postable: PostableAlert = { labels, annotations, startsAt: rfc3339(alert.startsAt) };
  // Alertmanager refuses an alert that ends before it starts.
  const end = alert.status === 'resolved' ? (alert.endsAt ?? options.now) : alert.endsAt;
  if (end !== undefined) postable.endsAt = rfc3339(Math.max(end, alert.startsAt));
  if (options.generatorURL) postable.generatorURL = options.generatorURL;
  return postable;
}

export class AlertmanagerReceiver implements AlertReceiver {
  readonly kind = 'alertmanager';
  readonly repeatsFiring = true;
  readonly name: string;
  readonly timeoutMs: number;
  readonly #endpoint: URL;
  readonly #headers: Readonly<Record<string, string>>;
  readonly #secrets: readonly string[];
  readonly #source: string;
  readonly #generatorURL: string | undefined;
  readonly #now: () => number;
  /**
   * What was last delivered for each key still firing. When a key's labels change (severity
   * warning → critical), Alertmanager sees a new alert: the old label set is resolved with it,
   * instead of firing on until its resolve_timeout.
   */
  readonly #lastFiring = new Map<string, PostableAlert>();

  constructor(options: AlertmanagerReceiverOptions) {
    this.name = options.name;
    this.timeoutMs = options.timeoutMs;
    const { url: base, authorization, secrets } = receiverEndpoint(options.url);
    base.pathname = `${base.pathname.replace(/\/+$/, '')}/api/v2/alerts`;
    this.#endpoint = base;
    this.#headers = authorization === undefined ? {} : { authorization };
    this.#secrets = secrets;
    this.#source = options.source ?? 'rampart';
    this.#generatorURL = validUrl(options.generatorURL);
    this.#now = options.now ?? Date.now;
  }

  async deliver(alert: Alert, signal: AbortSignal): Promise<void> {
    const now = this.#now();
    const postable = toPostableAlert(alert, { source: this.#source, generatorURL: this.#generatorURL, now });
    const body = [postable];
    const previous = this.#lastFiring.get(alert.key);
    if (previous !== undefined && !sameLabels(previous.labels, postable.labels))
      body.push({ ...previous, endsAt: rfc3339(Math.max(now, Date.parse(previous.startsAt))) });
    await postJson(this.#endpoint, body, {
      receiver: this.name,
      headers: this.#headers,
      signal,
      secrets: this.#secrets,
    });
    if (alert.status === 'firing') this.#lastFiring.set(alert.key, postable);
    else this.#lastFiring.delete(alert.key);
  }
}

function rfc3339(ms: number): string {
  return new Date(ms).toISOString();
}

function sameLabels(a: LabelSet, b: LabelSet): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

/** The URL if it is an absolute http(s) URL (Alertmanager refuses anything else), else undefined. */
function validUrl(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : undefined;
  } catch {
    return undefined;
  }
}
