// The starting configs `rampart init` writes: examples/templates/NAME.yaml, each commented,
// each accepted by `rampart validate`; a file's first line (`# …`) is its summary.

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TEMPLATES = fileURLToPath(new URL('../../examples/templates/', import.meta.url));

export interface Template {
  readonly name: string;
  /** The template's first comment line. */
  readonly summary: string;
  readonly file: string;
}

/** Every template, by name. */
export function templates(): Template[] {
  return readdirSync(TEMPLATES)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => {
      const file = path.join(TEMPLATES, f);
      const first = readFileSync(file, 'utf8').split('\n', 1)[0] ?? '';
      return { name: f.slice(0, -'.yaml'.length), summary: first.replace(/^#\s*/, ''), file };
    });
}
