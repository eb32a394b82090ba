// Who runs on a SQLite store, and how `rampart down` stops it: the holder of the lock beside
// the store file, asked to stop by signal and waited for until its process has exited.

import { existsSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { formatDuration } from '../core/duration.ts';
import type { ControllerPresence, PresenceDeps, StopDeps } from './coordination.ts';
import { holderRuns, type LockHolder, lockHolder } from './embedded.ts';

function lockFileOf(storeFile: string | undefined): string {
  if (storeFile === undefined) throw new Error('embedded coordination needs the sqlite store');
  return `${path.resolve(storeFile)}.lock`;
}

/** The lock's holder, when one holds it; nobody when the store file does not exist yet. */
export function embeddedPresence({ storeFile }: PresenceDeps): ControllerPresence {
  const lockFile = lockFileOf(storeFile);
  const by = `the lock ${lockFile}`;
  const held = existsSync(storeFile!) ? lockHolder(lockFile) : undefined;
  if (!held) return { running: false, controllers: [], by };
  const who = held.pid === undefined ? held.holder : `pid ${held.pid}`;
  return { running: true, controllers: [{ who, pid: held.pid, leading: true }], by };
}

/**
 * Asks the controller holding the lock to stop (SIGTERM), and waits until its process has
 * exited — not merely let go of the lock: until then it still closes its store. Nothing to
 * do when no controller holds it.
 */
export async function stopEmbedded({ storeFile, waitMs, say }: StopDeps): Promise<void> {
  const lockFile = lockFileOf(storeFile);
  let holder = lockHolder(lockFile);
  // A holder that has just taken the lock writes its record right after: give it a moment.
  for (let i = 0; i < 20 && holder && holder.pid === undefined; i++) {
    await sleep(100);
    holder = lockHolder(lockFile);
  }
  if (!holder) return;
  if (holder.pid === undefined)
    throw new Error(
      `a controller (${holder.holder}) holds ${lockFile} but runs where this process cannot signal it (another host, container or PID namespace): stop it there, then run rampart down again. Nothing was removed`,
    );
  try {
    process.kill(holder.pid, 'SIGTERM');
    say(
      `asked the running controller (pid ${holder.pid}) to stop; waiting for it to finish its action in flight`,
    );
  } catch {
    // Exited meanwhile.
  }
  await untilStopped(holder, waitMs);
}

/** Until the holder's process has exited: the kernel has then released its lock, and its store is closed. */
async function untilStopped(holder: LockHolder, waitMs: number): Promise<void> {
  const deadline = Date.now() + waitMs;
  while (holderRuns(holder)) {
    if (Date.now() >= deadline)
      throw new Error(
        `the controller (pid ${holder.pid}) did not stop within ${formatDuration(waitMs)} (an action in flight — a removal, a snapshot — may take longer): nothing was removed; run rampart down again with a longer --wait, or stop it yourself (kill -9 ${holder.pid}: its next start reconciles what it left unfinished)`,
      );
    await sleep(100);
  }
}
