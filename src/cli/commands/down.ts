// `rampart down -c FILE`: stops the controller if one runs on this store (and waits until its
// process is gone), then removes every node of the fleet (sentries unwired before their
// validator goes). Exits 1 naming every node it could not remove.

import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../../config/schema.ts';
import { FleetNotDownError, tearDownFleet } from '../../controller/teardown.ts';
import type { Leadership } from '../../coordination/coordination.ts';
import { holderRuns, LockHeldError, type LockHolder, lockHolder } from '../../coordination/embedded.ts';
import { formatDuration, parseDuration } from '../../core/duration.ts';
import { createRuntime, type Runtime } from '../../runtime/runtime.ts';
import { loadConfigFrom, UsageError } from '../args.ts';
import { DEFAULT_STOP_WAIT } from '../defaults.ts';
import { createLogger } from '../log.ts';
import { runningControllers } from '../running.ts';

/** Stopping a controller that something starts again (a supervisor) is tried this many times. */
const STOP_ATTEMPTS = 3;

export interface DownFlags {
  readonly config?: string | undefined;
  /** Longest wait for a running controller to stop, e.g. 30s. Default 2m. */
  readonly wait?: string | undefined;
}

export async function down(flags: DownFlags): Promise<number> {
  const waitMs = parseDuration(flags.wait ?? DEFAULT_STOP_WAIT);
  if (waitMs === undefined)
    throw new UsageError(`rampart down: --wait ${flags.wait}: not a duration (e.g. 30s, 5m)`);
  const { config } = loadConfigFrom(flags);
  const log = createLogger({ level: config.controller.log.level });
  const rt = createRuntime(config);
  const store = config.controller.store;
  let leadership: Leadership | undefined;
  try {
    if (store.kind === 'sqlite' && config.controller.coordination.kind === 'embedded')
      leadership = await leadAfterStopping(rt, `${path.resolve(store.path)}.lock`, waitMs);
    else {
      // A Kubernetes Lease is campaigned for: down leads once the running replicas let it go.
      if (store.kind === 'etcd') await stopReplicas(config, waitMs);
      await rt.store.open();
      leadership = await rt.coordination.campaign(`rampart down (pid ${process.pid})`);
    }
    const lead = leadership;
    const removed = await tearDownFleet(rt, {
      term: lead.term,
      log,
      guard: () => {
        if (lead.lost.aborted) throw new Error('leadership lost');
      },
    });
    process.stdout.write(`removed ${removed} node(s)\n`);
    return 0;
  } catch (e) {
    if (!(e instanceof FleetNotDownError)) throw e;
    process.stdout.write(`removed ${e.removed} node(s)\n`);
    process.stderr.write(
      `rampart down: ${e.message}\nmend what each reason says, then run rampart down again: it removes what is left\n`,
    );
    return 1;
  } finally {
    await leadership?.resign();
    await rt.coordination.close();
    await rt.store.close();
  }
}

/**
 * SQLite store: asks the controller holding the store's lock to stop, waits until its
 * process is gone, and takes the lock. A controller started again meanwhile (a supervisor
 * restarting it) is asked again, a few times.
 */
async function leadAfterStopping(rt: Runtime, lockFile: string, waitMs: number): Promise<Leadership> {
  for (let attempt = 1; ; attempt++) {
    await stopRunningController(lockFile, waitMs);
    await rt.store.open();
    try {
      return await rt.coordination.campaign(`rampart down (pid ${process.pid})`);
    } catch (e) {
      if (!(e instanceof LockHeldError)) throw e;
      await rt.store.close();
      if (attempt >= STOP_ATTEMPTS)
        throw new Error(
          `${e.message}: a controller took the store again each time the one before stopped (${STOP_ATTEMPTS} times); something starts it again (systemd, a container runtime, Kubernetes): stop it there, then run rampart down again. Nothing was removed`,
        );
    }
  }
}

/**
 * Asks the controller holding `lockFile` to stop (SIGTERM), and waits until its process has
 * exited — not merely let go of the lock: until then it still closes its store. Nothing to do
 * when no controller holds it.
 */
async function stopRunningController(lockFile: string, waitMs: number): Promise<void> {
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
    process.stdout.write(
      `asked the running controller (pid ${holder.pid}) to stop; waiting for it to finish its action in flight\n`,
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

/**
 * With etcd: asks every replica on this host to stop (standbys too, or one would take over)
 * and waits until none campaigns; replicas on other hosts must be stopped where they run.
 */
async function stopReplicas(config: Config, waitMs: number): Promise<void> {
  const running = await runningControllers(config);
  const elsewhere = running.filter((r) => r.host !== hostname() || r.pid === undefined);
  if (elsewhere.length > 0)
    throw new Error(
      `controllers run on this store on other hosts: ${elsewhere.map((r) => `${r.who} on ${r.host ?? '?'}`).join('; ')}; stop them first`,
    );
  for (const r of running) {
    // A replica killed without cleanup keeps its key until its lease expires; its pid may
    // since belong to another process, which is not signalled.
    if (existsSync('/proc') && !/rampart|main\.ts/.test(readCmdline(r.pid!))) continue;
    try {
      process.kill(r.pid!, 'SIGTERM');
      process.stdout.write(`asked the running controller (${r.who}) to stop\n`);
    } catch {
      // Already gone: its election key goes with its lease.
    }
  }
  const deadline = Date.now() + waitMs;
  while (running.length > 0 && (await runningControllers(config)).length > 0) {
    if (Date.now() > deadline)
      throw new Error(
        `the controllers did not stop within ${formatDuration(waitMs)}: nothing was removed; run rampart down again with a longer --wait`,
      );
    await sleep(250);
  }
}

function readCmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}
