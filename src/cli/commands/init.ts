// `rampart init [--template NAME] [-o FILE] [--force]`: writes a commented starting config,
// one template per setup Rampart serves (examples/templates/NAME.yaml, each accepted by
// `rampart validate`). Never overwrites a file unless --force; `-o -` prints it instead.

import { readFileSync, writeFileSync } from 'node:fs';
import { UsageError } from '../args.ts';
import { DEFAULT_CONFIG, DEFAULT_TEMPLATE } from '../defaults.ts';
import { templates } from '../templates.ts';

export interface InitFlags {
  /** Default local. */
  readonly template?: string | undefined;
  /** Default ./rampart.yaml; `-` prints to stdout. */
  readonly output?: string | undefined;
  readonly force?: boolean | undefined;
  /** Print the templates and write nothing. */
  readonly list?: boolean | undefined;
}

export async function init(flags: InitFlags): Promise<number> {
  const all = templates();
  if (flags.list) {
    const width = Math.max(...all.map((t) => t.name.length));
    for (const t of all) process.stdout.write(`${t.name.padEnd(width)}  ${t.summary}\n`);
    return 0;
  }
  const name = flags.template ?? DEFAULT_TEMPLATE;
  const template = all.find((t) => t.name === name);
  if (!template)
    throw new UsageError(
      `rampart init: no template "${name}" (templates: ${all.map((t) => t.name).join(', ')})`,
    );
  const text = readFileSync(template.file, 'utf8');
  const output = flags.output ?? DEFAULT_CONFIG;
  if (output === '-') {
    process.stdout.write(text);
    return 0;
  }
  try {
    // `wx`: created here or refused, never a file someone else just wrote.
    writeFileSync(output, text, { flag: flags.force ? 'w' : 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST')
      throw new UsageError(
        `rampart init: ${output} exists and was left as it is: --force overwrites it, -o FILE writes elsewhere`,
      );
    throw e;
  }
  process.stdout.write(
    `wrote ${output} from template ${name} (${template.summary.replace(/\.$/, '')})\nnext: read its comments, then rampart validate -c ${output} and rampart plan -c ${output}\n`,
  );
  return 0;
}
