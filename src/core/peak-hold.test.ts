import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { holdWindow, peakHold } from './peak-hold.ts';
import { emptyHistory, type PoolHistory, recordTick } from './pool-history.ts';

const T = 1_700_000_000_000;

function asked(asks: [number, number][], extra: Partial<PoolHistory> = {}): PoolHistory {
  let h = emptyHistory();
  for (const [at, ask] of asks) h = recordTick(h, { now: T + at, ask });
  return { ...h, ...extra };
}

describe('peak hold', () => {
  test('keeps the peak of the window and says so; lets go once it has left the window', () => {
    const h = asked([
      [0, 28],
      [60_000, 6],
    ]);
    const cases: [number, number, boolean][] = [
      // [now, base, blocks]
      [300_000, 28, true],
      [300_000, 29, false],
      [599_000, 20, true],
      [601_000, 20, false],
    ];
    for (const [now, base, blocks] of cases)
      assert.equal(peakHold({ window: 600_000 }, h, T + now, base).blocks, blocks, `${now} ${base}`);
    const r = peakHold({ window: 600_000 }, h, T + 300_000, 20).reasons[0]!;
    assert.equal(r.text, 'holding 28 (peak of the last 10m: asked for 28)');
    assert.equal(
      peakHold({ window: 600_000 }, h, T + 300_000, 28).reasons[0]!.text,
      'holding 28 (peak of the last 10m)',
    );
  });

  test('auto: five provisioning delays, the gap between recurring bursts, or two delays with a forecast', () => {
    const cases: [string, Partial<PoolHistory>, boolean, number, RegExp][] = [
      ['nothing learnt', {}, false, 600_000, /5 × the assumed provisioning delay of 2m/],
      ['observed delay', { provisionMs: 90_000 }, false, 450_000, /observed provisioning delay of 1m30s/],
      [
        'bursts every 6m',
        { provisionMs: 90_000, onsets: [T - 720_000, T - 360_000, T].map((x) => x) },
        false,
        450_000,
        /./,
      ],
      [
        'bursts every 8m',
        { provisionMs: 90_000, onsets: [T - 960_000, T - 480_000, T] },
        false,
        600_000,
        /bursts every 8m/,
      ],
      [
        'bursts every 20m',
        { provisionMs: 90_000, onsets: [T - 2_400_000, T - 1_200_000, T] },
        false,
        450_000,
        /5 ×/,
      ],
      ['trusted forecast', { provisionMs: 90_000 }, true, 180_000, /a trusted forecast/],
    ];
    for (const [name, extra, forecasting, ms, learnt] of cases) {
      const w = holdWindow({ window: 'auto' }, { ...emptyHistory(), ...extra }, T, forecasting);
      assert.equal(w.ms, ms, name);
      assert.match(w.learnt!, learnt, name);
    }
    assert.deepEqual(holdWindow({ window: 120_000 }, undefined, T), { ms: 120_000 });
  });
});
