// Kubernetes coordination: leader election and named locks on coordination.k8s.io Lease
// objects, for Rampart replicas running in a cluster, with the same fencing as etcd.
//
// A Lease is taken or renewed only by a conditional PUT (its resourceVersion), so two
// candidates that both see it free cannot both win: one gets 409 Conflict and reads again.
// The term: on taking the Lease, a candidate asks its store for a term above both every term
// the store has seen and the one recorded on the Lease (annotation rampart.dev/term), and
// writes it to the Lease in the same conditional PUT — so terms go up across replicas even
// when each has its own store, and `fence` (asked before every creation) refuses a term the
// Lease no longer carries.
//
// Timing, with T = leaseTtl (default 15s), as etcd's: the holder renews every T/3; a
// watchdog checks every T/12 and, when no renewal has succeeded for 2T/3 (counted from when
// the renewal was sent), declares the leadership lost and stops acting — by 3T/4 at the
// latest; a candidate takes the Lease only once renewTime + T + T/10 has passed by its own
// clock. So a holder that cannot reach the API server stops at least T/3 before anyone else
// can take over (with clocks skewed by less than that). A renewal that finds another holder
// or another term loses at once; resign clears the holder so a successor takes over at its
// next look (about T/4). Holder names need not be unique: a replica treats a live Lease as
// its own only when it made the last write to it (the resourceVersion it got back).

import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { type KubeClient, KubeError, type KubeObject, kubePath } from '../kube/kube-client.ts';
import { StaleTermError, type Store } from '../store/store.ts';
import type { Coordination, Leadership, Lock } from './coordination.ts';

/** The annotation on a Lease that carries the newest leadership term handed out on it. */
export const TERM_ANNOTATION = 'rampart.dev/term';

export interface KubernetesCoordinationOptions {
  readonly client: KubeClient;
  /** Namespace of the Leases (the pod's own, usually). */
  readonly namespace: string;
  /** Name of the leadership Lease; locks live on `<leaseName>-lock-<name>`. */
  readonly leaseName: string;
  /** Lease duration, ms (rounded up to whole seconds; at least 2s). */
  readonly leaseTtlMs: number;
  /** This replica's store: asked for each new term (above the Lease's). */
  readonly store: Store;
  readonly log?: Logger | undefined;
}

export interface LeaseSpec {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number;
  acquireTime?: string | null;
  renewTime?: string | null;
  leaseTransitions?: number;
}

export interface Lease extends KubeObject {
  readonly spec?: LeaseSpec;
}

/** MicroTime as the API server writes it: `2006-01-02T15:04:05.000000Z`. */
function microTime(ms = Date.now()): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** The term recorded on a Lease; 0 when it carries none (or garbage). */
function termOf(lease: Lease | undefined): number {
  const t = Number(lease?.metadata.annotations?.[TERM_ANNOTATION] ?? 0);
  return Number.isSafeInteger(t) && t > 0 ? t : 0;
}

/**
 * Whether `lease` is held at `now` (ms, this process's clock): it has a holder whose
 * renewTime (else acquireTime) plus the duration (`fallbackMs` when it carries none) plus a
 * tenth of that (the margin for clock skew) is still ahead. A holder without a readable
 * time is taken to be live (it may be another client's fresh write): such a Lease is never
 * stolen.
 */
export function heldAt(lease: Lease, now: number, fallbackMs: number): boolean {
  if (!lease.spec?.holderIdentity) return false;
  const renewed = Date.parse(lease.spec.renewTime ?? lease.spec.acquireTime ?? '');
  if (!Number.isFinite(renewed)) return true;
  const seconds = lease.spec.leaseDurationSeconds;
  const duration = seconds !== undefined && seconds > 0 ? seconds * 1000 : fallbackMs;
  return renewed + duration + duration / 10 >= now;
}

/**
 * The Lease name of the lock `name` under the leadership Lease `base`: `<base>-lock-<name>`
 * as a DNS label (lowercase letters, digits and -, at most 63). A name too long for that is
 * cut and given a hash of the whole, so two long names do not share a Lease; names that
 * differ only in case or punctuation do (they exclude each other, which is safe).
 */
export function lockLeaseName(base: string, name: string): string {
  const clean = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  const full = `${base}-lock-${clean}`.replace(/-+$/, '');
  if (full.length <= 63) return full;
  const hash = createHash('sha256').update(`${base}\0${name}`).digest('hex').slice(0, 8);
  return `${full.slice(0, 54).replace(/-+$/, '')}-${hash}`;
}

const isConflict = (e: unknown) => e instanceof KubeError && e.status === 409;

/** Waits `ms`; rejects with the signal's reason when it aborts first. */
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** The leadership this process holds, as `fence` checks it. */
interface Leading {
  readonly term: number;
  readonly holder: string;
  readonly lost: AbortSignal;
}

export class KubernetesCoordination implements Coordination {
  readonly kind = 'kubernetes';
  readonly options: KubernetesCoordinationOptions;
  readonly #c: KubeClient;
  readonly #ttlSeconds: number;
  /** The leases collection of the namespace. */
  readonly #leases: string;
  /** Everything to undo on close: live leaderships and locks. */
  readonly #cleanups = new Set<() => Promise<void>>();
  /** Aborted by close: pending campaigns end with it. */
  readonly #closing = new AbortController();
  /** Lease name → the resourceVersion of this process's last write to it: what makes a hold ours. */
  readonly #written = new Map<string, string | undefined>();
  #leading: Leading | undefined;

  constructor(options: KubernetesCoordinationOptions) {
    this.options = options;
    this.#c = options.client;
    this.#ttlSeconds = Math.max(2, Math.ceil(options.leaseTtlMs / 1000));
    this.#leases = kubePath('coordination.k8s.io', 'v1', 'leases', options.namespace);
  }

  /** The Lease duration actually used, ms (whole seconds). */
  get ttlMs(): number {
    return this.#ttlSeconds * 1000;
  }

  #where(name: string): string {
    return `Lease ${this.options.namespace}/${name}`;
  }

  /** Reads the Lease `name`, creating it empty when absent (another creator winning is fine). */
  async #readOrCreate(name: string, signal?: AbortSignal): Promise<Lease> {
    const found = await this.#c.find<Lease>(`${this.#leases}/${name}`, signal);
    if (found) return found;
    try {
      return await this.#c.create<Lease>(
        this.#leases,
        { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name }, spec: {} },
        signal,
      );
    } catch (e) {
      if (isConflict(e)) return this.#c.get<Lease>(`${this.#leases}/${name}`, signal);
      throw e;
    }
  }

  /**
   * A PUT conditional on the resourceVersion `lease` was read at; undefined when someone
   * else changed the Lease first (409 Conflict).
   */
  async #write(
    lease: Lease,
    spec: LeaseSpec,
    term?: number,
    signal?: AbortSignal,
  ): Promise<Lease | undefined> {
    const annotations = { ...lease.metadata.annotations };
    if (term !== undefined) annotations[TERM_ANNOTATION] = String(term);
    const body: Lease = {
      ...lease,
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { ...lease.metadata, annotations },
      spec: { ...lease.spec, ...spec },
    };
    try {
      const written = await this.#c.replace<Lease>(`${this.#leases}/${lease.metadata.name}`, body, signal);
      this.#written.set(lease.metadata.name, written.metadata.resourceVersion);
      return written;
    } catch (e) {
      if (isConflict(e)) return undefined;
      throw e;
    }
  }

  /**
   * One attempt to take the Lease `name` for `holder`: 'held' while another holder's Lease
   * is live (or, for a lock, any holder's: locks are not re-entrant, as etcd's are not).
   * A conflict re-reads at once: whoever wrote first decides. With `withTerm`, a new term
   * above the Lease's goes into the same conditional write.
   */
  async #take(
    name: string,
    holder: string,
    kind: 'leadership' | 'lock',
    signal?: AbortSignal,
  ): Promise<Lease | 'held'> {
    for (;;) {
      const lease = await this.#readOrCreate(name, signal);
      // Ours only if nobody wrote since our own last write: another process may use the same
      // holder name (a pid, say), and must never be mistaken for us.
      const ours =
        lease.spec?.holderIdentity === holder &&
        lease.metadata.resourceVersion !== undefined &&
        lease.metadata.resourceVersion === this.#written.get(name);
      // A leader that lost its Lease (it could not renew) may take it back while nobody else
      // has written it: it stopped acting, and takes a new term.
      if (heldAt(lease, Date.now(), this.ttlMs) && !(ours && kind === 'leadership')) return 'held';
      const term =
        kind === 'leadership' ? await this.options.store.newTerm(holder, termOf(lease) + 1) : undefined;
      const now = microTime();
      const taken = await this.#write(
        lease,
        {
          holderIdentity: holder,
          leaseDurationSeconds: this.#ttlSeconds,
          acquireTime: now,
          renewTime: now,
          leaseTransitions: (lease.spec?.leaseTransitions ?? 0) + (ours ? 0 : 1),
        },
        term,
        signal,
      );
      if (taken) return taken;
      signal?.throwIfAborted();
    }
  }

  /**
   * Renews `name` for `holder` every T/3 until stopped. `lose(reason)` is called once when
   * it cannot go on: no renewal for 2T/3 (counted from when the renewal was sent), or the
   * Lease shows another holder or another term. Returns the stop function.
   */
  #keep(name: string, holder: string, term: number | undefined, lose: (reason: string) => void): () => void {
    const ttlMs = this.ttlMs;
    let renewedAt = Date.now();
    let stopped = false;
    let renewing = false;
    const stop = () => {
      stopped = true;
      clearInterval(renewal);
      clearInterval(watchdog);
    };
    const end = (reason: string) => {
      if (stopped) return;
      stop();
      lose(reason);
    };
    const renew = async () => {
      if (stopped || renewing) return;
      renewing = true;
      const sentAt = Date.now();
      // No single call may outlast the watchdog's margin.
      const signal = AbortSignal.timeout(Math.ceil(ttlMs / 3));
      try {
        const lease = await this.#c.get<Lease>(`${this.#leases}/${name}`, signal);
        if (stopped) return;
        if (lease.spec?.holderIdentity !== holder)
          return end(`${this.#where(name)} is held by ${lease.spec?.holderIdentity || 'nobody'} now`);
        if (term !== undefined && termOf(lease) !== term)
          return end(`${this.#where(name)} carries term ${termOf(lease)} now, not ours (${term})`);
        const written = await this.#write(lease, { renewTime: microTime() }, undefined, signal);
        // A 409 is another write in between: the next renewal looks again.
        if (written) renewedAt = sentAt;
      } catch {
        // Unreachable, slow or refused: the watchdog decides when it has lasted too long.
      } finally {
        renewing = false;
      }
    };
    const renewal = setInterval(() => void renew(), ttlMs / 3);
    const watchdog = setInterval(() => {
      const silent = Date.now() - renewedAt;
      if (silent > (2 * ttlMs) / 3)
        end(
          `no renewal of ${this.#where(name)} for ${silent} ms (lease ${this.#ttlSeconds}s): stopping before it can expire`,
        );
    }, ttlMs / 12);
    return stop;
  }

  /**
   * Clears the holder of `name` if it is still `holder`, so a successor takes it at its next
   * look instead of waiting for expiry. A conflict (our own last renewal landing) reads
   * again; unreachable leaves it to expire.
   */
  async #release(name: string, holder: string): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        const signal = AbortSignal.timeout(Math.ceil(this.ttlMs / 3));
        const lease = await this.#c.get<Lease>(`${this.#leases}/${name}`, signal);
        if (lease.spec?.holderIdentity !== holder) return;
        if (await this.#write(lease, { holderIdentity: null, renewTime: null }, undefined, signal)) return;
      } catch (e) {
        this.options.log?.warn(
          { lease: `${this.options.namespace}/${name}`, err: (e as Error).message },
          'could not clear the Lease holder: it expires on its own',
        );
        return;
      }
    }
  }

  /**
   * Resolves once this process leads, however long that takes: while another holder's
   * Lease is live it looks again every T/4; while the API server is unreachable or refuses
   * it retries (and says so once). Rejects only when `signal` aborts or on close.
   */
  async campaign(holder: string, signal?: AbortSignal): Promise<Leadership> {
    const name = this.options.leaseName;
    const stopping = signal ? AbortSignal.any([signal, this.#closing.signal]) : this.#closing.signal;
    let failure: string | undefined;
    let standingBy = false;
    for (;;) {
      stopping.throwIfAborted();
      let lease: Lease | 'held' | undefined;
      try {
        lease = await this.#take(name, holder, 'leadership', stopping);
      } catch (e) {
        if (stopping.aborted) throw stopping.reason;
        const message = (e as Error).message;
        if (message !== failure)
          this.options.log?.warn(
            {
              lease: `${this.options.namespace}/${name}`,
              err: message,
              ...(e instanceof KubeError && e.status === 403
                ? {
                    fix: `grant get, create and update on leases.coordination.k8s.io in ${this.options.namespace}`,
                  }
                : {}),
            },
            'cannot take the leadership Lease: retrying; nothing is done meanwhile',
          );
        failure = message;
      }
      if (lease === 'held' && !standingBy) {
        standingBy = true;
        this.options.log?.info(
          { lease: `${this.options.namespace}/${name}`, holder },
          'standing by: another replica leads',
        );
      }
      if (lease !== undefined && lease !== 'held') {
        // Taken just as the campaign was cancelled or the coordination closed: give it back.
        if (stopping.aborted) {
          await this.#release(name, holder);
          throw stopping.reason;
        }
        return this.#lead(name, holder, termOf(lease));
      }
      await sleep(this.ttlMs / 4, stopping);
    }
  }

  /** Leadership of the Lease just taken: renewed, watched, resigned. */
  #lead(name: string, holder: string, term: number): Leadership {
    const where = `${this.options.namespace}/${name}`;
    const lost = new AbortController();
    const leading: Leading = { term, holder, lost: lost.signal };
    const stop = this.#keep(name, holder, term, (reason) => {
      lost.abort(new Error(reason));
      this.options.log?.error({ lease: where, term, reason }, 'leadership lost: stopped acting');
    });
    const resign = async () => {
      this.#cleanups.delete(resign);
      if (!lost.signal.aborted) {
        stop();
        lost.abort(new Error('resigned'));
        this.options.log?.info({ lease: where, term }, 'resigned the leadership');
      }
      if (this.#leading === leading) this.#leading = undefined;
      await this.#release(name, holder);
    };
    this.#cleanups.add(resign);
    this.#leading = leading;
    this.options.log?.info({ lease: where, holder, term }, 'leading: Lease taken');
    return { term, holder, lost: lost.signal, resign };
  }

  /**
   * Refuses `term` (StaleTermError) unless it is still the Lease's term, this process holds
   * the Lease under it and has not lost it: asked before every creation.
   */
  async fence(term: number, signal?: AbortSignal): Promise<void> {
    const lease = await this.#c.get<Lease>(`${this.#leases}/${this.options.leaseName}`, signal);
    const newest = termOf(lease);
    const mine = this.#leading;
    const current =
      newest === term &&
      mine !== undefined &&
      mine.term === term &&
      !mine.lost.aborted &&
      lease.spec?.holderIdentity === mine.holder;
    if (!current) throw new StaleTermError(term, newest);
  }

  async tryLock(name: string, holder: string): Promise<Lock | undefined> {
    if (this.#closing.signal.aborted) throw new Error(`kubernetes coordination is closed: no lock ${name}`);
    const leaseName = lockLeaseName(this.options.leaseName, name);
    const taken = await this.#take(leaseName, holder, 'lock');
    if (taken === 'held') return undefined;
    const lost = new AbortController();
    const stop = this.#keep(leaseName, holder, undefined, (reason) => {
      this.options.log?.warn({ lock: name, holder, reason }, 'lock lost: its Lease could not be kept');
      lost.abort(new Error(`lock ${name} lost: ${reason}`));
    });
    const release = async () => {
      this.#cleanups.delete(release);
      stop();
      await this.#release(leaseName, holder);
    };
    this.#cleanups.add(release);
    this.options.log?.debug(
      { lock: name, lease: `${this.options.namespace}/${leaseName}`, holder },
      'lock taken',
    );
    return { name, lost: lost.signal, release };
  }

  /** Ends pending campaigns, stops every renewal and clears every Lease this process holds. */
  async close(): Promise<void> {
    this.#closing.abort(new Error('kubernetes coordination closed'));
    for (const undo of [...this.#cleanups]) await undo();
    this.#cleanups.clear();
  }
}
