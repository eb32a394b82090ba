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
// watchdog checks every T/12 and, when no renewal has succeeded for 2T/3, declares the
// leadership lost and stops acting; a candidate takes the Lease only once renewTime + T has
// passed by its own clock. So a holder that cannot reach the API server stops at least T/3
// before anyone else can take over (clocks skewed by less than that). A renewal that finds
// another holder or a higher term loses at once; resign clears the holder so a successor
// takes over at its next look (about T/4).

import type { Logger } from 'pino';
import { type KubeClient, KubeError, type KubeObject, kubePath } from '../kube/kube-client.ts';
import { StaleTermError, type Store } from '../store/store.ts';
import type { Coordination, Leadership, Lock } from './coordination.ts';

export const TERM_ANNOTATION = 'rampart.dev/term';

export interface KubernetesCoordinationOptions {
  readonly client: KubeClient;
  readonly namespace: string;
  readonly leaseName: string;
  /** Lease duration, ms (whole seconds; at least 2s). */
  readonly leaseTtlMs: number;
  readonly store: Store;
  readonly log?: Logger | undefined;
}

interface Lease extends KubeObject {
  readonly spec?: {
    holderIdentity?: string | null;
    leaseDurationSeconds?: number;
    acquireTime?: string | null;
    renewTime?: string | null;
    leaseTransitions?: number;
  };
}

/** MicroTime as the API server writes it. */
function microTime(ms = Date.now()): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

function termOf(lease: Lease | undefined): number {
  const t = Number(lease?.metadata.annotations?.[TERM_ANNOTATION] ?? 0);
  return Number.isFinite(t) ? t : 0;
}

/** Whether `lease` is held by someone live, by this process's clock. */
function heldByOther(lease: Lease, holder: string, now: number): boolean {
  const who = lease.spec?.holderIdentity;
  if (!who || who === holder) return false;
  const renewed = Date.parse(lease.spec?.renewTime ?? lease.spec?.acquireTime ?? '');
  const duration = (lease.spec?.leaseDurationSeconds ?? 0) * 1000;
  return !(Number.isFinite(renewed) && renewed + duration < now);
}

/** A Lease name for a lock (a DNS label: lowercase, digits, -; at most 63). */
function lockLeaseName(base: string, name: string): string {
  const clean = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return `${base}-lock-${clean}`.slice(0, 63).replace(/-+$/, '');
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

export class KubernetesCoordination implements Coordination {
  readonly kind = 'kubernetes';
  readonly options: KubernetesCoordinationOptions;
  readonly #c: KubeClient;
  readonly #ttlSeconds: number;
  readonly #leases: string;
  /** Everything to undo on close: live leaderships and locks. */
  readonly #cleanups = new Set<() => Promise<void>>();
  /** The leadership this process holds: its term and holder, for `fence`. */
  #leading: { term: number; holder: string; lost: AbortSignal } | undefined;

  constructor(options: KubernetesCoordinationOptions) {
    this.options = options;
    this.#c = options.client;
    this.#ttlSeconds = Math.max(2, Math.ceil(options.leaseTtlMs / 1000));
    this.#leases = kubePath('coordination.k8s.io', 'v1', 'leases', options.namespace);
  }

  get #ttlMs(): number {
    return this.#ttlSeconds * 1000;
  }

  async #read(name: string, signal?: AbortSignal): Promise<Lease> {
    const found = await this.#c.find<Lease>(`${this.#leases}/${name}`, signal);
    if (found) return found;
    try {
      return await this.#c.create<Lease>(
        this.#leases,
        { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name }, spec: {} },
        signal,
      );
    } catch (e) {
      if (e instanceof KubeError && e.status === 409)
        return this.#c.get<Lease>(`${this.#leases}/${name}`, signal);
      throw e;
    }
  }

  /** A conditional PUT; undefined when someone else changed the Lease first (409). */
  async #write(lease: Lease, change: (l: Lease) => Lease, signal?: AbortSignal): Promise<Lease | undefined> {
    try {
      return await this.#c.replace<Lease>(`${this.#leases}/${lease.metadata.name}`, change(lease), signal);
    } catch (e) {
      if (e instanceof KubeError && e.status === 409) return undefined;
      throw e;
    }
  }

  /** Takes `name` for `holder` if free or expired; the new Lease, or undefined while another holds it. */
  async #take(
    name: string,
    holder: string,
    withTerm: boolean,
    signal?: AbortSignal,
  ): Promise<Lease | undefined> {
    const lease = await this.#read(name, signal);
    if (heldByOther(lease, holder, Date.now())) return undefined;
    let term: number | undefined;
    if (withTerm) term = await this.options.store.newTerm(holder, termOf(lease) + 1);
    const now = microTime();
    return this.#write(
      lease,
      (l) => ({
        ...l,
        metadata: {
          ...l.metadata,
          annotations: {
            ...l.metadata.annotations,
            ...(term === undefined ? {} : { [TERM_ANNOTATION]: String(term) }),
          },
        },
        spec: {
          ...l.spec,
          holderIdentity: holder,
          leaseDurationSeconds: this.#ttlSeconds,
          acquireTime: now,
          renewTime: now,
          leaseTransitions: (l.spec?.leaseTransitions ?? 0) + (l.spec?.holderIdentity === holder ? 0 : 1),
        },
      }),
      signal,
    );
  }

  /**
   * Keeps `name` renewed for `holder` until stopped; `lose(reason)` when it cannot (no
   * renewal for 2T/3, another holder, a higher term). Returns the stop function.
   */
  #keep(name: string, holder: string, term: number | undefined, lose: (reason: string) => void): () => void {
    let renewedAt = Date.now();
    let stopped = false;
    const renew = async () => {
      if (stopped) return;
      const sentAt = Date.now();
      try {
        const lease = await this.#c.get<Lease>(
          `${this.#leases}/${name}`,
          AbortSignal.timeout(Math.ceil(this.#ttlMs / 3)),
        );
        if (lease.spec?.holderIdentity !== holder)
          return lose(`Lease ${name} is held by ${lease.spec?.holderIdentity ?? 'nobody'} now`);
        if (term !== undefined && termOf(lease) !== term)
          return lose(`Lease ${name} carries term ${termOf(lease)}, not ours (${term})`);
        const written = await this.#write(lease, (l) => ({
          ...l,
          spec: { ...l.spec, renewTime: microTime() },
        }));
        // A 409 is someone else's write in between: the next look decides.
        if (written) renewedAt = sentAt;
      } catch {
        // Unreachable or refused: the watchdog decides when it has lasted too long.
      }
    };
    const renewal = setInterval(() => void renew(), this.#ttlMs / 3);
    const watchdog = setInterval(() => {
      const silent = Date.now() - renewedAt;
      if (silent > (2 * this.#ttlMs) / 3)
        lose(
          `no renewal of Lease ${name} for ${silent} ms (lease ${this.#ttlSeconds}s): stopping before it can expire`,
        );
    }, this.#ttlMs / 12);
    return () => {
      stopped = true;
      clearInterval(renewal);
      clearInterval(watchdog);
    };
  }

  /** Clears the holder if it is still `holder`, so a successor takes over at once. Best effort. */
  async #release(name: string, holder: string): Promise<void> {
    try {
      const lease = await this.#c.get<Lease>(
        `${this.#leases}/${name}`,
        AbortSignal.timeout(Math.ceil(this.#ttlMs / 3)),
      );
      if (lease.spec?.holderIdentity !== holder) return;
      await this.#write(lease, (l) => ({ ...l, spec: { ...l.spec, holderIdentity: null, renewTime: null } }));
    } catch {
      // It expires on its own.
    }
  }

  async campaign(holder: string, signal?: AbortSignal): Promise<Leadership> {
    const name = this.options.leaseName;
    let warned = false;
    for (;;) {
      signal?.throwIfAborted();
      let lease: Lease | undefined;
      try {
        lease = await this.#take(name, holder, true, signal);
      } catch (e) {
        if (signal?.aborted) throw signal.reason;
        if (!warned)
          this.options.log?.warn(
            { lease: `${this.options.namespace}/${name}`, err: (e as Error).message },
            'cannot reach the Lease: retrying; nothing is done meanwhile',
          );
        warned = true;
      }
      if (lease) {
        const term = termOf(lease);
        const lost = new AbortController();
        let stop = () => {};
        const lose = (reason: string) => {
          if (lost.signal.aborted) return;
          stop();
          lost.abort(new Error(reason));
          this.options.log?.error({ term, reason }, 'leadership lost: stopped acting');
        };
        stop = this.#keep(name, holder, term, lose);
        const resign = async () => {
          this.#cleanups.delete(resign);
          if (!lost.signal.aborted) {
            stop();
            lost.abort(new Error('resigned'));
          }
          if (this.#leading?.lost === lost.signal) this.#leading = undefined;
          await this.#release(name, holder);
        };
        this.#cleanups.add(resign);
        this.#leading = { term, holder, lost: lost.signal };
        this.options.log?.info({ lease: `${this.options.namespace}/${name}`, term }, 'Lease taken');
        return { term, holder, lost: lost.signal, resign };
      }
      await sleep(this.#ttlMs / 4, signal);
    }
  }

  async fence(term: number, signal?: AbortSignal): Promise<void> {
    const lease = await this.#c.get<Lease>(`${this.#leases}/${this.options.leaseName}`, signal);
    const newest = termOf(lease);
    const mine = this.#leading;
    if (newest !== term || !mine || mine.term !== term || lease.spec?.holderIdentity !== mine.holder)
      throw new StaleTermError(term, Math.max(newest, term));
  }

  async tryLock(name: string, holder: string): Promise<Lock | undefined> {
    const leaseName = lockLeaseName(this.options.leaseName, name);
    const lease = await this.#take(leaseName, holder, false);
    if (!lease) return undefined;
    let stop = () => {};
    const release = async () => {
      this.#cleanups.delete(release);
      stop();
      await this.#release(leaseName, holder);
    };
    stop = this.#keep(leaseName, holder, undefined, (reason) => {
      stop();
      this.options.log?.warn({ lock: name, reason }, 'lock lost');
    });
    this.#cleanups.add(release);
    return { name, release };
  }

  async close(): Promise<void> {
    for (const undo of [...this.#cleanups]) await undo();
    this.#cleanups.clear();
  }
}
