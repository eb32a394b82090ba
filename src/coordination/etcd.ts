// etcd coordination: leader election on a lease, a fencing term from the store, and named
// locks on their own short leases — for several Rampart replicas sharing one etcd store.
//
// Election (the algorithm of etcd's Go client, concurrency.Election, written out here so
// that the lease and its keep-alives are ours to watch): each candidate puts
// `election/<lease id>` bound to its lease; the candidate whose key has the lowest create
// revision leads; the others each wait for the deletion of the key created just before
// theirs. Once elected, the candidate takes a term with `newTermWhile` — a CAS on the term
// key that also requires its own election key to still exist with its create revision — so
// terms are totally ordered with the store's fencing, and a candidate whose lease expired
// before it took a term can never take one after its successor did.
//
// Timing, with T = leaseTtl (default 15s):
//   - the client renews the lease every T/3 (etcd's Go client does the same);
//   - a keep-alive counts from when it was SENT (conservative: etcd renews on receipt);
//   - a watchdog checks every T/12: when no renewal has been confirmed for 2T/3 — one
//     renewal missed, keep-alives failing for more than about T/3 — the leader declares its
//     leadership lost and stops acting. etcd cannot expire the lease before T after the last
//     renewal it received, so the replica stops at least T/3 before any other can be elected
//     (5s with the default, 1s with T=3s), whatever the reason (etcd down, partition, a
//     stalled event loop, which makes the watchdog fire late but never the lease early);
//   - leadership is also lost at once when the lease is reported expired or revoked, when
//     the election key is deleted, or when the term key moves past this leader's term;
//   - a successor is elected when the old lease expires (SIGKILL: at most T after the last
//     renewal) or at once when the old leader resigns (its lease is revoked), so handover
//     takes at most T plus one evaluation interval for the new leader's first tick.
// Locks (the scale-down lock, tried at most every `lockAttemptPeriod`) sit on their own
// lease of the same TTL, kept alive while held and revoked on release: a holder that dies
// frees its lock within T, and a lock never outlives or shares the leadership lease.

import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { IKeyValue, Lease, Namespace } from 'etcd3';
import type { Logger } from 'pino';
import { type EtcdStore, encodeTerm, isUnreachable } from '../store/etcd-store.ts';
import type { Coordination, Leadership, Lock } from './coordination.ts';

export interface EtcdCoordinationOptions {
  /** Leadership lease time-to-live, ms (whole seconds, at least 2s). */
  readonly leaseTtlMs: number;
  readonly log?: Logger | undefined;
}

/** What a candidate writes in its election key: who it is, for status and down. */
export interface Candidate {
  readonly holder: string;
  readonly host: string;
  readonly pid: number;
  readonly since: number;
}

const ELECTION = 'election/';

export class EtcdCoordination implements Coordination {
  readonly kind = 'etcd';
  readonly #store: EtcdStore;
  readonly #ttlSeconds: number;
  readonly #log: Logger | undefined;
  /** Everything to undo on close: live campaigns, leaderships and locks. */
  readonly #cleanups = new Set<() => Promise<void>>();

  constructor(store: EtcdStore, opts: EtcdCoordinationOptions) {
    this.#store = store;
    this.#ttlSeconds = Math.max(1, Math.ceil(opts.leaseTtlMs / 1000));
    this.#log = opts.log;
  }

  get ttlMs(): number {
    return this.#ttlSeconds * 1000;
  }

  /**
   * Resolves once this process leads, however long that takes: while another replica leads
   * it waits; while etcd is unreachable it retries (and says so once). Rejects only when
   * `signal` aborts.
   */
  async campaign(holder: string, signal?: AbortSignal): Promise<Leadership> {
    let unreachableSince: number | undefined;
    for (let attempt = 0; ; attempt++) {
      signal?.throwIfAborted();
      try {
        const leadership = await this.#campaignOnce(holder, signal, () => {
          if (unreachableSince !== undefined) {
            this.#log?.info(
              { down: Date.now() - unreachableSince },
              'etcd reachable again: campaigning for leadership',
            );
            unreachableSince = undefined;
          }
        });
        return leadership;
      } catch (e) {
        if (signal?.aborted) throw signal.reason ?? e;
        if (isUnreachable(e)) {
          if (unreachableSince === undefined) {
            unreachableSince = Date.now();
            this.#log?.warn(
              { err: (e as Error).message },
              'etcd unreachable: holding — no scaling, no removal — until it returns',
            );
          }
        } else this.#log?.warn({ err: e }, 'campaign failed; trying again');
        // Retry soon, but no faster than a keep-alive period: etcd may be restarting.
        await sleep(Math.min(250 * 2 ** Math.min(attempt, 4), this.ttlMs / 3), undefined, { signal }).catch(
          () => undefined,
        );
        if (unreachableSince === undefined) attempt = 0;
      }
    }
  }

  async #campaignOnce(
    holder: string,
    signal: AbortSignal | undefined,
    reached: () => void,
  ): Promise<Leadership> {
    const ns = this.#store.namespace;
    const ttlMs = this.ttlMs;
    const lost = new AbortController();
    const stopping: (() => void)[] = [];
    let leadingTerm: number | undefined;
    /** Ends this campaign or leadership: stops acting first, then cleans up. */
    const lose = (reason: string, expected = false, cause?: unknown) => {
      if (lost.signal.aborted) return;
      lost.abort(new Error(reason, { cause }));
      if (leadingTerm !== undefined && !expected)
        this.#log?.error({ term: leadingTerm, reason }, 'leadership lost: stopped acting');
      for (const stop of stopping.splice(0)) stop();
    };
    /** Waits for `p`, or rejects as soon as the campaign ends. */
    const until = <T>(p: Promise<T>): Promise<T> =>
      new Promise<T>((resolve, reject) => {
        if (lost.signal.aborted) return reject(lost.signal.reason);
        const onLost = () => reject(lost.signal.reason);
        lost.signal.addEventListener('abort', onLost, { once: true });
        p.then(resolve, reject).finally(() => lost.signal.removeEventListener('abort', onLost));
      });

    // Renewal tracking: a keep-alive counts from when it was sent. Responses arrive in order
    // on the keep-alive stream, so each one confirms the oldest unanswered send.
    let renewedAt = Date.now();
    const sent: number[] = [];
    const lease: Lease = ns.lease(this.#ttlSeconds);
    lease.on('keepaliveFired', () => sent.push(Date.now()));
    lease.on('keepaliveSucceeded', () => {
      renewedAt = sent.shift() ?? renewedAt;
    });
    lease.on('keepaliveFailed', () => sent.splice(0));
    lease.on('keepaliveEstablished', () => sent.splice(0));
    lease.on('lost', (err) => lose(`leadership lease lost: ${err.message}`, false, err));
    const watchdog = setInterval(() => {
      const silent = Date.now() - renewedAt;
      if (silent > (2 * ttlMs) / 3)
        lose(
          `lease keep-alives unconfirmed for ${silent}ms (lease ${ttlMs}ms): stopping before the lease can expire`,
        );
    }, ttlMs / 12);
    stopping.push(() => clearInterval(watchdog));
    let revoking: Promise<void> | undefined;
    const revoke = () => {
      revoking ??= lease.revoke().catch(() => lease.release());
      return revoking;
    };
    stopping.push(() => void revoke());
    const onAbort = () => lose('campaign cancelled', true);
    signal?.addEventListener('abort', onAbort, { once: true });
    stopping.push(() => signal?.removeEventListener('abort', onAbort));
    const cleanup = async () => {
      lose('coordination closed', true);
      await revoke();
    };
    this.#cleanups.add(cleanup);
    stopping.push(() => this.#cleanups.delete(cleanup));

    try {
      const leaseId = await until(lease.grant());
      reached();
      const key = `${ELECTION}${BigInt(leaseId).toString(16)}`;
      const candidate: Candidate = { holder, host: hostname(), pid: process.pid, since: Date.now() };
      const put = await until(
        ns
          .if(key, 'Create', '==', 0)
          .then(ns.put(key).value(JSON.stringify(candidate)).lease(leaseId))
          .else(ns.get(key))
          .commit(),
      );
      const rev = put.succeeded
        ? put.header.revision
        : put.responses[0]!.response_range.kvs[0]!.create_revision;

      // Wait for every older candidate to go: each wait is for the key just before ours.
      let announced = false;
      for (;;) {
        const older = await until(
          ns
            .getAll()
            .prefix(ELECTION)
            .maxCreateRevision((BigInt(rev) - 1n).toString())
            .sort('Create', 'Descend')
            .limit(1)
            .exec(),
        );
        const previous = older.kvs[0];
        if (!previous) break;
        const other = JSON.parse(previous.value.toString()) as Candidate;
        if (other.pid === process.pid && other.host === candidate.host && other.holder === holder) {
          // Our own candidacy from before a lost leadership (its revoke failed while etcd
          // was unreachable): end it now rather than wait for its lease to expire.
          await until(this.#store.client.leaseClient.leaseRevoke({ ID: previous.lease })).catch(
            () => undefined,
          );
          continue;
        }
        if (!announced) {
          announced = true;
          this.#log?.info(
            { holder, before: other.holder, host: other.host },
            'standing by: another replica leads or campaigns first',
          );
        }
        await this.#waitForDelete(ns, previous, older.header.revision, lost.signal);
      }
      const term = await until(this.#store.newTermWhile(holder, key, rev));
      leadingTerm = term;

      // Leading: also lost when our key goes or a newer term appears.
      const ownKey = ns.watch().key(key).watcher();
      ownKey.on('delete', () => lose('election key deleted'));
      ownKey.on('error', () => undefined);
      const termKey = ns.watch().key('term').watcher();
      termKey.on('put', (kv: IKeyValue) => {
        if (kv.value.toString() > encodeTerm(term)) lose(`a newer term (${kv.value.toString()}) was taken`);
      });
      termKey.on('error', () => undefined);
      stopping.push(() => {
        void ownKey.cancel().catch(() => undefined);
        void termKey.cancel().catch(() => undefined);
      });
      return {
        term,
        holder,
        lost: lost.signal,
        resign: async () => {
          lose('resigned', true);
          await revoke();
        },
      };
    } catch (e) {
      lose('campaign failed', true);
      throw e;
    }
  }

  /** Resolves when `kv` is deleted (after revision `seen`); rejects when `lost` aborts. */
  #waitForDelete(ns: Namespace, kv: IKeyValue, seen: string, lost: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const watcher = ns
        .watch()
        .key(kv.key)
        .startRevision((BigInt(seen) + 1n).toString())
        .watcher();
      const done = (err?: unknown) => {
        lost.removeEventListener('abort', onLost);
        void watcher.cancel().catch(() => undefined);
        if (err) reject(err);
        else resolve();
      };
      const onLost = () => done(lost.reason);
      lost.addEventListener('abort', onLost, { once: true });
      watcher.on('delete', () => done());
      // A watch error is retried by the client; losing the lease ends the wait anyway.
      watcher.on('error', () => undefined);
    });
  }

  async tryLock(name: string, holder: string): Promise<Lock | undefined> {
    const ns = this.#store.namespace;
    const key = `locks/${name}`;
    const lease = ns.lease(this.#ttlSeconds);
    const lost = new AbortController();
    let released = false;
    lease.on('lost', (err) => {
      if (released) return;
      this.#log?.warn({ lock: name, err: err.message }, 'lock lease lost');
      lost.abort(new Error(`lock ${name} lost: its lease could not be kept (${err.message})`));
    });
    const release = async () => {
      released = true;
      this.#cleanups.delete(release);
      await lease.revoke().catch(() => lease.release());
    };
    try {
      const id = await lease.grant();
      const r = await ns
        .if(key, 'Create', '==', 0)
        .then(
          ns
            .put(key)
            .value(JSON.stringify({ holder, at: Date.now() }))
            .lease(id),
        )
        .commit();
      if (!r.succeeded) {
        await release();
        return undefined;
      }
    } catch (e) {
      await release();
      throw e;
    }
    this.#cleanups.add(release);
    return { name, lost: lost.signal, release };
  }

  async close(): Promise<void> {
    for (const cleanup of [...this.#cleanups]) await cleanup().catch(() => undefined);
    this.#cleanups.clear();
  }
}

/** Every candidate (replicas leading or standing by), the leader first. */
export async function electionCandidates(store: EtcdStore): Promise<Candidate[]> {
  const r = await store.namespace.getAll().prefix(ELECTION).sort('Create', 'Ascend').exec();
  return r.kvs.map((kv) => JSON.parse(kv.value.toString()) as Candidate);
}
