// Validator outage detection, pure: one poll's observations in, the new detection state and
// at most one transition (suspect, down, recovered) with its evidence out. No I/O, no clock
// of its own; the monitor (monitor.ts) polls and records.

/** What one poll saw. Heights are block heights; `at` is ms since the epoch. */
export interface ValidatorPoll {
  readonly at: number;
  /** The validator's RPC answered /status. */
  readonly reachable: boolean;
  /** Why it did not answer, when it did not. */
  readonly error?: string | undefined;
  /** The validator's latest block height, when reachable. */
  readonly height?: number | undefined;
  /** Best height among the sentries (the network's view), when any answered. */
  readonly networkHeight?: number | undefined;
  /**
   * The validator's signatures in the network's most recent commits, newest first (true =
   * signed), when the commits could be read and the validator's address is known.
   */
  readonly signed?: readonly boolean[] | undefined;
}

export interface DetectSettings {
  /** RPC unreachable this long → down. ms. */
  readonly unreachableForMs: number;
  /** Height unchanged this long while the network advances → down. ms. */
  readonly heightStalledForMs: number;
  /** Signature absent from this many most recent commits in a row → down. */
  readonly missedBlocks: number;
}

export type ValidatorStatus = 'healthy' | 'suspect' | 'down';

export interface DetectState {
  readonly status: ValidatorStatus;
  /** When `status` began. */
  readonly since: number;
  /** Consecutive polls with a failing signal, and with none. */
  readonly failingPolls: number;
  readonly goodPolls: number;
  readonly unreachableSince?: number | undefined;
  /** Last height the validator reported and when it last went up. */
  readonly lastHeight?: number | undefined;
  readonly lastAdvanceAt?: number | undefined;
  /** The network's height when the validator last advanced. */
  readonly networkHeightAtAdvance?: number | undefined;
}

export type Condition = 'unreachable' | 'height-stalled' | 'missed-blocks';

export interface Transition {
  readonly from: ValidatorStatus;
  readonly to: ValidatorStatus | 'recovered';
  readonly at: number;
  /** The conditions that held (down), were forming (suspect) or had held (recovered). */
  readonly conditions: readonly Condition[];
  /** Plain words: what was seen. */
  readonly summary: string;
  /** The figures behind it. */
  readonly evidence: Readonly<Record<string, string | number | boolean>>;
}

export function initialDetectState(at: number): DetectState {
  return { status: 'healthy', since: at, failingPolls: 0, goodPolls: 0 };
}

/** A failing signal must be seen on this many polls in a row before anything fires. */
const CONFIRM_POLLS = 2;

/**
 * Folds one poll into the state. `suspect` after a signal fails on two polls in a row;
 * `down` once a condition has held for its configured span (never on one poll); `recovered`
 * (back to healthy) after two clean polls in a row.
 */
export function observeValidator(
  state: DetectState,
  poll: ValidatorPoll,
  s: DetectSettings,
): { state: DetectState; transition?: Transition | undefined } {
  // Height bookkeeping: an advance resets the stall clock.
  let lastHeight = state.lastHeight;
  let lastAdvanceAt = state.lastAdvanceAt;
  let networkHeightAtAdvance = state.networkHeightAtAdvance;
  if (poll.reachable && poll.height !== undefined) {
    if (lastHeight === undefined || poll.height > lastHeight) {
      lastHeight = poll.height;
      lastAdvanceAt = poll.at;
      networkHeightAtAdvance = poll.networkHeight;
    }
  }
  const unreachableSince = poll.reachable ? undefined : (state.unreachableSince ?? poll.at);

  const missedInRow = countMissedInRow(poll.signed);
  const networkAdvanced =
    poll.networkHeight !== undefined &&
    lastHeight !== undefined &&
    poll.networkHeight > lastHeight &&
    (networkHeightAtAdvance === undefined || poll.networkHeight > networkHeightAtAdvance);
  const stalledFor =
    poll.reachable && networkAdvanced && lastAdvanceAt !== undefined ? poll.at - lastAdvanceAt : 0;

  const failing: Condition[] = [];
  const held: Condition[] = [];
  if (!poll.reachable) {
    failing.push('unreachable');
    if (poll.at - unreachableSince! >= s.unreachableForMs) held.push('unreachable');
  }
  if (stalledFor > 0) {
    failing.push('height-stalled');
    if (stalledFor >= s.heightStalledForMs) held.push('height-stalled');
  }
  if (missedInRow > 0) {
    failing.push('missed-blocks');
    if (missedInRow >= s.missedBlocks) held.push('missed-blocks');
  }

  const failingPolls = failing.length > 0 ? state.failingPolls + 1 : 0;
  const goodPolls = failing.length === 0 ? state.goodPolls + 1 : 0;
  const evidence: Record<string, string | number | boolean> = { reachable: poll.reachable };
  if (poll.error) evidence.error = poll.error;
  if (unreachableSince !== undefined) evidence.unreachableForS = round((poll.at - unreachableSince) / 1000);
  if (poll.height !== undefined) evidence.height = poll.height;
  if (lastHeight !== undefined) evidence.lastHeight = lastHeight;
  if (poll.networkHeight !== undefined) evidence.networkHeight = poll.networkHeight;
  if (stalledFor > 0) evidence.stalledForS = round(stalledFor / 1000);
  if (poll.signed) {
    evidence.missedInRow = missedInRow;
    evidence.signedOfLast = `${poll.signed.filter(Boolean).length}/${poll.signed.length}`;
  }

  let status = state.status;
  let transition: Transition | undefined;
  const next = (to: ValidatorStatus | 'recovered', conditions: Condition[], summary: string) => {
    transition = { from: state.status, to, at: poll.at, conditions, summary, evidence };
    status = to === 'recovered' ? 'healthy' : to;
  };
  if (held.length > 0 && failingPolls >= CONFIRM_POLLS && state.status !== 'down')
    next('down', held, describe(held, evidence, 'down'));
  else if (failing.length > 0 && failingPolls >= CONFIRM_POLLS && state.status === 'healthy')
    next('suspect', failing, describe(failing, evidence, 'suspect'));
  else if (failing.length === 0 && goodPolls >= CONFIRM_POLLS && state.status !== 'healthy')
    next(
      'recovered',
      [],
      `validator ${state.status === 'down' ? 'is back' : 'looks healthy again'}: signing and advancing`,
    );

  return {
    state: {
      status,
      since: transition ? poll.at : state.since,
      failingPolls,
      goodPolls,
      unreachableSince,
      lastHeight,
      lastAdvanceAt,
      networkHeightAtAdvance,
    },
    transition,
  };
}

/** Leading `false`s: commits in a row, newest first, without the validator's signature. */
function countMissedInRow(signed: readonly boolean[] | undefined): number {
  if (!signed) return 0;
  let n = 0;
  for (const s of signed) {
    if (s) break;
    n++;
  }
  return n;
}

function describe(
  conditions: readonly Condition[],
  e: Readonly<Record<string, string | number | boolean>>,
  what: 'down' | 'suspect',
): string {
  const words: Record<Condition, () => string> = {
    unreachable: () => `RPC unreachable for ${e.unreachableForS}s${e.error ? ` (${e.error})` : ''}`,
    'height-stalled': () =>
      `height stuck at ${e.lastHeight} for ${e.stalledForS}s while the network reached ${e.networkHeight}`,
    'missed-blocks': () => `no signature in the last ${e.missedInRow} commits`,
  };
  const parts = conditions.map((c) => words[c]());
  return `validator ${what === 'down' ? 'down' : 'suspect'}: ${parts.join('; ')}`;
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}
