// Property tests of prediction inside decidePool: whatever the history, the forecast never sizes
// the pool below what the reactive rules ask, never above max, and holds (adds nothing) when the
// history is missing or stale.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { input, policy, T0 } from '../../test/support/decide-fixtures.ts';
import { STALE_HISTORY_MS } from './burst-forecast.ts';
import { decidePool } from './decide.ts';
import type { PoolPolicy, TargetRule } from './policy.ts';
import { emptyHistory, type PoolHistory, recordTick } from './pool-history.ts';

const target: TargetRule = {
  kind: 'target',
  metric: 'nodes:load',
  aggregate: 'avg',
  target: 0.5,
  tolerance: 0,
  rate: false,
};
const reactive: PoolPolicy = policy({
  size: { min: 1, capacity: 2, max: 12 },
  scaleUp: { cooldown: 0, rules: [target] },
});
const predictive: PoolPolicy = { ...reactive, predict: { horizon: 90_000, confidence: 0.3, trend: true } };

const sizeOf = (p: ReturnType<typeof decidePool>) => p.desired;
/** A history of needs every 10 s ending `age` ms before T0. */
const historyArb = fc
  .record({
    needs: fc.array(fc.float({ min: 0, max: 60, noNaN: true }), { minLength: 0, maxLength: 400 }),
    period: fc.integer({ min: 2, max: 60 }),
    age: fc.integer({ min: 0, max: 2 * STALE_HISTORY_MS }),
  })
  .map(({ needs, period, age }) => {
    let h: PoolHistory = emptyHistory();
    const start = T0 - age - needs.length * 10_000;
    // Half the draws periodic (so the forecast fires), half the raw values.
    needs.forEach((v, i) => {
      h = recordTick(h, { now: start + i * 10_000, need: i % period < 2 ? v : v / 4 });
    });
    return { h, age };
  });

test('prediction never sizes below the reactive rules, never above max, and holds on missing or stale history', () => {
  fc.assert(
    fc.property(
      historyArb,
      fc.integer({ min: 1, max: 10 }),
      fc.float({ min: 0, max: 3, noNaN: true }),
      ({ h, age }, n, load) => {
        const without = decidePool(input(n, load, { policy: reactive }));
        const withH = decidePool(input(n, load, { policy: predictive, history: h }));
        assert.ok(sizeOf(withH) >= Math.min(sizeOf(without), 12), `${sizeOf(withH)} < ${sizeOf(without)}`);
        assert.ok(withH.live <= 12 && sizeOf(withH) <= 12);
        const forecastFired = withH.reasons.some((r) => r.code === 'forecast');
        if (h.lastAt === undefined || age > STALE_HISTORY_MS) {
          assert.ok(!forecastFired);
          assert.equal(sizeOf(withH), sizeOf(without));
        }
      },
    ),
    { numRuns: 300, seed: 16 },
  );
});

test('a forecast acts through the plan: nodes created ahead, with the reason naming the period', () => {
  let h: PoolHistory = emptyHistory();
  const start = T0 - 1_200_000;
  for (let t = 0; t < 1_200_000; t += 10_000)
    h = recordTick(h, { now: start + t, need: t % 240_000 >= 60_000 && t % 240_000 < 120_000 ? 10 : 2 });
  // At T0 the next burst (at start + 1,260,000 = T0 + 60 s) is within the 90 s horizon.
  const p = decidePool(input(2, 0.5, { policy: predictive, history: h }));
  assert.equal(p.decision, 'scale-up');
  assert.equal(p.desired, 10);
  assert.match(p.reasons.find((r) => r.code === 'forecast')!.text, /from a 4m period/);
  assert.ok(p.history && p.history.lastAt === T0, 'the plan returns the history with this tick in it');
});
