// `rampart init`: a commented starting config for each setup Rampart serves, every one accepted
// by `rampart validate`; an existing file is never overwritten without --force.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { templates } from '../../src/cli/templates.ts';
import { CLI } from '../support/fleet.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'rampart-cli-init-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const rampart = (...args: string[]) =>
  spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    cwd: dir,
    env: { ...process.env, RAMPART_LOG_FORMAT: 'json', RAMPART_CONFIG: '' },
  });

/** The setups the issue names, each a template. */
const SETUPS = [
  'local',
  'aws-sentries',
  'gce-sentries',
  'kubernetes-sentries',
  'kubernetes-workers',
  'azure-workers',
  'etcd-members',
  'openstack-etcd-members',
  'basement-validator',
];

test('a template for every setup, each commented and accepted by rampart validate', () => {
  const names = templates().map((t) => t.name);
  for (const setup of SETUPS)
    assert.ok(names.includes(setup), `template ${setup} (have ${names.join(', ')})`);
  for (const name of names) {
    const file = path.join(dir, `${name}.yaml`);
    const r = rampart('init', '--template', name, '-o', file);
    assert.equal(r.status, 0, `${name}: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`wrote ${file.replace(/[.]/g, '\\.')} from template ${name}`));
    const text = readFileSync(file, 'utf8');
    const comments = text.split('\n').filter((l) => /^\s*#|\s#\s/.test(l)).length;
    assert.ok(comments >= 10, `${name}: a commented config (${comments} comment lines)`);
    const valid = rampart('validate', '-c', file);
    assert.equal(valid.status, 0, `${name} is valid:\n${valid.stderr}`);
  }
  const listed = rampart('init', '--list');
  assert.equal(listed.status, 0);
  for (const name of names) assert.match(listed.stdout, new RegExp(`^${name} +\\S`, 'm'));
});

test('init writes ./rampart.yaml from the local template by default, and never overwrites without --force', () => {
  const r = rampart('init');
  assert.equal(r.status, 0, r.stderr);
  const written = path.join(dir, 'rampart.yaml');
  const local = templates().find((t) => t.name === 'local')!;
  assert.equal(readFileSync(written, 'utf8'), readFileSync(local.file, 'utf8'));
  assert.equal(rampart('validate').status, 0, 'the default config is found without -c');

  writeFileSync(written, 'mine\n');
  const again = rampart('init', '--template', 'aws-sentries');
  assert.equal(again.status, 2);
  assert.match(again.stderr, /rampart\.yaml exists and was left as it is: --force overwrites it/);
  assert.equal(readFileSync(written, 'utf8'), 'mine\n', 'the file is as it was');

  const forced = rampart('init', '--template', 'aws-sentries', '--force');
  assert.equal(forced.status, 0, forced.stderr);
  assert.match(readFileSync(written, 'utf8'), /kind: aws/);

  const printed = rampart('init', '--template', 'etcd-members', '-o', '-');
  assert.equal(printed.status, 0);
  assert.match(printed.stdout, /kind: etcd-member/);

  const unknown = rampart('init', '--template', 'openstack');
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /argument 'openstack' is invalid\. Allowed choices are .*basement-validator/);
});
