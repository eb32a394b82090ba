import assert from 'node:assert/strict';
import { test } from 'node:test';
import { node, policy } from '../../test/support/decide-fixtures.ts';
import { selectSnapshotSource } from './snapshot-source.ts';

test('a sentry is a source only while the pool has more ready nodes than min', () => {
  const p = policy({ size: { min: 2, capacity: 3, max: 5 } });
  const two = [node('a'), node('b')];
  assert.match(
    (selectSnapshotSource(p, two, { hasUpstream: true }) as { skip: string }).skip,
    /not more than min 2/,
  );
  const three = [...two, node('c', 'ready', { createdAt: 5 })];
  const picked = selectSnapshotSource(p, three, {
    hasUpstream: true,
    connectedToUpstream: new Set(['a', 'b']),
  });
  assert.deepEqual(picked, { nodeId: 'c', why: '3 ready > min 2; not connected to the validator' });
});

test('a full-node pool with no validator can always give its caught-up node', () => {
  const p = policy({ role: 'standby', size: { min: 1, capacity: 1, max: 1 } });
  assert.equal(
    (selectSnapshotSource(p, [node('f')], { hasUpstream: false }) as { nodeId: string }).nodeId,
    'f',
  );
});

test('never a validator, never while another node is stopped, never a node that is not ready', () => {
  // What the pool's next moves can change is `waitable` (an operator's request waits for it); a
  // validator pool never is.
  const v = policy({ role: 'validator', size: undefined });
  const validator = selectSnapshotSource(v, [node('v')], { hasUpstream: false });
  assert.ok('skip' in validator && validator.waitable === undefined);
  const p = policy({ role: 'standby' });
  const syncing = selectSnapshotSource(p, [node('a', 'syncing')], { hasUpstream: false });
  assert.ok('skip' in syncing && syncing.waitable);
  const stopped = selectSnapshotSource(p, [node('a'), node('b', 'ready', { maintenance: 'snapshot x' })], {
    hasUpstream: false,
  });
  assert.ok('skip' in stopped && stopped.waitable);
  const atMin = selectSnapshotSource(
    policy({ size: { min: 2, capacity: 3, max: 5 } }),
    [node('a'), node('b')],
    {
      hasUpstream: true,
    },
  );
  assert.ok('skip' in atMin && atMin.waitable);
});

test('a synced warm spare is the source whatever the count, and counts for nothing against min', () => {
  const p = policy({ size: { min: 2, capacity: 2, max: 5, warm: 1 } });
  const serving = [node('a'), node('b')];
  assert.deepEqual(
    selectSnapshotSource(p, [...serving, node('w', 'ready', { warm: true })], {
      hasUpstream: true,
      connectedToUpstream: new Set(['a']),
    }),
    { nodeId: 'w', why: 'a warm spare: it serves no one while it is copied' },
  );
  // A spare still syncing is no source; the serving nodes are not more than min.
  assert.match(
    (
      selectSnapshotSource(p, [...serving, node('w', 'syncing', { warm: true })], {
        hasUpstream: true,
      }) as { skip: string }
    ).skip,
    /not more than min 2/,
  );
});

test('a live copy (a volume snapshot of a serving node) may take a sentry even at min', () => {
  const p = policy({ size: { min: 2, capacity: 2, max: 5 } });
  const two = [node('a'), node('b', 'ready', { createdAt: 5 })];
  assert.deepEqual(
    selectSnapshotSource(p, two, { hasUpstream: true, connectedToUpstream: new Set(['b']), live: true }),
    { nodeId: 'a', why: 'copied while it serves; not connected to the validator' },
  );
  assert.ok('skip' in selectSnapshotSource(p, [node('a', 'syncing')], { hasUpstream: true, live: true }));
});
