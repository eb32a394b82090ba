// Makes a synthetic load trace as CSV `time_s,load`:
//   node scripts/generate-trace.ts SHAPE [--PARAM VALUE ...] [--out FILE]
// Shapes and their parameters (with defaults) are in src/sim/trace-generator.ts; `--help`
// lists them. The shipped traces under sim/traces/ were made with `--all sim/traces`.

import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { formatTraceCsv } from '../src/sim/trace.ts';
import { generateTrace, SHAPE_DEFAULTS, SHAPES, type Shape } from '../src/sim/trace-generator.ts';

/** The shipped traces: file name, shape, parameters. */
export const SHIPPED: readonly { file: string; shape: Shape; params: Record<string, number> }[] = [
  { file: 'ddos.csv', shape: 'ddos', params: {} },
  { file: 'double-ddos.csv', shape: 'ddos', params: { bursts: 2 } },
  { file: 'diurnal.csv', shape: 'diurnal', params: {} },
  { file: 'flash-crowd.csv', shape: 'flash-crowd', params: {} },
  { file: 'slow-ramp.csv', shape: 'slow-ramp', params: {} },
  { file: 'noisy-plateau.csv', shape: 'noisy-plateau', params: {} },
  // Issue 16's families: bursts shorter than the 90 s a node takes to serve, at several periods,
  // a period that changes, jitter, two periods at once, and a slow sawtooth at a boundary.
  { file: 'short-bursts.csv', shape: 'bursts', params: {} },
  { file: 'sparse-bursts.csv', shape: 'bursts', params: { period: 900, duration: 21_600 } },
  { file: 'jittered-bursts.csv', shape: 'bursts', params: { period: 360, jitter: 30, noise: 0.05 } },
  { file: 'period-change.csv', shape: 'bursts', params: { period: 300, changeAt: 5400, periodAfter: 720 } },
  {
    file: 'two-periods.csv',
    shape: 'bursts',
    params: { factor: 4, period: 180, period2: 1500, factor2: 10 },
  },
  { file: 'sawtooth.csv', shape: 'sawtooth', params: {} },
];

function usage(): string {
  const lines = SHAPES.map(
    (s) =>
      `  ${s}: ${Object.entries(SHAPE_DEFAULTS[s])
        .map(([k, v]) => `--${k} ${v}`)
        .join(' ')}`,
  );
  return `usage: node scripts/generate-trace.ts SHAPE [--PARAM VALUE ...] [--out FILE]\n       node scripts/generate-trace.ts --all DIR   (the shipped traces)\nshapes and defaults:\n${lines.join('\n')}\n`;
}

function main(argv: string[]): number {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h') {
    process.stdout.write(usage());
    return argv.length === 0 ? 2 : 0;
  }
  if (argv[0] === '--all') {
    const dir = argv[1];
    if (!dir) throw new Error('--all needs the folder to write the shipped traces to');
    mkdirSync(dir, { recursive: true });
    for (const s of SHIPPED) {
      const file = path.join(dir, s.file);
      writeFileSync(file, formatTraceCsv(generateTrace(s.shape, s.params, s.file.replace(/\.csv$/, ''))));
      process.stderr.write(`wrote ${file}\n`);
    }
    return 0;
  }
  const [shape, ...rest] = argv as [string, ...string[]];
  if (!SHAPES.includes(shape as Shape))
    throw new Error(`unknown shape "${shape}": one of ${SHAPES.join(', ')}`);
  const params: Record<string, number> = {};
  let out: string | undefined;
  for (let i = 0; i < rest.length; i += 2) {
    const flag = rest[i]!;
    const value = rest[i + 1];
    if (!flag.startsWith('--') || value === undefined)
      throw new Error(`expected --PARAM VALUE, got "${flag}"`);
    if (flag === '--out') {
      out = value;
      continue;
    }
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n)) throw new Error(`${flag}: "${value}" is not a number`);
    params[flag.slice(2)] = n;
  }
  const csv = formatTraceCsv(generateTrace(shape as Shape, params));
  if (out) writeFileSync(out, csv);
  else process.stdout.write(csv);
  return 0;
}

if (import.meta.main) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`generate-trace: ${(e as Error).message}\n${usage()}`);
    process.exitCode = 2;
  }
}
