// `rampart validate -c FILE`: exit 0 when the config is valid, 2 with every error otherwise.

import { configFlag, loadConfigFrom, parseFlags } from '../args.ts';

export async function validate(argv: string[]): Promise<number> {
  const flags = parseFlags('validate', argv, configFlag);
  const { config, file } = loadConfigFrom(flags);
  process.stdout.write(
    `${file}: valid (${config.pools.length} pools, ${config.providers.length} providers, ${config.metrics.length} metric sources)\n`,
  );
  return 0;
}
