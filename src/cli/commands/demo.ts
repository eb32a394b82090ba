// `rampart demo` (what `npm start` runs): the controller on examples/local.yaml plus a load
// generator whose profile rises and falls, so the sentry pool grows and shrinks within
// minutes. Ctrl-C stops the load, the controller and every node it started.

import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { observedController, serveApi } from '../../api/controller-api.ts';
import { tearDownFleet } from '../../controller/teardown.ts';
import { lockHolder } from '../../coordination/embedded.ts';
import { LoadGenerator, LoadProfile } from '../../nodes/simnode/load-generator.ts';
import { createRuntime } from '../../runtime/runtime.ts';
import { loadConfigFrom, UsageError } from '../args.ts';
import { createLogger } from '../log.ts';
import { openBrowser } from '../open-browser.ts';
import { untilStopSignal } from '../signals.ts';
import { followPool, loadTargetPool } from './load.ts';

/** Quiet, a surge to well past what three sentries serve, then quiet again; repeats. */
export const DEMO_PROFILE = new LoadProfile(
  [
    { at: 0, rate: 40 },
    { at: 15, rate: 40 },
    { at: 25, rate: 330 },
    { at: 75, rate: 330 },
    { at: 85, rate: 40 },
    { at: 170, rate: 40 },
  ],
  { loop: true },
);

export interface DemoFlags {
  /** Default: the built-in examples/local.yaml (not $RAMPART_CONFIG). */
  readonly config?: string | undefined;
  /** The pool the load goes to. Default: the first sentry pool. */
  readonly pool?: string | undefined;
  /** Open the dashboard even without a terminal or a display. */
  readonly open?: boolean | undefined;
}

export async function demo(flags: DemoFlags): Promise<number> {
  const builtIn = fileURLToPath(new URL('../../../examples/local.yaml', import.meta.url));
  const file = flags.config ?? builtIn;
  const { config, file: resolved } = loadConfigFrom({ config: file });
  // The built-in demo starts from nothing each time: its validator's chain is new, so an
  // earlier run's snapshots and records belong to another chain.
  if (resolved === builtIn) {
    const demoState = fileURLToPath(new URL('../../../.rampart/demo', import.meta.url));
    const running = lockHolder(path.join(demoState, 'state.db.lock'));
    if (running !== undefined)
      throw new UsageError(
        `the demo is already running (${running.pid === undefined ? running.holder : `pid ${running.pid}`})`,
      );
    rmSync(demoState, { recursive: true, force: true });
  }
  const log = createLogger({ level: config.controller.log.level });
  const pool = loadTargetPool(config, flags.pool);
  const observed = observedController(config, log);
  const { controller, runtime } = observed;
  // The dashboard first, so the page is there as soon as the fleet starts; a taken port
  // moves it to the next free one rather than leaving the newcomer without it.
  const api = await serveApi(observed, config, log, { portFallbacks: 20 });
  const stopped = untilStopSignal();
  try {
    await controller.start();
  } catch (e) {
    await api?.close();
    throw e;
  }
  if (api) {
    log.info({ url: api.url }, `dashboard: ${api.url}`);
    if (flags.open === true || process.stdout.isTTY) openBrowser(api.url, flags.open === true);
  }
  const generator = new LoadGenerator({ profile: DEMO_PROFILE });
  const follow = followPool(runtime.store, pool, generator);
  generator.start();
  log.info(
    { config: file },
    `demo running: load on ${pool} follows a ${DEMO_PROFILE.period}s cycle (40 → 330 → 40 tx/s). ` +
      `Watch: npx rampart status --watch -c ${file} · history: npx rampart history -c ${file} · Ctrl-C stops everything`,
  );
  const report = setInterval(() => {
    const s = generator.stats();
    log.info(
      { pool, targets: s.targets },
      `offered load ${Math.round(s.rate)} tx/s over ${s.targets} ready node(s)`,
    );
  }, 10_000);
  await stopped;
  clearInterval(report);
  follow.stop();
  generator.stop();
  log.info('stopping the controller, then every node of the demo');
  await api?.close();
  await controller.stop();
  const rt = createRuntime(config);
  await rt.store.open();
  const leadership = await rt.coordination.campaign(`demo teardown (pid ${process.pid})`);
  try {
    const removed = await tearDownFleet(rt, { term: leadership.term, log, guard: () => undefined });
    log.info(`removed ${removed} node(s); nothing left running`);
  } finally {
    await leadership.resign();
    await rt.coordination.close();
    await rt.store.close();
  }
  return 0;
}
