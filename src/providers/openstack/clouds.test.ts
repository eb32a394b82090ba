import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { readCloud, secretsOf } from './clouds.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'rampart-clouds-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const clouds = path.join(dir, 'clouds.yaml');
writeFileSync(
  clouds,
  `clouds:
  prod:
    auth:
      auth_url: https://keystone.example:5000/
      username: rampart
      project_name: etcd
      user_domain_name: Users
      project_domain_name: Projects
    region_name: regionOne
  appcred:
    auth_type: v3applicationcredential
    auth:
      auth_url: https://keystone.example:5000/v3
      application_credential_id: abc123
      application_credential_secret: s3cr3t-app
`,
);
// secure.yaml beside clouds.yaml carries the password of the same cloud.
writeFileSync(
  path.join(dir, 'secure.yaml'),
  'clouds:\n  prod:\n    auth:\n      password: from-secure-yaml\n',
);

test('a password cloud: clouds.yaml merged with secure.yaml, the trailing slash dropped', () => {
  const c = readCloud({ cloud: 'prod', cloudsFile: clouds, env: {} });
  assert.equal(c.region, 'regionOne');
  assert.equal(c.auth.type, 'password');
  if (c.auth.type !== 'password') return;
  assert.equal(c.auth.authUrl, 'https://keystone.example:5000');
  assert.equal(c.auth.password, 'from-secure-yaml');
  assert.deepEqual(c.auth.userDomain, { name: 'Users' });
  assert.deepEqual(c.auth.project, { name: 'etcd', id: undefined, domain: { name: 'Projects' } });
  assert.deepEqual(secretsOf(c), ['from-secure-yaml']);
});

test('OS_CLOUD names the cloud when the config does not; a secret file replaces the secret', () => {
  const secret = path.join(dir, 'secret');
  writeFileSync(secret, 'rotated-secret\n');
  const c = readCloud({ cloudsFile: clouds, secretFile: secret, env: { OS_CLOUD: 'appcred' } });
  assert.equal(c.auth.type, 'application-credential');
  if (c.auth.type !== 'application-credential') return;
  assert.equal(c.auth.id, 'abc123');
  assert.equal(c.auth.secret, 'rotated-secret');
});

test('without a cloud, the OS_* variables', () => {
  const c = readCloud({
    env: {
      OS_AUTH_URL: 'http://127.0.0.1:5000/v3',
      OS_USERNAME: 'admin',
      OS_PASSWORD: 'pw-from-env',
      OS_PROJECT_NAME: 'admin',
      OS_REGION_NAME: 'RegionTwo',
    },
  });
  assert.equal(c.region, 'RegionTwo');
  assert.equal(c.source, 'the OS_* environment variables');
  assert.deepEqual(secretsOf(c), ['pw-from-env']);
});

test('errors name the file, the cloud and what is missing, never a secret', () => {
  assert.throws(
    () => readCloud({ cloud: 'nope', cloudsFile: clouds, env: {} }),
    /no cloud "nope" under clouds \(has prod, appcred\)/,
  );
  const bad = path.join(dir, 'bad.yaml');
  writeFileSync(
    bad,
    'clouds:\n  x:\n    auth:\n      auth_url: http://k/v3\n      username: u\n      password: hunter22\n',
  );
  assert.throws(
    () => readCloud({ cloud: 'x', cloudsFile: bad, env: {} }),
    (e: Error) =>
      /bad\.yaml cloud "x": auth\.project_name is missing/.test(e.message) && !e.message.includes('hunter22'),
  );
  assert.throws(() => readCloud({ env: {} }), /no OpenStack credentials/);
});
