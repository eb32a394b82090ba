import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, parseConfigText } from '../../config/load.ts';

const base = (provider: string, pools = 1) => `version: 1
providers:
  - ${provider}
pools:
${Array.from(
  { length: pools },
  (_, i) => `  - name: members${i}
    role: member
    provider: cloud
    node: { kind: etcd-member }
    size: { min: 3, capacity: 3, max: 5 }
`,
).join('')}`;

const errors = (text: string) => {
  try {
    parseConfigText(text, 'rampart.yaml');
  } catch (e) {
    if (e instanceof ConfigError) return e.message;
    throw e;
  }
  return '';
};

test("an openstack provider gets seed 003's ports and its defaults", () => {
  const { config } = parseConfigText(
    base('{ name: cloud, kind: openstack, cloud: prod, servers: { flavor: m1.small, image: etcd } }'),
    'rampart.yaml',
  );
  const p = config.providers[0]!;
  assert.equal(p.kind, 'openstack');
  if (p.kind !== 'openstack') return;
  assert.deepEqual(p.ports, { client: 12379, peer: 12380, metrics: 12381 });
  assert.equal(p.address, 'fixed');
  assert.equal(p.interface, 'public');
  assert.equal(p.servers?.networks, 'auto');
  assert.deepEqual(p.servers?.securityGroups, []);
  assert.equal(p.userData.dataDir, '/var/lib/rampart/node');
  assert.equal(p.bootTimeout, 600_000);
  assert.deepEqual(p.retry, { attempts: 5, baseDelay: 500, maxDelay: 20_000, callTimeout: 30_000 });
});

test('openstack provider errors name the line, the field and what is allowed', () => {
  const msg = errors(
    base(
      '{ name: cloud, kind: openstack, servers: { flavor: m1.small, image: etcd, networks: some }, address: private }',
    ),
  );
  assert.match(
    msg,
    /rampart\.yaml:3:\d+ providers\[0\]\.servers\.networks: .*none, auto or a list of network names or ids/,
  );
  assert.match(msg, /providers\[0\]\.address: .*fixed, floating or \{ metadata: KEY \}/);
  assert.match(errors(base('{ name: cloud, kind: openstack }')), /providers\[0\]\.servers/);
});

test('an openstack provider entry serves one pool', () => {
  const msg = errors(base('{ name: cloud, kind: openstack, servers: { flavor: f, image: i } }', 2));
  assert.match(msg, /pools\[1\]\.provider: .*openstack provider "cloud" already serves pools\[0\]/);
});

test('heat mode names the stack, the group and its two parameters, with a default update timeout', () => {
  const { config } = parseConfigText(
    base(
      '{ name: cloud, kind: openstack, heat: { stack: etcd-stack, group: etcd_nodes, countParameter: cluster_size, removalParameter: removal_policies } }',
    ),
    'rampart.yaml',
  );
  const p = config.providers[0]!;
  if (p.kind !== 'openstack') return assert.fail('an openstack provider');
  assert.equal(p.servers, undefined);
  assert.deepEqual(p.heat, {
    stack: 'etcd-stack',
    group: 'etcd_nodes',
    countParameter: 'cluster_size',
    removalParameter: 'removal_policies',
    updateTimeout: 900_000,
  });
});

test('an openstack entry gives servers or heat, not both, and a heat field error says what is allowed', () => {
  const heat = 'heat: { stack: s, group: g, countParameter: c, removalParameter: r }';
  assert.match(
    errors(base(`{ name: cloud, kind: openstack, servers: { flavor: f, image: i }, ${heat} }`)),
    /rampart\.yaml:3:\d+ providers\[0\]\.heat: give either servers .* or heat .*, not both/,
  );
  assert.match(
    errors(base('{ name: cloud, kind: openstack }')),
    /providers\[0\]\.servers: missing: give servers \(\{ flavor, image, ... \}\) or heat/,
  );
  assert.match(
    errors(
      base('{ name: cloud, kind: openstack, heat: { stack: "my stack", group: g, countParameter: c } }'),
    ),
    /providers\[0\]\.heat\.stack: .*a stack name: a letter or digit, then letters, digits, _ \. -/,
  );
  assert.match(
    errors(base('{ name: cloud, kind: openstack, heat: { stack: s, group: g, countParameter: c } }')),
    /providers\[0\]\.heat\.removalParameter/,
  );
});

test('images: a family with defaults; refused on etcd members and in heat mode, naming the field', () => {
  const sentries = `version: 1
providers:
  - { name: here, kind: local, dataDir: nodes }
  - { name: cloud, kind: openstack, cloud: prod, servers: { flavor: m1.small, image: blank }, images: { family: sentry, every: 6h } }
pools:
  - { name: validator, role: validator, provider: here, node: { kind: simnode } }
  - { name: sentries, role: sentry, provider: cloud, node: { kind: simnode, validatorPool: validator }, size: { min: 1, capacity: 2, max: 3 } }
`;
  const { config } = parseConfigText(sentries, 'rampart.yaml');
  const p = config.providers[1]!;
  if (p.kind !== 'openstack') return assert.fail('an openstack provider');
  assert.deepEqual(p.images, { family: 'sentry', every: 21_600_000, keep: 3, timeout: 1_800_000 });

  const members = errors(
    base(
      '{ name: cloud, kind: openstack, cloud: prod, servers: { flavor: m1.small, image: etcd }, images: { family: etcd } }',
    ),
  );
  assert.match(
    members,
    /rampart\.yaml:\d+:\d+ providers\[0\]\.images: pool "members0" is of etcd members, which never boot from a baked image/,
  );

  const heat = errors(
    base(
      '{ name: cloud, kind: openstack, cloud: prod, heat: { stack: s, group: g, countParameter: n, removalParameter: r }, images: { family: etcd } }',
    ),
  );
  assert.match(heat, /providers\[0\]\.images: baking images is for servers mode/);
  assert.match(
    errors(sentries.replace('family: sentry', 'family: "no way"')),
    /providers\[1\]\.images\.family: "no way" is not a name of letters, digits/,
  );
});
