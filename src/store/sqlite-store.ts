// The embedded store: one SQLite file through Node's built-in node:sqlite, with numbered
// migrations. WAL mode lets `rampart status` read while the controller writes; a writer that
// finds another one's transaction waits for it (the busy timeout) instead of failing.

import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync, type SQLInputValue } from 'node:sqlite';
import {
  ALL_RECORDS,
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

/**
 * Longest a statement waits for another connection's write transaction (a controller's tick,
 * a command's request) before failing with "database is locked", in ms. Set on every
 * connection before its first statement.
 */
export const BUSY_TIMEOUT_MS = 5000;

/** SQLite's result codes for a file that is not (or no longer) a database. */
const SQLITE_CORRUPT = 11;
const SQLITE_NOTADB = 26;
const SQLITE_CANTOPEN = 14;

/** Tables that are not state: the schema's own bookkeeping, kept by an import. */
const BOOKKEEPING_TABLES = ['schema_migrations', 'meta'];

/** Each entry moves the schema one version up; never edit one that has shipped. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   CREATE TABLE pools (name TEXT PRIMARY KEY, body TEXT NOT NULL);
   CREATE TABLE nodes (id TEXT PRIMARY KEY, pool TEXT NOT NULL, state TEXT NOT NULL, body TEXT NOT NULL);
   CREATE INDEX nodes_pool ON nodes (pool, state);
   CREATE TABLE actions (
     id TEXT PRIMARY KEY, term INTEGER NOT NULL, pool TEXT NOT NULL, kind TEXT NOT NULL, node_id TEXT,
     cause TEXT NOT NULL, caller TEXT NOT NULL, started_at INTEGER NOT NULL, detail TEXT,
     outcome TEXT, outcome_at INTEGER, outcome_detail TEXT);
   CREATE INDEX actions_open ON actions (outcome) WHERE outcome IS NULL;
   CREATE INDEX actions_pool ON actions (pool, started_at);
   CREATE TABLE decisions (
     id INTEGER PRIMARY KEY AUTOINCREMENT, pool TEXT NOT NULL, at INTEGER NOT NULL, term INTEGER NOT NULL,
     decision TEXT NOT NULL, ready INTEGER NOT NULL, live INTEGER NOT NULL, desired INTEGER NOT NULL,
     reasons TEXT NOT NULL, actions TEXT NOT NULL);
   CREATE INDEX decisions_pool ON decisions (pool, at);
   CREATE TABLE events (
     id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, pool TEXT, node TEXT,
     severity TEXT NOT NULL, text TEXT NOT NULL);
   CREATE TABLE pool_status (pool TEXT PRIMARY KEY, at INTEGER NOT NULL, term INTEGER NOT NULL, body TEXT NOT NULL);
   INSERT INTO meta (key, value) VALUES ('term', '0');`,
  `CREATE TABLE requests (
     id TEXT PRIMARY KEY, at INTEGER NOT NULL, kind TEXT NOT NULL, body TEXT NOT NULL, caller TEXT NOT NULL,
     outcome TEXT, outcome_at INTEGER, detail TEXT);
   CREATE INDEX requests_open ON requests (outcome) WHERE outcome IS NULL;`,
  'CREATE TABLE failover (pool TEXT PRIMARY KEY, at INTEGER NOT NULL, term INTEGER NOT NULL, body TEXT NOT NULL);',
  // History is pruned by age (pruneHistory), and read newest first.
  'CREATE INDEX decisions_at ON decisions (at); CREATE INDEX events_at ON events (at);',
  // The dashboard's series over time, read by pool and range, pruned by age.
  `CREATE TABLE samples (pool TEXT NOT NULL, at INTEGER NOT NULL, term INTEGER NOT NULL, body TEXT NOT NULL);
   CREATE INDEX samples_pool ON samples (pool, at); CREATE INDEX samples_at ON samples (at);`,
];

export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  readonly file: string;
  #db: DatabaseSync | undefined;
  /** An import is writing, in the one transaction it holds. */
  #importing = false;

  constructor(file: string) {
    this.file = file;
  }

  get db(): DatabaseSync {
    if (!this.#db) throw new Error(`store ${this.file} is not open`);
    return this.#db;
  }

  /**
   * Opens the file, creating or migrating the schema. A file that is not a database — random
   * bytes, a truncated copy — is refused (StoreUnusableError naming it) before anything is
   * written to it: Rampart never overwrites, repairs or deletes it.
   */
  async open(): Promise<void> {
    if (this.file !== ':memory:') mkdirSync(path.dirname(this.file), { recursive: true });
    let db: DatabaseSync;
    try {
      db = new DatabaseSync(this.file, { timeout: BUSY_TIMEOUT_MS });
    } catch (e) {
      throw this.#unusable(e);
    }
    try {
      db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;');
      this.#migrate(db);
    } catch (e) {
      db.close();
      throw this.#unusable(e);
    }
    this.#db = db;
  }

  /** A damaged or unopenable file as StoreUnusableError; any other error as it is. */
  #unusable(e: unknown): unknown {
    const code = (e as { errcode?: number }).errcode;
    const detail = (e as Error).message;
    if (code === SQLITE_NOTADB || code === SQLITE_CORRUPT)
      return new StoreUnusableError(
        `store ${this.file}: file is not a database (SQLite: ${detail}); Rampart left it as it is: move it aside and restore the state (rampart state import), or set controller.store.path to another file`,
        { cause: e },
      );
    if (code === SQLITE_CANTOPEN)
      return new StoreUnusableError(`store ${this.file}: cannot be opened (SQLite: ${detail})`, { cause: e });
    return e;
  }

  #migrate(db: DatabaseSync): void {
    db.exec(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)',
    );
    const row = db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null };
    const have = row.v ?? 0;
    if (have > MIGRATIONS.length)
      throw new StoreUnusableError(
        `store ${this.file} has schema version ${have}, newer than this Rampart knows (${MIGRATIONS.length}): upgrade Rampart`,
      );
    for (let v = have + 1; v <= MIGRATIONS.length; v++) {
      db.exec('BEGIN IMMEDIATE');
      try {
        db.exec(MIGRATIONS[v - 1]!);
        db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(v, Date.now());
        db.exec('COMMIT');
      } catch (e) {
        db.exec('ROLLBACK');
        throw new Error(`store ${this.file}: migration ${v} failed: ${(e as Error).message}`, { cause: e });
      }
    }
  }

  async close(): Promise<void> {
    this.#db?.close();
    this.#db = undefined;
  }

  /**
   * Runs `write` in one transaction after checking the term is not stale. Inside an import
   * (which holds one transaction for all of it) it runs as part of that one.
   */
  #fenced<T>(term: number, write: () => T): T {
    const db = this.db;
    if (this.#importing) {
      const newest = this.#term();
      if (term < newest) throw new StaleTermError(term, newest);
      return write();
    }
    db.exec('BEGIN IMMEDIATE');
    try {
      const newest = this.#term();
      if (term < newest) throw new StaleTermError(term, newest);
      const result = write();
      db.exec('COMMIT');
      return result;
    } catch (e) {
      db.exec('ROLLBACK');
      throw e;
    }
  }

  #term(): number {
    const row = this.db.prepare("SELECT value FROM meta WHERE key = 'term'").get() as { value: string };
    return Number(row.value);
  }

  async newTerm(holder: string, atLeast = 0): Promise<number> {
    const db = this.db;
    db.exec('BEGIN IMMEDIATE');
    try {
      const term = Math.max(this.#term() + 1, atLeast);
      db.prepare("UPDATE meta SET value = ? WHERE key = 'term'").run(String(term));
      db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('term_holder', ?)").run(holder);
      db.exec('COMMIT');
      return term;
    } catch (e) {
      db.exec('ROLLBACK');
      throw e;
    }
  }

  async currentTerm(): Promise<number> {
    return this.#term();
  }

  async getPool(name: string): Promise<PoolState | undefined> {
    const row = this.db.prepare('SELECT body FROM pools WHERE name = ?').get(name) as
      | { body: string }
      | undefined;
    return row ? (JSON.parse(row.body) as PoolState) : undefined;
  }

  async putPool(state: PoolState, term: number): Promise<void> {
    this.#fenced(term, () =>
      this.db
        .prepare('INSERT OR REPLACE INTO pools (name, body) VALUES (?, ?)')
        .run(state.name, JSON.stringify(state)),
    );
  }

  async listNodes(
    opts: { pool?: string | undefined; all?: boolean | undefined } = {},
  ): Promise<StoredNode[]> {
    const where: string[] = [];
    const params: SQLInputValue[] = [];
    if (opts.pool !== undefined) {
      where.push('pool = ?');
      params.push(opts.pool);
    }
    if (!opts.all) where.push("state NOT IN ('gone', 'failed')");
    const sql = `SELECT body FROM nodes${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id`;
    return (this.db.prepare(sql).all(...params) as { body: string }[]).map(
      (r) => JSON.parse(r.body) as StoredNode,
    );
  }

  async getNode(id: string): Promise<StoredNode | undefined> {
    const row = this.db.prepare('SELECT body FROM nodes WHERE id = ?').get(id) as
      | { body: string }
      | undefined;
    return row ? (JSON.parse(row.body) as StoredNode) : undefined;
  }

  async putNode(node: StoredNode, term: number): Promise<void> {
    this.#fenced(term, () =>
      this.db
        .prepare('INSERT OR REPLACE INTO nodes (id, pool, state, body) VALUES (?, ?, ?, ?)')
        .run(node.id, node.pool, node.state, JSON.stringify(node)),
    );
  }

  async beginAction(a: ActionIntent): Promise<void> {
    this.#fenced(a.term, () =>
      this.db
        .prepare(
          'INSERT INTO actions (id, term, pool, kind, node_id, cause, caller, started_at, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
        )
        .run(
          a.id,
          a.term,
          a.pool,
          a.kind,
          a.nodeId ?? null,
          a.cause,
          a.caller,
          a.startedAt,
          a.detail ? JSON.stringify(a.detail) : null,
        ),
    );
  }

  async finishAction(
    id: string,
    outcome: ActionOutcome,
    detail: string | undefined,
    term: number,
    at: number,
  ): Promise<void> {
    this.#fenced(term, () => {
      const r = this.db
        .prepare(
          'UPDATE actions SET outcome = ?, outcome_at = ?, outcome_detail = ? WHERE id = ? AND outcome IS NULL',
        )
        .run(outcome, at, detail ?? null, id);
      if (Number(r.changes) !== 1) throw new Error(`action ${id} has no open intent to finish`);
    });
  }

  async openActions(): Promise<ActionRecord[]> {
    return (
      this.db
        .prepare('SELECT * FROM actions WHERE outcome IS NULL ORDER BY started_at, id')
        .all() as unknown as ActionRow[]
    ).map(actionFromRow);
  }

  async getAction(id: string): Promise<ActionRecord | undefined> {
    const row = this.db.prepare('SELECT * FROM actions WHERE id = ?').get(id) as ActionRow | undefined;
    return row ? actionFromRow(row) : undefined;
  }

  async listActions(q: HistoryQuery = {}): Promise<ActionRecord[]> {
    const { sql, params } = history('actions', 'started_at', q);
    return (this.db.prepare(sql).all(...params) as unknown as ActionRow[]).map(actionFromRow);
  }

  async recordDecision(d: DecisionRecord): Promise<void> {
    this.#fenced(d.term, () =>
      this.db
        .prepare(
          'INSERT INTO decisions (pool, at, term, decision, ready, live, desired, reasons, actions) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
        )
        .run(
          d.pool,
          d.at,
          d.term,
          d.decision,
          d.ready,
          d.live,
          d.desired,
          JSON.stringify(d.reasons),
          JSON.stringify(d.actions),
        ),
    );
  }

  async listDecisions(q: HistoryQuery = {}): Promise<DecisionRecord[]> {
    const { sql, params } = history('decisions', 'at', q);
    return (this.db.prepare(sql).all(...params) as unknown as DecisionRow[]).map((r) => ({
      id: r.id,
      pool: r.pool,
      at: r.at,
      term: r.term,
      decision: r.decision,
      ready: r.ready,
      live: r.live,
      desired: r.desired,
      reasons: JSON.parse(r.reasons),
      actions: JSON.parse(r.actions),
    }));
  }

  async recordEvent(e: EventRecord, term: number): Promise<void> {
    this.#fenced(term, () =>
      this.db
        .prepare('INSERT INTO events (at, pool, node, severity, text) VALUES (?, ?, ?, ?, ?)')
        .run(e.at, e.pool ?? null, e.node ?? null, e.severity, e.text),
    );
  }

  async listEvents(q: HistoryQuery = {}): Promise<EventRecord[]> {
    const { sql, params } = history('events', 'at', q);
    return (
      this.db.prepare(sql).all(...params) as unknown as (EventRecord & {
        pool: string | null;
        node: string | null;
      })[]
    ).map((r) => ({
      id: r.id,
      at: r.at,
      pool: r.pool ?? undefined,
      node: r.node ?? undefined,
      severity: r.severity,
      text: r.text,
    }));
  }

  async pruneHistory(before: number, term: number): Promise<PrunedHistory> {
    return this.#fenced(term, () => {
      const removed = (sql: string) => Number(this.db.prepare(sql).run(before).changes);
      return {
        actions: removed('DELETE FROM actions WHERE outcome IS NOT NULL AND outcome_at < ?'),
        decisions: removed('DELETE FROM decisions WHERE at < ?'),
        events: removed('DELETE FROM events WHERE at < ?'),
        requests: removed('DELETE FROM requests WHERE outcome IS NOT NULL AND outcome_at < ?'),
        samples: removed('DELETE FROM samples WHERE at < ?'),
      };
    });
  }

  async addRequest(r: RequestRecord): Promise<void> {
    this.db
      .prepare('INSERT INTO requests (id, at, kind, body, caller) VALUES (?, ?, ?, ?, ?)')
      .run(r.id, r.at, r.kind, JSON.stringify(r.body), r.caller);
  }

  async openRequests(): Promise<RequestRecord[]> {
    return (
      this.db
        .prepare('SELECT * FROM requests WHERE outcome IS NULL ORDER BY at, id')
        .all() as unknown as RequestRow[]
    ).map(requestFromRow);
  }

  async getRequest(id: string): Promise<RequestRecord | undefined> {
    const row = this.db.prepare('SELECT * FROM requests WHERE id = ?').get(id) as unknown as
      | RequestRow
      | undefined;
    return row ? requestFromRow(row) : undefined;
  }

  async finishRequest(
    id: string,
    outcome: 'done' | 'failed',
    detail: string,
    term: number,
    at: number,
  ): Promise<void> {
    this.#fenced(term, () => {
      const r = this.db
        .prepare(
          'UPDATE requests SET outcome = ?, outcome_at = ?, detail = ? WHERE id = ? AND outcome IS NULL',
        )
        .run(outcome, at, detail, id);
      if (Number(r.changes) !== 1) throw new Error(`request ${id} is not open`);
    });
  }

  async recordSample(s: SeriesSample): Promise<void> {
    this.#fenced(s.term, () =>
      this.db
        .prepare('INSERT INTO samples (pool, at, term, body) VALUES (?, ?, ?, ?)')
        .run(s.pool, s.at, s.term, JSON.stringify(s.body)),
    );
  }

  async listSamples(q: HistoryQuery = {}): Promise<SeriesSample[]> {
    const { sql, params } = history('samples', 'at', q);
    return (
      this.db.prepare(sql).all(...params) as unknown as {
        pool: string;
        at: number;
        term: number;
        body: string;
      }[]
    ).map((r) => ({ pool: r.pool, at: r.at, term: r.term, body: JSON.parse(r.body) }));
  }

  async putPoolStatus(s: PoolStatus): Promise<void> {
    this.#fenced(s.term, () =>
      this.db
        .prepare('INSERT OR REPLACE INTO pool_status (pool, at, term, body) VALUES (?, ?, ?, ?)')
        .run(s.pool, s.at, s.term, JSON.stringify(s.body)),
    );
  }

  async getFailover(pool: string): Promise<FailoverRecord | undefined> {
    const row = this.db.prepare('SELECT * FROM failover WHERE pool = ?').get(pool) as
      | { pool: string; at: number; term: number; body: string }
      | undefined;
    return row && { pool: row.pool, at: row.at, term: row.term, body: JSON.parse(row.body) };
  }

  async putFailover(r: FailoverRecord): Promise<void> {
    this.#fenced(r.term, () =>
      this.db
        .prepare('INSERT OR REPLACE INTO failover (pool, at, term, body) VALUES (?, ?, ?, ?)')
        .run(r.pool, r.at, r.term, JSON.stringify(r.body)),
    );
  }

  async listFailover(): Promise<FailoverRecord[]> {
    return (
      this.db.prepare('SELECT * FROM failover ORDER BY pool').all() as unknown as {
        pool: string;
        at: number;
        term: number;
        body: string;
      }[]
    ).map((r) => ({ pool: r.pool, at: r.at, term: r.term, body: JSON.parse(r.body) }));
  }

  async listPoolStatus(): Promise<PoolStatus[]> {
    return (
      this.db.prepare('SELECT * FROM pool_status ORDER BY pool').all() as unknown as {
        pool: string;
        at: number;
        term: number;
        body: string;
      }[]
    ).map((r) => ({ pool: r.pool, at: r.at, term: r.term, body: JSON.parse(r.body) }));
  }

  // ---- whole-store access for `rampart state export|import` -------------------------------

  /** The tables holding state: every table but the schema's bookkeeping, read from the schema itself. */
  #stateTables(): string[] {
    return (
      this.db
        .prepare(
          "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .all() as { name: string }[]
    )
      .map((r) => r.name)
      .filter((name) => !BOOKKEEPING_TABLES.includes(name));
  }

  /** Any row in any state table. */
  #holdsRows(): boolean {
    return this.#stateTables().some(
      (table) => this.db.prepare(`SELECT EXISTS (SELECT 1 FROM "${table}") AS held`).get()?.held === 1,
    );
  }

  /**
   * Empties every state table. The term and its holder (meta) stay, and so do the row id
   * counters (sqlite_sequence): ids never repeat, as etcd's revisions never do.
   */
  #deleteRows(): void {
    for (const table of this.#stateTables()) this.db.exec(`DELETE FROM "${table}"`);
  }

  async clear(): Promise<void> {
    const db = this.db;
    db.exec('BEGIN IMMEDIATE');
    try {
      this.#deleteRows();
      db.exec('COMMIT');
    } catch (e) {
      db.exec('ROLLBACK');
      throw e;
    }
  }

  async isEmpty(): Promise<boolean> {
    return !this.#holdsRows();
  }

  #termHolder(): string | undefined {
    return (
      this.db.prepare("SELECT value FROM meta WHERE key = 'term_holder'").get() as
        | { value: string }
        | undefined
    )?.value;
  }

  async exportState(): Promise<StateDump> {
    const db = this.db;
    // One read transaction: a consistent snapshot while a controller goes on writing.
    db.exec('BEGIN');
    try {
      const pools = (db.prepare('SELECT body FROM pools ORDER BY name').all() as { body: string }[]).map(
        (r) => JSON.parse(r.body) as PoolState,
      );
      const requests = (
        db
          .prepare('SELECT * FROM requests ORDER BY at, id LIMIT ?')
          .all(ALL_RECORDS) as unknown as RequestRow[]
      ).map(requestFromRow);
      const dump: StateDump = {
        format: STATE_FORMAT,
        version: STATE_VERSION,
        exportedAt: Date.now(),
        from: this.kind,
        term: this.#term(),
        termHolder: this.#termHolder(),
        pools,
        requests,
        ...(await listedRecords(this)),
      };
      db.exec('COMMIT');
      return dump;
    } catch (e) {
      db.exec('ROLLBACK');
      throw e;
    }
  }

  /** All of it in one transaction: an import that fails leaves the store as it was. */
  async importState(dump: StateDump, options: { readonly force: boolean }): Promise<void> {
    const db = this.db;
    db.exec('BEGIN IMMEDIATE');
    this.#importing = true;
    try {
      if (this.#holdsRows() || this.#term() !== 0 || this.#termHolder() !== undefined) {
        if (!options.force) throw new StoreNotEmptyError(`store ${this.file}`);
        this.#deleteRows();
        // Unlike a clear, the counters start again too: nothing of the old state shows through.
        if (db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").get())
          db.exec('DELETE FROM sqlite_sequence');
        db.exec("DELETE FROM meta WHERE key <> 'term'; UPDATE meta SET value = '0' WHERE key = 'term';");
      }
      await writeStateRecords(this, dump);
      db.prepare("UPDATE meta SET value = ? WHERE key = 'term'").run(String(dump.term));
      db.prepare("INSERT INTO meta (key, value) VALUES ('term_holder', ?)").run(
        dump.termHolder ?? 'rampart state import',
      );
      db.exec('COMMIT');
    } catch (e) {
      db.exec('ROLLBACK');
      throw e;
    } finally {
      this.#importing = false;
    }
  }
}

interface RequestRow {
  id: string;
  at: number;
  kind: string;
  body: string;
  caller: string;
  outcome: 'done' | 'failed' | null;
  outcome_at: number | null;
  detail: string | null;
}

function requestFromRow(r: RequestRow): RequestRecord {
  return {
    id: r.id,
    at: r.at,
    kind: r.kind,
    body: JSON.parse(r.body),
    caller: r.caller,
    outcome: r.outcome ?? undefined,
    outcomeAt: r.outcome_at ?? undefined,
    detail: r.detail ?? undefined,
  };
}

interface ActionRow {
  id: string;
  term: number;
  pool: string;
  kind: ActionRecord['kind'];
  node_id: string | null;
  cause: string;
  caller: string;
  started_at: number;
  detail: string | null;
  outcome: ActionOutcome | null;
  outcome_at: number | null;
  outcome_detail: string | null;
}

interface DecisionRow {
  id: number;
  pool: string;
  at: number;
  term: number;
  decision: string;
  ready: number;
  live: number;
  desired: number;
  reasons: string;
  actions: string;
}

function actionFromRow(r: ActionRow): ActionRecord {
  return {
    id: r.id,
    term: r.term,
    pool: r.pool,
    kind: r.kind,
    nodeId: r.node_id ?? undefined,
    cause: r.cause,
    caller: r.caller,
    startedAt: r.started_at,
    detail: r.detail ? JSON.parse(r.detail) : undefined,
    outcome: r.outcome ?? undefined,
    outcomeAt: r.outcome_at ?? undefined,
    outcomeDetail: r.outcome_detail ?? undefined,
  };
}

/** Newest-last history over a table, filtered by pool and time, keeping the newest `limit`. */
function history(
  table: string,
  timeColumn: string,
  q: HistoryQuery,
): { sql: string; params: SQLInputValue[] } {
  const where: string[] = [];
  const params: SQLInputValue[] = [];
  if (q.pool !== undefined) {
    where.push('pool = ?');
    params.push(q.pool);
  }
  if (q.since !== undefined) {
    where.push(`${timeColumn} >= ?`);
    params.push(q.since);
  }
  if (q.until !== undefined) {
    where.push(`${timeColumn} <= ?`);
    params.push(q.until);
  }
  params.push(q.limit ?? 1000);
  const inner = `SELECT *, rowid AS seq FROM ${table}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY ${timeColumn} DESC, rowid DESC LIMIT ?`;
  return { sql: `SELECT * FROM (${inner}) ORDER BY ${timeColumn}, seq`, params };
}
