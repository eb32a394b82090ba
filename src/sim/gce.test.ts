// Hand-computed cases from the Compute Engine autoscaler documentation: target utilization,
// rounding up, the 10-minute stabilization period, the initialization period.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GCE_DEFAULTS, GceAutoscaler, gceRecommendation, gceUtilizationSum } from './gce.ts';

describe('GCE autoscaler', () => {
  test('the recommendation keeps utilization at the target: 10 VMs at 90% with target 0.6 → 15', () => {
    assert.equal(gceRecommendation({ utilizationSum: 10 * 0.9 }, 0.6), 15);
  });

  test('it rounds up: with target 0.7, needing 6.5 VMs means 7', () => {
    // "the autoscaler might determine that adding 1.5 VMs would decrease the utilization to
    // close to 0.7 ... it adds 2": 5 VMs at 91% need 4.55 / 0.7 = 6.5.
    assert.equal(gceRecommendation({ utilizationSum: 5 * 0.91 }, 0.7), 7);
  });

  test('scale-in only to the highest recommendation of the last 10 minutes', () => {
    const a = new GceAutoscaler(GCE_DEFAULTS, 3, 50);
    assert.equal(a.recommend(0, { utilizationSum: 9 }), 15);
    for (let t = 60; t < 600; t += 60) assert.equal(a.recommend(t, { utilizationSum: 3 }), 15, `t=${t}`);
    assert.equal(a.recommend(600, { utilizationSum: 3 }), 5, 'the peak of t=0 left the period');
  });

  test('scale-out is immediate', () => {
    const a = new GceAutoscaler(GCE_DEFAULTS, 3, 50);
    assert.equal(a.recommend(0, { utilizationSum: 3 }), 5);
    assert.equal(a.recommend(10, { utilizationSum: 9 }), 15);
  });

  test('min and max bound the recommendation', () => {
    const a = new GceAutoscaler(GCE_DEFAULTS, 3, 12);
    assert.equal(a.recommend(0, { utilizationSum: 0.1 }), 3);
    assert.equal(a.recommend(10, { utilizationSum: 30 }), 12);
  });

  test('VMs in their initialization period (60 s from creation) are ignored', () => {
    const old = { requestedAt: -1000 };
    const fresh = { requestedAt: 970 };
    // At t=1000 the fresh VM is 30 s old: only the three old ones count.
    assert.equal(gceUtilizationSum([old, old, old, fresh], 0.9, 4, 1000, 60), 2.7);
    assert.equal(gceUtilizationSum([old, old, old, fresh], 0.9, 4, 1030, 60), 3.6);
  });

  test('no data: the last recommendations still stand', () => {
    const a = new GceAutoscaler(GCE_DEFAULTS, 3, 50);
    assert.equal(a.recommend(0, undefined), undefined);
    assert.equal(a.recommend(10, { utilizationSum: 6 }), 10);
    assert.equal(a.recommend(20, undefined), 10);
  });
});
