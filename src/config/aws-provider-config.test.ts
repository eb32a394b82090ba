import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, parseConfigText } from './load.ts';

const base = (provider: string, extra = '') => `version: 1
providers:
  - ${provider}
pools:
  - name: sentries
    role: sentry
    provider: cloud
    node: { kind: simnode }
    size: { min: 1, capacity: 1, max: 3 }
${extra}`;

const errors = (text: string) => {
  try {
    parseConfigText(text, 'rampart.yaml');
  } catch (e) {
    if (e instanceof ConfigError) return e.message;
    throw e;
  }
  return '';
};

test('an aws provider gets its defaults', () => {
  const { config } = parseConfigText(
    base('{ name: cloud, kind: aws, region: eu-west-1, autoScalingGroup: sentries-asg }'),
    'rampart.yaml',
  );
  const p = config.providers[0]!;
  assert.equal(p.kind, 'aws');
  if (p.kind !== 'aws') return;
  assert.equal(p.address, 'private-ip');
  assert.deepEqual(p.ports, { rpc: 26657, p2p: 26656, metrics: 26660 });
  assert.deepEqual(p.retry, { attempts: 5, baseDelay: 200, maxDelay: 10_000, callTimeout: 10_000 });
  assert.equal(p.launchTemplate, undefined);
});

test('aws provider errors name the line, the field and what is allowed', () => {
  const msg = errors(
    base(
      '{ name: cloud, kind: aws, region: Europe, autoScalingGroup: g, launchTemplate: { name: lt-x, version: latest } }',
    ),
  );
  assert.match(msg, /rampart\.yaml:3:\d+ providers\[0\]\.region: .*an AWS region such as eu-west-1/);
  assert.match(msg, /providers\[0\]\.launchTemplate\.version: .*a version number, \$Latest or \$Default/);
});

test('an aws provider serves one pool, and restores only from an s3 store', () => {
  const msg = errors(
    base(
      '{ name: cloud, kind: aws, region: eu-west-1, autoScalingGroup: g }',
      `  - name: more
    role: worker
    provider: cloud
    node: { kind: simnode }
    size: { min: 1, capacity: 1, max: 3 }
    bootstrap: { snapshots: snaps }
snapshots:
  - { name: snaps, from: sentries, store: { kind: directory, path: snaps } }
`,
    ),
  );
  assert.match(msg, /pools\[1\]\.provider: aws provider "cloud" \(group g\) already serves pools\[0\]/);
  assert.match(
    msg,
    /pools\[1\]\.bootstrap\.snapshots: set "snaps" is in a directory store, which instances on AWS cannot read/,
  );
});
