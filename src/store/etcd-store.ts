// The shared store: Rampart's state in etcd (the `etcd3` client), for several replicas.
//
// Every key lives under the configured prefix; every value is JSON. The leadership term is
// `${prefix}term`, a JSON string of 20 digits, so that etcd's byte-wise comparison of values
// orders terms like numbers. Every fenced write is ONE transaction whose first compare is
// `value(term) < term+1` (the store has seen no newer term): a stale writer changes nothing,
// atomically, and the transaction's else branch reads the term back to say so.
//
// Keys (relative to the prefix):
//   schema                               {"version":1}: a store from a newer Rampart is refused
//   term, term-holder                    the newest term, and who took it
//   pools/<name>                         PoolState
//   nodes/<id>                           StoredNode
//   nodes-live/<id>                      the same record while not gone or failed
//   actions/<id>                         ActionRecord (by id: `finishAction`, uniqueness)
//   actions-open/<id>                    the same record while it has no outcome
//   action-log/<inv time>-<id>           the same record, newest first
//   action-log-by-pool/<pool>/<inv time>-<id>
//   decisions/<inv time>-<inv term>-<inv seq>, decisions-by-pool/<pool>/…   DecisionRecord
//   events/<…>, events-by-pool/<pool>/<…>                                  EventRecord
//   samples/<…>, samples-by-pool/<pool>/<…>                                SeriesSample
//   requests/<id>, requests-open/<id>    RequestRecord
//   pool-status/<pool>                   PoolStatus
//   failover/<pool>                      FailoverRecord
//   election/…, locks/…                  coordination (src/coordination/etcd.ts)
//
// "Newest N" queries: history keys start with an inverted, zero-padded time (9999…9 − ms),
// so a plain ascending range with a limit returns the newest records first and etcd stops
// after N keys (a descending sort would make etcd read the whole range). Copies of a record
// (by time, by pool, open) are always written together in the record's transaction.
// Decision and event ids are the etcd create revision of their key: unique and increasing.
//
// New keys are written with `create_revision == 0`, updates of records that two writers
// could touch with `mod_revision == seen`; the term itself moves by a CAS loop. A write the
// client retried after it had in fact committed is recognised (the key holds exactly what
// was to be written) and counts as done, so a retry never records anything twice.

import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  Etcd3,
  GRPCDeadlineExceededError,
  GRPCInternalError,
  type IKeyValue,
  type IOptions,
  isRecoverableError,
  type Namespace,
} from 'etcd3';
import { redactUrls } from '../core/url-secrets.ts';
import {
  listedRecords,
  STATE_FORMAT,
  STATE_VERSION,
  type StateDump,
  StoreNotEmptyError,
  writeStateRecords,
} from './state-dump.ts';
import type {
  ActionIntent,
  ActionOutcome,
  ActionRecord,
  DecisionRecord,
  EventRecord,
  FailoverRecord,
  HistoryQuery,
  PoolState,
  PoolStatus,
  PrunedHistory,
  RequestRecord,
  SeriesSample,
  Store,
  StoredNode,
} from './store.ts';
import { StaleTermError, StoreUnusableError } from './store.ts';

/** Version of the key layout above; a store written by a newer layout is refused. */
const SCHEMA_VERSION = 1;
const TIME_MAX = 999_999_999_999_999; // 15 digits of ms: beyond the year 30000, below 2^53
const TERM_MAX = 9_999_999_999;
const SEQ_MAX = 99_999_999;
/** Keys that are the store's own bookkeeping, not records: kept by clear. */
const BOOKKEEPING_KEYS: readonly string[] = ['schema', 'term', 'term-holder'];
/** Records per pruning transaction: at most 3 keys each, under etcd's default of 128 operations. */
const PRUNE_PAGE = 40;

export interface EtcdStoreOptions {
  /** Client URLs, http:// or https://. */
  readonly endpoints: readonly string[];
  /** Key prefix, e.g. /rampart/. */
  readonly prefix: string;
  /** PEM files: CA to verify the members, and a client certificate with its key. */
  readonly tls?: { ca?: string | undefined; cert?: string | undefined; key?: string | undefined } | undefined;
  readonly auth?: { username: string; passwordFile: string } | undefined;
  /** Longest wait for one etcd call, ms. */
  readonly timeoutMs: number;
}

/**
 * etcd could not be reached (every member down, or no answer in time). The endpoints are
 * shown without credentials (the message reaches logs and `rampart status`).
 */
export class EtcdUnreachableError extends Error {
  constructor(endpoints: readonly string[], cause: unknown) {
    super(
      redactUrls(
        `etcd unreachable at ${endpoints.join(', ')}: ${(cause as Error)?.message ?? String(cause)}`,
      ),
      { cause },
    );
    this.name = 'EtcdUnreachableError';
  }
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');
/** A term as stored: a JSON string of 20 digits, so byte order is numeric order. */
export const encodeTerm = (term: number) => JSON.stringify(pad(term, 20));
const decodeTerm = (value: Buffer) => Number(JSON.parse(value.toString()) as string);
const inverted = (n: number, max: number, width: number) => pad(max - Math.max(0, Math.min(max, n)), width);
const invTime = (at: number) => inverted(at, TIME_MAX, 15);
const json = (kv: IKeyValue) => JSON.parse(kv.value.toString()) as unknown;

/** The first key after every key that starts with `prefix`. */
function prefixEnd(prefix: string): Buffer {
  const b = Buffer.from(prefix);
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i]! < 0xff) {
      const end = Buffer.from(b.subarray(0, i + 1));
      end[i]! += 1;
      return end;
    }
  }
  return Buffer.from([0]);
}

type Compare = readonly [key: string, target: 'Value' | 'Create' | 'Mod', cmp: '==' | '<', value: string];
interface Write {
  readonly put?: string;
  readonly delete?: string;
  readonly value?: string;
}

export class EtcdStore implements Store {
  readonly kind = 'etcd';
  readonly options: EtcdStoreOptions;
  #client: Etcd3 | undefined;
  #ns: Namespace | undefined;
  /** Orders the decisions and events this instance writes within one millisecond. */
  #seq = 0;

  constructor(options: EtcdStoreOptions) {
    this.options = options;
  }

  /** The client, for coordination on the same cluster (one connection per process). */
  get client(): Etcd3 {
    if (!this.#client) throw new Error('etcd store is not open');
    return this.#client;
  }

  /** The namespace of the prefix: coordination keeps its keys beside the state. */
  get namespace(): Namespace {
    if (!this.#ns) throw new Error('etcd store is not open');
    return this.#ns;
  }

  async open(): Promise<void> {
    if (this.#client) return;
    const o = this.options;
    const read = (file: string, what: string) => {
      try {
        return readFileSync(file);
      } catch (e) {
        throw new Error(`etcd ${what} ${file} cannot be read: ${(e as Error).message}`);
      }
    };
    const options: IOptions = {
      hosts: [...o.endpoints],
      dialTimeout: o.timeoutMs,
      // Unary calls get the configured deadline; streams (watches, lease keep-alives) none.
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + o.timeoutMs }),
      // gRPC keep-alive pings find a dead connection (a member that vanished without closing
      // it) instead of waiting for TCP's hours; etcd refuses pings more often than every 5s.
      // Watches (a standby waiting for the leader's key to go, a leader watching the term)
      // reconnect within a second of etcd's return: the client's default backoff grows to
      // 30s, longer than a lease, and its pending timer would also hold a stopping process.
      faultHandling: { watchBackoff: watchBackoff(50, 1000) },
      grpcOptions: {
        'grpc.keepalive_time_ms': 10_000,
        'grpc.keepalive_timeout_ms': 5_000,
        'grpc.keepalive_permit_without_calls': 1,
        // Whole histories are read at once by `rampart state export`.
        'grpc.max_receive_message_length': 512 * 1024 * 1024,
      },
    };
    if (o.tls) {
      options.credentials = {
        rootCertificate:
          o.tls.ca !== undefined ? read(o.tls.ca, 'CA file') : (undefined as unknown as Buffer),
        ...(o.tls.cert !== undefined ? { certChain: read(o.tls.cert, 'certificate file') } : {}),
        ...(o.tls.key !== undefined ? { privateKey: read(o.tls.key, 'key file') } : {}),
      };
    }
    if (o.auth)
      options.auth = {
        username: o.auth.username,
        password: read(o.auth.passwordFile, 'password file').toString().trim(),
      };
    const client = new Etcd3(options);
    const ns = client.namespace(o.prefix);
    try {
      const schema = await this.#call(() =>
        ns
          .if('schema', 'Create', '==', 0)
          .then(ns.put('schema').value(JSON.stringify({ version: SCHEMA_VERSION })))
          .else(ns.get('schema'))
          .commit(),
      );
      if (!schema.succeeded) {
        const kv = schema.responses[0]?.response_range.kvs[0];
        const version = kv ? (json(kv) as { version?: number }).version : undefined;
        if (typeof version !== 'number' || version > SCHEMA_VERSION)
          throw new StoreUnusableError(
            `etcd store ${o.prefix} has schema version ${String(version)}, newer than this Rampart knows (${SCHEMA_VERSION}): upgrade Rampart`,
          );
      }
      await this.#call(() =>
        ns
          .if('term', 'Create', '==', 0)
          .then(ns.put('term').value(encodeTerm(0)))
          .commit(),
      );
    } catch (e) {
      client.close();
      throw e;
    }
    this.#client = client;
    this.#ns = ns;
  }

  async close(): Promise<void> {
    this.#client?.close();
    this.#client = undefined;
    this.#ns = undefined;
  }

  /**
   * Runs one etcd call. The client already retries recoverable errors a few times on other
   * members; on top of that, transient failures — a member stopping, a raft election, gRPC
   * INTERNAL errors (the etcd3 client's known RST_STREAM failures after long uptimes), an
   * open circuit breaker — are retried with a short backoff until the call timeout has
   * passed. Writes are safe to retry: each is a compare-guarded transaction, and one that
   * had committed is recognised (see #commit). Unreachable clusters come out as
   * EtcdUnreachableError.
   */
  async #call<T>(fn: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.options.timeoutMs;
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        const transient =
          e instanceof GRPCInternalError ||
          isUnreachable(e) ||
          /etcdserver: (leader changed|request timed out|no leader|too many requests)/.test(String(e));
        if (transient && Date.now() + 50 < deadline) {
          await sleep(Math.min(50 * 2 ** attempt, 500, Math.max(0, deadline - Date.now())));
          continue;
        }
        if (isUnreachable(e)) throw new EtcdUnreachableError(this.options.endpoints, e);
        throw e;
      }
    }
  }

  /**
   * One transaction: (when `term` is given) the term fence, then `compares`; on success the
   * writes. Returns true when it committed, or when every key it creates already holds
   * exactly the value it meant to write (an earlier attempt committed). Throws
   * StaleTermError when the fence failed.
   */
  async #commit(
    term: number | undefined,
    compares: readonly Compare[],
    writes: readonly Write[],
  ): Promise<boolean> {
    const ns = this.namespace;
    const all: Compare[] =
      term === undefined ? [...compares] : [['term', 'Value', '<', encodeTerm(term + 1)], ...compares];
    const creates = compares.filter((c) => c[1] === 'Create' && c[3] === '0').map((c) => c[0]);
    const ops = writes.map((w) =>
      w.put !== undefined ? ns.put(w.put).value(w.value ?? '') : ns.delete().key(w.delete!),
    );
    const run = async () => {
      const [first, ...rest] = all;
      if (!first) throw new Error('a store transaction needs a compare');
      let txn = ns.if(...first);
      for (const c of rest) txn = txn.and(...c);
      return txn
        .then(...ops)
        .else(ns.get('term'), ...creates.map((k) => ns.get(k)))
        .commit();
    };
    const r = await this.#call(run);
    if (r.succeeded) return true;
    const termKv = r.responses[0]?.response_range.kvs[0];
    if (!termKv)
      throw new Error(`etcd store ${this.options.prefix}: the term key is missing (was the prefix deleted?)`);
    const newest = decodeTerm(termKv.value);
    if (term !== undefined && newest > term) throw new StaleTermError(term, newest);
    if (creates.length === 0) return false;
    return creates.every((key, i) => {
      const kv = r.responses[i + 1]?.response_range.kvs[0];
      const intended = writes.find((w) => w.put === key)?.value;
      return kv !== undefined && kv.value.toString() === intended;
    });
  }

  async #get(key: string): Promise<IKeyValue | undefined> {
    const r = await this.#call(() => this.namespace.get(key).exec());
    return r.kvs[0];
  }

  async #list(
    prefix: string,
    opts: { start?: string; end?: string; limit?: number } = {},
  ): Promise<IKeyValue[]> {
    const r = await this.#call(() => {
      const b = this.namespace.getAll().inRange({
        start: opts.start ?? prefix,
        end: opts.end ?? prefixEnd(prefix),
      });
      if (opts.limit !== undefined) b.limit(opts.limit);
      return b.exec();
    });
    return r.kvs;
  }

  async #fencedPut(term: number, key: string, value: unknown): Promise<void> {
    await this.#commit(term, [], [{ put: key, value: JSON.stringify(value) }]);
  }

  // ---- terms -------------------------------------------------------------------------------

  async newTerm(holder: string, atLeast = 0): Promise<number> {
    return this.#takeTerm(holder, undefined, atLeast);
  }

  /**
   * A new term, taken only while `key` (an election key) still exists with the given create
   * revision: a candidate whose election key expired can never take a term after its
   * successor did.
   */
  async newTermWhile(holder: string, key: string, createRevision: string): Promise<number> {
    return this.#takeTerm(holder, { key, createRevision });
  }

  async #takeTerm(
    holder: string,
    cond: { key: string; createRevision: string } | undefined,
    atLeast = 0,
  ): Promise<number> {
    const ns = this.namespace;
    for (;;) {
      const kv = await this.#get('term');
      if (!kv) throw new Error(`etcd store ${this.options.prefix}: the term key is missing`);
      const next = Math.max(decodeTerm(kv.value) + 1, atLeast);
      let txn = ns.if('term', 'Mod', '==', kv.mod_revision);
      if (cond) txn = txn.and(cond.key, 'Create', '==', cond.createRevision);
      const r = await this.#call(() =>
        txn
          .then(
            ns.put('term').value(encodeTerm(next)),
            ns.put('term-holder').value(JSON.stringify({ holder, term: next, at: Date.now() })),
          )
          .else(...(cond ? [ns.get(cond.key)] : []))
          .commit(),
      );
      if (r.succeeded) return next;
      if (cond) {
        const own = r.responses[0]?.response_range.kvs[0];
        if (!own || own.create_revision !== cond.createRevision)
          throw new Error(`${holder} no longer holds the election: no term taken`);
      }
      // Another writer moved the term first: read it again and retry.
    }
  }

  async currentTerm(): Promise<number> {
    const kv = await this.#get('term');
    return kv ? decodeTerm(kv.value) : 0;
  }

  /** Who took the newest term, and when. */
  async termHolder(): Promise<{ holder: string; term: number; at: number } | undefined> {
    const kv = await this.#get('term-holder');
    return kv ? (json(kv) as { holder: string; term: number; at: number }) : undefined;
  }

  // ---- pools and nodes ---------------------------------------------------------------------

  async getPool(name: string): Promise<PoolState | undefined> {
    const kv = await this.#get(`pools/${name}`);
    return kv ? (json(kv) as PoolState) : undefined;
  }

  async putPool(state: PoolState, term: number): Promise<void> {
    await this.#fencedPut(term, `pools/${state.name}`, state);
  }

  async listNodes(
    opts: { pool?: string | undefined; all?: boolean | undefined } = {},
  ): Promise<StoredNode[]> {
    // Gone and failed records pile up over a fleet's life; every tick reads only live ones.
    return (await this.#list(opts.all ? 'nodes/' : 'nodes-live/'))
      .map((kv) => json(kv) as StoredNode)
      .filter((n) => opts.pool === undefined || n.pool === opts.pool);
  }

  async getNode(id: string): Promise<StoredNode | undefined> {
    const kv = await this.#get(`nodes/${id}`);
    return kv ? (json(kv) as StoredNode) : undefined;
  }

  async putNode(node: StoredNode, term: number): Promise<void> {
    const value = JSON.stringify(node);
    const live = node.state !== 'gone' && node.state !== 'failed';
    await this.#commit(
      term,
      [],
      [
        { put: `nodes/${node.id}`, value },
        live ? { put: `nodes-live/${node.id}`, value } : { delete: `nodes-live/${node.id}` },
      ],
    );
  }

  // ---- actions -----------------------------------------------------------------------------

  #actionWrites(a: ActionRecord, open: boolean): Write[] {
    const value = JSON.stringify(a);
    const suffix = `${invTime(a.startedAt)}-${a.id}`;
    return [
      { put: `actions/${a.id}`, value },
      open ? { put: `actions-open/${a.id}`, value } : { delete: `actions-open/${a.id}` },
      { put: `action-log/${suffix}`, value },
      { put: `action-log-by-pool/${a.pool}/${suffix}`, value },
    ];
  }

  async beginAction(intent: ActionIntent): Promise<void> {
    const record: ActionRecord = { ...intent };
    const ok = await this.#commit(
      intent.term,
      [[`actions/${intent.id}`, 'Create', '==', '0']],
      this.#actionWrites(record, true),
    );
    if (!ok) throw new Error(`action ${intent.id} is already recorded`);
  }

  async finishAction(
    id: string,
    outcome: ActionOutcome,
    detail: string | undefined,
    term: number,
    at: number,
  ): Promise<void> {
    for (;;) {
      const kv = await this.#get(`actions/${id}`);
      const a = kv ? (json(kv) as ActionRecord) : undefined;
      if (!kv || !a) throw new Error(`action ${id} has no open intent to finish`);
      if (a.outcome !== undefined) {
        // A retried call whose first attempt committed finds its own outcome: done.
        if (a.outcome === outcome && a.outcomeAt === at && a.outcomeDetail === detail) return;
        throw new Error(`action ${id} has no open intent to finish`);
      }
      const done: ActionRecord = { ...a, outcome, outcomeAt: at, outcomeDetail: detail };
      if (
        await this.#commit(
          term,
          [[`actions/${id}`, 'Mod', '==', kv.mod_revision]],
          this.#actionWrites(done, false),
        )
      )
        return;
    }
  }

  async openActions(): Promise<ActionRecord[]> {
    return (await this.#list('actions-open/'))
      .map((kv) => json(kv) as ActionRecord)
      .sort((x, y) => x.startedAt - y.startedAt || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
  }

  async getAction(id: string): Promise<ActionRecord | undefined> {
    const kv = await this.#get(`actions/${id}`);
    return kv ? (json(kv) as ActionRecord) : undefined;
  }

  async listActions(q: HistoryQuery = {}): Promise<ActionRecord[]> {
    return (await this.#history('action-log', q)).map((kv) => json(kv) as ActionRecord);
  }

  // ---- decisions and events ----------------------------------------------------------------

  /** Appends a history record under a new key (and its pool's copy) in one fenced transaction. */
  async #append(
    kind: 'decisions' | 'events' | 'samples',
    at: number,
    term: number,
    pool: string | undefined,
    record: object,
  ) {
    const value = JSON.stringify(record);
    for (let tries = 0; ; tries++) {
      this.#seq = (this.#seq + 1) % SEQ_MAX;
      const suffix = `${invTime(at)}-${inverted(term, TERM_MAX, 10)}-${inverted(this.#seq, SEQ_MAX, 8)}`;
      const keys = [
        `${kind}/${suffix}`,
        ...(pool !== undefined ? [`${kind}-by-pool/${pool}/${suffix}`] : []),
      ];
      const ok = await this.#commit(
        term,
        keys.map((k) => [k, 'Create', '==', '0'] as const),
        keys.map((k) => ({ put: k, value })),
      );
      if (ok) return;
      if (tries > 100) throw new Error(`could not find a free key for a ${kind} record`);
    }
  }

  async recordDecision(d: DecisionRecord): Promise<void> {
    const { id: _ignored, ...body } = d;
    await this.#append('decisions', d.at, d.term, d.pool, body);
  }

  async listDecisions(q: HistoryQuery = {}): Promise<DecisionRecord[]> {
    return (await this.#history('decisions', q)).map((kv) => ({
      ...(json(kv) as DecisionRecord),
      id: Number(kv.create_revision),
    }));
  }

  async recordEvent(e: EventRecord, term: number): Promise<void> {
    const { id: _ignored, ...body } = e;
    await this.#append('events', e.at, term, e.pool, body);
  }

  async listEvents(q: HistoryQuery = {}): Promise<EventRecord[]> {
    return (await this.#history('events', q)).map((kv) => ({
      ...(json(kv) as EventRecord),
      id: Number(kv.create_revision),
    }));
  }

  async recordSample(s: SeriesSample): Promise<void> {
    await this.#append('samples', s.at, s.term, s.pool, s);
  }

  async listSamples(q: HistoryQuery = {}): Promise<SeriesSample[]> {
    return (await this.#history('samples', q)).map((kv) => json(kv) as SeriesSample);
  }

  /**
   * The newest `limit` records of a history (of one pool, at or after `since`, at or before
   * `until`), returned oldest first. Keys start with the inverted time, so this is one
   * ascending range read of at most `limit` keys; records of the same millisecond keep their
   * write order.
   */
  async #history(
    base: 'action-log' | 'decisions' | 'events' | 'samples',
    q: HistoryQuery,
  ): Promise<IKeyValue[]> {
    const prefix = q.pool !== undefined ? `${base}-by-pool/${q.pool}/` : `${base}/`;
    // at ≥ since ⇔ inverted(at) ≤ inverted(since) ⇔ key < prefix + inverted(since − 1).
    const end =
      q.since !== undefined && q.since > 0 ? `${prefix}${inverted(q.since - 1, TIME_MAX, 15)}` : undefined;
    // at ≤ until ⇔ inverted(at) ≥ inverted(until) ⇔ key ≥ prefix + inverted(until).
    const start = q.until !== undefined ? `${prefix}${invTime(q.until)}` : undefined;
    const kvs = await this.#list(prefix, {
      limit: q.limit ?? 1000,
      ...(end !== undefined ? { end } : {}),
      ...(start !== undefined ? { start } : {}),
    });
    const timeOf = (kv: IKeyValue) =>
      TIME_MAX - Number(kv.key.toString().slice(prefix.length, prefix.length + 15));
    return kvs
      .reverse()
      .sort((x, y) => timeOf(x) - timeOf(y) || Number(BigInt(x.create_revision) - BigInt(y.create_revision)));
  }

  // ---- pruning -----------------------------------------------------------------------------

  async pruneHistory(before: number, term: number): Promise<PrunedHistory> {
    // Records before `before` ⇔ at ≤ before − 1 ⇔ key ≥ base/ + inverted(before − 1): the
    // tail of each time-ordered range. Actions are logged by start: those that started
    // before the cutoff are read, and only those that also ended before it go.
    const olderThanCutoff = (base: string) => `${base}/${invTime(before - 1)}`;
    const copiesOf = (base: string, kv: IKeyValue, pool: string | undefined) => {
      const suffix = kv.key.toString().slice(base.length + 1);
      return [`${base}/${suffix}`, ...(pool !== undefined ? [`${base}-by-pool/${pool}/${suffix}`] : [])];
    };
    const history = (base: 'decisions' | 'events' | 'samples') =>
      this.#pruneRange(`${base}/`, olderThanCutoff(base), term, (kv) =>
        copiesOf(base, kv, (json(kv) as { pool?: string }).pool),
      );
    const ended = (r: { outcome?: unknown; outcomeAt?: number | undefined }) =>
      r.outcome !== undefined && (r.outcomeAt ?? 0) < before;
    return {
      decisions: await history('decisions'),
      events: await history('events'),
      samples: await history('samples'),
      actions: await this.#pruneRange('action-log/', olderThanCutoff('action-log'), term, (kv) => {
        const a = json(kv) as ActionRecord;
        return ended(a) ? [...copiesOf('action-log', kv, a.pool), `actions/${a.id}`] : undefined;
      }),
      requests: await this.#pruneRange('requests/', 'requests/', term, (kv) => {
        const r = json(kv) as RequestRecord;
        return ended(r) ? [`requests/${r.id}`] : undefined;
      }),
    };
  }

  /**
   * Deletes, page by page in fenced transactions, the records of `prefix` from `start` on
   * that `keysOf` names (with every copy of each); returns how many records went.
   */
  async #pruneRange(
    prefix: string,
    start: string,
    term: number,
    keysOf: (kv: IKeyValue) => string[] | undefined,
  ): Promise<number> {
    let removed = 0;
    for (let from = start; ; ) {
      const page = await this.#list(prefix, { start: from, limit: PRUNE_PAGE });
      const doomed = page.map(keysOf).filter((keys) => keys !== undefined);
      if (doomed.length > 0)
        await this.#commit(
          term,
          [],
          doomed.flat().map((k) => ({ delete: k })),
        );
      removed += doomed.length;
      if (page.length < PRUNE_PAGE) return removed;
      from = `${page.at(-1)!.key.toString()}\0`;
    }
  }

  // ---- pool status -------------------------------------------------------------------------

  async putPoolStatus(s: PoolStatus): Promise<void> {
    await this.#fencedPut(s.term, `pool-status/${s.pool}`, s);
  }

  async listPoolStatus(): Promise<PoolStatus[]> {
    return (await this.#list('pool-status/')).map((kv) => json(kv) as PoolStatus);
  }

  // ---- failover ----------------------------------------------------------------------------

  async getFailover(pool: string): Promise<FailoverRecord | undefined> {
    const kv = await this.#get(`failover/${pool}`);
    return kv ? (json(kv) as FailoverRecord) : undefined;
  }

  async putFailover(r: FailoverRecord): Promise<void> {
    await this.#fencedPut(r.term, `failover/${r.pool}`, r);
  }

  async listFailover(): Promise<FailoverRecord[]> {
    return (await this.#list('failover/')).map((kv) => json(kv) as FailoverRecord);
  }

  // ---- requests ----------------------------------------------------------------------------

  async addRequest(r: RequestRecord): Promise<void> {
    const value = JSON.stringify(r);
    const ok = await this.#commit(
      undefined,
      [[`requests/${r.id}`, 'Create', '==', '0']],
      [
        { put: `requests/${r.id}`, value },
        { put: `requests-open/${r.id}`, value },
      ],
    );
    if (!ok) throw new Error(`request ${r.id} is already queued`);
  }

  async openRequests(): Promise<RequestRecord[]> {
    return (await this.#list('requests-open/'))
      .map((kv) => json(kv) as RequestRecord)
      .sort((x, y) => x.at - y.at || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
  }

  async getRequest(id: string): Promise<RequestRecord | undefined> {
    const kv = await this.#get(`requests/${id}`);
    return kv ? (json(kv) as RequestRecord) : undefined;
  }

  async finishRequest(
    id: string,
    outcome: 'done' | 'failed',
    detail: string,
    term: number,
    at: number,
  ): Promise<void> {
    for (;;) {
      const kv = await this.#get(`requests/${id}`);
      const r = kv ? (json(kv) as RequestRecord) : undefined;
      if (!kv || !r) throw new Error(`request ${id} is not open`);
      if (r.outcome !== undefined) {
        if (r.outcome === outcome && r.outcomeAt === at && r.detail === detail) return;
        throw new Error(`request ${id} is not open`);
      }
      const done: RequestRecord = { ...r, outcome, outcomeAt: at, detail };
      const ok = await this.#commit(
        term,
        [[`requests/${id}`, 'Mod', '==', kv.mod_revision]],
        [{ put: `requests/${id}`, value: JSON.stringify(done) }, { delete: `requests-open/${id}` }],
      );
      if (ok) return;
    }
  }

  // ---- whole-store access for `rampart state export|import` -------------------------------

  async exportState(): Promise<StateDump> {
    const requests = (await this.#list('requests/'))
      .map((kv) => json(kv) as RequestRecord)
      .sort((x, y) => x.at - y.at || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
    return {
      format: STATE_FORMAT,
      version: STATE_VERSION,
      exportedAt: Date.now(),
      from: this.kind,
      term: await this.currentTerm(),
      termHolder: (await this.termHolder())?.holder,
      pools: (await this.#list('pools/')).map((kv) => json(kv) as PoolState),
      requests,
      ...(await listedRecords(this)),
    };
  }

  /**
   * Not one transaction (etcd limits a transaction's operations): a failed import leaves part
   * of the dump written; running it again with force starts over.
   */
  async importState(dump: StateDump, options: { readonly force: boolean }): Promise<void> {
    if (!(await this.isEmpty()) || (await this.currentTerm()) !== 0) {
      if (!options.force) throw new StoreNotEmptyError(`etcd store ${this.options.prefix}`);
      await this.clear();
      // The dump's records go in under their own terms, older than this store's perhaps.
      await this.#call(() =>
        this.namespace
          .if('term', 'Create', '>', 0)
          .then(this.namespace.put('term').value(encodeTerm(0)), this.namespace.delete().key('term-holder'))
          .commit(),
      );
    }
    await writeStateRecords(this, dump);
    await this.#restoreTerm(dump.term, dump.termHolder ?? 'rampart state import');
  }

  /** True when nothing but the bookkeeping keys (schema, term, its holder) is under the prefix. */
  async isEmpty(): Promise<boolean> {
    const keys = await this.#call(() =>
      this.namespace
        .getAll()
        .limit(BOOKKEEPING_KEYS.length + 1)
        .keys(),
    );
    return keys.every((k) => BOOKKEEPING_KEYS.includes(k));
  }

  /**
   * Deletes every key under the prefix, whatever wrote it, but the bookkeeping keys: in one
   * transaction, so no reader or writer ever meets a store without its term.
   */
  async clear(): Promise<void> {
    const ns = this.namespace;
    // The gaps between the bookkeeping keys, in etcd's byte order; [0] ends the prefix's range.
    const bounds = [...BOOKKEEPING_KEYS].sort();
    const ranges = [
      { start: '', end: bounds[0]! },
      ...bounds.map((key, i) => ({ start: `${key}\0`, end: bounds[i + 1] ?? Buffer.from([0]) })),
    ];
    const r = await this.#call(() =>
      ns
        .if('term', 'Create', '>', 0)
        .then(...ranges.map((range) => ns.delete().inRange(range)))
        .commit(),
    );
    if (!r.succeeded)
      throw new Error(`etcd store ${this.options.prefix}: the term key is missing (was the prefix deleted?)`);
  }

  /**
   * Sets the term to exactly `term` (import only: the importer holds no leadership and
   * no controller may run). Refused if the store already saw a newer term.
   */
  async #restoreTerm(term: number, holder: string): Promise<void> {
    const kv = await this.#get('term');
    const current = kv ? decodeTerm(kv.value) : 0;
    if (current > term) throw new StaleTermError(term, current);
    await this.#commit(
      undefined,
      [['term', 'Mod', '==', kv?.mod_revision ?? '0']],
      [
        { put: 'term', value: encodeTerm(term) },
        { put: 'term-holder', value: JSON.stringify({ holder, term, at: Date.now() }) },
      ],
    );
  }
}

/** Doubling delays from `initialMs` up to `maxMs`, as the client's watch manager wants them. */
function watchBackoff(
  initialMs: number,
  maxMs: number,
): { duration: number; next(): ReturnType<typeof watchBackoff> } {
  return { duration: initialMs, next: () => watchBackoff(Math.min(maxMs, initialMs * 2), maxMs) };
}

/** Errors that mean "no member answered": the cluster is down or out of reach. */
export function isUnreachable(e: unknown): boolean {
  if (e instanceof EtcdUnreachableError) return true;
  if (!(e instanceof Error)) return false;
  return (
    isRecoverableError(e) ||
    e instanceof GRPCDeadlineExceededError ||
    e.name === 'BrokenCircuitError' ||
    /UNAVAILABLE|DEADLINE_EXCEEDED|ECONNREFUSED|No connection established|Deadline exceeded|circuit breaker is open/i.test(
      e.message,
    ) ||
    (e.cause !== undefined && e.cause !== e && isUnreachable(e.cause))
  );
}
