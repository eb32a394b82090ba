import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DOWN, input, node, policy, READY, SYNCING, T0 } from '../../test/support/decide-fixtures.ts';
import type { DecideInput } from './decide.ts';
import { decidePool } from './decide.ts';
import type { NodeRecord } from './node-lifecycle.ts';
import type { PoolPlan } from './pool-plan.ts';
import type { NodeProbe } from './types.ts';
import { decideWithWarmPool } from './warm-pool.ts';

/** `n` serving ready nodes at `load`, plus the given spares with their probes. */
function withSpares(
  n: number,
  load: number,
  spares: readonly [NodeRecord, NodeProbe][],
  size: { min: number; capacity: number; max: number; warm: number },
  over: Partial<DecideInput> = {},
): DecideInput {
  const base = input(n, load, { policy: policy({ size }), ...over });
  return {
    ...base,
    nodes: [...base.nodes, ...spares.map(([s]) => s)],
    probes: new Map([...base.probes, ...spares.map(([s, p]) => [s.id, p] as const)]),
  };
}
const spare = (id: string, state: NodeRecord['state'] = 'ready', over: Partial<NodeRecord> = {}) =>
  node(id, state, { warm: true, ...over });
const summary = (p: PoolPlan) =>
  p.actions.map((a) =>
    a.kind === 'create'
      ? `create ${a.count} ${a.cause}`
      : a.kind === 'rejoin'
        ? `rejoin ${a.nodeId}`
        : `${a.kind} ${a.nodeId} ${a.cause}`,
  );

describe('warm pool', () => {
  const cases: {
    name: string;
    in: DecideInput;
    actions: string[];
    warm?: { live: number; ready: number };
    decision?: string;
  }[] = [
    {
      name: 'a scale-up takes a synced spare and refills behind it',
      in: withSpares(3, 0.9, [[spare('w1'), READY]], { min: 2, capacity: 3, max: 6, warm: 1 }),
      actions: ['take-warm w1 scale-up', 'create 1 warm-refill'],
      warm: { live: 1, ready: 1 },
      decision: 'scale-up',
    },
    {
      name: 'synced spares are taken before joining ones, and only as many as the creation asks',
      in: withSpares(
        3,
        0.9,
        [
          [spare('w-joining', 'syncing', { joinStartedAt: T0 - 60_000 }), SYNCING],
          [spare('w-ready'), READY],
        ],
        { min: 2, capacity: 3, max: 6, warm: 2 },
      ),
      actions: ['take-warm w-ready scale-up', 'create 1 warm-refill'],
    },
    {
      name: 'a creation larger than the warm pool takes every spare and creates the rest',
      in: withSpares(
        3,
        0.9,
        [[spare('w1'), READY]],
        { min: 2, capacity: 3, max: 8, warm: 1 },
        {
          policy: policy({
            size: { min: 2, capacity: 3, max: 8, warm: 1 },
            scaleUp: {
              cooldown: 0,
              rules: [
                {
                  kind: 'threshold',
                  metric: 'nodes:load',
                  aggregate: 'avg',
                  comparator: '>',
                  threshold: 0.8,
                  step: { nodes: 3 },
                  rate: false,
                },
              ],
            },
          }),
        },
      ),
      actions: ['take-warm w1 scale-up', 'create 2 scale-up', 'create 1 warm-refill'],
    },
    {
      name: 'a quiet pool below its warm size refills it; the decision says replenish',
      in: withSpares(3, 0.5, [], { min: 2, capacity: 3, max: 6, warm: 2 }),
      actions: ['create 2 warm-refill'],
      warm: { live: 2, ready: 0 },
      decision: 'replenish',
    },
    {
      name: 'spares count against max: only the room max leaves is refilled',
      in: withSpares(3, 0.5, [], { min: 2, capacity: 3, max: 4, warm: 2 }),
      actions: ['create 1 warm-refill'],
    },
    {
      name: 'a full warm pool at rest does nothing',
      in: withSpares(3, 0.5, [[spare('w1'), READY]], { min: 2, capacity: 3, max: 6, warm: 1 }),
      actions: [],
      decision: 'steady',
    },
    {
      name: 'warm lowered: the joining spare goes first, then the newest; the oldest synced one stays',
      in: withSpares(
        3,
        0.5,
        [
          [spare('w-old', 'ready', { createdAt: T0 - 9_000_000 }), READY],
          [spare('w-new', 'ready', { createdAt: T0 - 1_000_000 }), READY],
          [spare('w-joining', 'syncing', { createdAt: T0 - 9_500_000, joinStartedAt: T0 - 60_000 }), SYNCING],
        ],
        { min: 2, capacity: 3, max: 6, warm: 1 },
      ),
      actions: ['remove w-joining warm-surplus', 'remove w-new warm-surplus'],
      warm: { live: 1, ready: 2 },
    },
    {
      name: 'max lowered below serving + warm: spares go, no serving node does',
      in: withSpares(3, 0.5, [[spare('w1'), READY]], { min: 2, capacity: 3, max: 3, warm: 1 }),
      actions: ['remove w1 warm-surplus'],
    },
    {
      name: 'a spare past its fail tolerance goes; its replacement waits for the removal',
      in: withSpares(3, 0.5, [[spare('w1', 'ready', { failMarker: 21 }), DOWN]], {
        min: 2,
        capacity: 3,
        max: 6,
        warm: 1,
      }),
      actions: ['remove w1 failed-health', 'create 1 warm-refill'],
    },
    {
      name: 'a spare whose join timed out goes (no rejoin: a fresh spare is made)',
      in: withSpares(
        3,
        0.5,
        [[spare('w1', 'syncing', { joinStartedAt: T0 - 700_000, createdAt: T0 - 700_000 }), SYNCING]],
        { min: 2, capacity: 3, max: 6, warm: 1 },
      ),
      actions: ['remove w1 failed-health', 'create 1 warm-refill'],
    },
    {
      name: 'no upstream runs: nothing to follow, so no refill',
      in: withSpares(3, 0.5, [], { min: 2, capacity: 3, max: 6, warm: 1 }, { upstreamRunning: false }),
      actions: [],
    },
    {
      name: 'paused: spares are observed, nothing is taken or refilled',
      in: withSpares(
        3,
        0.9,
        [[spare('w1'), READY]],
        { min: 2, capacity: 3, max: 6, warm: 2 },
        { paused: true },
      ),
      actions: [],
      warm: { live: 1, ready: 1 },
    },
    {
      name: 'a spare stopped for a snapshot is neither taken nor removed, and still holds its place',
      in: withSpares(3, 0.9, [[spare('w1', 'ready', { maintenance: 'snapshot s1' }), READY]], {
        min: 2,
        capacity: 3,
        max: 4,
        warm: 1,
      }),
      actions: ['create 1 scale-up'],
      warm: { live: 1, ready: 1 },
    },
    {
      name: 'below capacity: the floor takes a spare too',
      in: withSpares(2, 0.5, [[spare('w1'), READY]], { min: 2, capacity: 3, max: 6, warm: 1 }),
      actions: ['take-warm w1 below-capacity', 'create 1 warm-refill'],
    },
  ];
  for (const c of cases)
    test(c.name, () => {
      const p = decideWithWarmPool(c.in);
      assert.deepEqual(summary(p), c.actions);
      if (c.warm) assert.deepEqual({ live: p.warm?.live, ready: p.warm?.ready }, c.warm);
      if (c.decision) assert.equal(p.decision, c.decision);
    });

  test('spares are never capacity: their load and readiness do not reach the rules', () => {
    // Three serving nodes at 0.9 and an idle spare: the average the rule reads stays 0.9.
    const p = decideWithWarmPool(
      withSpares(3, 0.9, [[spare('w1'), READY]], { min: 2, capacity: 3, max: 6, warm: 1 }),
    );
    assert.equal(p.ready, 3);
    assert.equal(p.live, 3);
    assert.ok(p.reasons.some((r) => r.code === 'rule-fired' && r.value === 0.9));
  });

  test('a spare moves through its lifecycle like any node (its update is in the plan)', () => {
    const p = decideWithWarmPool(
      withSpares(3, 0.5, [[spare('w1', 'syncing', { joinStartedAt: T0 - 60_000 }), READY]], {
        min: 2,
        capacity: 3,
        max: 6,
        warm: 1,
      }),
    );
    assert.deepEqual(
      p.nodeUpdates.filter((u) => u.id === 'w1').map((u) => u.state),
      ['ready'],
    );
    assert.deepEqual(summary(p), []);
  });

  test('a pool without a warm pool gets decidePool’s plan unchanged', () => {
    const i = input(3, 0.9);
    assert.deepEqual(decideWithWarmPool(i), decidePool(i));
  });
});
