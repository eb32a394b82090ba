// `rampart up -c FILE [--adopt]`: runs the controller until SIGINT/SIGTERM. Nodes keep running
// when it stops; the next `up` adopts them. A store that knows less than the platform (instances
// it has no record of) is refused with exit 2, unless `--adopt` records them as its nodes. With
// etcd coordination several replicas run `up`: the leader acts, the others stand by (waiting in
// the campaign) until it goes.

import { hostname } from 'node:os';
import { observedController, serveApi } from '../../api/controller-api.ts';
import { loadConfigFrom } from '../args.ts';
import { createLogger } from '../log.ts';
import { untilStopSignal } from '../signals.ts';

export interface UpFlags {
  readonly config?: string | undefined;
  readonly adopt?: boolean | undefined;
}

export async function up(flags: UpFlags): Promise<number> {
  const { config, file } = loadConfigFrom(flags);
  const log = createLogger({ level: config.controller.log.level });
  const observed = observedController(config, log, {
    holder: `rampart up on ${hostname()} (pid ${process.pid})`,
    adopt: flags.adopt,
  });
  const { controller } = observed;
  // Before the controller acts: a configuration the API must not serve stops everything here.
  const api = await serveApi(observed, config, log);
  if (api) log.info({ url: api.url }, `API, dashboard and /metrics at ${api.url}`);
  try {
    const stopped = untilStopSignal();
    // A standby replica may be stopped before it ever leads: whichever comes first.
    const started = controller.start();
    started.catch(() => undefined);
    const first = await Promise.race([started.then(() => undefined), stopped]).catch(async (e: unknown) => {
      // Refused before acting (the store knows less than the platform): release what it holds.
      await controller.stop().catch(() => undefined);
      throw e;
    });
    if (first === undefined)
      log.info({ config: file }, 'controller running; Ctrl-C stops it and leaves the nodes running');
    const signal = first ?? (await stopped);
    log.info({ signal }, 'stopping after the action in flight');
  } finally {
    await api?.close();
  }
  await controller.stop();
  log.info('stopped');
  return 0;
}
