// `rampart schema`: the config's JSON Schema, for editors.

import { configJsonSchema } from '../../config/schema.ts';

export async function schema(): Promise<number> {
  process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
  return 0;
}
