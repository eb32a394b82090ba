// Hand-computed cases from AWS target tracking: proportional scale-out after the scale-out
// alarm's 3 one-minute datapoints, gradual scale-in after 15, the 300 s scale-in cooldown.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AWS_DEFAULTS, AwsTargetTracking } from './aws.ts';

const feed = (
  tt: AwsTargetTracking,
  from: number,
  values: readonly number[],
  serving: number,
  desired: number,
) => values.map((v, i) => tt.datapoint(from + 60 * i, v, serving, desired));

describe('AWS target tracking', () => {
  test('scale-out after 3 datapoints above the target, in proportion: 10 at 0.9, target 0.6 → 15', () => {
    const tt = new AwsTargetTracking(AWS_DEFAULTS, 3, 50);
    const actions = feed(tt, 60, [0.9, 0.9, 0.9], 10, 10);
    assert.deepEqual(actions, [{ kind: 'none' }, { kind: 'none' }, { kind: 'set', capacity: 15 }]);
  });

  test('one datapoint at or below the target resets the scale-out alarm', () => {
    const tt = new AwsTargetTracking(AWS_DEFAULTS, 3, 50);
    const actions = feed(tt, 60, [0.9, 0.6, 0.9, 0.9], 10, 10);
    assert.ok(actions.every((a) => a.kind === 'none'));
  });

  test('capacity still launching counts: only a larger scale-out follows', () => {
    const tt = new AwsTargetTracking(AWS_DEFAULTS, 3, 50);
    feed(tt, 60, [0.9, 0.9, 0.9], 10, 10);
    // Desired is now 15 (10 serving): the same metric asks for 15 again, nothing to do.
    assert.deepEqual(tt.datapoint(240, 0.9, 10, 15), { kind: 'none' });
    // A higher metric asks for ceil(10 × 1 / 0.6) = 17 > 15.
    assert.deepEqual(tt.datapoint(300, 1, 10, 15), { kind: 'set', capacity: 17 });
  });

  test('scale-in after 15 datapoints below 90% of the target, then not again for 300 s', () => {
    const tt = new AwsTargetTracking(AWS_DEFAULTS, 3, 50);
    const low = Array.from({ length: 15 }, () => 0.3);
    const actions = feed(tt, 60, low, 20, 20);
    assert.ok(
      actions.slice(0, 14).every((a) => a.kind === 'none'),
      '14 datapoints are not enough',
    );
    assert.deepEqual(actions[14], { kind: 'set', capacity: 10 }, 'ceil(20 × 0.3 / 0.6)');
    // Still low, 10 serving at 0.3 would go to 5: blocked by the cooldown until 300 s have passed.
    const t0 = 60 * 15;
    assert.deepEqual(tt.datapoint(t0 + 60, 0.3, 10, 10), { kind: 'none' });
    assert.deepEqual(tt.datapoint(t0 + 240, 0.3, 10, 10), { kind: 'none' });
    assert.deepEqual(tt.datapoint(t0 + 300, 0.3, 10, 10), { kind: 'set', capacity: 5 });
  });

  test('a datapoint between 90% of the target and the target triggers nothing', () => {
    const tt = new AwsTargetTracking(AWS_DEFAULTS, 3, 50);
    const actions = feed(
      tt,
      60,
      Array.from({ length: 20 }, () => 0.56),
      20,
      20,
    );
    assert.ok(actions.every((a) => a.kind === 'none'));
  });

  test('a scale-out goes ahead during the scale-in cooldown', () => {
    const tt = new AwsTargetTracking(AWS_DEFAULTS, 3, 50);
    feed(
      tt,
      60,
      Array.from({ length: 15 }, () => 0.3),
      20,
      20,
    );
    const actions = feed(tt, 960, [0.9, 0.9, 0.9], 10, 10);
    assert.deepEqual(actions[2], { kind: 'set', capacity: 15 });
  });

  test('missing data (INSUFFICIENT_DATA) resets the alarms and scales nothing', () => {
    const tt = new AwsTargetTracking(AWS_DEFAULTS, 3, 50);
    feed(tt, 60, [0.9, 0.9], 10, 10);
    assert.deepEqual(tt.datapoint(180, undefined, 0, 10), { kind: 'none' });
    assert.deepEqual(tt.datapoint(240, 0.9, 10, 10), { kind: 'none' });
  });
});
