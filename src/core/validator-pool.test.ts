import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Decision, PlannedAction } from './pool-plan.ts';
import { decideValidatorPool } from './validator-pool.ts';

const cases: {
  name: string;
  pool: Parameters<typeof decideValidatorPool>[0];
  decision: Decision;
  desired: number;
  actions: PlannedAction[];
  reason: string;
}[] = [
  {
    name: 'never had a node: its one node is created',
    pool: { live: 0, ready: 0, everHadNode: false },
    decision: 'bootstrap',
    desired: 1,
    actions: [{ kind: 'create', count: 1, cause: 'bootstrap' }],
    reason: 'bootstrap: validator pool has never had a node: starting its one node',
  },
  {
    name: 'had a node once: never created again',
    pool: { live: 0, ready: 0, everHadNode: true },
    decision: 'hold',
    desired: 0,
    actions: [],
    reason:
      'validator-never-scaled: validator pools are never scaled or replaced (0 ready of 0); failures go to failover',
  },
  {
    name: 'paused: not even bootstrapped',
    pool: { live: 0, ready: 0, everHadNode: false, paused: true },
    decision: 'hold',
    desired: 0,
    actions: [],
    reason:
      'validator-never-scaled: validator pools are never scaled or replaced (0 ready of 0); failures go to failover',
  },
  {
    name: 'a node that is not ready is left to failover',
    pool: { live: 1, ready: 0 },
    decision: 'hold',
    desired: 1,
    actions: [],
    reason:
      'validator-never-scaled: validator pools are never scaled or replaced (0 ready of 1); failures go to failover',
  },
];

for (const c of cases)
  test(c.name, () => {
    const v = decideValidatorPool(c.pool);
    assert.equal(v.decision, c.decision);
    assert.equal(v.desired, c.desired);
    assert.deepEqual(v.actions, c.actions);
    assert.deepEqual(
      v.reasons.map((r) => `${r.code}: ${r.text}`),
      [c.reason],
    );
  });
