import assert from 'node:assert/strict';
import { test } from 'node:test';
import { node, policy, T0 } from '../../test/support/decide-fixtures.ts';
import type { NodeRecord } from './node-lifecycle.ts';
import type { Alert, PlannedAction } from './pool-plan.ts';
import { replaceFailing } from './replacement.ts';

const health = policy().health; // failTolerance 20, joinRetries 3, joinTimeout 10m

const failing = (id: string, failMarker: number, stateReason?: string) =>
  node(id, 'ready', { failMarker, stateReason });
/** A join started 11 minutes ago, past the 10-minute joinTimeout, after `joinAttempts` failed ones. */
const late = (id: string, joinAttempts: number) =>
  node(id, 'syncing', { joinStartedAt: T0 - 660_000, joinAttempts, stateReason: 'catching up' });

const cases: {
  name: string;
  suspects: NodeRecord[];
  decision: 'replace' | 'rejoin' | undefined;
  actions: PlannedAction[];
  /** Each reason as `code: text`. */
  reasons: string[];
  alerts?: Alert[];
}[] = [
  { name: 'no suspect: nothing to do', suspects: [], decision: undefined, actions: [], reasons: [] },
  {
    name: 'a fail marker past failTolerance: removed for replacement',
    suspects: [failing('n1', 25, 'lagging')],
    decision: 'replace',
    actions: [{ kind: 'remove', nodeId: 'n1', cause: 'failed-health' }],
    reasons: ['failed-health: n1: fail marker 25 > failTolerance 20 (lagging): replacing it'],
  },
  {
    name: 'a fail marker at failTolerance exactly stays',
    suspects: [failing('n1', 20)],
    decision: undefined,
    actions: [],
    reasons: [],
  },
  {
    name: 'a late join with retries left: rejoined, counting the attempt',
    suspects: [late('n2', 0)],
    decision: 'rejoin',
    actions: [{ kind: 'rejoin', nodeId: 'n2', attempt: 1 }],
    reasons: ['join-timeout: n2: not ready after 10m (catching up): join attempt 2 of 3'],
  },
  {
    name: 'a late join on its last retry: deleted, with a critical alert',
    suspects: [late('n2', 2)],
    decision: 'replace',
    actions: [{ kind: 'remove', nodeId: 'n2', cause: 'join-exhausted' }],
    reasons: ['join-exhausted: n2: join failed 3 times (joinRetries 3, joinTimeout 10m): deleting it'],
    alerts: [
      {
        severity: 'critical',
        node: 'n2',
        text: 'n2: join failed 3 times (joinRetries 3, joinTimeout 10m): deleting it',
      },
    ],
  },
  {
    name: 'a join not yet late is left alone',
    suspects: [node('n2', 'syncing', { joinStartedAt: T0 - 60_000 })],
    decision: undefined,
    actions: [],
    reasons: [],
  },
  {
    name: 'a rejoin and a replacement: the replacement names the decision, actions keep the order',
    suspects: [late('n2', 0), failing('n1', 30)],
    decision: 'replace',
    actions: [
      { kind: 'rejoin', nodeId: 'n2', attempt: 1 },
      { kind: 'remove', nodeId: 'n1', cause: 'failed-health' },
    ],
    reasons: [
      'join-timeout: n2: not ready after 10m (catching up): join attempt 2 of 3',
      'failed-health: n1: fail marker 30 > failTolerance 20 (failing checks): replacing it',
    ],
  },
];

for (const c of cases)
  test(c.name, () => {
    const r = replaceFailing(c.suspects, health, T0);
    assert.equal(r.decision, c.decision);
    assert.deepEqual(r.actions, c.actions);
    assert.deepEqual(
      r.reasons.map((x) => `${x.code}: ${x.text}`),
      c.reasons,
    );
    assert.deepEqual(r.alerts, c.alerts ?? []);
    assert.deepEqual(
      [...r.removed],
      c.actions.flatMap((a) => (a.kind === 'remove' ? [a.nodeId] : [])),
    );
  });

test('a failed-health reason carries the marker and the tolerance', () => {
  const [reason] = replaceFailing([failing('n1', 25)], health, T0).reasons;
  assert.equal(reason?.value, 25);
  assert.equal(reason?.threshold, 20);
});
