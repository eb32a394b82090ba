// Embedded coordination: one controller per store file. Leadership is a lock the kernel
// keeps for the leader's process — an exclusive SQLite (POSIX record) lock on `<lock file>.db`
// beside the store — so it ends with the process however the process ends (SIGKILL, OOM, a
// container restart) and whatever pid the next process gets. Terms come from the store.
//
// Why not a file naming a pid: after a restart a controller running as PID 1 (a container)
// finds pid 1 alive — itself — and would refuse forever; and a pid with its start time and
// boot id cannot see a holder in another PID namespace (a second container on the same
// volume), so it would take over from a live one. The kernel lock knows neither problem,
// and two candidates racing for a lock whose holder died cannot both win: the kernel
// grants it to one.
//
// `<lock file>` records who holds the lock (pid, process start time, boot id, holder name)
// for `rampart down` and `status`; it is written by the holder only, and believed only while
// the lock is held and the process it names is the one that wrote it.
//
// Never open `<lock file>.db` with anything but SQLite in a process that may hold it: closing
// any descriptor of a file drops that process's POSIX locks on it (SQLite guards its own).

import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import type { Store } from '../store/store.ts';
import { type Coordination, type Leadership, type Lock, StoreHeldError } from './coordination.ts';

/**
 * How long a campaign waits before calling the lock held, ms: a reader's look at it
 * (lockHolder) holds it shared for an instant, which must not refuse a candidate.
 */
const CAMPAIGN_WAIT_MS = 500;

/** SQLite's result code for a lock held elsewhere. */
const SQLITE_BUSY = 5;

/** Who holds a store's lock, as far as this process can tell. */
export interface LockHolder {
  /** The holder's name (`rampart up on HOST (pid N)`), or `unknown` before it wrote its record. */
  readonly holder: string;
  /**
   * Its pid, when the record names a live process of this host's boot and this PID
   * namespace (the one that wrote it); undefined when it runs where this process cannot see.
   */
  readonly pid: number | undefined;
  /** The process's start time (clock ticks after boot, /proc/PID/stat), where known. */
  readonly startTime: number | undefined;
}

/** A campaign refused: another process holds the store's lock. */
export class LockHeldError extends StoreHeldError {
  readonly lockFile: string;
  readonly holder: LockHolder;
  constructor(lockFile: string, holder: LockHolder) {
    super(
      `another controller (${holder.pid === undefined ? 'pid unknown' : `pid ${holder.pid}`}, ${holder.holder}) is running on this store; lock file ${lockFile}`,
    );
    this.name = 'LockHeldError';
    this.lockFile = lockFile;
    this.holder = holder;
  }
}

interface HolderRecord {
  readonly pid: number;
  readonly holder: string;
  readonly startTime?: number | undefined;
  readonly bootId?: string | undefined;
}

export class EmbeddedCoordination implements Coordination {
  readonly kind = 'embedded';
  readonly #store: Store;
  readonly #lockFile: string;
  readonly #locks = new Set<string>();
  #leadership: { controller: AbortController; release: () => void } | undefined;

  constructor(store: Store, lockFile: string) {
    this.#store = store;
    this.#lockFile = lockFile;
  }

  async campaign(holder: string): Promise<Leadership> {
    const held = takeLock(this.#lockFile);
    const record = ownRecord(holder);
    const release = () => {
      // The record goes first, while the lock still keeps every other writer out.
      if (sameRecord(readRecord(this.#lockFile), record)) {
        try {
          unlinkSync(this.#lockFile);
        } catch {
          // Already gone: nothing to remove.
        }
      }
      if (held.isOpen) held.close();
    };
    let term: number;
    try {
      writeRecord(this.#lockFile, record);
      term = await this.#store.newTerm(holder);
    } catch (e) {
      release();
      throw e;
    }
    const controller = new AbortController();
    this.#leadership = { controller, release };
    return {
      term,
      holder,
      lost: controller.signal,
      resign: async () => {
        controller.abort(new Error('resigned'));
        release();
        this.#leadership = undefined;
      },
    };
  }

  async tryLock(name: string): Promise<Lock | undefined> {
    if (this.#locks.has(name)) return undefined;
    this.#locks.add(name);
    // In-process: one controller per store file, so its own locks are all there are. Held
    // until released, never lost.
    return { name, lost: new AbortController().signal, release: async () => void this.#locks.delete(name) };
  }

  async close(): Promise<void> {
    this.#leadership?.controller.abort(new Error('closed'));
    this.#leadership?.release();
    this.#leadership = undefined;
  }
}

/** Takes the kernel lock of `lockFile`: the returned connection holds it until closed. */
function takeLock(lockFile: string): DatabaseSync {
  const db = new DatabaseSync(`${lockFile}.db`);
  try {
    db.exec(`PRAGMA busy_timeout = ${CAMPAIGN_WAIT_MS}`);
    // Never committed: the open transaction holds the lock, and nothing is ever written.
    db.exec('BEGIN EXCLUSIVE');
    return db;
  } catch (e) {
    db.close();
    if (!isBusy(e)) throw e;
    throw new LockHeldError(lockFile, holderOf(readRecord(lockFile)));
  }
}

/** Whether some process holds the kernel lock of `lockFile`; never takes it. */
function isHeld(lockFile: string): boolean {
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(`${lockFile}.db`, { readOnly: true });
  } catch {
    return false; // No lock file: nobody ever campaigned here.
  }
  try {
    db.exec('PRAGMA busy_timeout = 0');
    // A read needs a shared lock, which the holder's exclusive one refuses.
    db.prepare('SELECT count(*) FROM sqlite_master').get();
    return false;
  } catch (e) {
    if (isBusy(e)) return true;
    throw e;
  } finally {
    db.close();
  }
}

/** Who holds the lock of `lockFile`; undefined when nobody does. */
export function lockHolder(lockFile: string): LockHolder | undefined {
  return isHeld(lockFile) ? holderOf(readRecord(lockFile)) : undefined;
}

/** Whether the holder's process still runs (false once it has exited, or when its pid is unknown). */
export function holderRuns(h: LockHolder): boolean {
  return h.pid !== undefined && sameProcess(h.pid, h.startTime, undefined);
}

function holderOf(r: HolderRecord | undefined): LockHolder {
  if (!r) return { holder: 'unknown', pid: undefined, startTime: undefined };
  const live = sameProcess(r.pid, r.startTime, r.bootId);
  return { holder: r.holder, pid: live ? r.pid : undefined, startTime: live ? r.startTime : undefined };
}

function isBusy(e: unknown): boolean {
  return (e as { errcode?: number }).errcode === SQLITE_BUSY;
}

function ownRecord(holder: string): HolderRecord {
  return { pid: process.pid, holder, startTime: startTimeOf(process.pid), bootId: bootId() };
}

function sameRecord(a: HolderRecord | undefined, b: HolderRecord): boolean {
  return a?.pid === b.pid && a.holder === b.holder && a.startTime === b.startTime && a.bootId === b.bootId;
}

/** Written whole (a temporary file renamed over it): a reader never sees half a record. */
function writeRecord(lockFile: string, r: HolderRecord): void {
  const tmp = `${lockFile}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(r)}\n`);
  renameSync(tmp, lockFile);
}

function readRecord(lockFile: string): HolderRecord | undefined {
  try {
    const r = JSON.parse(readFileSync(lockFile, 'utf8')) as Partial<HolderRecord>;
    if (!Number.isInteger(r.pid) || typeof r.holder !== 'string') return undefined;
    return {
      pid: r.pid!,
      holder: r.holder,
      startTime: typeof r.startTime === 'number' ? r.startTime : undefined,
      bootId: typeof r.bootId === 'string' ? r.bootId : undefined,
    };
  } catch {
    // Absent, half-copied by hand, or a lock file of an older Rampart (a pid and a name).
    return undefined;
  }
}

/**
 * Whether `pid` is the process that was started at `startTime` during boot `boot`: a pid is
 * reused, a start time is not (within one boot). Without /proc, a live pid is all there is.
 */
function sameProcess(pid: number, startTime: number | undefined, boot: string | undefined): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (boot !== undefined && bootId() !== undefined && boot !== bootId()) return false;
  const now = startTimeOf(pid);
  if (now !== undefined || startTime !== undefined) return now !== undefined && now === startTime;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Field 22 of /proc/PID/stat: when the process started, in clock ticks after boot. */
function startTimeOf(pid: number): number | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') return undefined; // exited, not yet reaped
    const t = Number(fields[19]);
    return Number.isFinite(t) ? t : undefined;
  } catch {
    return undefined;
  }
}

let boot: string | null | undefined;
function bootId(): string | undefined {
  if (boot === undefined) {
    try {
      boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      boot = null;
    }
  }
  return boot ?? undefined;
}
