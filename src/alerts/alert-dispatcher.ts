// Sends alerts to every receiver without ever making the caller wait: `send` puts the alert in
// each receiver's in-memory outbox and returns; a background loop per receiver delivers, retries
// with exponential backoff and jitter (bounded), lets a newer state of an alert replace an older
// one still waiting, and re-sends firing alerts to receivers that forget them (Alertmanager).

import type { Alert } from './alert.ts';
import { type AlertReceiver, DeliveryError } from './alert-receiver.ts';

/** The few logger methods used (pino's Logger fits). */
export interface AlertLog {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface DispatcherClock {
  /** ms since the epoch. */
  now(): number;
  /** Resolves after `ms`, or at once when `signal` aborts; never rejects. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

/** What became of one delivery try or one queued alert state. */
export type DeliveryOutcome = 'delivered' | 'retrying' | 'failed' | 'superseded';

export interface AlertDispatcherOptions {
  readonly log: AlertLog;
  /** Time between two sends of a firing alert to receivers that need it (Alertmanager), in ms. Default 60000. */
  readonly repeatIntervalMs?: number | undefined;
  /** Tries per alert state before giving up. Default 10. */
  readonly maxAttempts?: number | undefined;
  /** Delay before the first retry, in ms, doubled for each later one (then jittered). Default 2000. */
  readonly backoffBaseMs?: number | undefined;
  /** Longest delay between two tries, in ms. Default 150000 (10 tries span about 10 minutes). */
  readonly backoffMaxMs?: number | undefined;
  /** Default: the wall clock and timers. */
  readonly clock?: DispatcherClock | undefined;
  /** A number in [0, 1) for jitter. Default Math.random. */
  readonly random?: (() => number) | undefined;
  /** Called on every outcome, e.g. to count it in /metrics. Must not throw. */
  readonly onOutcome?: ((receiver: string, outcome: DeliveryOutcome) => void) | undefined;
}

export interface ReceiverStats {
  readonly receiver: string;
  readonly kind: AlertReceiver['kind'];
  /** Deliveries that succeeded (repeats of firing alerts included). */
  readonly delivered: number;
  /** Alert states given up on: tries exhausted, refused (4xx), or still undelivered when closed. */
  readonly failed: number;
  /** Failed tries that were scheduled to be tried again. */
  readonly retries: number;
  /** Alert states replaced by a newer state of the same key before they were delivered. */
  readonly superseded: number;
  /** Alert states waiting now (queued, backing off or in flight). */
  readonly pending: number;
  /** Alerts firing now that this receiver is sent again every repeat interval. */
  readonly firing: number;
}

export interface UndeliveredAlert {
  readonly receiver: string;
  readonly key: string;
  readonly status: Alert['status'];
}

export const DEFAULT_REPEAT_INTERVAL_MS = 60_000;
export const DEFAULT_MAX_ATTEMPTS = 10;
export const DEFAULT_CLOSE_DEADLINE_MS = 10_000;

/** Wall-clock time and real timers. */
export const systemClock: DispatcherClock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      signal.addEventListener('abort', done, { once: true });
    }),
};

interface Settings {
  readonly log: AlertLog;
  readonly clock: DispatcherClock;
  readonly random: () => number;
  readonly repeatIntervalMs: number;
  readonly maxAttempts: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  readonly onOutcome: (receiver: string, outcome: DeliveryOutcome) => void;
  /** Aborted when close()'s deadline passes: in-flight deliveries and waits end. */
  readonly stop: AbortSignal;
}

/** One alert state waiting for one receiver. */
interface Entry {
  readonly alert: Alert;
  /** Failed tries so far. */
  readonly tries: number;
  /** Not tried before this time (ms since the epoch). */
  readonly dueAt: number;
}

/** The delay before try `tries + 1`: base × 2^(tries−1), capped, then "equal jitter" (half fixed, half random). */
export function backoffDelay(tries: number, baseMs: number, maxMs: number, random: () => number): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, tries - 1));
  return Math.round(exp / 2 + (exp / 2) * random());
}

class Outbox {
  readonly receiver: AlertReceiver;
  readonly #s: Settings;
  /** By key: one state per key, the newest one sent. */
  readonly #queue = new Map<string, Entry>();
  /** Repeating receivers only: firing alerts and when each is next sent again. */
  readonly #firing = new Map<string, { alert: Alert; dueAt: number }>();
  #inFlight: Entry | undefined;
  #wake: (() => void) | undefined;
  #closing = false;
  readonly done: Promise<void>;
  readonly #counts = { delivered: 0, failed: 0, retries: 0, superseded: 0 };

  constructor(receiver: AlertReceiver, settings: Settings) {
    this.receiver = receiver;
    this.#s = settings;
    this.done = this.#run().catch((e: unknown) => {
      // A bug here must not take the controller down with an unhandled rejection.
      settings.log.error(
        { receiver: receiver.name, error: String(e) },
        `alert delivery to ${receiver.name} stopped unexpectedly: ${String(e)}`,
      );
    });
  }

  enqueue(alert: Alert, now: number): void {
    if (this.receiver.repeatsFiring) {
      const live = alert.status === 'firing' && (alert.endsAt === undefined || alert.endsAt > now);
      if (live) this.#firing.set(alert.key, { alert, dueAt: now + this.#s.repeatIntervalMs });
      else this.#firing.delete(alert.key);
    }
    const older = this.#queue.get(alert.key);
    if (older !== undefined) this.#superseded(older.alert, alert);
    this.#queue.set(alert.key, { alert, tries: 0, dueAt: now });
    this.#wake?.();
  }

  /** Stops repeating; the loop ends once the queue is empty (or the stop signal aborts). */
  beginClose(): void {
    this.#closing = true;
    this.#firing.clear();
    this.#wake?.();
  }

  /** After the loop ended: every state never delivered, counted as failed and dropped. */
  takeUndelivered(): Alert[] {
    const left = [...(this.#inFlight ? [this.#inFlight] : []), ...this.#queue.values()].map((e) => e.alert);
    this.#inFlight = undefined;
    this.#queue.clear();
    for (const _ of left) this.#count('failed');
    return left;
  }

  stats(): ReceiverStats {
    return {
      receiver: this.receiver.name,
      kind: this.receiver.kind,
      ...this.#counts,
      pending: this.#queue.size + (this.#inFlight ? 1 : 0),
      firing: this.#firing.size,
    };
  }

  async #run(): Promise<void> {
    const { clock, stop } = this.#s;
    for (;;) {
      if (stop.aborted) return;
      const now = clock.now();
      this.#queueRepeats(now);
      const next = this.#earliest();
      if (next === undefined && this.#closing) return;
      if (next !== undefined && next.dueAt <= now) {
        await this.#attempt(next);
        continue;
      }
      const wakeAt = Math.min(
        next?.dueAt ?? Number.POSITIVE_INFINITY,
        ...[...this.#firing.values()].map((f) => f.dueAt),
      );
      await this.#wait(wakeAt === Number.POSITIVE_INFINITY ? undefined : wakeAt - now);
    }
  }

  /** Waits `ms` (or until woken, when undefined): a send, close() or the stop signal ends the wait early. */
  async #wait(ms: number | undefined): Promise<void> {
    const woken = new AbortController();
    this.#wake = () => woken.abort();
    const signal = AbortSignal.any([woken.signal, this.#s.stop]);
    try {
      if (ms === undefined)
        await new Promise<void>((resolve) => {
          if (signal.aborted) resolve();
          else signal.addEventListener('abort', () => resolve(), { once: true });
        });
      else await this.#s.clock.sleep(ms, signal);
    } finally {
      this.#wake = undefined;
    }
  }

  #earliest(): Entry | undefined {
    let best: Entry | undefined;
    for (const e of this.#queue.values()) if (best === undefined || e.dueAt < best.dueAt) best = e;
    return best;
  }

  #queueRepeats(now: number): void {
    if (this.#closing) return;
    for (const [key, f] of this.#firing) {
      if (f.alert.endsAt !== undefined && f.alert.endsAt <= now) {
        this.#firing.delete(key);
        continue;
      }
      if (f.dueAt > now) continue;
      f.dueAt = now + this.#s.repeatIntervalMs;
      if (this.#queue.has(key) || this.#inFlight?.alert.key === key) continue;
      this.#queue.set(key, { alert: f.alert, tries: 0, dueAt: now });
      this.#s.log.debug(
        { receiver: this.receiver.name, alert: key },
        `alert ${key} still firing: sending it again to ${this.receiver.name}`,
      );
    }
  }

  async #attempt(entry: Entry): Promise<void> {
    const { alert } = entry;
    const { log, clock, stop } = this.#s;
    const name = this.receiver.name;
    this.#queue.delete(alert.key);
    this.#inFlight = entry;
    const signal = AbortSignal.any([AbortSignal.timeout(this.receiver.timeoutMs), stop]);
    let error: DeliveryError | undefined;
    try {
      await this.receiver.deliver(alert, signal);
    } catch (e) {
      error = e instanceof DeliveryError ? e : new DeliveryError(`${name}: ${String(e)}`, true);
    }
    this.#inFlight = undefined;
    const fields = { receiver: name, alert: alert.key, status: alert.status };
    if (error === undefined) {
      this.#count('delivered');
      const firing = this.#firing.get(alert.key);
      if (firing?.alert === alert) firing.dueAt = clock.now() + this.#s.repeatIntervalMs;
      if (entry.tries > 0)
        log.info(
          { ...fields, tries: entry.tries + 1 },
          `alert ${alert.key} (${alert.status}) delivered to ${name} after ${entry.tries + 1} tries`,
        );
      else log.debug(fields, `alert ${alert.key} (${alert.status}) delivered to ${name}`);
      return;
    }
    const tries = entry.tries + 1;
    const newer = this.#queue.get(alert.key);
    if (newer !== undefined) {
      // The newer state is what the receiver should hear; this one is not retried.
      this.#superseded(alert, newer.alert);
      return;
    }
    if (stop.aborted) {
      // close()'s deadline passed: close() reports it as undelivered.
      this.#inFlight = { ...entry, tries };
      return;
    }
    if (!error.retryable || tries >= this.#s.maxAttempts) {
      this.#count('failed');
      const why = error.retryable ? `after ${tries} tries` : 'refused, not retried';
      log.error(
        { ...fields, tries, error: error.message },
        `alert ${alert.key} (${alert.status}) not delivered to ${name}: giving up ${why}: ${error.message}`,
      );
      return;
    }
    const delay = backoffDelay(tries, this.#s.backoffBaseMs, this.#s.backoffMaxMs, this.#s.random);
    this.#queue.set(alert.key, { alert, tries, dueAt: clock.now() + delay });
    this.#count('retrying');
    log.warn(
      { ...fields, tries, retryInMs: delay, error: error.message },
      `alert ${alert.key} (${alert.status}) not delivered to ${name} (try ${tries} of ${this.#s.maxAttempts}): retrying in ${Math.ceil(delay / 1000)}s: ${error.message}`,
    );
  }

  #superseded(older: Alert, newer: Alert): void {
    this.#count('superseded');
    this.#s.log.debug(
      { receiver: this.receiver.name, alert: older.key, status: older.status, by: newer.status },
      `alert ${older.key} (${older.status}) for ${this.receiver.name} replaced by its newer state (${newer.status})`,
    );
  }

  #count(outcome: DeliveryOutcome): void {
    const field = outcome === 'retrying' ? 'retries' : outcome;
    this.#counts[field] += 1;
    try {
      this.#s.onOutcome(this.receiver.name, outcome);
    } catch {
      // Counting must never stop delivery.
    }
  }
}

export class AlertDispatcher {
  readonly #outboxes: readonly Outbox[];
  readonly #log: AlertLog;
  readonly #clock: DispatcherClock;
  readonly #stop = new AbortController();
  #closed: Promise<readonly UndeliveredAlert[]> | undefined;

  constructor(receivers: readonly AlertReceiver[], options: AlertDispatcherOptions) {
    const names = new Set<string>();
    for (const r of receivers) {
      if (names.has(r.name)) throw new Error(`two alert receivers are named ${r.name}: names must differ`);
      names.add(r.name);
    }
    this.#log = options.log;
    this.#clock = options.clock ?? systemClock;
    const settings: Settings = {
      log: options.log,
      clock: this.#clock,
      random: options.random ?? Math.random,
      repeatIntervalMs: options.repeatIntervalMs ?? DEFAULT_REPEAT_INTERVAL_MS,
      maxAttempts: options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
      backoffBaseMs: options.backoffBaseMs ?? 2000,
      backoffMaxMs: options.backoffMaxMs ?? 150_000,
      onOutcome: options.onOutcome ?? (() => undefined),
      stop: this.#stop.signal,
    };
    this.#outboxes = receivers.map((r) => new Outbox(r, settings));
  }

  /** Names of the receivers, in config order. */
  get receivers(): readonly string[] {
    return this.#outboxes.map((o) => o.receiver.name);
  }

  /**
   * Queues one state of an alert for every receiver and returns at once: it never waits for the
   * network and never throws. A state still queued for the same key is replaced by this one.
   */
  send(alert: Alert): void {
    if (this.#closed !== undefined) {
      this.#log.warn(
        { alert: alert.key, status: alert.status },
        `alert ${alert.key} (${alert.status}) not sent: alert delivery is shutting down`,
      );
      return;
    }
    const now = this.#clock.now();
    for (const outbox of this.#outboxes) outbox.enqueue(alert, now);
  }

  /** Counters per receiver, for /metrics. Counters only grow; pending and firing are now. */
  stats(): readonly ReceiverStats[] {
    return this.#outboxes.map((o) => o.stats());
  }

  /**
   * Stops repeating, delivers what is queued (with its retries) until `deadlineMs` passes, then
   * aborts what is left and logs each undelivered alert. Idempotent; later sends are dropped.
   */
  close(deadlineMs = DEFAULT_CLOSE_DEADLINE_MS): Promise<readonly UndeliveredAlert[]> {
    this.#closed ??= this.#close(deadlineMs);
    return this.#closed;
  }

  async #close(deadlineMs: number): Promise<readonly UndeliveredAlert[]> {
    for (const o of this.#outboxes) o.beginClose();
    const all = Promise.all(this.#outboxes.map((o) => o.done));
    const deadline = new AbortController();
    const finished = await Promise.race([
      all.then(() => true),
      this.#clock.sleep(deadlineMs, deadline.signal).then(() => false),
    ]);
    deadline.abort();
    if (!finished) {
      this.#stop.abort();
      await all;
    }
    const undelivered: UndeliveredAlert[] = [];
    for (const o of this.#outboxes)
      for (const alert of o.takeUndelivered()) {
        undelivered.push({ receiver: o.receiver.name, key: alert.key, status: alert.status });
        this.#log.error(
          { receiver: o.receiver.name, alert: alert.key, status: alert.status },
          `alert ${alert.key} (${alert.status}) not delivered to ${o.receiver.name}: shutting down (deadline ${deadlineMs} ms passed)`,
        );
      }
    return undelivered;
  }
}
