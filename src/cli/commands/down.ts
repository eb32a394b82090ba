// `rampart down -c FILE`: stops the controller if one runs on this store (and waits until its
// process is gone), then removes every node of the fleet (sentries unwired before their
// validator goes). Exits 1 naming every node it could not remove.

import type { Config } from '../../config/schema.ts';
import { FleetNotDownError, tearDownFleet } from '../../controller/teardown.ts';
import { type Leadership, type StopDeps, StoreHeldError } from '../../coordination/coordination.ts';
import { coordinationPlugin } from '../../coordination/registry.ts';
import { parseDuration } from '../../core/duration.ts';
import { createRuntime, type Runtime } from '../../runtime/runtime.ts';
import { loadConfigFrom, UsageError } from '../args.ts';
import { DEFAULT_STOP_WAIT } from '../defaults.ts';
import { createLogger } from '../log.ts';
import { presenceDeps } from '../running.ts';

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
  let leadership: Leadership | undefined;
  try {
    leadership = await leadAfterStopping(config, rt, waitMs);
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
 * Asks the running controllers to stop the way the coordination kind knows (a signal to the
 * lock's holder, to each etcd replica on this host; nothing for a Lease, whose campaign waits
 * for it), then campaigns. A controller that took the store again meanwhile (a supervisor
 * restarting it) is asked again, a few times.
 */
async function leadAfterStopping(config: Config, rt: Runtime, waitMs: number): Promise<Leadership> {
  const c = config.controller.coordination;
  const plugin = coordinationPlugin(c.kind);
  const deps: StopDeps = {
    ...presenceDeps(config),
    waitMs,
    say: (line) => process.stdout.write(`${line}\n`),
  };
  for (let attempt = 1; ; attempt++) {
    await plugin.stopRunning?.(c, deps);
    await rt.store.open();
    try {
      return await rt.coordination.campaign(`rampart down (pid ${process.pid})`);
    } catch (e) {
      if (!(e instanceof StoreHeldError)) throw e;
      await rt.store.close();
      if (attempt >= STOP_ATTEMPTS)
        throw new Error(
          `${e.message}: a controller took the store again each time the one before stopped (${STOP_ATTEMPTS} times); something starts it again (systemd, a container runtime, Kubernetes): stop it there, then run rampart down again. Nothing was removed`,
        );
    }
  }
}
