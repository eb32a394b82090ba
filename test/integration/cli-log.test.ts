// Rampart's log on a terminal: one line per event (time, level, message, the event's fields),
// secrets redacted as in the JSON lines it writes everywhere else.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const LOG = fileURLToPath(new URL('../../src/cli/log.ts', import.meta.url));

const dir = mkdtempSync(path.join(tmpdir(), 'rampart-cli-log-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Logs three events through createLogger, as the commands do. */
const SCRIPT = `
    import { createLogger } from ${JSON.stringify(LOG)};
    const log = createLogger();
    log.info({ pool: 'sentries', node: 'sentries-3', count: 2, token: 'tok-s3cr3t',
      headers: { authorization: 'Bearer b3ar3r' }, detail: 'two words' }, 'created 2 node(s)\\nfor the surge');
    log.warn({ err: new Error('RunInstances: throttled') }, 'provider call failed; retrying');
    log.error('gave up');
  `;

function logged(format: string): { stderr: string; status: number | null } {
  const script = SCRIPT;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: { ...process.env, RAMPART_LOG_FORMAT: format, NO_COLOR: '1' },
  });
  return { stderr: r.stderr, status: r.status };
}

test('text (a terminal, or RAMPART_LOG_FORMAT=text): one line per event with its key fields; JSON lines otherwise; secrets redacted in both', () => {
  const { stderr, status } = logged('text');
  assert.equal(status, 0, stderr);
  const lines = stderr.trimEnd().split('\n');
  assert.equal(lines.length, 3, `three events, three lines:\n${stderr}`);
  assert.match(
    lines[0]!,
    /^\d\d:\d\d:\d\d INFO {2}created 2 node\(s\)\\nfor the surge pool=sentries node=sentries-3 count=2 token=\[redacted\] headers=\{"authorization":"\[redacted\]"\} detail="two words"$/,
  );
  assert.match(
    lines[1]!,
    /^\d\d:\d\d:\d\d WARN {2}provider call failed; retrying err="RunInstances: throttled"$/,
  );
  assert.match(lines[2]!, /^\d\d:\d\d:\d\d ERROR gave up$/);
  for (const secret of ['tok-s3cr3t', 'b3ar3r']) assert.ok(!stderr.includes(secret), stderr);

  // Anywhere else: JSON lines, redacted the same way.
  const json = logged('json').stderr;
  const events = json
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(events.length, 3);
  assert.equal(events[0]!.token, '[redacted]');
  assert.equal(events[0]!.pool, 'sentries');
  for (const secret of ['tok-s3cr3t', 'b3ar3r']) assert.ok(!json.includes(secret), json);
});

test('on a real terminal (a pty) without RAMPART_LOG_FORMAT: text, one line per event', (t) => {
  const file = path.join(dir, 'log.mjs');
  writeFileSync(file, SCRIPT);
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.RAMPART_LOG_FORMAT;
  // util-linux's script runs the command on a pseudo-terminal.
  const r = spawnSync(
    'script',
    ['-qec', `${JSON.stringify(process.execPath)} ${JSON.stringify(file)}`, '/dev/null'],
    {
      encoding: 'utf8',
      env,
    },
  );
  if (r.error) return t.skip('no script(1) here to run a pseudo-terminal');
  const lines = r.stdout.replace(/\r/g, '').trimEnd().split('\n');
  assert.equal(lines.length, 3, r.stdout);
  assert.match(lines[0]!, /^\d\d:\d\d:\d\d INFO {2}created 2 node\(s\).* pool=sentries .*token=\[redacted\]/);
  assert.ok(!r.stdout.includes('tok-s3cr3t'));
});
