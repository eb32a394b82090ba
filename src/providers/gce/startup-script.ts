// The startup script an instance runs (metadata key `startup-script`): records the node's
// identity for the image's own units, then runs the configured command. The identity also
// stays readable in the instance's metadata (the metadata server), which is where the
// provider's listing reads it. A baked image is a copy of another node's whole disk: on this
// node's first boot, every key and signing-state file in the data dir is removed before the
// node starts, so no two nodes ever share a node key (invariant 7).

import { FORBIDDEN_FILES } from '../../core/forbidden-files.ts';
import { shellQuote } from '../boot-script.ts';

export interface StartupScriptInput {
  readonly nodeId: string;
  readonly pool: string;
  readonly actionId: string;
  readonly dataDir: string;
  readonly command?: string | undefined;
}

/** GCE caps one metadata value at 256 KB. */
export const METADATA_VALUE_MAX_BYTES = 256 * 1024;

export function renderStartupScript(input: StartupScriptInput): string {
  const lines = [
    '#!/bin/sh',
    `# Written by Rampart for node ${input.nodeId} of pool ${input.pool} (action ${input.actionId}).`,
    'set -eu',
    'umask 077',
    'mkdir -p /etc/rampart',
    "cat > /etc/rampart/node.env <<'RAMPART_ENV'",
    `RAMPART_NODE_ID=${shellQuote(input.nodeId)}`,
    `RAMPART_POOL=${shellQuote(input.pool)}`,
    `RAMPART_ACTION_ID=${shellQuote(input.actionId)}`,
    `RAMPART_DATA_DIR=${shellQuote(input.dataDir)}`,
    'RAMPART_ENV',
    `data_dir=${shellQuote(input.dataDir)}`,
    'mkdir -p "$data_dir"',
    `first_boot="$data_dir/.rampart-booted-"${shellQuote(input.nodeId)}`,
    'if [ ! -e "$first_boot" ]; then',
    `  for f in ${FORBIDDEN_FILES.map(shellQuote).join(' ')}; do find "$data_dir" -name "$f" -type f -delete; done`,
    '  touch "$first_boot"',
    'fi',
  ];
  if (input.command) lines.push(input.command);
  const text = `${lines.join('\n')}\n`;
  if (Buffer.byteLength(text) > METADATA_VALUE_MAX_BYTES)
    throw new Error(`the startup script of node ${input.nodeId} is over GCE's 256 KB metadata value limit`);
  return text;
}
