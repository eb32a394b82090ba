// deploy/Dockerfile, checked without a Docker engine (none runs here): scripts/check-dockerfile.sh
// performs its steps in a temporary directory and checks the runtime stage. It passes for the
// shipped Dockerfile and fails for one that runs as root or ships dev dependencies.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { REPO } from '../support/kube-chart.ts';

const SCRIPT = join(REPO, 'scripts', 'check-dockerfile.sh');
const DOCKERFILE = join(REPO, 'deploy', 'Dockerfile');
const dir = mkdtempSync(join(tmpdir(), 'rampart-dockerfile-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const check = (file?: string) => spawnSync('bash', [SCRIPT, ...(file ? [file] : [])], { encoding: 'utf8' });
const variant = (name: string, change: (text: string) => string) => {
  const text = readFileSync(DOCKERFILE, 'utf8');
  const changed = change(text);
  assert.notEqual(changed, text, `the ${name} variant changes the Dockerfile`);
  const file = join(dir, name);
  writeFileSync(file, changed);
  return file;
};

test('the shipped Dockerfile: non-root, production dependencies only, runs on a read-only tree', () => {
  const r = check();
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /deploy\/Dockerfile: ok \(runtime stage 'runtime', USER 65532:65532/);
});

test('a Dockerfile that runs as root is refused', () => {
  const r = check(variant('root', (t) => t.replace('USER 65532:65532', 'USER root')));
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /USER must be a numeric uid \(got 'root'\)/);
  const zero = check(variant('zero', (t) => t.replace('USER 65532:65532', 'USER 0')));
  assert.match(zero.stderr, /USER is root \(uid 0\)/);
});

test('a Dockerfile that ships dev dependencies is refused', () => {
  const r = check(variant('dev-deps', (t) => t.replace(' --omit=dev', '')));
  assert.notEqual(r.status, 0);
  assert.match(
    r.stderr,
    /dev dependency (typescript|@biomejs\/biome|playwright-core|fast-check) is in the image's node_modules/,
  );
});
