import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import pino from 'pino';
import { parseConfigText } from '../config/load.ts';
import { SqliteStore } from '../store/sqlite-store.ts';
import type { Store } from '../store/store.ts';
import { HISTORY_PRUNE_EVERY_MS, HistoryRetention } from './history-retention.ts';

const DAY = 86_400_000;

async function setUp(retention: string) {
  const { config } = parseConfigText(
    `version: 1
controller: { historyRetention: ${retention}, store: { kind: sqlite, path: unused.db } }
providers: [ { name: here, kind: local } ]
pools: [ { name: sentries, role: worker, provider: here, node: { kind: simnode }, size: { min: 1, capacity: 1, max: 2 } } ]
`,
    '/tmp/rampart-history-retention.yaml',
  );
  const store = new SqliteStore(':memory:');
  await store.open();
  const term = await store.newTerm('test');
  const lines: string[] = [];
  const log = pino(
    { level: 'info' },
    new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    }),
  );
  const ctx = { term, log, guard: () => undefined };
  return { config, store, term, ctx, lines };
}

const event = (store: Store, term: number, at: number, text: string) =>
  store.recordEvent({ at, pool: 'sentries', severity: 'info', text }, term);

test('history older than the retention goes at the first tick, then at most hourly; newer stays', async () => {
  const { config, store, term, ctx, lines } = await setUp('7d');
  assert.equal(config.controller.historyRetention, 7 * DAY);
  const now = 100 * DAY;
  await event(store, term, now - 8 * DAY, 'eight days old');
  await event(store, term, now - 7 * DAY + 30 * 60_000, 'seven days old in half an hour');
  const retention = new HistoryRetention({ config, store });

  retention.maybePrune(ctx, now);
  await retention.settle();
  assert.deepEqual(
    (await store.listEvents()).map((e) => e.text),
    ['seven days old in half an hour'],
  );
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /pruned 1 history records older than 7d/);

  // Within the hour nothing is pruned, even what has aged past the retention since.
  retention.maybePrune(ctx, now + HISTORY_PRUNE_EVERY_MS - 1);
  await retention.settle();
  assert.deepEqual(
    (await store.listEvents()).map((e) => e.text),
    ['seven days old in half an hour'],
  );
  retention.maybePrune(ctx, now + HISTORY_PRUNE_EVERY_MS);
  await retention.settle();
  assert.deepEqual(await store.listEvents(), []);
  assert.equal(lines.length, 2);
  await store.close();
});

test('the default keeps 30 days; a failed prune is logged, never thrown, and retried at the next tick', async () => {
  const { config, store, term, ctx, lines } = await setUp('30d');
  assert.equal(
    parseConfigText(
      `version: 1
providers: [ { name: here, kind: local } ]
pools: [ { name: sentries, role: worker, provider: here, node: { kind: simnode }, size: { min: 1, capacity: 1, max: 2 } } ]
`,
      '/tmp/x.yaml',
    ).config.controller.historyRetention,
    30 * DAY,
  );
  const now = 100 * DAY;
  await event(store, term, now - 31 * DAY, 'a month old');
  const retention = new HistoryRetention({ config, store });
  await store.newTerm('successor');
  retention.maybePrune(ctx, now);
  await retention.settle();
  assert.match(lines.at(-1)!, /pruning history older than 30d failed: refused: leadership term \d+ is stale/);
  assert.equal((await store.listEvents()).length, 1, 'a deposed leader prunes nothing');
  const next = { ...ctx, term: await store.currentTerm() };
  retention.maybePrune(next, now + 1);
  await retention.settle();
  assert.deepEqual(await store.listEvents(), [], 'retried at once, not an hour later');
  await store.close();
});

test('the prune runs beside the ticks: one at a time, and settle waits for it', async () => {
  const { config, store, ctx } = await setUp('7d');
  let calls = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const slow = {
    pruneHistory: async (before: number, term: number) => {
      calls++;
      await gate;
      return store.pruneHistory(before, term);
    },
  } as unknown as Store;
  const retention = new HistoryRetention({ config, store: slow });
  retention.maybePrune(ctx, 100 * DAY);
  retention.maybePrune(ctx, 101 * DAY);
  assert.equal(calls, 1, 'a second prune does not start while one runs');
  let settled = false;
  const settling = retention.settle().then(() => (settled = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(settled, false, 'settle waits for the prune in flight');
  release();
  await settling;
  retention.maybePrune(ctx, 102 * DAY);
  await retention.settle();
  assert.equal(calls, 2, 'a day later the next prune starts');
  await store.close();
});
