// `rampart schema`: the config's JSON Schema, for editors.

import { configJsonSchema } from '../../config/schema.ts';
import { parseFlags } from '../args.ts';

export async function schema(argv: string[]): Promise<number> {
  parseFlags('schema', argv, {});
  process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
  return 0;
}
