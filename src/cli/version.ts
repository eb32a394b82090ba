// `rampart --version`: the version from package.json and the commit of the checkout Rampart runs
// from (git, asked when it runs; "unknown" in an image or a tarball) — the same build info
// /metrics serves as rampart_build_info.

import { buildInfo } from '../api/build-info.ts';

export function versionLine(): string {
  const b = buildInfo();
  return `rampart ${b.version} (commit ${b.commit}, node ${b.nodeVersion})`;
}
