import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { node, T0 } from '../../test/support/decide-fixtures.ts';
import {
  type CreationLimits,
  capAtMax,
  creatable,
  creationCause,
  manualTarget,
  sizeFloor,
} from './bounds.ts';
import type { CreateCause, Reason } from './pool-plan.ts';

const size = { min: 2, capacity: 3, max: 5 };
const said = (reasons: readonly Reason[]) => reasons.map((r) => `${r.code}: ${r.text}`);

describe('the floor', () => {
  const cases: { base: number; floor: number; reasons: string[] }[] = [
    { base: 0, floor: 3, reasons: ['below-min: 0 nodes < min 2: replacing at once, back to capacity 3'] },
    { base: 1, floor: 3, reasons: ['below-min: 1 nodes < min 2: replacing at once, back to capacity 3'] },
    { base: 2, floor: 3, reasons: ['below-capacity: 2 nodes < capacity 3: returning to capacity'] },
    { base: 3, floor: 3, reasons: [] },
    { base: 4, floor: 4, reasons: [] },
    { base: 6, floor: 6, reasons: [] },
  ];
  for (const c of cases)
    test(`${c.base} nodes: floor ${c.floor}`, () => {
      const f = sizeFloor(c.base, size);
      assert.equal(f.floor, c.floor);
      assert.deepEqual(said(f.reasons), c.reasons);
    });
});

describe('capped at max', () => {
  const cases: { wanted: number; target: number; capped: boolean }[] = [
    { wanted: 4, target: 4, capped: false },
    { wanted: 5, target: 5, capped: false },
    { wanted: 9, target: 5, capped: true },
  ];
  for (const c of cases)
    test(`wanting ${c.wanted}`, () => {
      const r = capAtMax(c.wanted, size);
      assert.equal(r.target, c.target);
      assert.deepEqual(
        r.reasons,
        c.capped ? [{ code: 'at-max', text: `wanted ${c.wanted} nodes, capped at max 5`, threshold: 5 }] : [],
      );
    });
});

describe('a size set by hand', () => {
  const cases: { manual: number; by?: string; wanted: number; text: string }[] = [
    { manual: 4, by: 'alice', wanted: 4, text: 'size set by hand to 4 by alice: scale rules do not apply' },
    {
      manual: 50,
      wanted: 5,
      text: 'size set by hand to 50 by the operator (kept within min 2 and max 5: 5): scale rules do not apply',
    },
    {
      manual: 0,
      by: 'bob',
      wanted: 2,
      text: 'size set by hand to 0 by bob (kept within min 2 and max 5: 2): scale rules do not apply',
    },
  ];
  for (const c of cases)
    test(`${c.manual} → ${c.wanted}`, () => {
      const m = manualTarget(c.manual, c.by, size);
      assert.equal(m.wanted, c.wanted);
      assert.deepEqual(m.reasons, [{ code: 'manual-size', text: c.text }]);
    });
});

describe('how many can be created now', () => {
  const limits = (over: Partial<CreationLimits> = {}): CreationLimits => ({
    base: 3,
    leaving: 0,
    max: 5,
    busy: [],
    removed: new Set(),
    ...over,
  });
  const joining = node('n4', 'syncing', { joinStartedAt: T0 - 60_000 });
  const cases: { name: string; target: number; limits: CreationLimits; count: number; reasons: string[] }[] =
    [
      { name: 'room for all', target: 5, limits: limits(), count: 2, reasons: [] },
      { name: 'at the target already', target: 3, limits: limits(), count: 0, reasons: [] },
      { name: 'above the target', target: 2, limits: limits(), count: 0, reasons: [] },
      {
        name: 'nodes still leaving hold their slots under max',
        target: 5,
        limits: limits({ leaving: 1 }),
        count: 1,
        reasons: ['max-occupied: 1 node(s) still leaving occupy slots under max 5: creating 1 now'],
      },
      {
        name: 'every slot held by nodes leaving',
        target: 5,
        limits: limits({ base: 3, leaving: 2 }),
        count: 0,
        reasons: ['max-occupied: 2 node(s) still leaving occupy slots under max 5: creating 0 now'],
      },
      {
        name: 'no upstream node runs: wait',
        target: 5,
        limits: limits({ upstreamRunning: false }),
        count: 0,
        reasons: ['no-upstream: would create 2, but no upstream node runs yet: waiting'],
      },
      {
        name: 'an upstream that runs',
        target: 5,
        limits: limits({ upstreamRunning: true }),
        count: 2,
        reasons: [],
      },
      {
        name: 'one join at a time: one of several',
        target: 5,
        limits: limits({ joinsOneAtATime: true }),
        count: 1,
        reasons: ['one-join-at-a-time: creating 1 of 2 now: nodes of this pool join one at a time'],
      },
      {
        name: 'one join at a time: none while another joins',
        target: 5,
        limits: limits({ joinsOneAtATime: true, busy: [joining] }),
        count: 0,
        reasons: [
          'one-join-at-a-time: would create 2, but n4 (syncing) is still joining: nodes of this pool join one at a time',
        ],
      },
      {
        name: 'one join at a time: a joining node removed this tick no longer counts',
        target: 4,
        limits: limits({ joinsOneAtATime: true, busy: [joining], removed: new Set(['n4']) }),
        count: 1,
        reasons: [],
      },
      {
        name: 'one join at a time: a node leaving is not joining',
        target: 4,
        limits: limits({ joinsOneAtATime: true, busy: [node('n9', 'draining')], leaving: 1 }),
        count: 1,
        reasons: [],
      },
      {
        name: 'no upstream is said before one join at a time, and stops it',
        target: 5,
        limits: limits({ upstreamRunning: false, joinsOneAtATime: true, busy: [joining] }),
        count: 0,
        reasons: ['no-upstream: would create 2, but no upstream node runs yet: waiting'],
      },
    ];
  for (const c of cases)
    test(c.name, () => {
      const r = creatable(c.target, c.limits);
      assert.equal(r.count, c.count);
      assert.deepEqual(said(r.reasons), c.reasons);
    });
});

describe('why nodes are created', () => {
  const cases: { base: number; floor: number; ruleDesired: number; cause: CreateCause }[] = [
    { base: 1, floor: 3, ruleDesired: 4, cause: 'below-min' },
    { base: 2, floor: 3, ruleDesired: 2, cause: 'below-capacity' },
    { base: 2, floor: 3, ruleDesired: 3, cause: 'below-capacity' },
    { base: 2, floor: 3, ruleDesired: 4, cause: 'scale-up' },
    { base: 3, floor: 3, ruleDesired: 4, cause: 'scale-up' },
    // Above capacity nothing but a rule creates; a cap at max can leave ruleDesired ≤ floor.
    { base: 4, floor: 4, ruleDesired: 4, cause: 'scale-up' },
  ];
  for (const c of cases)
    test(`${c.base} nodes, floor ${c.floor}, rules ${c.ruleDesired}: ${c.cause}`, () =>
      assert.equal(creationCause(c.base, size, c.floor, c.ruleDesired), c.cause));
});
