import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { hysteresisBand, outsideDeadBand } from './hysteresis.ts';
import { emptyHistory, recordTick } from './pool-history.ts';

const T = 1_700_000_000_000;

describe('hysteresis', () => {
  test('a removal waits until the need is the band below one node less', () => {
    const cases: [number, number, number, boolean][] = [
      // [band, base, need, blocks]
      [0.5, 4, 2.5, false],
      [0.5, 4, 2.51, true],
      [0.5, 4, 2.9, true],
      [0, 4, 3, false],
      [0, 4, 3.01, true],
      [1, 10, 8, false],
    ];
    for (const [band, base, need, blocks] of cases)
      assert.equal(
        outsideDeadBand({ band }, undefined, T, base, need).blocks,
        blocks,
        `${band} ${base} ${need}`,
      );
    assert.equal(
      outsideDeadBand({ band: 0.5 }, undefined, T, 4, 2.9).reasons[0]!.text,
      'hysteresis: one node less would leave 3 for a need of 2.9 nodes, inside the dead band of 0.5 nodes: staying at 4',
    );
    assert.equal(
      outsideDeadBand({ band: 0.5 }, undefined, T, 4, undefined).blocks,
      false,
      'no need: no band',
    );
  });

  test('auto: half a node, or twice the need’s noise when that is more', () => {
    assert.equal(hysteresisBand({ band: 'auto' }, undefined, T), 0.5);
    let h = emptyHistory();
    for (let i = 0; i < 30; i++)
      h = recordTick(h, { now: T + i * 10_000, need: 3 + (i % 2 === 0 ? 0.5 : -0.5) });
    assert.ok(Math.abs(hysteresisBand({ band: 'auto' }, h, T + 300_000) - Math.SQRT2) < 1e-9);
  });

  test('the band is measured from the top of the recent need, not from the current sample', () => {
    // 400 units/s with 5% noise at a target of 90 per node: a need of 4.44 nodes, up to ~4.9 at
    // the top of the noise. A removal from 6 tried at every tick would otherwise go through at the
    // first low sample (4.2 nodes is half a node and more below 5), leaving 5 for a top of 4.9.
    const needs = [...Array.from({ length: 24 }, () => 4.4), 4.5, 4.3, 4.9, 4.6, 4.4, 4.5, 4.2];
    let h = emptyHistory();
    needs.forEach((need, i) => {
      h = recordTick(h, { now: T + i * 10_000, need });
    });
    const now = T + (needs.length - 1) * 10_000;
    const six = outsideDeadBand({ band: 'auto' }, h, now, 6, 4.2);
    assert.equal(six.blocks, true);
    assert.equal(
      six.reasons[0]!.text,
      'hysteresis: one node less would leave 5 for a need of 4.9 nodes at the top of its noise over the last 5m, inside the dead band of 0.5 nodes: staying at 6',
    );
    assert.equal(
      outsideDeadBand({ band: 'auto' }, h, now, 7, 4.2).blocks,
      false,
      'a whole node and more above the top',
    );
    // The operator's band is measured from the top too.
    assert.equal(outsideDeadBand({ band: 0.1 }, h, now, 6, 4.2).blocks, false);
    assert.equal(outsideDeadBand({ band: 0.2 }, h, now, 6, 4.2).blocks, true);
    // A burst is not noise: the hold and the forecast keep its nodes, not the dead band.
    const burst = recordTick(h, { now: now + 10_000, need: 30 });
    const after = recordTick(burst, { now: now + 20_000, need: 4.2 });
    assert.equal(outsideDeadBand({ band: 0.5 }, after, now + 20_000, 7, 4.2).blocks, false);
    assert.equal(outsideDeadBand({ band: 0.5 }, after, now + 20_000, 6, 4.2).blocks, true);
    // Five minutes after the top, it no longer counts.
    const later = recordTick(h, { now: now + 300_000, need: 4.2 });
    assert.equal(outsideDeadBand({ band: 'auto' }, later, now + 300_000, 6, 4.2).blocks, false);
  });

  test('until the history spans the noise window, its top is not known: a removal waits', () => {
    let h = emptyHistory();
    for (let i = 0; i <= 6; i++) h = recordTick(h, { now: T + i * 10_000, need: 2 });
    const young = outsideDeadBand({ band: 'auto' }, h, T + 60_000, 6, 2);
    assert.equal(young.blocks, true);
    assert.equal(
      young.reasons[0]!.text,
      "hysteresis: 1m of the need's history, 5m needed to place the dead band above its noise: staying at 6",
    );
    for (let i = 7; i <= 30; i++) h = recordTick(h, { now: T + i * 10_000, need: 2 });
    assert.equal(outsideDeadBand({ band: 'auto' }, h, T + 300_000, 6, 2).blocks, false);
    assert.equal(outsideDeadBand({ band: 'auto' }, undefined, T, 6, 2).blocks, false, 'no history: no band');
    // A history kept for less than the window (historyRetention: 2m) waits only until it is full.
    let short = emptyHistory();
    for (let i = 0; i <= 30; i++)
      short = recordTick(short, { now: T + i * 10_000, need: 2, retention: 120_000 });
    assert.equal(outsideDeadBand({ band: 'auto' }, short, T + 300_000, 6, 2, 120_000).blocks, false);
    let young2 = emptyHistory();
    for (let i = 0; i <= 6; i++)
      young2 = recordTick(young2, { now: T + i * 10_000, need: 2, retention: 120_000 });
    assert.equal(outsideDeadBand({ band: 'auto' }, young2, T + 60_000, 6, 2, 120_000).blocks, true);
  });
});
