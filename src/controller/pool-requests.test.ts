import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { parseConfigText } from '../config/load.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { SqliteStore } from '../store/sqlite-store.ts';
import { applyPoolRequests } from './pool-requests.ts';

const CONFIG = `version: 1
controller: { store: { kind: sqlite, path: unused.db } }
providers: [ { name: here, kind: local } ]
pools:
  - { name: validator, role: validator, provider: here, node: { kind: simnode } }
  - name: sentries
    role: sentry
    provider: here
    node: { kind: simnode, validatorPool: validator }
    size: { min: 2, capacity: 3, max: 6 }
`;

async function setUp() {
  const { config } = parseConfigText(CONFIG, '/tmp/rampart-pool-requests.yaml');
  const store = new SqliteStore(':memory:');
  await store.open();
  const term = await store.newTerm('test');
  // applyPoolRequests needs only the config and the store of a runtime.
  const rt = { config, store } as unknown as Runtime;
  const ctx = { term, log: pino({ level: 'silent' }), guard: () => undefined };
  let n = 0;
  const ask = async (kind: string, body: Record<string, unknown>, caller = 'alice at 127.0.0.1') => {
    const id = `r-${++n}`;
    await store.addRequest({ id, at: Date.now(), kind, body, caller });
    return id;
  };
  return { store, rt, ctx, ask };
}

test('pause, size by hand and resume are applied as actions recorded with their caller', async () => {
  const { store, rt, ctx, ask } = await setUp();
  const pause = await ask('pool-pause', { pool: 'sentries' });
  const size = await ask('pool-size', { pool: 'sentries', size: 5 }, 'bob at 10.0.0.7');
  await applyPoolRequests(rt, ctx);
  const state = await store.getPool('sentries');
  assert.equal(state?.paused, true);
  assert.equal(state?.pausedBy, 'alice at 127.0.0.1');
  assert.equal(state?.manualSize?.size, 5);
  assert.equal(state?.manualSize?.by, 'bob at 10.0.0.7');
  assert.equal((await store.getRequest(pause))?.outcome, 'done');
  assert.match((await store.getRequest(size))?.detail ?? '', /set by hand to 5/);
  const actions = await store.listActions({ pool: 'sentries' });
  assert.deepEqual(
    actions.map((a) => [a.kind, a.caller, a.outcome]),
    [
      ['pause', 'alice at 127.0.0.1', 'succeeded'],
      ['size', 'bob at 10.0.0.7', 'succeeded'],
    ],
  );

  await ask('pool-resume', { pool: 'sentries' });
  await ask('pool-size', { pool: 'sentries', size: null });
  await applyPoolRequests(rt, ctx);
  const after = await store.getPool('sentries');
  assert.equal(after?.paused, false);
  assert.equal(after?.pausedBy, undefined);
  assert.equal(after?.manualSize, undefined);
  assert.deepEqual(await store.openRequests(), []);
  await store.close();
});

test('requests the guard refuses fail with the reason and change nothing', async () => {
  const { store, rt, ctx, ask } = await setUp();
  const out = await ask('pool-size', { pool: 'sentries', size: 7 });
  const validator = await ask('pool-pause', { pool: 'validator' });
  const unknown = await ask('pool-resume', { pool: 'nope' });
  await applyPoolRequests(rt, ctx);
  assert.match(
    (await store.getRequest(out))?.detail ?? '',
    /size 7 is outside the bounds of pool sentries: min 2, max 6/,
  );
  assert.match((await store.getRequest(validator))?.detail ?? '', /validator pool/);
  assert.match((await store.getRequest(unknown))?.detail ?? '', /no pool "nope"/);
  for (const id of [out, validator, unknown]) assert.equal((await store.getRequest(id))?.outcome, 'failed');
  assert.equal(await store.getPool('sentries'), undefined);
  assert.deepEqual(await store.listActions(), []);
  await store.close();
});
