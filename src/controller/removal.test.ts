// Which removals take a node while it serves: only what is kept of those (a StatefulSet's
// removal snapshot) may seed new nodes.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StoredNode } from '../store/store.ts';
import { FLEET_DOWN_CAUSE, removedServing } from './actions.ts';

const node = (over: Partial<StoredNode>): StoredNode => ({
  id: 'sentries-1',
  pool: 'sentries',
  provider: 'here',
  actionId: 'a-1',
  state: 'ready',
  createdAt: 1,
  readyAt: 2,
  joinStartedAt: 1,
  joinAttempts: 0,
  failMarker: 0,
  registered: true,
  updatedAt: 3,
  ...over,
});

test('a ready node scaled in, sized down, above max, surplus or taken down goes serving', () => {
  for (const cause of ['scale-down', 'above-max', 'manual-size', 'warm-surplus', FLEET_DOWN_CAUSE])
    assert.equal(removedServing(node({}), cause), true, cause);
  // A removal resumed part-way keeps its first cause.
  assert.equal(removedServing(node({ state: 'draining' }), 'scale-down'), true);
  assert.equal(removedServing(node({ state: 'deleting' }), 'scale-down (tried again: left deleting)'), true);
});

test('a failed node, one that never became ready, or one whose join ran out does not', () => {
  assert.equal(removedServing(node({}), 'failed-health'), false);
  assert.equal(removedServing(node({ readyAt: undefined, state: 'syncing' }), 'join-exhausted'), false);
  assert.equal(removedServing(node({ readyAt: undefined, state: 'syncing' }), 'scale-down'), false);
  assert.equal(removedServing(node({ readyAt: undefined, state: 'ready' }), 'above-max'), false);
  // Ready once, failed since (its instance vanished): its data is not a caught-up copy.
  assert.equal(removedServing(node({ state: 'failed' }), 'scale-down'), false);
  assert.equal(
    removedServing(node({ state: 'draining' }), 'failed-health (tried again: left draining)'),
    false,
  );
});
