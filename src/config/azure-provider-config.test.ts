import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { ConfigError, parseConfigText } from './load.ts';

const SUB = '0b5c7a52-1d55-4a42-9d7e-3c1f2e6a9b10';
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
    parseConfigText(text, '/etc/rampart/rampart.yaml');
  } catch (e) {
    if (e instanceof ConfigError) return e.message;
    throw e;
  }
  return '';
};

test('an azure provider gets its defaults; its files resolve against the config folder', () => {
  const { config } = parseConfigText(
    base(
      `{ name: cloud, kind: azure, subscriptionId: ${SUB}, resourceGroup: rg-1, scaleSet: sentries-vmss, caFile: ca.pem, credentials: { servicePrincipalDir: sp } }`,
    ),
    '/etc/rampart/rampart.yaml',
  );
  const p = config.providers[0]!;
  assert.equal(p.kind, 'azure');
  if (p.kind !== 'azure') return;
  assert.equal(p.address, 'computer-name');
  assert.deepEqual(p.ports, { rpc: 26657, p2p: 26656, metrics: 26660 });
  assert.deepEqual(p.retry, {
    attempts: 5,
    baseDelay: 500,
    maxDelay: 30_000,
    callTimeout: 30_000,
    pollInterval: 2000,
    operationTimeout: 900_000,
  });
  assert.equal(p.caFile, path.join('/etc/rampart', 'ca.pem'));
  assert.equal(p.credentials?.servicePrincipalDir, path.join('/etc/rampart', 'sp'));
  assert.equal(p.endpoint, undefined);
});

test('azure provider errors name the line, the field and what is allowed', () => {
  const text = errors(
    base(
      '{ name: cloud, kind: azure, subscriptionId: not-a-guid, resourceGroup: rg, scaleSet: "bad name.", endpoint: "http://x", retry: { pollInterval: 0s } }',
    ),
  );
  assert.match(text, /rampart\.yaml:3:\d+ providers\[0\]\.subscriptionId: .*a subscription id \(a GUID\)/);
  assert.match(text, /providers\[0\]\.scaleSet: .*a scale set name of letters, digits/);
  assert.match(text, /providers\[0\]\.endpoint: .*an https URL/);
  assert.match(text, /providers\[0\]\.retry\.pollInterval: .*more than 0/);
});

test('an azure scale set serves one pool and restores no snapshots yet', () => {
  const provider = `{ name: cloud, kind: azure, subscriptionId: ${SUB}, resourceGroup: rg, scaleSet: vmss }`;
  const twice = `${base(provider)}  - name: more
    role: sentry
    provider: cloud
    node: { kind: simnode }
    size: { min: 1, capacity: 1, max: 3 }
`;
  assert.match(
    errors(twice),
    /azure provider "cloud" \(scale set vmss\) already serves pools\[0\]: give each pool its own scale set/,
  );
});

test('azure images: a family, keep 3 and a 30m timeout by default; their errors name the field', () => {
  const { config } = parseConfigText(
    base(
      `{ name: cloud, kind: azure, subscriptionId: ${SUB}, resourceGroup: rg, scaleSet: vmss, customData: {}, images: { family: sentry } }`,
    ),
    '/etc/rampart/rampart.yaml',
  );
  const p = config.providers[0]!;
  if (p.kind !== 'azure') throw new Error('not azure');
  assert.deepEqual(p.images, { family: 'sentry', keep: 3, timeout: 1_800_000 });
  const text = errors(
    base(
      `{ name: cloud, kind: azure, subscriptionId: ${SUB}, resourceGroup: rg, scaleSet: vmss, images: { family: "-bad/name", keep: 0, every: 0s, storage: x } }`,
    ),
  );
  assert.match(
    text,
    /rampart\.yaml:3:\d+ providers\[0\]\.images\.family: .*a name of letters, digits, -, _ and \., at most 40/,
  );
  assert.match(text, /providers\[0\]\.images\.keep: /);
  assert.match(text, /providers\[0\]\.images\.every: .*more than 0/);
  assert.match(
    text,
    /providers\[0\]\.images\.storage: unknown field "storage" \(allowed here: family, every, keep, timeout\)/,
  );
  // Images without a boot script, or on etcd members: refused.
  assert.match(
    errors(
      base(
        `{ name: cloud, kind: azure, subscriptionId: ${SUB}, resourceGroup: rg, scaleSet: vmss, images: { family: sentry } }`,
      ).replace('{ kind: simnode }', '{ kind: etcd-member }'),
    ),
    /providers\[0\]\.images: .*images need customData: its boot script removes the node keys[\s\S]*pool "sentries" is of etcd members, which never boot from a baked image/,
  );
});
