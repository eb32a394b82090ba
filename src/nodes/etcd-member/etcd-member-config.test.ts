// The etcd-member node block: its defaults, and the cross-field checks that keep a pool of
// members at a quorum-safe size.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, parseConfigText } from '../../config/load.ts';

const config = (pool: string) => `version: 1
providers:
  - { name: here, kind: local }
pools:
  - name: members
    provider: here
${pool}`;

const errorsOf = (text: string): string[] => {
  try {
    parseConfigText(text, 'rampart.yaml');
  } catch (e) {
    if (e instanceof ConfigError) return e.message.split('\n');
    throw e;
  }
  return assert.fail('expected a ConfigError');
};

describe('etcd-member config', () => {
  test('defaults: learners first, 1000 entries of lag, 3 members, 2s calls', () => {
    const { config: c } = parseConfigText(
      config(`    role: member
    node: { kind: etcd-member }
    size: { min: 3, capacity: 3, max: 5 }`),
      'rampart.yaml',
    );
    assert.deepEqual(c.pools[0]!.node, {
      kind: 'etcd-member',
      learner: true,
      maxLagEntries: 1000,
      minMembers: 3,
      timeout: 2000,
      extraArgs: [],
    });
  });

  test('a min below the quorum-safe size, another role or snapshots are errors', () => {
    const errors = errorsOf(
      config(`    role: sentry
    node: { kind: etcd-member }
    size: { min: 2, capacity: 3, max: 5 }
    bootstrap: { snapshots: s }`),
    );
    assert.ok(
      errors.some((e) => /pools\[0\]\.role: a pool of etcd members has role member, not sentry/.test(e)),
    );
    assert.ok(
      errors.some((e) =>
        /pools\[0\]\.size\.min: min \(2\) is below node\.minMembers \(3\), the quorum-safe size/.test(e),
      ),
      errors.join('\n'),
    );
    assert.ok(
      errors.some((e) => /pools\[0\]\.bootstrap: etcd members do not restore from snapshots/.test(e)),
    );
  });

  test('an etcd member has no validator pool', () => {
    const errors = errorsOf(
      config(`    role: member
    node: { kind: etcd-member, validatorPool: validator }
    size: { min: 3, capacity: 3, max: 5 }`),
    );
    assert.deepEqual(errors.slice(0, 1), [
      'rampart.yaml:8:47 pools[0].node.validatorPool: etcd members form their own cluster: they have no validatorPool',
    ]);
  });

  test('a single-member pool is allowed when minMembers says so', () => {
    const { config: c } = parseConfigText(
      config(`    role: member
    node: { kind: etcd-member, minMembers: 1 }
    size: { min: 1, capacity: 1, max: 1 }`),
      'rampart.yaml',
    );
    assert.equal(c.pools[0]!.size!.min, 1);
  });
});
