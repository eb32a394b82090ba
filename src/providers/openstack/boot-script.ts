// The user data (cloud-init runs it as a shell script) of a server Rampart creates: it records
// the node's identity, then waits for the node's process to be described in the server's
// metadata (`rampart:spec-0`, `-1`, ... chunks of one JSON document) and runs it. The process
// is written there only once the server has its address: an etcd member's peer URL must be
// known to the cluster (`member add`) before the member starts, and on OpenStack the address
// exists only once the server does. Needs python3 and the metadata service (or a config drive).

/** Quotes a value for a POSIX shell: single quotes, with embedded ones closed and escaped. */
function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** Prefix of the metadata keys holding the node's process, in order. */
export const SPEC_KEY = 'rampart:spec-';
/** Nova caps a metadata value at 255 characters. */
export const METADATA_VALUE_MAX = 255;

/** What a server runs: the node kind's process, with the data dir the server's own. */
export interface ServerProcess {
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
}

/** The process as metadata entries (chunks of its JSON), `rampart:spec-0` first. */
export function specMetadata(spec: ServerProcess): Record<string, string> {
  const text = JSON.stringify({ v: 1, ...spec });
  const out: Record<string, string> = {};
  for (let i = 0; i * METADATA_VALUE_MAX < text.length; i++)
    out[`${SPEC_KEY}${i}`] = text.slice(i * METADATA_VALUE_MAX, (i + 1) * METADATA_VALUE_MAX);
  return out;
}

/** The process back from a server's metadata; undefined while it is not (completely) there. */
export function specFromMetadata(meta: Readonly<Record<string, string>>): ServerProcess | undefined {
  let text = '';
  for (let i = 0; meta[`${SPEC_KEY}${i}`] !== undefined; i++) text += meta[`${SPEC_KEY}${i}`];
  if (text === '') return undefined;
  try {
    const doc = JSON.parse(text) as { v?: number } & ServerProcess;
    return doc.v === 1 && typeof doc.command === 'string' && Array.isArray(doc.args) ? doc : undefined;
  } catch {
    return undefined; // a chunk still missing
  }
}

export interface BootScriptInput {
  /**
   * The node's identity, when known at the create (servers mode). A member a Heat group makes
   * boots before Rampart names it: its script has none, the identity is in its metadata.
   */
  readonly nodeId?: string | undefined;
  readonly pool?: string | undefined;
  readonly actionId?: string | undefined;
  readonly dataDir: string;
}

const RUN_PY = `import json, os, sys, time, urllib.request
url = "http://169.254.169.254/openstack/latest/meta_data.json"
drive = "/mnt/config/openstack/latest/meta_data.json"
while True:
    try:
        if os.path.exists(drive):
            meta = json.load(open(drive)).get("meta", {})
        else:
            meta = json.load(urllib.request.urlopen(url, timeout=5)).get("meta", {})
        text, i = "", 0
        while "rampart:spec-%d" % i in meta:
            text += meta["rampart:spec-%d" % i]
            i += 1
        spec = json.loads(text) if text else None
        if spec and spec.get("v") == 1:
            break
    except Exception:
        pass
    time.sleep(2)
env = dict(os.environ, **spec.get("env", {}))
os.execvpe(spec["command"], [spec["command"]] + spec["args"], env)
`;

/** The script's text (the provider base64-encodes it for Nova). */
export function renderBootScript(input: BootScriptInput): string {
  const known = input.nodeId !== undefined;
  return [
    '#!/bin/sh',
    known
      ? `# Written by Rampart for node ${input.nodeId} of pool ${input.pool} (action ${input.actionId}).`
      : '# Written by Rampart for the members of a Heat group: the identity comes with the metadata.',
    'set -eu',
    'umask 077',
    'mkdir -p /etc/rampart',
    "cat > /etc/rampart/node.env <<'RAMPART_ENV'",
    ...(known
      ? [
          `RAMPART_NODE_ID=${shellQuote(input.nodeId ?? '')}`,
          `RAMPART_POOL=${shellQuote(input.pool ?? '')}`,
          `RAMPART_ACTION_ID=${shellQuote(input.actionId ?? '')}`,
        ]
      : []),
    `RAMPART_DATA_DIR=${shellQuote(input.dataDir)}`,
    'RAMPART_ENV',
    `mkdir -p ${shellQuote(input.dataDir)}`,
    `cd ${shellQuote(input.dataDir)}`,
    "exec python3 - <<'RAMPART_PY'",
    RUN_PY.trimEnd(),
    'RAMPART_PY',
    '',
  ].join('\n');
}

/** The data dir a boot script names (its RAMPART_DATA_DIR line); undefined when it is none of Rampart's. */
export function dataDirOf(script: string): string | undefined {
  const m = /^RAMPART_DATA_DIR='((?:[^']|'\\'')*)'$/m.exec(script);
  return m ? m[1]!.replaceAll(`'\\''`, "'") : undefined;
}
