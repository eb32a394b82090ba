// The CLI contract other work relies on: exit codes, where errors go, `plan` answering when
// nothing is reachable, and `rampart` re-executing itself on Node 24 from an older Node.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CLI } from '../support/fleet.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(path.join(tmpdir(), 'rampart-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const rampart = (...args: string[]) =>
  spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, RAMPART_LOG_FORMAT: 'json' },
  });

test('validate: exit 0 for a valid config, exit 2 with every error on stderr for a bad one', () => {
  const ok = rampart('validate', '-c', path.join(root, 'examples/local.yaml'));
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /valid \(2 pools/);
  const bad = path.join(dir, 'bad.yaml');
  writeFileSync(bad, 'version: 2\nproviders: []\npools: []\nextra: 1\n');
  const r = rampart('validate', '-c', bad);
  assert.equal(r.status, 2);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /bad\.yaml:1:10 version: 2 is not 1/);
  assert.match(r.stderr, /bad\.yaml:4:1 extra: unknown field "extra"/);
  assert.match(r.stderr, /providers: a list is too small: must be at least 1 item/);
  assert.match(r.stderr, /\d+ errors in the config/);
});

test('a missing config file and an unknown command are usage errors (exit 2)', () => {
  assert.equal(rampart('validate', '-c', path.join(dir, 'nope.yaml')).status, 2);
  const r = rampart('frobnicate');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown command "frobnicate"/);
  const flag = rampart('plan', '--colour');
  assert.equal(flag.status, 2);
  assert.match(flag.stderr, /rampart plan: Unknown option '--colour'/);
});

test('plan answers with hold and the reason when metric sources and nodes are unreachable; changes nothing', () => {
  const config = path.join(dir, 'unreachable.yaml');
  writeFileSync(
    config,
    `version: 1
controller: { store: { kind: sqlite, path: never-created.db } }
metrics:
  - { name: prom, kind: prometheus, url: "http://127.0.0.1:9", timeout: 500ms }
providers:
  - { name: here, kind: local, dataDir: nodes }
pools:
  - name: workers
    role: worker
    provider: here
    node: { kind: simnode }
    size: { min: 0, capacity: 0, max: 3 }
    scaleUp: { rules: [ { metric: "prom:sum(rate(x[1m]))", comparator: ">", threshold: 1 } ] }
`,
  );
  const r = rampart('plan', '-c', config, '--json');
  assert.equal(r.status, 0, r.stderr);
  // --json: one document, a plan per pool.
  const plan = JSON.parse(r.stdout).pools[0];
  assert.equal(plan.pool, 'workers');
  assert.deepEqual(plan.actions, []);
  assert.ok(plan.reasons.some((x: { text: string }) => /prom:sum\(rate\(x\[1m\]\)\) missing/.test(x.text)));
  assert.equal(existsSync(path.join(dir, 'never-created.db')), false, 'plan created no store');
  const text = rampart('plan', '-c', config);
  assert.equal(text.status, 0);
  assert.match(text.stdout, /metric sources:\n {2}prom /);
});

test('validate refuses a config larger than 1 MiB unparsed, and a YAML alias bomb at its line (exit 2)', () => {
  const huge = path.join(dir, 'huge.yaml');
  writeFileSync(huge, `version: 1\nx: "${'a'.repeat(20_000_000)}"\n`);
  const big = rampart('validate', '-c', huge);
  assert.equal(big.status, 2, big.stderr);
  assert.equal(
    big.stderr,
    `${huge}: 20.0 MB is larger than the 1 MiB a config may be\n1 error in the config\n`,
  );

  const bomb = path.join(dir, 'bomb.yaml');
  const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (const [i, name] of [...'bcdefghi'].entries()) {
    const prev = 'abcdefghi'[i]!;
    levels.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(',')}]`);
  }
  writeFileSync(bomb, `version: 1\nlol:\n${levels.map((l) => `  ${l}`).join('\n')}\n`);
  const r = rampart('validate', '-c', bomb);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /bomb\.yaml:6:10 lol\.d\[0\]: YAML: alias \*c expands aliases of aliases/);
});

test('validate shows no credentials, query values or tokens of a URL it refuses', () => {
  const config = path.join(dir, 'webhook.yaml');
  writeFileSync(
    config,
    `version: 1
providers: [{ name: here, kind: local }]
pools:
  - { name: validator, role: validator, provider: here, node: { kind: simnode } }
alerts:
  receivers:
    - { kind: webhook, url: "https://ops:hunter2@hooks example.com/x?token=s3cr3t-t0ken" }
`,
  );
  const r = rampart('validate', '-c', config);
  assert.equal(r.status, 2, r.stderr);
  assert.match(
    r.stderr,
    /webhook\.yaml:7:29 alerts\.receivers\[0\]\.url: "https:\/\/\[redacted\]@hooks example\.com\/x\?token=\[redacted\]"/,
  );
  for (const secret of ['ops', 'hunter2', 's3cr3t-t0ken']) assert.ok(!r.stderr.includes(secret), r.stderr);
});

test('a store file that is not a database: commands that open it exit 2 naming it, and leave it as it is', () => {
  const config = path.join(dir, 'corrupt.yaml');
  const db = path.join(dir, 'corrupt', 'state.db');
  writeFileSync(
    config,
    `version: 1
controller: { store: { kind: sqlite, path: corrupt/state.db } }
providers: [{ name: here, kind: local }]
pools:
  - { name: sentries, role: sentry, provider: here, node: { kind: simnode }, size: { min: 0, capacity: 0, max: 1 } }
`,
  );
  mkdirSync(path.dirname(db), { recursive: true });
  const garbage = randomBytes(8192);
  writeFileSync(db, garbage);
  for (const command of [['status'], ['history'], ['state', 'export']]) {
    const r = rampart(...command, '-c', config);
    assert.equal(r.status, 2, `${command.join(' ')}: ${r.stderr}`);
    assert.match(
      r.stderr,
      new RegExp(`store ${db}: file is not a database \\(SQLite: file is not a database\\)`),
    );
    assert.deepEqual(readFileSync(db), garbage, `${command.join(' ')} left the file as it was`);
  }
});

test('schema prints a JSON Schema', () => {
  const r = rampart('schema');
  assert.equal(r.status, 0);
  assert.equal(JSON.parse(r.stdout).type, 'object');
});

test('bin/rampart.mjs started by an older Node re-executes itself on the pinned Node 24', (t) => {
  const older = ['/usr/bin/node', '/usr/local/bin/node'].find((p) => {
    if (!existsSync(p)) return false;
    const v = spawnSync(p, ['-p', 'process.versions.node'], { encoding: 'utf8' }).stdout.trim();
    return Number(v.split('.')[0]) < 24;
  });
  if (!older) return t.skip('no Node older than 24 on this machine to launch from');
  const r = spawnSync(
    older,
    [path.join(root, 'bin/rampart.mjs'), 'validate', '-c', path.join(root, 'examples/local.yaml')],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /valid/);
});
