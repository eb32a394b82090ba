// One OpenStack bed shared by the test files that use it (a bed takes minutes to start): the
// first file to ask starts a detached keeper process (openstack-bed-keeper.ts) that starts the
// bed and writes where it is; every file registers itself under the bed's dir in the cache for
// as long as it uses it; the keeper stops the bed once no live file has been registered for
// LINGER (files of a suite run one after another: a gap of a few seconds is not an end).
// Each file then works in a project of its own (openTenant), so files do not see each other's
// servers, quotas or passwords.

import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { BedCore, OpenStackOptions } from './openstack.ts';
import { CACHE } from './servers.ts';

const KEEPER = fileURLToPath(new URL('./openstack-bed-keeper.ts', import.meta.url));
/** How long an unused shared bed stays up, for the next file of the suite. */
export const LINGER_MS = Number(process.env.RAMPART_OPENSTACK_LINGER_MS ?? 60_000);

export interface SharedState {
  /** The keeper's pid. */
  readonly pid: number;
  readonly status: 'starting' | 'ready' | 'failed';
  readonly core?: BedCore;
  readonly error?: string;
}

/**
 * The place of one kind of shared bed: keyed by the options and by the source of the modules
 * that make a bed, so a bed made by older code is never reused.
 */
export function sharedDir(o: OpenStackOptions): string {
  const h = createHash('sha256');
  for (const f of ['openstack.ts', 'openstack/run.py', 'openstack-bed-keeper.ts'])
    h.update(readFileSync(fileURLToPath(new URL(`./${f}`, import.meta.url))));
  h.update(JSON.stringify({ heat: o.heat === true }));
  return path.join(CACHE, 'openstack', 'shared', h.digest('hex').slice(0, 12));
}

export const statePath = (dir: string) => path.join(dir, 'state.json');
export const clientsDir = (dir: string) => path.join(dir, 'clients');

export function readState(dir: string): SharedState | undefined {
  try {
    return JSON.parse(readFileSync(statePath(dir), 'utf8')) as SharedState;
  } catch {
    return undefined;
  }
}

export function writeState(dir: string, state: SharedState): void {
  const tmp = `${statePath(dir)}.${process.pid}`;
  writeFileSync(tmp, JSON.stringify(state));
  // rename, atomic on one file system: a reader never sees half a file.
  renameSync(tmp, statePath(dir));
}

export function alive(pid: number): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Runs `fn` holding the dir's lock (a lock dir; one left by a dead holder is taken over). */
export async function withLock<T>(dir: string, fn: () => T | Promise<T>): Promise<T> {
  const lock = path.join(dir, 'lock');
  mkdirSync(dir, { recursive: true });
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(path.join(lock, 'pid'), String(process.pid));
      break;
    } catch {
      let holder = 0;
      try {
        holder = Number(readFileSync(path.join(lock, 'pid'), 'utf8'));
      } catch {
        // Made but its pid not written yet: wait.
      }
      if (holder && !alive(holder)) rmSync(lock, { recursive: true, force: true });
      else await sleep(100);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/**
 * Registers this process as a user of the shared bed of options `o`, starting it when none
 * runs, and waits until it is ready. `release` unregisters (the keeper stops the bed later).
 */
export async function acquireSharedBed(o: OpenStackOptions): Promise<{ core: BedCore; release(): void }> {
  const dir = sharedDir(o);
  const me = path.join(clientsDir(dir), `${process.pid}-${randomBytes(4).toString('hex')}`);
  const release = () => rmSync(me, { force: true });
  await withLock(dir, () => {
    mkdirSync(clientsDir(dir), { recursive: true });
    writeFileSync(me, String(process.pid));
    const state = readState(dir);
    if (state && alive(state.pid)) return;
    const log = openSync(path.join(dir, 'keeper.log'), 'a');
    try {
      // Its own process group and no pipe to this process: the test runner does not wait for it.
      // Not a test process: the runner's variables would make it report as one.
      const env = Object.fromEntries(
        Object.entries(process.env).filter(([k]) => !k.startsWith('NODE_TEST') && k !== 'NODE_OPTIONS'),
      );
      const child = spawn(process.execPath, [KEEPER, dir, JSON.stringify(o)], {
        detached: true,
        stdio: ['ignore', log, log],
        env,
      });
      child.unref();
      writeState(dir, { pid: child.pid!, status: 'starting' });
    } finally {
      closeSync(log);
    }
  });
  for (;;) {
    const state = readState(dir);
    if (state?.status === 'ready' && state.core && alive(state.pid)) return { core: state.core, release };
    if (state === undefined || state.status === 'failed' || !alive(state.pid)) {
      release();
      throw new Error(
        `the shared OpenStack bed did not start: ${state?.error ?? 'its keeper died'} (log: ${path.join(dir, 'keeper.log')})`,
      );
    }
    await sleep(500);
  }
}
