// `rampart state export -c FILE > state.json` and `rampart state import -c FILE < state.json`:
// moves Rampart's whole state — every pool state, node, action, decision, event, request,
// pool status and the term — between stores (SQLite ⇄ etcd) without loss.
//
// Decision and event ids are the store's own (a SQLite row id, an etcd revision): they are
// not carried; their order is. Import writes every record under its own term while the
// target's term is still 0 (so no fence refuses it), then sets the term last.

import { readFileSync } from 'node:fs';
import type { Config } from '../../config/schema.ts';
import { createStore } from '../../controller/runtime.ts';
import { EtcdStore } from '../../store/etcd-store.ts';
import { SqliteStore } from '../../store/sqlite-store.ts';
import type {
  ActionRecord,
  DecisionRecord,
  EventRecord,
  FailoverRecord,
  PoolState,
  PoolStatus,
  RequestRecord,
  Store,
  StoredNode,
} from '../../store/store.ts';
import { configFlag, loadConfigFrom, parseFlags, UsageError } from '../args.ts';
import { runningControllers } from '../running.ts';

const USAGE = 'rampart state export|import -c FILE [--input FILE] [--force]';
const FORMAT = 'rampart-state';
const VERSION = 1;
/** "Everything" for the history queries. */
const ALL = 1_000_000_000;

export interface StateDump {
  readonly format: typeof FORMAT;
  readonly version: typeof VERSION;
  readonly exportedAt: number;
  readonly from: string;
  readonly term: number;
  readonly termHolder?: string | undefined;
  readonly pools: PoolState[];
  readonly nodes: StoredNode[];
  readonly actions: ActionRecord[];
  readonly decisions: Omit<DecisionRecord, 'id'>[];
  readonly events: Omit<EventRecord, 'id'>[];
  readonly requests: RequestRecord[];
  readonly poolStatus: PoolStatus[];
  /** Absent in dumps from before failover existed. */
  readonly failover?: FailoverRecord[] | undefined;
}

export async function state(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  const flags = parseFlags(`state ${verb ?? ''}`.trim(), rest, {
    ...configFlag,
    input: { type: 'string', short: 'i' },
    force: { type: 'boolean' },
  });
  const { config } = loadConfigFrom(flags);
  switch (verb) {
    case 'export':
      return exportState(config);
    case 'import':
      return importState(config, flags.input, flags.force === true);
    default:
      throw new UsageError(`usage: ${USAGE}`);
  }
}

async function exportState(config: Config): Promise<number> {
  const running = await runningControllers(config);
  if (running.length > 0)
    process.stderr.write(
      `note: a controller is running (${running.map((r) => r.who).join(', ')}): records it writes meanwhile may be missing\n`,
    );
  const store = createStore(config);
  await store.open();
  try {
    process.stdout.write(`${JSON.stringify(await dumpState(store))}\n`);
  } finally {
    await store.close();
  }
  return 0;
}

async function importState(config: Config, input: string | undefined, force: boolean): Promise<number> {
  const text = readFileSync(input ?? 0, 'utf8');
  let dump: StateDump;
  try {
    dump = JSON.parse(text) as StateDump;
  } catch (e) {
    throw new UsageError(`rampart state import: the input is not JSON: ${(e as Error).message}`);
  }
  if (dump?.format !== FORMAT || dump.version !== VERSION)
    throw new UsageError(
      `rampart state import: the input is not a ${FORMAT} version ${VERSION} export (from rampart state export)`,
    );
  const running = await runningControllers(config);
  if (running.length > 0)
    throw new Error(
      `a controller is running on the target store (${running.map((r) => r.who).join(', ')}): stop it before importing`,
    );
  const store = createStore(config);
  await store.open();
  try {
    if (!(await isEmpty(store))) {
      if (!force)
        throw new Error('the target store is not empty: import refuses to mix states (--force replaces it)');
      await clear(store);
    }
    await loadState(store, dump);
  } finally {
    await store.close();
  }
  process.stderr.write(
    `imported term ${dump.term}, ${dump.pools.length} pool(s), ${dump.nodes.length} node(s), ${dump.actions.length} action(s), ${dump.decisions.length} decision(s), ${dump.events.length} event(s), ${dump.requests.length} request(s)\n`,
  );
  return 0;
}

/** Everything a store holds, oldest first where order matters. */
export async function dumpState(store: Store): Promise<StateDump> {
  const term = await store.currentTerm();
  let termHolder: string | undefined;
  let pools: PoolState[];
  let requests: RequestRecord[];
  if (store instanceof SqliteStore) {
    const db = store.db;
    termHolder = (
      db.prepare("SELECT value FROM meta WHERE key = 'term_holder'").get() as { value: string } | undefined
    )?.value;
    pools = (db.prepare('SELECT body FROM pools ORDER BY name').all() as { body: string }[]).map(
      (r) => JSON.parse(r.body) as PoolState,
    );
    const ids = db.prepare('SELECT id FROM requests ORDER BY at, id').all() as { id: string }[];
    requests = [];
    for (const { id } of ids) requests.push((await store.getRequest(id))!);
  } else if (store instanceof EtcdStore) {
    termHolder = (await store.termHolder())?.holder;
    pools = await store.listPools();
    requests = await store.listRequests();
  } else throw new Error(`cannot export a ${store.kind} store`);
  const withoutId = <T extends { id?: number | undefined }>({ id: _id, ...rest }: T) => rest;
  return {
    format: FORMAT,
    version: VERSION,
    exportedAt: Date.now(),
    from: store.kind,
    term,
    termHolder,
    pools,
    nodes: await store.listNodes({ all: true }),
    actions: await store.listActions({ limit: ALL }),
    decisions: (await store.listDecisions({ limit: ALL })).map(withoutId),
    events: (await store.listEvents({ limit: ALL })).map(withoutId),
    requests,
    poolStatus: await store.listPoolStatus(),
    failover: await store.listFailover(),
  };
}

/** Writes a dump into an empty store (term 0), in order, and sets its term last. */
export async function loadState(store: Store, dump: StateDump): Promise<void> {
  // The target's term is 0 until the end, so every record goes in under its own term.
  const t = dump.term;
  for (const p of dump.pools) await store.putPool(p, t);
  for (const n of dump.nodes) await store.putNode(n, t);
  for (const a of dump.actions) {
    const { outcome, outcomeAt, outcomeDetail, ...intent } = a;
    await store.beginAction(intent);
    if (outcome !== undefined)
      await store.finishAction(a.id, outcome, outcomeDetail, a.term, outcomeAt ?? a.startedAt);
  }
  for (const d of dump.decisions) await store.recordDecision(d);
  for (const e of dump.events) await store.recordEvent(e, t);
  for (const r of dump.requests) {
    const { outcome, outcomeAt, detail, ...request } = r;
    await store.addRequest(request);
    if (outcome !== undefined) await store.finishRequest(r.id, outcome, detail ?? '', t, outcomeAt ?? r.at);
  }
  for (const s of dump.poolStatus) await store.putPoolStatus(s);
  for (const f of dump.failover ?? []) await store.putFailover(f);
  const holder = dump.termHolder ?? 'rampart state import';
  if (store instanceof SqliteStore) {
    const db = store.db;
    db.exec('BEGIN IMMEDIATE');
    try {
      db.prepare("UPDATE meta SET value = ? WHERE key = 'term'").run(String(t));
      db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('term_holder', ?)").run(holder);
      db.exec('COMMIT');
    } catch (e) {
      db.exec('ROLLBACK');
      throw e;
    }
  } else if (store instanceof EtcdStore) await store.restoreTerm(t, holder);
  else throw new Error(`cannot import into a ${store.kind} store`);
}

async function isEmpty(store: Store): Promise<boolean> {
  if (store instanceof EtcdStore) return store.isEmpty();
  if (store instanceof SqliteStore) {
    const db = store.db;
    const rows = ['pools', 'nodes', 'actions', 'decisions', 'events', 'requests', 'pool_status'].reduce(
      (n, table) => n + (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n,
      0,
    );
    return rows === 0 && (await store.currentTerm()) === 0;
  }
  throw new Error(`cannot import into a ${store.kind} store`);
}

async function clear(store: Store): Promise<void> {
  if (store instanceof EtcdStore) return store.clear();
  if (store instanceof SqliteStore) {
    const db = store.db;
    db.exec('BEGIN IMMEDIATE');
    try {
      for (const table of ['pools', 'nodes', 'actions', 'decisions', 'events', 'requests', 'pool_status'])
        db.exec(`DELETE FROM ${table}`);
      db.exec("UPDATE meta SET value = '0' WHERE key = 'term'; DELETE FROM meta WHERE key = 'term_holder';");
      db.exec('COMMIT');
    } catch (e) {
      db.exec('ROLLBACK');
      throw e;
    }
    return;
  }
  throw new Error(`cannot clear a ${store.kind} store`);
}
