// A store's whole state as one JSON document (`rampart state export|import`), and how a dump's
// records are written into a store through its own API, whatever the store.
//
// Decision and event ids are the store's own (a SQLite row id, an etcd revision): they are
// not carried; their order is. Records are written under their own terms while the target's
// term is still 0 (so no fence refuses them); the store sets its term to the dump's last.

import type {
  ActionRecord,
  DecisionRecord,
  EventRecord,
  FailoverRecord,
  PoolState,
  PoolStatus,
  RequestRecord,
  SeriesSample,
  Store,
  StoredNode,
} from './store.ts';

export const STATE_FORMAT = 'rampart-state';
export const STATE_VERSION = 1;

export interface StateDump {
  readonly format: typeof STATE_FORMAT;
  readonly version: typeof STATE_VERSION;
  readonly exportedAt: number;
  /** Kind of the store it came from. */
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
  /** The dashboard's sampled series. Absent in dumps from before they were kept. */
  readonly samples?: SeriesSample[] | undefined;
}

/** An import into a store that holds state already, without `force`. */
export class StoreNotEmptyError extends Error {
  constructor(store: string) {
    super(`${store} is not empty: import refuses to mix states (--force replaces everything it holds)`);
    this.name = 'StoreNotEmptyError';
  }
}

/** "Everything" for the history queries of an export. */
export const ALL_RECORDS = 1_000_000_000;

/** The records every store lists through the Store API, without ids (their order is kept). */
export async function listedRecords(
  store: Store,
): Promise<
  Pick<StateDump, 'nodes' | 'actions' | 'decisions' | 'events' | 'poolStatus' | 'failover' | 'samples'>
> {
  const withoutId = <T extends { id?: number | undefined }>({ id: _id, ...rest }: T) => rest;
  return {
    nodes: await store.listNodes({ all: true }),
    actions: await store.listActions({ limit: ALL_RECORDS }),
    decisions: (await store.listDecisions({ limit: ALL_RECORDS })).map(withoutId),
    events: (await store.listEvents({ limit: ALL_RECORDS })).map(withoutId),
    poolStatus: await store.listPoolStatus(),
    failover: await store.listFailover(),
    samples: await store.listSamples({ limit: ALL_RECORDS }),
  };
}

/**
 * Writes every record of a dump into a store whose term is 0, in order: each under its own
 * term. The term itself is the store's to set, after this.
 */
export async function writeStateRecords(store: Store, dump: StateDump): Promise<void> {
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
  for (const s of dump.samples ?? []) await store.recordSample(s);
}
