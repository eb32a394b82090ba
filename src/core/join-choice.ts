// How a new node of a pool with `stateSync: auto` joins: by state sync or by restoring the
// file snapshot, whichever the pool last measured faster from create to ready. Pure.

/** The two ways a new node can join that the pool measures against each other. */
export type JoinWay = 'state-sync' | 'snapshot';

/** One measured join: create to ready, including any failed attempt before it got there. */
export interface JoinFigure {
  readonly ms: number;
  /** When the node became ready (ms since the epoch). */
  readonly at: number;
  readonly node: string;
}

/** What a pool remembers of its joins, stored with the pool's state (it survives a restart). */
export interface JoinTimes {
  readonly stateSync?: JoinFigure | undefined;
  readonly snapshot?: JoinFigure | undefined;
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
  /** Undefined: neither way is possible now (the node syncs from the network). */
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

/** The pool's figures once a node that joined by `way` is ready: `figure` replaces that way's last. */
export function recordJoin(times: JoinTimes | undefined, way: JoinWay, figure: JoinFigure): JoinTimes {
  const before = times ? faster(times) : undefined;
  const next: JoinTimes = {
    stateSync: way === 'state-sync' ? figure : times?.stateSync,
    snapshot: way === 'snapshot' ? figure : times?.snapshot,
    streak: 0,
  };
  // A join by the way that was the faster extends the streak; the slower one measured resets it.
  const streak = before === undefined || way === before ? (times?.streak ?? 0) + 1 : 0;
  return { ...next, streak };
}
