import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import type { Lock } from '../coordination/coordination.ts';
import { guardedByLock } from '../runtime/action-journal.ts';

test('a lost scale-down lock stops the actions it guards; leadership is still checked first', () => {
  const lost = new AbortController();
  const lock: Lock = { name: 'scale-down/sentries', lost: lost.signal, release: async () => undefined };
  let leading = true;
  const ctx = {
    term: 7,
    log: pino({ level: 'silent' }),
    guard: () => {
      if (!leading) throw new Error('leadership (term 7) lost: not acting');
    },
  };
  const guarded = guardedByLock(ctx, lock, 'pool sentries');
  assert.equal(guarded.term, 7);
  assert.doesNotThrow(() => guarded.guard(), 'held and leading: act');
  lost.abort(new Error('lock scale-down/sentries lost: renewal failed'));
  assert.throws(
    () => guarded.guard(),
    /^Error: lock scale-down\/sentries lost: renewal failed: pool sentries stops acting$/,
  );
  assert.doesNotThrow(() => ctx.guard(), 'the context it wraps is untouched: other pools act on');
  leading = false;
  assert.throws(() => guarded.guard(), /leadership \(term 7\) lost/);
});
