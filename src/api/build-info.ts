// What this Rampart is: its version (package.json), the commit it was started from, and the
// Node that runs it. Served as rampart_build_info and in the OpenAPI document.

import { execFileSync } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Rampart's version, from its package.json. */
export const RAMPART_VERSION = (
  JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as {
    version: string;
  }
).version;

export interface BuildInfo {
  /** package.json's version, e.g. `0.1.0`. */
  readonly version: string;
  /** `git rev-parse --short HEAD` of Rampart's own checkout; `unknown` outside one (an image). */
  readonly commit: string;
  /** `process.version`, e.g. `v24.21.0`. */
  readonly nodeVersion: string;
}

let cached: BuildInfo | undefined;

/** This build, read the first time it is asked (git runs once per process, never per scrape). */
export function buildInfo(): BuildInfo {
  cached ??= { version: RAMPART_VERSION, commit: readCommit(), nodeVersion: process.version };
  return cached;
}

function readCommit(): string {
  try {
    const [top, commit] = execFileSync('git', ['rev-parse', '--show-toplevel', '--short', 'HEAD'], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 5000,
    })
      .trim()
      .split('\n');
    // Installed inside another repository (a vendored copy), git answers with that one's commit.
    if (!top || !commit || realpathSync(top) !== realpathSync(ROOT)) return 'unknown';
    return commit;
  } catch {
    // No git, no checkout, or a checkout git refuses (another owner): the commit is not known.
    return 'unknown';
  }
}
