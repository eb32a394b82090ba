import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type RunResult, runSimulation } from './engine.ts';
import { DEFAULT_MODEL, type SimPool } from './model.ts';
import type { SimPolicy } from './policy.ts';
import { absorbTimes, dominates, findSteps, type Score, score } from './scoring.ts';
import { makeTrace } from './trace.ts';

/** A policy that creates nodes at given times and does nothing else. */
function scripted(creates: Record<number, number>): SimPolicy {
  return {
    name: 'scripted',
    interval: 1,
    observe() {},
    decide(t: number, pool: SimPool) {
      const n = creates[t];
      if (!n) return 0;
      pool.create(t, n);
      return 1;
    },
  };
}

describe('scores on tiny traces, by hand', () => {
  // 300 units/s for 10 s, then 500 units/s for 20 s (the last row lasts as long as the gap before it).
  const trace = makeTrace('tiny', [0, 10, 20], [300, 500, 500]);
  const ctx = {
    size: { min: 3, capacity: 3, max: 10 },
    model: { ...DEFAULT_MODEL, provisionSeconds: 5, restoreSeconds: 0, initialNodes: 3 },
    trace,
  };

  test('unserved work is ∫ max(0, load − ready capacity) dt; node-hours count every node', () => {
    const run = runSimulation(ctx, scripted({}));
    assert.equal(run.unservedWork, 200 * 20);
    assert.equal(run.nodeSeconds, 3 * 30);
    assert.deepEqual(run.overloads, [[10, 30]]);
  });

  test('a node ready in time serves the step; pending time is paid for', () => {
    const run = runSimulation(ctx, scripted({ 0: 2 }));
    assert.equal(run.unservedWork, 0);
    assert.equal(run.nodeSeconds, 3 * 30 + 2 * 30);
    assert.equal(run.actions, 1);
  });

  test('a node requested at the step loses its provisioning time', () => {
    const run = runSimulation(ctx, scripted({ 10: 2 }));
    assert.equal(run.unservedWork, 200 * 5);
    assert.equal(run.nodeSeconds, 3 * 30 + 2 * 20);
    assert.deepEqual(run.overloads, [[10, 15]]);
  });

  test('a fractional load change inside a scrape interval is integrated exactly', () => {
    const odd = makeTrace('odd', [0, 2.5, 7.25], [0, 350, 0]);
    const run = runSimulation({ ...ctx, trace: odd }, scripted({}));
    assert.equal(run.unservedWork, 50 * 4.75);
  });
});

describe('steps and absorption', () => {
  test('a step is a rise to twice the lowest load of the 2 minutes before, at most one per 10 minutes', () => {
    const trace = makeTrace('s', [0, 60, 120, 300, 1000, 1060], [100, 100, 300, 900, 100, 250]);
    assert.deepEqual(findSteps(trace), [120, 1060]);
  });

  test('absorbed when load ≤ capacity holds for 60 s; overloads closer than that join', () => {
    const run = (overloads: [number, number][]) =>
      ({ overloads, end: 1000 }) as Pick<RunResult, 'overloads' | 'end'>;
    assert.deepEqual(absorbTimes(run([[10, 15]]), [10]), [5]);
    assert.deepEqual(
      absorbTimes(
        run([
          [10, 15],
          [50, 60],
        ]),
        [10],
      ),
      [50],
    );
    assert.deepEqual(
      absorbTimes(
        run([
          [10, 15],
          [100, 110],
        ]),
        [10],
      ),
      [5],
    );
    assert.deepEqual(absorbTimes(run([]), [10]), [0]);
    assert.deepEqual(absorbTimes(run([[10, 1000]]), [10]), [null]);
  });
});

describe('ratios to the oracle', () => {
  const base = {
    overloads: [],
    series: { t: [], ready: [], live: [] },
    start: 0,
    end: 100,
    decisions: 0,
    actions: 0,
  };
  const run = (policy: string, unservedWork: number, nodeSeconds: number): RunResult => ({
    ...base,
    policy,
    trace: 't',
    unservedWork,
    nodeSeconds,
  });

  test('ratios divide by the oracle; both zero is 1; only the oracle at zero is unbounded (null)', () => {
    const oracle = run('oracle', 1000, 3600);
    assert.equal(score(run('a', 1500, 7200), oracle, []).unservedVsOracle, 1.5);
    assert.equal(score(run('a', 1500, 7200), oracle, []).nodeHoursVsOracle, 2);
    const perfect = run('oracle', 0, 3600);
    assert.equal(score(run('a', 0, 3600), perfect, []).unservedVsOracle, 1);
    assert.equal(score(run('a', 5, 3600), perfect, []).unservedVsOracle, null);
  });

  test('a policy dominates another when it is no worse on both and better on one', () => {
    const s = (unservedWork: number, nodeHours: number) => ({ unservedWork, nodeHours }) as Score;
    assert.equal(dominates(s(1, 1), s(2, 1)), true);
    assert.equal(dominates(s(1, 1), s(1, 1)), false);
    assert.equal(dominates(s(1, 2), s(2, 1)), false);
  });
});
