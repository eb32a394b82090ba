import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_MODEL, type ModelOptions, readyDelay, SimPool } from './model.ts';

const model = (over: Partial<ModelOptions> = {}): ModelOptions => ({ ...DEFAULT_MODEL, ...over });

describe('simulated pool', () => {
  test('a requested node serves after provisioning plus restore (30 s + 60 s by default)', () => {
    const pool = new SimPool(model());
    pool.create(0, 2);
    pool.advanceTo(89);
    assert.deepEqual(pool.counts, { ready: 0, pending: 2, failed: 0 });
    assert.equal(pool.nextEventAt(), 90);
    pool.advanceTo(90);
    assert.deepEqual(pool.counts, { ready: 2, pending: 0, failed: 0 });
  });

  test('without a snapshot a node syncs from genesis instead of restoring', () => {
    assert.equal(readyDelay(model({ bootstrap: 'genesis' })), 30 + 21_600);
    assert.equal(readyDelay(model({ provisionSeconds: 45, restoreSeconds: 15 })), 60);
  });

  test('pending nodes cost like ready ones; a warm pool costs its relative price', () => {
    const pool = new SimPool(model({ warmCost: 0.5 }), { warmPool: 2 });
    pool.seedReady(0, 3);
    pool.create(0, 1);
    assert.equal(pool.costRate, 3 + 1 + 2 * 0.5);
  });

  test('warm nodes serve after the warm start, then refill after the full delay', () => {
    const pool = new SimPool(model({ warmStartSeconds: 10 }), { warmPool: 2 });
    const [a, b, c] = pool.create(0, 3);
    assert.deepEqual([a!.readyAt, b!.readyAt, c!.readyAt], [10, 10, 90]);
    assert.equal(pool.create(50, 1)[0]!.readyAt, 140, 'both warm slots are refilling until 90');
    assert.equal(pool.create(90, 1)[0]!.readyAt, 100, 'a slot is warm again');
  });

  test('failures are drawn from the seed: the same seed fails the same nodes at the same times', () => {
    const failures = (seed: number) => {
      const pool = new SimPool(model({ failureRate: 1, seed }));
      pool.seedReady(0, 50);
      return pool.ready.map((n) => n.failAt);
    };
    assert.deepEqual(failures(3), failures(3));
    assert.notDeepEqual(failures(3), failures(4));
    const pool = new SimPool(model({ failureRate: 1, seed: 3 }));
    pool.seedReady(0, 50);
    const first = Math.min(...pool.ready.map((n) => n.failAt));
    pool.advanceTo(first);
    assert.equal(pool.counts.failed, 1);
    assert.equal(pool.counts.ready, 49, 'a failed node no longer serves');
    assert.equal(pool.live, 50, 'but still holds its slot');
  });

  test("a platform replaces a failed node after its delay, keeping the pool's target size", () => {
    const pool = new SimPool(model({ failureRate: 1, seed: 3 }), { replaceFailedAfter: 60 });
    pool.seedReady(0, 5);
    pool.resize(0, 5);
    const node = [...pool.ready].sort((x, y) => x.failAt - y.failAt)[0]!;
    pool.advanceTo(node.failAt);
    assert.equal(node.state, 'failed');
    pool.advanceTo(node.failAt + 60);
    assert.equal(node.gone, true);
    assert.equal(pool.live, 5);
    assert.ok(pool.pending.some((n) => n.requestedAt === node.failAt + 60));
  });

  test('resize removes failed nodes first, then those furthest from serving, then the newest ready', () => {
    const pool = new SimPool(model());
    const [old, young] = pool.seedReady(0, 2);
    const [soon] = pool.create(0, 1);
    const [late] = pool.create(30, 1);
    pool.resize(40, 2);
    assert.equal(late!.gone, true);
    assert.equal(soon!.gone, true);
    pool.resize(40, 1);
    assert.equal(young!.gone, true);
    assert.equal(old!.gone, false);
  });

  test('a restarted node starts its join again', () => {
    const pool = new SimPool(model());
    const [n] = pool.create(0, 1);
    pool.restart(50, n!);
    pool.advanceTo(90);
    assert.equal(n!.state, 'pending');
    pool.advanceTo(140);
    assert.equal(n!.state, 'ready');
  });
});
