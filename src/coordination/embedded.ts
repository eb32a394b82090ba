// Embedded coordination: one controller per store file. Leadership is an exclusive lock
// file beside the store (refused while its holder process lives); terms come from the store.

import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import type { Store } from '../store/store.ts';
import type { Coordination, Leadership, Lock } from './coordination.ts';

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
    this.#takeLockFile(holder);
    const term = await this.#store.newTerm(holder);
    const controller = new AbortController();
    const release = () => {
      try {
        const owner = readFileSync(this.#lockFile, 'utf8');
        if (owner.startsWith(`${process.pid}\n`)) unlinkSync(this.#lockFile);
      } catch {
        // Already gone: nothing to release.
      }
    };
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

  #takeLockFile(holder: string): void {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(this.#lockFile, 'wx');
        writeSync(fd, `${process.pid}\n${holder}\n`);
        closeSync(fd);
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        const [pidText, other] = readFileSync(this.#lockFile, 'utf8').split('\n');
        const pid = Number(pidText);
        if (Number.isInteger(pid) && pid > 0 && isAlive(pid))
          throw new Error(
            `another controller (pid ${pid}, ${other ?? 'unknown'}) is running on this store; lock file ${this.#lockFile}`,
          );
        // Its holder died without cleaning up: the lock is free.
        unlinkSync(this.#lockFile);
      }
    }
    throw new Error(`could not take ${this.#lockFile}`);
  }

  async tryLock(name: string): Promise<Lock | undefined> {
    if (this.#locks.has(name)) return undefined;
    this.#locks.add(name);
    // In-process: held until released, never lost.
    return { name, lost: new AbortController().signal, release: async () => void this.#locks.delete(name) };
  }

  async close(): Promise<void> {
    this.#leadership?.controller.abort(new Error('closed'));
    this.#leadership?.release();
    this.#leadership = undefined;
  }
}

/** The pid of the live process holding a lock file, if any. */
export function lockHolder(lockFile: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(lockFile, 'utf8');
  } catch {
    return undefined;
  }
  const pid = Number(text.split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
