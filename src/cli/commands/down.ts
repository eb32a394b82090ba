// `rampart down -c FILE`: stops the controller if one runs on this store, then removes every
// node of the fleet (sentries unwired before their validator goes).

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRuntime } from '../../controller/runtime.ts';
import { tearDownFleet } from '../../controller/teardown.ts';
import { configFlag, loadConfigFrom, parseFlags } from '../args.ts';
import { createLogger } from '../log.ts';

export async function down(argv: string[]): Promise<number> {
  const flags = parseFlags('down', argv, configFlag);
  const { config } = loadConfigFrom(flags);
  const log = createLogger({ level: config.controller.log.level });
  if (config.controller.store.kind === 'sqlite')
    await stopRunningController(`${path.resolve(config.controller.store.path)}.lock`);
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
