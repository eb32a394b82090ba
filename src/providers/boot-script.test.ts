import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { renderBootScript, shellQuote } from './boot-script.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('values are shell-quoted, hostile ones included', () => {
  assert.equal(shellQuote("it's"), `'it'\\''s'`);
  const out = execFileSync('sh', ['-c', `printf %s ${shellQuote("a'b $(echo no) `x`")}`]).toString();
  assert.equal(out, "a'b $(echo no) `x`");
});

/**
 * Runs the boot script with `aws` replaced by a shim that serves s3://bucket/… from a local
 * folder, against a snapshot laid out as the S3 store lays it out.
 */
function bootWith(files: Record<string, string>, tamper?: (base: string) => void) {
  const root = mkdtempSync(path.join(tmpdir(), 'rampart-boot-'));
  dirs.push(root);
  const base = path.join(root, 'bucket', 'prefix', 'set', 'snap1');
  const manifest = {
    version: 1,
    id: 'snap1',
    height: 77,
    files: Object.entries(files).map(([p, text]) => ({
      path: p,
      size: Buffer.byteLength(text),
      sha256: createHash('sha256').update(text).digest('hex'),
    })),
  };
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(base, 'files', p)), { recursive: true });
    writeFileSync(path.join(base, 'files', p), text);
  }
  writeFileSync(path.join(base, 'manifest.json'), JSON.stringify(manifest));
  tamper?.(base);
  const bin = path.join(root, 'bin');
  mkdirSync(bin);
  writeFileSync(
    path.join(bin, 'aws'),
    `#!/bin/sh\n# aws s3 cp --only-show-errors s3://SRC DEST\nsrc=$(echo "$4" | sed 's#^s3://#${root}/#')\nmkdir -p "$(dirname "$5")" && cp "$src" "$5"\n`,
  );
  chmodSync(path.join(bin, 'aws'), 0o755);
  const dataDir = path.join(root, 'data');
  const script = renderBootScript({
    nodeId: 'sentries-1',
    pool: 'sentries',
    actionId: 'a-1',
    dataDir,
    command: `echo started > ${shellQuote(path.join(root, 'started'))}`,
    snapshot: { id: 'snap1', height: 77, url: 's3://bucket/prefix/set/snap1/' },
  });
  // /etc/rampart is not ours to write here: point it into the temp dir.
  const local = script.replaceAll('/etc/rampart', path.join(root, 'etc'));
  writeFileSync(path.join(root, 'boot.sh'), local);
  const r = spawnSync('sh', [path.join(root, 'boot.sh')], {
    // Only the shim and the system: no real AWS CLI (nor a python wrapper that finds one).
    env: { PATH: `${bin}:/usr/bin:/bin` },
    encoding: 'utf8',
  });
  return { root, dataDir, status: r.status, output: r.stdout + r.stderr };
}

test('the boot script restores the snapshot, checks every file, then starts the node', () => {
  const b = bootWith({ 'data/chain.json': '{"height":77}', 'config/genesis.json': '{}' });
  assert.equal(b.status, 0, b.output);
  assert.equal(readFileSync(path.join(b.dataDir, 'data/chain.json'), 'utf8'), '{"height":77}');
  assert.ok(existsSync(path.join(b.root, 'started')));
  assert.match(readFileSync(path.join(b.root, 'etc', 'node.env'), 'utf8'), /RAMPART_NODE_ID='sentries-1'/);
});

test('a file that does not match the manifest stops the boot before the node starts', () => {
  const b = bootWith({ 'data/chain.json': '{"height":77}' }, (base) =>
    writeFileSync(path.join(base, 'files', 'data/chain.json'), '{"height":78}'),
  );
  assert.notEqual(b.status, 0);
  assert.match(b.output, /does not match the manifest/);
  assert.ok(!existsSync(path.join(b.root, 'started')));
});

test('a snapshot holding a key is refused', () => {
  const b = bootWith({ 'config/node_key.json': '{}' });
  assert.notEqual(b.status, 0);
  assert.match(b.output, /key or signing state: refused/);
});
