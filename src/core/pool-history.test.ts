import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { addToTier, burstSpacing, emptyHistory, needNoise, peakAsk, recordTick } from './pool-history.ts';

const T = 1_700_000_000_000 - (1_700_000_000_000 % 120_000);

describe('pool history', () => {
  test('a tier keeps the largest need of each bucket, fills gaps with null and drops the oldest', () => {
    let tier = addToTier(undefined, 10_000, 30_000, T, 2);
    tier = addToTier(tier, 10_000, 30_000, T + 5_000, 5);
    tier = addToTier(tier, 10_000, 30_000, T + 6_000, 3);
    assert.deepEqual(tier.values, [5]);
    tier = addToTier(tier, 10_000, 30_000, T + 20_000, 1);
    assert.deepEqual(tier.values, [5, null, 1]);
    tier = addToTier(tier, 10_000, 30_000, T + 30_000, 4);
    assert.deepEqual([tier.start - T, tier.values], [10_000, [null, 1, 4]]);
    // A gap longer than the whole tier starts it again.
    tier = addToTier(tier, 10_000, 30_000, T + 300_000, 7);
    assert.deepEqual([tier.start - T, tier.values], [300_000, [7]]);
  });

  test('the peak of a window is the largest ask at or after its start', () => {
    const cases: [number, number][] = [
      [0, 28],
      [10_000, 28],
      [20_000, 12],
      [30_000, 9],
    ];
    let h = emptyHistory();
    for (const [at, ask] of [
      [0, 10],
      [10_000, 28],
      [20_000, 12],
      [30_000, 9],
    ] as const)
      h = recordTick(h, { now: T + at, ask });
    for (const [since, want] of cases) assert.equal(peakAsk(h, T + since), want, `since +${since}`);
    assert.equal(peakAsk(h, T + 40_000), undefined);
    assert.ok(h.asks.length <= 3, 'a smaller earlier ask is dropped once a larger one follows');
  });

  test('bursts: onsets are where the need doubles by 2 nodes or more, their spacing the median gap', () => {
    let h = emptyHistory();
    for (let t = 0; t < 1_200_000; t += 10_000) {
      const inBurst = t % 240_000 >= 60_000 && t % 240_000 < 120_000;
      h = recordTick(h, { now: T + t, need: inBurst ? 30 : 4 });
    }
    assert.deepEqual(
      h.onsets.map((t) => t - T),
      [60_000, 300_000, 540_000, 780_000, 1_020_000],
    );
    assert.equal(burstSpacing(h, T), 240_000);
    assert.equal(burstSpacing(h, T + 700_000), undefined, 'fewer than 3 onsets since then');
  });

  test('the provisioning delay rises at once and falls slowly; a zero join is not one', () => {
    let h = recordTick(undefined, { now: T, joined: [90_000] });
    assert.equal(h.provisionMs, 90_000);
    h = recordTick(h, { now: T + 10_000, joined: [0, 40_000] });
    assert.equal(h.provisionMs, 80_000);
    h = recordTick(h, { now: T + 20_000, joined: [120_000] });
    assert.equal(h.provisionMs, 120_000);
  });

  test('noise: the spread of tick-to-tick changes, not of the level', () => {
    let flat = emptyHistory();
    let noisy = emptyHistory();
    for (let i = 0; i < 30; i++) {
      flat = recordTick(flat, { now: T + i * 10_000, need: 3 + i * 0.01 });
      noisy = recordTick(noisy, { now: T + i * 10_000, need: 3 + (i % 2 === 0 ? 0.5 : -0.5) });
    }
    assert.ok(needNoise(flat, T + 300_000, 300_000) < 0.01);
    assert.ok(Math.abs(needNoise(noisy, T + 300_000, 300_000) - Math.SQRT1_2) < 1e-9);
  });

  test('retention bounds the coarse tier; missing need records nothing', () => {
    let h = emptyHistory();
    for (let t = 0; t < 3_600_000; t += 60_000)
      h = recordTick(h, { now: T + t, need: 2, retention: 600_000 });
    assert.equal(h.need[1]!.values.length, 5, '10 minutes of 2-minute buckets');
    const same = recordTick(h, { now: T + 3_600_000, need: undefined });
    assert.equal(same.need, h.need);
    assert.equal(same.lastAt, h.lastAt);
  });
});

describe("each target rule's own samples", () => {
  /** Ticks every 10 s with each rule's load; the need is what decidePool passes: max load ÷ target. */
  const ticks = (
    h0: ReturnType<typeof emptyHistory>,
    from: number,
    n: number,
    loads: [string, number, number][],
  ) => {
    let h = h0;
    for (let i = 0; i < n; i++) {
      const now = T + from + i * 10_000;
      const need = Math.max(...loads.map(([, target, load]) => load / target));
      h = recordTick(h, {
        now,
        need,
        loads: loads.map(([metric, target, load]) => ({ metric, target, load })),
      });
    }
    return h;
  };

  test('a changed target recomputes the need of the past from the stored samples', () => {
    let h = ticks(emptyHistory(), 0, 6, [['tx avg', 100, 800]]);
    assert.deepEqual(h.need[0]!.values, [8, 8, 8, 8, 8, 8]);
    assert.deepEqual(h.rules?.[0]?.load[0]?.values, [800, 800, 800, 800, 800, 800]);
    // The operator halves what one node serves: the same load needed twice the nodes.
    h = ticks(h, 60_000, 1, [['tx avg', 50, 800]]);
    assert.deepEqual(h.need[0]!.values, [16, 16, 16, 16, 16, 16, 16]);
    assert.deepEqual(h.need[1]!.values, [16]);
    assert.equal(h.rules?.[0]?.target, 50);
  });

  test('a rule added has no past; a rule removed takes its past with it', () => {
    let h = ticks(emptyHistory(), 0, 3, [['tx avg', 100, 500]]);
    h = ticks(h, 30_000, 2, [
      ['tx avg', 100, 500],
      ['peers max', 10, 90],
    ]);
    assert.deepEqual(h.need[0]!.values, [5, 5, 5, 9, 9]);
    // The tx rule goes: the past is what the peers rule measured, where it measured.
    h = ticks(h, 50_000, 1, [['peers max', 10, 90]]);
    assert.deepEqual([h.need[0]!.start - T, h.need[0]!.values], [30_000, [9, 9, 9]]);
    assert.deepEqual(
      h.rules?.map((r) => r.metric),
      ['peers max'],
    );
  });

  test('a rule that cannot read its metric for a tick keeps its series', () => {
    let h = ticks(emptyHistory(), 0, 2, [
      ['tx avg', 100, 500],
      ['peers max', 10, 90],
    ]);
    h = recordTick(h, {
      now: T + 20_000,
      need: 5,
      loads: [
        { metric: 'tx avg', target: 100, load: 500 },
        { metric: 'peers max', target: 10, load: undefined },
      ],
    });
    assert.deepEqual(
      h.rules?.map((r) => [r.metric, r.load[0]!.values]),
      [
        ['tx avg', [500, 500, 500]],
        ['peers max', [90, 90]],
      ],
    );
    assert.deepEqual(h.need[0]!.values, [9, 9, 5]);
  });

  test('a history stored before samples were kept keeps its need; samples start now', () => {
    let old = emptyHistory();
    for (let i = 0; i < 3; i++) old = recordTick(old, { now: T + i * 10_000, need: 4 });
    assert.equal(old.rules, undefined);
    const h = ticks(old, 30_000, 1, [['tx avg', 50, 800]]);
    assert.deepEqual(h.need[0]!.values, [4, 4, 4, 16]);
    assert.deepEqual(h.rules?.[0]?.load[0]?.values, [800]);
  });
});
