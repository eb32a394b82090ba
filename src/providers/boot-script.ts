// The boot script an instance runs as user data: it records the node's identity and, when
// the pool bootstraps from an S3 snapshot set, restores the newest complete snapshot into
// the node's data dir before the node starts. Every file is checked against the manifest's
// sha256; a key or signing-state file, or a path leaving the data dir, stops the boot.
// Needs the AWS CLI and python3 on the image (Amazon Linux has both) and an instance role
// allowed s3:GetObject on the set. (EBS snapshots are the other way: a launch template whose
// block device mapping names the snapshot; see docs/aws.md.)

import { FORBIDDEN_FILES } from '../core/forbidden-files.ts';

export interface BootScriptInput {
  readonly nodeId: string;
  readonly pool: string;
  readonly actionId: string;
  /** Folder on the instance the snapshot is restored into. */
  readonly dataDir: string;
  /** Shell command run last (starts the node). */
  readonly command?: string | undefined;
  /** The snapshot to restore, when the pool bootstraps from one. */
  readonly snapshot?: { readonly id: string; readonly height: number; readonly url: string } | undefined;
}

/** AWS caps user data at 16 KB before base64. */
export const USER_DATA_MAX_BYTES = 16 * 1024;

/** Quotes a value for a POSIX shell: single quotes, with embedded ones closed and escaped. */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

// Reads the manifest, fetches each file with the AWS CLI and checks its size and sha256.
const RESTORE_PY = `import hashlib, json, os, subprocess, sys
manifest_path, base, data_dir = sys.argv[1], sys.argv[2], os.path.realpath(sys.argv[3])
forbidden = set(json.loads(sys.argv[4]))
m = json.load(open(manifest_path))
if m.get("version") != 1:
    sys.exit("rampart: manifest version %r is not 1" % m.get("version"))
for f in m["files"]:
    rel = f["path"]
    if rel.split("/")[-1] in forbidden:
        sys.exit("rampart: snapshot holds %s, a key or signing state: refused" % rel)
    dest = os.path.realpath(os.path.join(data_dir, rel))
    if not dest.startswith(data_dir + os.sep):
        sys.exit("rampart: snapshot path %s leaves the data dir: refused" % rel)
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    subprocess.run(["aws", "s3", "cp", "--only-show-errors", base + "files/" + rel, dest], check=True)
    h, size = hashlib.sha256(), 0
    with open(dest, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
            size += len(chunk)
    if size != f["size"] or h.hexdigest() != f["sha256"]:
        sys.exit("rampart: %s does not match the manifest (size %d, sha256 %s)" % (rel, size, h.hexdigest()))
print("rampart: restored %d files of snapshot %s at height %d" % (len(m["files"]), m["id"], m["height"]))
`;

/** The boot script's text (the provider base64-encodes it for RunInstances). */
export function renderBootScript(input: BootScriptInput): string {
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
  ];
  if (input.snapshot) {
    if (!input.snapshot.url.startsWith('s3://'))
      throw new Error(`snapshot ${input.snapshot.id}: ${input.snapshot.url} is not an s3:// URL`);
    lines.push(
      `# Snapshot ${input.snapshot.id} at height ${input.snapshot.height}; a reboot does not restore again.`,
      'if [ ! -e "$data_dir/.rampart-restored" ]; then',
      `  snapshot=${shellQuote(input.snapshot.url)}`,
      '  work=$(mktemp -d)',
      '  aws s3 cp --only-show-errors "$snapshot"manifest.json "$work/manifest.json"',
      `  python3 - "$work/manifest.json" "$snapshot" "$data_dir" ${shellQuote(JSON.stringify(FORBIDDEN_FILES))} <<'RAMPART_PY'`,
      RESTORE_PY.trimEnd(),
      'RAMPART_PY',
      '  rm -rf "$work"',
      '  touch "$data_dir/.rampart-restored"',
      'fi',
    );
  }
  if (input.command) lines.push(input.command);
  const text = `${lines.join('\n')}\n`;
  const bytes = Buffer.byteLength(text);
  if (bytes > USER_DATA_MAX_BYTES)
    throw new Error(
      `the boot script of node ${input.nodeId} is ${bytes} bytes: AWS allows ${USER_DATA_MAX_BYTES}`,
    );
  return text;
}
