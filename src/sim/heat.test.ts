// Seed 003's service, pinned to its README: +1 node when the 10-minute mean utilization is
// above 0.8 (at most once per 240 s scale-up cooldown), −1 node when the host's utilization is
// below 0.3 (at most once per 200 s scale-down period, never below capacity).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CeilometerSamples, heatPolicy } from './heat.ts';
import { DEFAULT_MODEL, SimPool } from './model.ts';
import { makeTrace } from './trace.ts';

/** Runs the heat policy with scrapes every 10 s of the given utilization; returns live nodes by time. */
function drive(initial: number, utilization: (t: number) => number, until: number): Map<number, number> {
  const ctx = {
    size: { min: 3, capacity: 3, max: 10 },
    model: DEFAULT_MODEL,
    trace: makeTrace('t', [0, until], [0, 0]),
  };
  const policy = heatPolicy(ctx);
  const pool = new SimPool(DEFAULT_MODEL);
  pool.seedReady(0, initial);
  const live = new Map<number, number>();
  for (let t = 0; t <= until; t += 10) {
    pool.advanceTo(t);
    policy.observe({ t, utilization: utilization(t), loadPerNode: 0, ready: pool.ready.length });
    policy.decide(t, pool);
    live.set(t, pool.live);
  }
  return live;
}

describe('seed 003 (Heat + etcd scripts)', () => {
  test('ceilometer samples the mean over each 10-minute collection period', () => {
    const c = new CeilometerSamples(0, 600);
    for (let t = 0; t < 600; t += 10) c.add(t, t < 300 ? 1 : 0.5);
    assert.equal(c.latest, undefined, 'no complete period yet');
    c.add(600, 0);
    assert.equal(c.latest, 0.75);
  });

  test('scale-up: +1 when the period mean is above 0.8, then at most once per 240 s', () => {
    const live = drive(3, () => 0.9, 1200);
    assert.equal(live.get(590), 3, 'no sample before the first period ends');
    assert.equal(live.get(600), 4);
    assert.equal(live.get(830), 4, 'cooldown');
    assert.equal(live.get(840), 5);
    assert.equal(live.get(1080), 6);
  });

  test('a five-minute burst inside one collection period never fires the alarm', () => {
    // (300 s at 100% + 300 s at 40%) / 600 s = 0.7 < 0.8
    const live = drive(3, (t) => (t >= 100 && t < 400 ? 1 : 0.4), 1800);
    assert.ok([...live.values()].every((n) => n === 3));
  });

  test('scale-down: −1 below 0.3, once per 200 s, never below capacity', () => {
    const live = drive(6, () => 0.2, 1000);
    assert.equal(live.get(0), 5);
    assert.equal(live.get(190), 5);
    assert.equal(live.get(200), 4);
    assert.equal(live.get(400), 3);
    assert.equal(live.get(1000), 3, 'capacity 3');
  });

  test('never above max_cluster', () => {
    const live = drive(9, () => 1, 3000);
    assert.equal(Math.max(...live.values()), 10);
  });
});
