import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { renderStartupScript } from './startup-script.ts';

test('the startup script removes keys a baked image carried, once per node, then runs the command', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'rampart-startup-'));
  try {
    const data = path.join(dir, 'data');
    mkdirSync(path.join(data, 'config'), { recursive: true });
    writeFileSync(path.join(data, 'config', 'node_key.json'), '{"from":"the image source"}');
    writeFileSync(path.join(data, 'chain.json'), '{"height":42}');
    const script = renderStartupScript({
      nodeId: "sentries-o'brien",
      pool: 'sentries',
      actionId: 'a-1',
      dataDir: data,
      command: `touch ${path.join(dir, 'started')}`,
    }).replaceAll('/etc/rampart', path.join(dir, 'etc'));
    execFileSync('sh', ['-c', script]);
    assert.equal(
      existsSync(path.join(data, 'config', 'node_key.json')),
      false,
      "the source's node key is gone",
    );
    assert.equal(existsSync(path.join(data, 'chain.json')), true, 'the chain data stays');
    assert.equal(existsSync(path.join(dir, 'started')), true, 'the command ran');
    // A reboot keeps the key the node made itself after its first boot.
    writeFileSync(path.join(data, 'config', 'node_key.json'), '{"own":true}');
    execFileSync('sh', ['-c', script]);
    assert.equal(
      existsSync(path.join(data, 'config', 'node_key.json')),
      true,
      'its own key survives a reboot',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
