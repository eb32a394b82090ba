// Who runs on an etcd store, and how `rampart down` stops them: every candidate of the
// election (leading or standing by), asked to stop by signal when it runs on this host.

import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { formatDuration } from '../core/duration.ts';
import { EtcdStore } from '../store/etcd-store.ts';
import type { ControllerPresence, PresenceDeps, RunningController, StopDeps } from './coordination.ts';
import { electionCandidates } from './etcd.ts';

const BY = 'the election in etcd';

/** Every candidate of the election, the leader first. */
export async function etcdPresence(deps: PresenceDeps): Promise<ControllerPresence> {
  const controllers = await candidates(deps);
  return { running: controllers.length > 0, controllers, by: BY };
}

async function candidates({ store, openStore }: PresenceDeps): Promise<RunningController[]> {
  const own = store === undefined;
  const s = store ?? (await openStore());
  try {
    if (!(s instanceof EtcdStore)) throw new Error('etcd coordination needs the etcd store');
    return (await electionCandidates(s)).map((c, i) => ({
      who: c.holder,
      host: c.host,
      pid: c.pid,
      leading: i === 0,
    }));
  } finally {
    if (own) await s.close();
  }
}

/**
 * Asks every replica on this host to stop (standbys too, or one would take over) and waits
 * until none campaigns; replicas on other hosts must be stopped where they run.
 */
export async function stopEtcdReplicas(deps: StopDeps): Promise<void> {
  const running = await candidates(deps);
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
      deps.say(`asked the running controller (${r.who}) to stop`);
    } catch {
      // Already gone: its election key goes with its lease.
    }
  }
  const deadline = Date.now() + deps.waitMs;
  while (running.length > 0 && (await candidates(deps)).length > 0) {
    if (Date.now() > deadline)
      throw new Error(
        `the controllers did not stop within ${formatDuration(deps.waitMs)}: nothing was removed; run rampart down again with a longer --wait`,
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
