// What failover keeps about one validator pool, in the store (one FailoverRecord per pool):
// the detection state, the validator's consensus address as last seen, the standby asked
// for, who signs now after a promotion, and the nodes fenced for good.

import type { Store } from '../store/store.ts';
import { type DetectState, initialDetectState, type ValidatorStatus } from './detect.ts';

export interface FailoverState {
  readonly detect: DetectState;
  /** The validator's consensus address (public, from its /status). */
  readonly address?: string | undefined;
  /** CometBFT node ids the signer was seen with (a sentry's lists name it by these). */
  readonly nodeIds?: readonly string[] | undefined;
  /** Height of the newest commit it was seen signing. */
  readonly lastSignedSeen?: number | undefined;
  /**
   * The validator's height when the monitor first reached it. Commits below it are not
   * counted as missed: a validator just started (or adopted) cannot have signed them.
   */
  readonly watchedFrom?: number | undefined;
  readonly lastPoll?:
    | {
        readonly at: number;
        readonly reachable: boolean;
        readonly height?: number | undefined;
        readonly networkHeight?: number | undefined;
        /** Whether it signed each of the newest commits read, newest (networkHeight − 1) first. */
        readonly signed?: readonly boolean[] | undefined;
      }
    | undefined;
  /** When the current outage episode began (first suspect or down). */
  readonly episodeStartedAt?: number | undefined;
  /** The last standby size failover asked for. */
  readonly standby?:
    | { readonly pool: string; readonly size: number; readonly request: string; readonly at: number }
    | undefined;
  /** After a promotion: the node that signs for the pool. */
  readonly signer?: { readonly pool: string; readonly node: string; readonly since: number } | undefined;
  /** Nodes that must never sign again: Rampart never starts them. */
  readonly fenced: readonly string[];
  /** Recent transitions, oldest first (at most 50). */
  readonly transitions: readonly {
    readonly at: number;
    readonly from: ValidatorStatus;
    readonly to: ValidatorStatus | 'recovered';
    readonly summary: string;
  }[];
}

export async function readFailover(store: Store, pool: string): Promise<FailoverState> {
  const r = await store.getFailover(pool);
  if (!r) return { detect: initialDetectState(Date.now()), fenced: [], transitions: [] };
  const body = r.body as Partial<FailoverState>;
  return {
    ...body,
    detect: body.detect ?? initialDetectState(Date.now()),
    fenced: body.fenced ?? [],
    transitions: body.transitions ?? [],
  };
}

export async function writeFailover(store: Store, pool: string, state: FailoverState, term: number) {
  await store.putFailover({
    pool,
    at: Date.now(),
    term,
    body: state as unknown as Record<string, unknown>,
  });
}

/** Per pool, the last update in flight: updates in one process run one after the other. */
const updating = new Map<string, Promise<unknown>>();

/**
 * Reads the pool's record fresh, applies `change` and writes it, after any update of the same
 * pool still in flight in this process (the monitor's polls and a promotion share a record;
 * neither may write back a copy older than the other's write).
 */
export function updateFailover(
  store: Store,
  pool: string,
  term: number,
  change: (current: FailoverState) => FailoverState,
): Promise<FailoverState> {
  const next = (updating.get(pool) ?? Promise.resolve())
    .catch(() => undefined)
    .then(async () => {
      const updated = change(await readFailover(store, pool));
      await writeFailover(store, pool, updated, term);
      return updated;
    });
  updating.set(pool, next);
  return next;
}
