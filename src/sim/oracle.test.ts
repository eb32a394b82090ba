import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runSimulation } from './engine.ts';
import { DEFAULT_MODEL } from './model.ts';
import { oraclePolicy } from './oracle.ts';
import { makeTrace } from './trace.ts';

describe('oracle', () => {
  // 400 units/s, a burst of 4000 from t=100 to t=200, then 400 again until t=1800.
  const trace = makeTrace('burst', [0, 100, 200, 1000], [400, 4000, 400, 400]);
  const ctx = { size: { min: 3, capacity: 3, max: 50 }, model: DEFAULT_MODEL, trace };

  test('sizes at 0.9 headroom at once, holds the peak 600 s, loses only the 90 s delay', () => {
    const run = runSimulation(ctx, oraclePolicy(ctx));
    // t=0: ceil(400 / 90) = 5 of the 7 initial nodes. t=100: ceil(4000 / 90) = 45, ready at 190:
    // (4000 − 500) × 90 s unserved. The burst's row ends at 200; it leaves the window at 800.
    assert.equal(run.unservedWork, 3500 * 90);
    const at = (t: number) => run.series.live[run.series.t.findLastIndex((x) => x <= t)];
    assert.equal(at(0), 5);
    assert.equal(at(100), 45);
    assert.equal(at(799), 45);
    assert.equal(at(800), 5);
    // node-seconds: 5 × 100 + 45 × 700 + 5 × 1000 (the trace ends at 1800)
    assert.equal(run.nodeSeconds, 500 + 31_500 + 5000);
  });

  test('stays within min and max', () => {
    const small = { ...ctx, size: { min: 3, capacity: 3, max: 20 } };
    const run = runSimulation(small, oraclePolicy(small));
    assert.equal(Math.max(...run.series.live), 20);
    const quiet = { ...ctx, trace: makeTrace('q', [0, 10], [10, 10]) };
    assert.equal(runSimulation(quiet, oraclePolicy(quiet)).series.live.at(-1), 3);
  });
});
