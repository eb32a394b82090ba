// The config slice of the local provider: nodes as processes on this machine.

import { z } from 'zod';
import { filePath, name } from '../../config-kit/fields.ts';

export const localProviderConfig = z.strictObject({
  name,
  kind: z.literal('local'),
  /** Where node data dirs live, relative to the config file's folder. Default .rampart/nodes. */
  dataDir: filePath(0).default('.rampart/nodes'),
  /** Address the nodes listen on. Default 127.0.0.1. */
  host: z.string().default('127.0.0.1'),
});

export type LocalProviderConfig = z.output<typeof localProviderConfig>;
