// `rampart down -c FILE`: stops the controller if one runs on this store, then removes every
// node of the fleet (sentries unwired before their validator goes).

import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../../config/schema.ts';
import { createRuntime } from '../../controller/runtime.ts';
import { tearDownFleet } from '../../controller/teardown.ts';
import { configFlag, loadConfigFrom, parseFlags } from '../args.ts';
import { createLogger } from '../log.ts';
import { runningControllers } from '../running.ts';

export async function down(argv: string[]): Promise<number> {
  const flags = parseFlags('down', argv, configFlag);
  const { config } = loadConfigFrom(flags);
  const log = createLogger({ level: config.controller.log.level });
  if (config.controller.store.kind === 'sqlite')
    await stopRunningController(`${path.resolve(config.controller.store.path)}.lock`);
  else await stopReplicas(config);
  const rt = createRuntime(config);
  await rt.store.open();
  const leadership = await rt.coordination.campaign(`rampart down (pid ${process.pid})`);
  try {
    const removed = await tearDownFleet(rt, {
      term: leadership.term,
      log,
      guard: () => {
        if (leadership.lost.aborted) throw new Error('leadership lost');
      },
    });
    process.stdout.write(`removed ${removed} node(s)\n`);
  } finally {
    await leadership.resign();
    await rt.coordination.close();
    await rt.store.close();
  }
  return 0;
}

/**
 * With etcd: asks every replica on this host to stop (standbys too, or one would take over)
 * and waits until none campaigns; replicas on other hosts must be stopped where they run.
 */
async function stopReplicas(config: Config): Promise<void> {
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
  const deadline = Date.now() + 30_000;
  while (running.length > 0 && (await runningControllers(config)).length > 0) {
    if (Date.now() > deadline) throw new Error('the controllers did not stop within 30s');
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

/** Asks a controller holding the store's lock file to stop, and waits until it has. */
async function stopRunningController(lockFile: string): Promise<void> {
  if (!existsSync(lockFile)) return;
  const pid = Number(readFileSync(lockFile, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  process.stdout.write(`asked the running controller (pid ${pid}) to stop\n`);
  for (let i = 0; i < 600 && existsSync(lockFile); i++) await sleep(50);
  if (existsSync(lockFile))
    throw new Error(`the controller (pid ${pid}) did not stop within 30s; lock ${lockFile}`);
}
