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
});
