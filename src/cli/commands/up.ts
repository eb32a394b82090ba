// `rampart up -c FILE`: runs the controller until SIGINT/SIGTERM. Nodes keep running when it
// stops; the next `up` adopts them.

import { Controller } from '../../controller/controller.ts';
import { createRuntime } from '../../controller/runtime.ts';
import { configFlag, loadConfigFrom, parseFlags } from '../args.ts';
import { createLogger } from '../log.ts';
import { untilStopSignal } from '../signals.ts';

export async function up(argv: string[]): Promise<number> {
  const flags = parseFlags('up', argv, configFlag);
  const { config, file } = loadConfigFrom(flags);
  const log = createLogger({ level: config.controller.log.level });
  const controller = new Controller({ runtime: createRuntime(config), log });
  const stopped = untilStopSignal();
  await controller.start();
  log.info({ config: file }, 'controller running; Ctrl-C stops it and leaves the nodes running');
  const signal = await stopped;
  log.info({ signal }, 'stopping after the action in flight');
  await controller.stop();
  log.info('stopped');
  return 0;
}
