// Domain types shared by the pure core and the adapters around it. No I/O here.

import type { StateSyncMode } from './join-choice.ts';

/** Lifecycle of a node. Only `ready` nodes count as capacity. */
export type NodeState =
  | 'provisioning'
  | 'restoring'
  | 'syncing'
  | 'ready'
  | 'draining'
  | 'deleting'
  | 'gone'
  | 'failed';

export const NODE_STATES: readonly NodeState[] = [
  'provisioning',
  'restoring',
  'syncing',
  'ready',
  'draining',
  'deleting',
  'gone',
  'failed',
];

/** States in which a node is on its way to serving (a join is in progress). */
export const JOINING_STATES: ReadonlySet<NodeState> = new Set(['provisioning', 'restoring', 'syncing']);

/** States in which a node still occupies a slot of the pool (counts against max). */
export const LIVE_STATES: ReadonlySet<NodeState> = new Set([
  'provisioning',
  'restoring',
  'syncing',
  'ready',
  'draining',
  'deleting',
]);

export type PoolRole = 'sentry' | 'validator' | 'standby' | 'worker' | 'member';

export type Comparator = '<' | '>' | '<=' | '>=' | '==';
export const COMPARATORS: readonly Comparator[] = ['<', '>', '<=', '>=', '=='];

export type Aggregate = 'avg' | 'max' | 'min' | 'sum' | 'p90';
export const AGGREGATES: readonly Aggregate[] = ['avg', 'max', 'min', 'sum', 'p90'];

export type ScaleInSelect = 'least-busy' | 'newest' | 'oldest';
export const SCALE_IN_SELECTS: readonly ScaleInSelect[] = ['least-busy', 'newest', 'oldest'];

/**
 * One metric sample as a source delivered it. `node` is the id of the node it maps to,
 * or undefined for a pool-level sample (one that maps to no node).
 */
export interface Sample {
  /** Reference the rules use: `source:name` plus optional `{label="value"}` matchers. */
  readonly ref: string;
  readonly node: string | undefined;
  readonly value: number;
  /** When the sample was observed, ms since the epoch. */
  readonly at: number;
}

/** What a node kind's probe saw of one node at one moment. */
export interface NodeProbe {
  readonly reachable: boolean;
  /** Latest block height (chain kinds) or undefined where the kind has none. */
  readonly height?: number | undefined;
  readonly catchingUp?: boolean | undefined;
  readonly peers?: number | undefined;
  /** The kind's own verdict: serving and caught up. */
  readonly ready: boolean;
  /** The kind's own verdict for the health check: false counts as a failed check. */
  readonly healthy: boolean;
  /** Why not ready / not healthy, in plain words. */
  readonly detail?: string | undefined;
}

/**
 * What a node kind can do, for the controller, failover and the simulator to read instead of
 * asking which kind it is.
 */
export interface NodeKindCapabilities {
  /** New nodes join one at a time: each is added to its cluster before the next (etcd members). */
  readonly joinsOneAtATime: boolean;
  /** Its nodes hold signing state (a validator's key and last signed height): failover guards them and promotes a standby. */
  readonly holdsSigningState: boolean;
  /**
   * How its new nodes may join by state sync (planStateSync), as the pool configured it: the
   * controller orders the ways by this (core/join-choice.ts) and never reads the kind's config.
   */
  readonly stateSync: StateSyncMode;
}
