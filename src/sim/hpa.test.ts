// Hand-computed cases from the Kubernetes HPA documentation ("Algorithm details", "Default
// behavior") and the replica calculator it describes.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HPA_DEFAULTS, HpaController, hpaReplicasForMetric } from './hpa.ts';

const ready = (readyPods: number, utilization: number, unreadyPods = 0, missingPods = 0) => ({
  utilization,
  readyPods,
  unreadyPods,
  missingPods,
});

describe('HPA replica calculation', () => {
  test('desired = ceil(current × metric / target): 4 pods at 90% with target 60% → 6', () => {
    assert.equal(hpaReplicasForMetric(4, ready(4, 0.9), HPA_DEFAULTS), 6);
  });

  test('the docs example: 50 pods at 90% with target 75% → 60', () => {
    assert.equal(hpaReplicasForMetric(50, ready(50, 0.9), { target: 0.75, tolerance: 0.1 }), 60);
  });

  test('within the 0.1 tolerance nothing changes: 63% / 60% = 1.05', () => {
    assert.equal(hpaReplicasForMetric(4, ready(4, 0.63), HPA_DEFAULTS), 4);
    assert.equal(hpaReplicasForMetric(4, ready(4, 0.67), HPA_DEFAULTS), 5, '67/60 = 1.117 is outside it');
  });

  test('utilization is a whole percentage: 65.9% reads as 65%, 65/60 = 1.083 holds', () => {
    assert.equal(hpaReplicasForMetric(12, ready(12, 0.659), HPA_DEFAULTS), 12);
  });

  test('scale-down: 10 pods at 30% → ceil(10 × 0.5) = 5', () => {
    assert.equal(hpaReplicasForMetric(10, ready(10, 0.3), HPA_DEFAULTS), 5);
  });

  test('not-yet-ready pods count at 0% on a scale-up: 4 ready at 100% + 1 unready → 7, not 7 of 4', () => {
    // Without the unready pod: ceil(4 × 100/60) = 7 of current 5. With it at 0%: the mean is
    // 80%, 80/60 = 1.333, ceil(1.333 × 5) = 7.
    assert.equal(hpaReplicasForMetric(5, ready(4, 1, 1), HPA_DEFAULTS), 7);
    // 4 ready at 90% + 2 unready: mean 60% → ratio 1 → within tolerance: no change.
    assert.equal(hpaReplicasForMetric(6, ready(4, 0.9, 2), HPA_DEFAULTS), 6);
  });

  test('missing pods count at 100% on a scale-down, which can cancel it', () => {
    // 4 pods with metrics at 30%, 2 without: (4 × 30 + 2 × 100) / 6 = 53% → 0.889 → ceil(5.33) = 6.
    assert.equal(hpaReplicasForMetric(6, ready(4, 0.3, 0, 2), HPA_DEFAULTS), 6);
    // 1 ready at 30%, 3 missing: (30 + 300) / 4 = 82% → ratio > 1 reverses the direction: no change.
    assert.equal(hpaReplicasForMetric(4, ready(1, 0.3, 0, 3), HPA_DEFAULTS), 4);
  });

  test('no metrics, no scaling', () => {
    assert.equal(
      hpaReplicasForMetric(
        4,
        { utilization: undefined, readyPods: 0, unreadyPods: 4, missingPods: 0 },
        HPA_DEFAULTS,
      ),
      4,
    );
  });
});

describe('HPA default behavior', () => {
  test('scale-up is limited to max(+100%, +4 pods) per 15 s', () => {
    const hpa = new HpaController({ ...HPA_DEFAULTS, target: 0.2 }, 1, 100);
    // 4 pods at 100% of a 20% target want 20; +100% and +4 both allow 8.
    assert.equal(hpa.sync(0, 4, ready(4, 1)), 8);
    // The next sync, 15 s later: the event at t=0 is no longer inside (now − 15 s, now].
    assert.equal(hpa.sync(15, 8, ready(8, 1)), 16, 'max(8 × 2, 8 + 4)');
  });

  test('+4 pods wins for small targets: 1 pod may grow to 5', () => {
    const hpa = new HpaController({ ...HPA_DEFAULTS, target: 0.1 }, 1, 100);
    assert.equal(hpa.sync(0, 1, ready(1, 1)), 5);
  });

  test('a second change inside the same 15 s period counts the first against the limit', () => {
    const hpa = new HpaController({ ...HPA_DEFAULTS, target: 0.2, syncPeriod: 10 }, 1, 100);
    assert.equal(hpa.sync(0, 4, ready(4, 1)), 8);
    // 10 s later the +4 of t=0 is inside the period: the period started at 4 pods, limit 8.
    assert.equal(hpa.sync(10, 8, ready(8, 1)), 8);
    assert.equal(hpa.sync(20, 8, ready(8, 1)), 16);
  });

  test('scale-down keeps the highest recommendation of the last 300 s', () => {
    const hpa = new HpaController(HPA_DEFAULTS, 1, 100);
    assert.equal(hpa.sync(0, 10, ready(10, 0.6)), 10, 'at target: recommendation 10');
    // From now on the metric asks for ceil(10 × 36/60) = 6, but 10 is in the window.
    for (let t = 15; t < 300; t += 15) assert.equal(hpa.sync(t, 10, ready(10, 0.36)), 10, `t=${t}`);
    // At t=300 the recommendation of t=0 is no longer after now − 300 s.
    assert.equal(hpa.sync(300, 10, ready(10, 0.36)), 6);
  });

  test('scale-up has no stabilization: it acts on the first sync', () => {
    const hpa = new HpaController(HPA_DEFAULTS, 1, 100);
    assert.equal(hpa.sync(0, 10, ready(10, 0.3)), 10, 'a lower recommendation waits');
    assert.equal(hpa.sync(15, 10, ready(10, 0.9)), 15);
  });

  test('minReplicas and maxReplicas bound the result', () => {
    assert.equal(new HpaController(HPA_DEFAULTS, 1, 12).sync(0, 10, ready(10, 0.9)), 12);
    const hpa = new HpaController({ ...HPA_DEFAULTS, scaleDownStabilization: 0 }, 3, 50);
    assert.equal(hpa.sync(0, 10, ready(10, 0.06)), 3);
    assert.equal(hpa.sync(15, 60, ready(60, 0.6)), 50, 'above max: back to max at once');
  });
});
