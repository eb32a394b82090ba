// How a new node joins — by state sync, by restoring the file snapshot, or by syncing from the
// network — given the pool's bootstrap mode and, with `auto`, whichever way the pool last measured
// faster from create to ready; and how a join that timed out is tried again. Pure.

/** The two ways a new node can join that the pool measures against each other. */
export type JoinWay = 'state-sync' | 'snapshot';

/** How a node joined: one of the two ways, or from the network (genesis or peers) when neither. */
export type MeasuredWay = JoinWay | 'network';

/**
 * How a pool's new nodes may join by state sync, as its node kind says (`NodeKindCapabilities`):
 * `never`; `prefer`red to a file snapshot; the `fallback` when there is no file snapshot; or
 * `auto`, the way last measured faster.
 */
export type StateSyncMode = 'never' | 'prefer' | 'fallback' | 'auto';

/** One measured join: from the start of its first attempt by that way to ready. */
export interface JoinFigure {
  readonly ms: number;
  /** When the node became ready, or its join by that way timed out (ms since the epoch). */
  readonly at: number;
  readonly node: string;
  /**
   * The join by this way timed out and was tried again another way: `ms` is how long it ran
   * without getting there, a lower bound. Absent: it got there.
   */
  readonly timedOut?: boolean | undefined;
}

/** What a pool remembers of its joins, stored with the pool's state (it survives a restart). */
export interface JoinTimes {
  readonly stateSync?: JoinFigure | undefined;
  readonly snapshot?: JoinFigure | undefined;
  /** The last join from the network (no snapshot, no state sync): shown, never chosen by. */
  readonly network?: JoinFigure | undefined;
  /**
   * Joins measured in a row by the way that was the faster before each was measured; 0 once
   * the other way has been measured again.
   */
  readonly streak: number;
}

/**
 * Every EXPLORE_EVERY-th join (once both ways have figures) takes the slower way, so its figure
 * follows the chain: a restore grows with the chain's history (the block store is copied), a
 * state sync with its state, and the order can turn. 5 keeps the cost low — with the bench's
 * figures on gaiad (restore 13.5 s, state sync 26.0 s) about 2.5 s a join on average — while a
 * stale figure is corrected within five joins. Counted in joins, not hours: joins come in bursts
 * (scale-ups, replacements), and a time-based retry would explore on almost every join of a
 * quiet pool and rarely in a busy one.
 */
export const EXPLORE_EVERY = 5;

export interface JoinChoice {
  /** Undefined: the node syncs from the network (neither way is possible now, or allowed). */
  readonly way: JoinWay | undefined;
  /** The choice and its figures, for the create action's outcome. */
  readonly why: string;
}

const NAME: Record<JoinWay, string> = { 'state-sync': 'state sync', snapshot: 'snapshot' };
const other = (w: JoinWay): JoinWay => (w === 'snapshot' ? 'state-sync' : 'snapshot');
const figureOf = (t: JoinTimes | undefined, w: JoinWay) => (w === 'snapshot' ? t?.snapshot : t?.stateSync);
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The faster of two measured ways; a tie goes to the snapshot (it loads no serving node). */
function faster(t: JoinTimes): JoinWay | undefined {
  if (!t.snapshot || !t.stateSync) return t.snapshot ? 'snapshot' : t.stateSync ? 'state-sync' : undefined;
  return t.stateSync.ms < t.snapshot.ms ? 'state-sync' : 'snapshot';
}

/**
 * The way a new node joins, given the pool's measured joins and what is possible now (a
 * state-sync source among the pool's nodes, a file snapshot in its set). With no figure for
 * either, the snapshot first: it was the faster on gaiad here (bench/restore-vs-genesis-gaiad),
 * and it reads from the snapshot store rather than from sentries that carry the validator's
 * traffic; the next join then measures state sync, as a way without a figure is tried as soon
 * as the other has one.
 */
export function chooseJoin(
  times: JoinTimes | undefined,
  possible: { readonly stateSync: boolean; readonly snapshot: boolean },
): JoinChoice {
  if (!possible.stateSync && !possible.snapshot)
    return { way: undefined, why: 'neither a state-sync source nor a file snapshot yet' };
  if (!possible.stateSync || !possible.snapshot) {
    const way: JoinWay = possible.snapshot ? 'snapshot' : 'state-sync';
    const missing =
      way === 'snapshot' ? 'no state-sync source among the pool’s nodes' : 'no file snapshot yet';
    return { way, why: `${NAME[way]}: the only way (${missing})` };
  }
  const ss = times?.stateSync;
  const snap = times?.snapshot;
  if (!ss && !snap) return { way: 'snapshot', why: 'snapshot: neither way measured yet, a restore first' };
  if (!ss || !snap) {
    const way: JoinWay = ss ? 'snapshot' : 'state-sync';
    const known = figureOf(times, other(way))!;
    return { way, why: `${NAME[way]}: not measured yet (${NAME[other(way)]} last ${seconds(known.ms)})` };
  }
  const best = faster({ stateSync: ss, snapshot: snap, streak: 0 })!;
  const explore = (times?.streak ?? 0) >= EXPLORE_EVERY - 1;
  const way = explore ? other(best) : best;
  const mine = figureOf(times, way)!;
  const theirs = figureOf(times, other(way))!;
  const figures = `last ${seconds(mine.ms)} against ${seconds(theirs.ms)} by ${NAME[other(way)]}`;
  return {
    way,
    why: explore
      ? `${NAME[way]}, tried again after ${times?.streak} joins by ${NAME[best]} (every ${EXPLORE_EVERY}th join): ${figures}`
      : `${NAME[way]}: ${figures}`,
  };
}

/** What is possible for a join now: a state-sync source among the pool's nodes, a file snapshot. */
export interface JoinPossible {
  readonly stateSync: boolean;
  readonly snapshot: boolean;
}

/**
 * The way a new node joins under the pool's mode: `prefer` takes state sync whenever it can,
 * `fallback` and `never` the file snapshot, `auto` the faster measured (chooseJoin); whatever
 * is left possible next, and the network last.
 */
export function planJoin(
  mode: StateSyncMode,
  times: JoinTimes | undefined,
  possible: JoinPossible,
): JoinChoice {
  if (mode === 'auto') return chooseJoin(times, possible);
  const order = ladderOf(mode, times);
  const way = order.find((w) => possible[KEY[w]]);
  if (way === undefined) return { way, why: networkWhy(mode) };
  const why = way === order[0] ? modeWhy(mode) : `no ${NAME[order[0]!]} ${SOURCE[order[0]!]}`;
  return { way, why: `${NAME[way]} (${why})` };
}

/** What the join that timed out had: its way, and the file snapshot it restored. */
export interface FailedJoin {
  /** Undefined: it synced from the network. */
  readonly way: JoinWay | undefined;
  /** The id of the snapshot it restored, when by snapshot. */
  readonly snapshotId?: string | undefined;
}

/**
 * The way a node whose join timed out tries again. The mode's ways in its order (with `auto`,
 * the faster measured first), but not the one that just failed — save a restore when a newer
 * file snapshot than the one that failed is there (a fresh snapshot, not the same bytes again);
 * the network only when no other way is left. A join that failed from the network starts over
 * at the mode's first way (a snapshot or a source may be there now).
 */
export function chooseRejoin(
  mode: StateSyncMode,
  times: JoinTimes | undefined,
  failed: FailedJoin,
  possible: JoinPossible & { readonly newestSnapshotId?: string | undefined },
): JoinChoice {
  const order = ladderOf(mode, times);
  const after = failed.way === undefined ? 'the network' : NAME[failed.way];
  const fresh = failed.way === 'snapshot' && possible.newestSnapshotId !== failed.snapshotId;
  for (const way of order) {
    if (!possible[KEY[way]]) continue;
    if (way === failed.way && !(way === 'snapshot' && fresh)) continue;
    const again =
      way === failed.way
        ? `a newer file snapshot (${possible.newestSnapshotId}) than the one that failed (${failed.snapshotId})`
        : modeWhy(mode);
    return { way, why: `${NAME[way]} after ${after} timed out (${again})` };
  }
  const left =
    failed.way !== undefined && possible[KEY[failed.way]]
      ? `only ${NAME[failed.way]} is possible and it just failed`
      : networkWhy(mode);
  return { way: undefined, why: `the network after ${after} timed out (${left})` };
}

const KEY = { 'state-sync': 'stateSync', snapshot: 'snapshot' } as const;
const SOURCE: Record<JoinWay, string> = { 'state-sync': 'source', snapshot: 'yet' };

/** The ways the mode allows, the one it takes first at the head. */
function ladderOf(mode: StateSyncMode, times: JoinTimes | undefined): JoinWay[] {
  switch (mode) {
    case 'never':
      return ['snapshot'];
    case 'prefer':
      return ['state-sync', 'snapshot'];
    case 'fallback':
      return ['snapshot', 'state-sync'];
    case 'auto': {
      const first = chooseJoin(times, { stateSync: true, snapshot: true }).way!;
      return [first, other(first)];
    }
  }
}

function networkWhy(mode: StateSyncMode): string {
  return mode === 'never' ? 'no file snapshot' : 'neither a state-sync source nor a file snapshot';
}

const modeWhy = (mode: StateSyncMode) => (mode === 'never' ? 'bootstrap.snapshots' : `stateSync ${mode}`);

/**
 * The pool's figures once a node that joined by `way` is ready, or once its join by `way` timed
 * out (figure.timedOut): `figure` replaces that way's last. A network figure is only kept.
 */
export function recordJoin(times: JoinTimes | undefined, way: MeasuredWay, figure: JoinFigure): JoinTimes {
  if (way === 'network') return { ...(times ?? { streak: 0 }), network: figure };
  const before = times ? faster(times) : undefined;
  const next: JoinTimes = {
    stateSync: way === 'state-sync' ? figure : times?.stateSync,
    snapshot: way === 'snapshot' ? figure : times?.snapshot,
    ...(times?.network ? { network: times.network } : {}),
    streak: 0,
  };
  // A join by the way that was the faster extends the streak; the slower one measured resets it.
  const streak = before === undefined || way === before ? (times?.streak ?? 0) + 1 : 0;
  return { ...next, streak };
}
