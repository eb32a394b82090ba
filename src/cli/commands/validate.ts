// `rampart validate -c FILE`: exit 0 when the config is valid, 2 with every error otherwise.

import { describeConfig } from '../../config/describe-config.ts';
import { loadConfigFrom } from '../args.ts';

export interface ValidateFlags {
  readonly config?: string | undefined;
}

export async function validate(flags: ValidateFlags): Promise<number> {
  const { config, file } = loadConfigFrom(flags);
  process.stdout.write(`${file}: valid (${describeConfig(config)})\n`);
  return 0;
}
