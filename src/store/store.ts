// The contract of Rampart's own state: pools and their clocks, nodes, actions (intent
// before, outcome after), decisions with reasons, events. Every write carries the writer's
// leadership term; a store refuses a write whose term is older than the newest it has seen.

import type { PoolClocks, Reason } from '../core/decide.ts';
import type { JoinTimes, MeasuredWay } from '../core/join-choice.ts';
import type { NodeRecord } from '../core/node-lifecycle.ts';
import type { PoolHistory } from '../core/pool-history.ts';
import type { StateDump } from './state-dump.ts';

export interface PoolState {
  readonly name: string;
  readonly paused: boolean;
  /** Who paused the pool (a request's caller), for the decision's reason. */
  readonly pausedBy?: string | undefined;
  /** A size set by hand (the `pool-size` request): the core heads for it instead of the rules. */
  readonly manualSize?: { readonly size: number; readonly by: string; readonly at: number } | undefined;
  readonly everHadNode: boolean;
  readonly clocks: PoolClocks;
  /**
   * What the pool's policy remembers (peak hold, hysteresis, prediction): the need downsampled
   * with age, recent asks and bursts. Stored with the pool at most once a minute.
   */
  readonly history?: PoolHistory | undefined;
  /** How long its last joins took by each way (`stateSync: auto` picks by them; the dashboard shows them). */
  readonly joins?: JoinTimes | undefined;
  /**
   * When this store's controller first acted on the pool (ms). A member its platform holds that
   * Rampart did not make and that is older than this (an operator's existing stack or group
   * members) was there before: left running, never taken for an orphan.
   */
  readonly actingSince?: number | undefined;
}

export interface StoredNode extends NodeRecord {
  readonly provider: string;
  /** The provider's id of the instance now running for this node, if any. */
  readonly instanceId?: string | undefined;
  readonly host?: string | undefined;
  readonly ports?: Readonly<Record<string, number>> | undefined;
  readonly dataDir?: string | undefined;
  /** Action that created the current instance. */
  readonly actionId: string;
  /** Wired to its upstream (a sentry registered with its validator). */
  readonly registered: boolean;
  readonly updatedAt: number;
  /**
   * How its current attempt joins, set where the pool has a choice of ways (state sync, a file
   * snapshot): its join is measured. Absent: not measured (an adopted instance, no choice).
   */
  readonly joinedBy?: MeasuredWay | undefined;
  /** When its attempts by `joinedBy` began (its creation, or the rejoin that changed the way). */
  readonly joinedBySince?: number | undefined;
  /** The file snapshot its current attempt restored, when by snapshot (a rejoin takes a newer one). */
  readonly joinedFrom?: string | undefined;
}

export type ActionKind =
  | 'create'
  | 'remove'
  | 'rejoin'
  | 'register'
  | 'cleanup'
  | 'snapshot'
  | 'prune'
  | 'pause'
  | 'resume'
  | 'size'
  | 'promote'
  /** A warm spare taken into service in place of a creation. */
  | 'take-warm';

export interface ActionIntent {
  readonly id: string;
  readonly term: number;
  readonly pool: string;
  readonly kind: ActionKind;
  readonly nodeId?: string | undefined;
  /** Why, in plain words (the plan's cause and reasons). */
  readonly cause: string;
  /** Who asked: `controller` or the operator's name for commands. */
  readonly caller: string;
  readonly startedAt: number;
  readonly detail?: Readonly<Record<string, unknown>> | undefined;
}

export type ActionOutcome = 'succeeded' | 'failed' | 'adopted' | 'abandoned' | 'finished-after-restart';

export interface ActionRecord extends ActionIntent {
  readonly outcome?: ActionOutcome | undefined;
  readonly outcomeAt?: number | undefined;
  readonly outcomeDetail?: string | undefined;
}

export interface DecisionRecord {
  readonly id?: number | undefined;
  readonly pool: string;
  readonly at: number;
  readonly term: number;
  readonly decision: string;
  readonly ready: number;
  readonly live: number;
  readonly desired: number;
  readonly reasons: readonly Reason[];
  readonly actions: readonly string[];
}

export interface EventRecord {
  readonly id?: number | undefined;
  readonly at: number;
  readonly pool?: string | undefined;
  readonly node?: string | undefined;
  readonly severity: 'info' | 'warning' | 'critical';
  readonly text: string;
}

/** What the controller last saw of a pool, for `status` and the dashboard. */
export interface PoolStatus {
  readonly pool: string;
  readonly at: number;
  readonly term: number;
  readonly body: Readonly<Record<string, unknown>>;
}

/**
 * What failover knows of a validator pool (src/failover): its detection state with the
 * evidence, the standby it asked for, the signer after a promotion and the fenced nodes.
 * Written by the acting controller (and the promote command, holding the promote lock).
 */
export interface FailoverRecord {
  readonly pool: string;
  readonly at: number;
  readonly term: number;
  readonly body: Readonly<Record<string, unknown>>;
}

/**
 * Something asked of the acting controller by another process (a CLI command, the API):
 * the controller takes it on its next tick and records how it ended.
 */
export interface RequestRecord {
  readonly id: string;
  readonly at: number;
  readonly kind: string;
  readonly body: Readonly<Record<string, unknown>>;
  readonly caller: string;
  readonly outcome?: 'done' | 'failed' | undefined;
  readonly outcomeAt?: number | undefined;
  readonly detail?: string | undefined;
}

export class StaleTermError extends Error {
  constructor(term: number, newest: number) {
    super(
      `refused: leadership term ${term} is stale (term ${newest} has been seen); this controller no longer leads`,
    );
    this.name = 'StaleTermError';
  }
}

/**
 * A store that cannot be used as it is — a file that is not a database, a schema from a newer
 * Rampart. Rampart changed nothing: the operator must act (restore, move it aside, upgrade).
 */
export class StoreUnusableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'StoreUnusableError';
  }
}

export interface HistoryQuery {
  readonly pool?: string | undefined;
  readonly limit?: number | undefined;
  /** Only records at or after this time, ms. */
  readonly since?: number | undefined;
  /** Only records at or before this time, ms (actions: started at or before it). */
  readonly until?: number | undefined;
}

/**
 * One sampled point of a pool's series, for the dashboard's charts over any range the store
 * still holds: sizes, the rule metrics as the rules read them, traffic, and for a guarded
 * validator its heights, peers and signatures. The body is the API's (src/api/pool-series.ts);
 * the store keeps it as it is. History: pruned with decisions and events.
 */
export interface SeriesSample {
  readonly pool: string;
  readonly at: number;
  readonly term: number;
  readonly body: Readonly<Record<string, unknown>>;
}

/** How many records `pruneHistory` removed, by kind. */
export interface PrunedHistory {
  readonly actions: number;
  readonly decisions: number;
  readonly events: number;
  readonly requests: number;
  readonly samples: number;
}

export interface Store {
  readonly kind: string;
  /** Opens, creating or migrating the schema as needed. */
  open(): Promise<void>;
  close(): Promise<void>;

  /**
   * Takes a new leadership term, higher than every term seen before and at least `atLeast`
   * (a term another authority has already handed out, such as a Kubernetes Lease's).
   */
  newTerm(holder: string, atLeast?: number): Promise<number>;
  /** The newest term this store has seen. */
  currentTerm(): Promise<number>;

  getPool(name: string): Promise<PoolState | undefined>;
  putPool(state: PoolState, term: number): Promise<void>;

  /** Nodes of a pool (or all pools) that are not gone or failed, unless `all`. */
  listNodes(opts?: { pool?: string | undefined; all?: boolean | undefined }): Promise<StoredNode[]>;
  getNode(id: string): Promise<StoredNode | undefined>;
  putNode(node: StoredNode, term: number): Promise<void>;

  /** Records an action's intent before it runs. */
  beginAction(intent: ActionIntent): Promise<void>;
  /** Records an action's outcome after it ran. */
  finishAction(
    id: string,
    outcome: ActionOutcome,
    detail: string | undefined,
    term: number,
    at: number,
  ): Promise<void>;
  /** Actions with an intent and no outcome: what a restart must reconcile. */
  openActions(): Promise<ActionRecord[]>;
  /** One action by id, open or finished, while history retention keeps it. */
  getAction(id: string): Promise<ActionRecord | undefined>;
  listActions(q?: HistoryQuery): Promise<ActionRecord[]>;

  recordDecision(d: DecisionRecord): Promise<void>;
  listDecisions(q?: HistoryQuery): Promise<DecisionRecord[]>;

  recordEvent(e: EventRecord, term: number): Promise<void>;
  listEvents(q?: HistoryQuery): Promise<EventRecord[]>;

  /** Records one sampled point of a pool's series; fenced by its term. */
  recordSample(s: SeriesSample): Promise<void>;
  /** Sampled points, oldest first: the newest `limit` (default 1000) of the query's range. */
  listSamples(q?: HistoryQuery): Promise<SeriesSample[]>;

  putPoolStatus(s: PoolStatus): Promise<void>;
  listPoolStatus(): Promise<PoolStatus[]>;

  getFailover(pool: string): Promise<FailoverRecord | undefined>;
  /** Fenced like every write: a deposed leader cannot overwrite what its successor knows. */
  putFailover(r: FailoverRecord): Promise<void>;
  listFailover(): Promise<FailoverRecord[]>;

  /**
   * Removes history that ended before `before` (ms): decisions, events and series samples recorded before it,
   * actions and requests whose outcome came before it. Open actions and requests stay
   * whatever their age (a restart must still reconcile them), and so do node records and
   * everything that is state rather than history. Fenced like every write.
   */
  pruneHistory(before: number, term: number): Promise<PrunedHistory>;

  /** Queues a request for the acting controller. Not fenced: any process may ask. */
  addRequest(r: RequestRecord): Promise<void>;
  /** Requests without an outcome, oldest first. */
  openRequests(): Promise<RequestRecord[]>;
  getRequest(id: string): Promise<RequestRecord | undefined>;
  finishRequest(
    id: string,
    outcome: 'done' | 'failed',
    detail: string,
    term: number,
    at: number,
  ): Promise<void>;

  /** Everything the store holds (`rampart state export`), oldest first where order matters. */
  exportState(): Promise<StateDump>;
  /**
   * Writes a dump into the store (`rampart state import`) and sets its term to the dump's.
   * A store holding anything — a record of any kind, a term — is refused (StoreNotEmptyError)
   * unless `force`, which first clears it and also sets its term back, to the dump's even
   * when that is lower: the import replaces the whole history, terms included. No controller
   * may be running on the store meanwhile.
   */
  importState(dump: StateDump, options: { readonly force: boolean }): Promise<void>;
  /**
   * Removes every record the store holds, of every kind; each store knows all its tables or
   * keys (etcd: every key under its prefix, coordination's too). The term and its holder stay:
   * a term never goes backwards, so a writer deposed before the clear stays fenced after it,
   * and the next leader's term is above every term handed out before. Decision and event ids
   * go on from where they were too. Not fenced: no controller may be running on the store.
   */
  clear(): Promise<void>;
  /** True when the store holds no record of any kind. The term, which `clear` keeps, is not a record. */
  isEmpty(): Promise<boolean>;
}
