// The pure rules of Kubernetes coordination: when a Lease counts as held, and which Lease a
// lock lives on. The API-server behaviour is in test/integration/kube-lease.test.ts.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { heldAt, type Lease, type LeaseSpec, lockLeaseName } from './kubernetes.ts';

const lease = (spec: LeaseSpec): Lease => ({ metadata: { name: 'rampart' }, spec });
const at = (iso: string) => Date.parse(iso);
const renewed = '2026-01-01T00:00:00.000000Z';

test('a Lease is held until renewTime + duration + a tenth of it, by the candidate’s clock', () => {
  const cases: [string, LeaseSpec, string, boolean][] = [
    ['no holder', { renewTime: renewed, leaseDurationSeconds: 10 }, '2026-01-01T00:00:00Z', false],
    ['empty holder', { holderIdentity: '', leaseDurationSeconds: 10 }, '2026-01-01T00:00:00Z', false],
    [
      'within the duration',
      { holderIdentity: 'a', renewTime: renewed, leaseDurationSeconds: 10 },
      '2026-01-01T00:00:09Z',
      true,
    ],
    [
      'past the duration, within the margin',
      { holderIdentity: 'a', renewTime: renewed, leaseDurationSeconds: 10 },
      '2026-01-01T00:00:10.900Z',
      true,
    ],
    [
      'past the margin',
      { holderIdentity: 'a', renewTime: renewed, leaseDurationSeconds: 10 },
      '2026-01-01T00:00:11.001Z',
      false,
    ],
    [
      'acquireTime when never renewed',
      { holderIdentity: 'a', acquireTime: renewed, leaseDurationSeconds: 10 },
      '2026-01-01T00:00:12Z',
      false,
    ],
    [
      'no readable time: never stolen',
      { holderIdentity: 'a', renewTime: 'garbage', leaseDurationSeconds: 1 },
      '2030-01-01T00:00:00Z',
      true,
    ],
    [
      'no time at all: never stolen',
      { holderIdentity: 'a', leaseDurationSeconds: 1 },
      '2030-01-01T00:00:00Z',
      true,
    ],
    [
      'no duration: ours (20 s) applies',
      { holderIdentity: 'a', renewTime: renewed },
      '2026-01-01T00:00:21Z',
      true,
    ],
    [
      'no duration: expired after ours',
      { holderIdentity: 'a', renewTime: renewed },
      '2026-01-01T00:00:22.001Z',
      false,
    ],
    [
      'zero duration: ours applies',
      { holderIdentity: 'a', renewTime: renewed, leaseDurationSeconds: 0 },
      '2026-01-01T00:00:05Z',
      true,
    ],
  ];
  for (const [why, spec, now, held] of cases) assert.equal(heldAt(lease(spec), at(now), 20_000), held, why);
});

test('a lock lives on <lease>-lock-<name>, a DNS label, never on the leadership Lease', () => {
  assert.equal(lockLeaseName('rampart', 'scale-down/Sentries'), 'rampart-lock-scale-down-sentries');
  assert.equal(lockLeaseName('rampart', 'promote/pool_1.a'), 'rampart-lock-promote-pool-1-a');
  assert.equal(lockLeaseName('rampart', '/x/'), 'rampart-lock-x');
  assert.equal(lockLeaseName('rampart', '***'), 'rampart-lock');
  const label = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
  const long = 'scale-down/'.padEnd(100, 'p');
  const names = [
    lockLeaseName('rampart', long),
    lockLeaseName('rampart', `${long}q`),
    lockLeaseName('r'.repeat(63), 'a'),
    lockLeaseName('r'.repeat(63), 'b'),
  ];
  for (const n of names) assert.ok(n.length <= 63 && label.test(n), `${n} is a DNS label`);
  assert.equal(new Set(names).size, names.length, 'long names keep distinct Leases');
  assert.notEqual(names[2], 'r'.repeat(63), 'a lock of a 63-character Lease is not the Lease itself');
  assert.equal(lockLeaseName('rampart', long), names[0], 'the same name always gives the same Lease');
});
