// `npm run bench`: runs every bench/*.bench.ts in turn, one process each (so one cannot
// warm or pollute another), passing their JSON lines through. `npm run bench -- NAME`
// runs only the files whose name contains NAME; what follows NAME goes to each (`--quick`).

import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const filter = process.argv[2];
const flags = process.argv.slice(3);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts') && (!filter || f.includes(filter)))
  .sort();
let failed = 0;
for (const file of files) {
  const r = spawnSync(process.execPath, ['--expose-gc', path.join(here, file), ...flags], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (r.status !== 0) {
    failed++;
    process.stderr.write(`bench ${file} exited ${r.status ?? r.signal}\n`);
  }
}
process.exitCode = failed > 0 ? 1 : 0;
