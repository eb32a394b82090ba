// Property tests for DESIGN.md's invariants on the pure decision: generated pools, loads,
// clocks and probe outcomes, and sequences of ticks with actions applied.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  policy as basePolicy,
  DOWN,
  downRule,
  node,
  READY,
  SYNCING,
  T0,
  upRule,
} from '../../test/support/decide-fixtures.ts';
import { type DecideInput, decidePool, type PoolClocks, type PoolPlan } from './decide.ts';
import type { NodeRecord } from './node-lifecycle.ts';
import type { PoolPolicy } from './policy.ts';
import type { NodeProbe, NodeState } from './types.ts';

const sizeArb = fc
  .tuple(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 6 }), fc.integer({ min: 1, max: 8 }))
  .map(([a, b, c]) => {
    const [min, capacity, max] = [a, a + b, Math.max(a + b, c)];
    return { min, capacity: Math.min(capacity, max), max };
  });

const policyArb = fc
  .record({
    size: sizeArb,
    upStep: fc.integer({ min: 1, max: 5 }),
    cooldown: fc.integer({ min: 0, max: 300_000 }),
    period: fc.integer({ min: 0, max: 300_000 }),
    failTolerance: fc.integer({ min: 0, max: 30 }),
    select: fc.constantFrom('least-busy', 'newest', 'oldest' as const),
  })
  .map(
    (r): PoolPolicy => ({
      name: 'p',
      role: 'sentry',
      size: r.size,
      scaleUp: { cooldown: r.cooldown, rules: [upRule({ step: { nodes: r.upStep } } as never)] },
      scaleDown: { period: r.period, lockAttemptPeriod: 0, rules: [downRule()] },
      health: { checkInterval: 10_000, failTolerance: r.failTolerance, joinRetries: 3, joinTimeout: 600_000 },
      scaleIn: { select: r.select },
    }),
  );

const stateArb = fc.constantFrom<NodeState>(
  'provisioning',
  'syncing',
  'ready',
  'ready',
  'ready',
  'draining',
  'deleting',
);
const probeArb = fc.constantFrom<NodeProbe | undefined>(READY, READY, READY, DOWN, SYNCING, undefined);

const inputArb = fc
  .record({
    policy: policyArb,
    nodes: fc.array(
      fc.record({
        state: stateArb,
        probe: probeArb,
        load: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }),
        failMarker: fc.integer({ min: 0, max: 40 }),
        age: fc.integer({ min: 0, max: 2_000_000 }),
      }),
      { maxLength: 12 },
    ),
    lastUp: fc.option(fc.integer({ min: 0, max: 400_000 }), { nil: undefined }),
    lastDown: fc.option(fc.integer({ min: 0, max: 400_000 }), { nil: undefined }),
    sampleAge: fc.integer({ min: 0, max: 60_000 }),
  })
  .map(({ policy, nodes, lastUp, lastDown, sampleAge }): DecideInput => {
    const records: NodeRecord[] = nodes.map((n, i) => ({
      id: `n${i}`,
      pool: 'p',
      state: n.state,
      createdAt: T0 - n.age,
      readyAt: n.state === 'ready' ? T0 - n.age / 2 : undefined,
      joinStartedAt: T0 - n.age,
      joinAttempts: 0,
      failMarker: n.failMarker,
    }));
    const probes = new Map<string, NodeProbe>();
    nodes.forEach((n, i) => {
      if (n.probe) probes.set(`n${i}`, n.probe);
    });
    return {
      policy,
      now: T0,
      nodes: records,
      probes,
      samples: {
        current: nodes.flatMap((n, i) =>
          n.load === undefined
            ? []
            : [{ ref: 'nodes:load', node: `n${i}`, value: n.load, at: T0 - sampleAge }],
        ),
        staleAfter: () => 30_000,
      },
      clocks: {
        lastScaleUpAt: lastUp === undefined ? undefined : T0 - lastUp,
        lastScaleDownAt: lastDown === undefined ? undefined : T0 - lastDown,
      },
    };
  });

const created = (p: PoolPlan, cause?: string) =>
  p.actions.reduce((n, a) => n + (a.kind === 'create' && (!cause || a.cause === cause) ? a.count : 0), 0);
const removed = (p: PoolPlan, cause?: string) =>
  p.actions.filter((a) => a.kind === 'remove' && (!cause || a.cause === cause)).length;
const LIVE = new Set(['provisioning', 'restoring', 'syncing', 'ready', 'draining', 'deleting']);

test('invariant 1: a plan never takes the pool above max', () => {
  fc.assert(
    fc.property(inputArb, (input) => {
      const p = decidePool(input);
      const live = input.nodes.filter((n) => LIVE.has(n.state)).length;
      const after = live - removed(p) + created(p);
      const max = input.policy.size!.max;
      if (created(p) > 0) assert.ok(after <= max, `${after} > max ${max}`);
    }),
    { numRuns: 2000 },
  );
});

test('invariant 1: metric-driven scale-down never goes below capacity, one node at a time', () => {
  fc.assert(
    fc.property(inputArb, (input) => {
      const p = decidePool(input);
      const n = removed(p, 'scale-down');
      if (n === 0) return;
      assert.equal(n, 1);
      const staying = input.nodes.filter(
        (x) => LIVE.has(x.state) && x.state !== 'draining' && x.state !== 'deleting',
      ).length;
      assert.ok(staying - 1 >= input.policy.size!.capacity);
    }),
    { numRuns: 2000 },
  );
});

test('invariant 2: cooldown and scale-down period are respected', () => {
  fc.assert(
    fc.property(inputArb, (input) => {
      const p = decidePool(input);
      const { lastScaleUpAt, lastScaleDownAt } = input.clocks;
      if (lastScaleUpAt !== undefined && T0 - lastScaleUpAt < input.policy.scaleUp.cooldown)
        assert.equal(created(p, 'scale-up'), 0);
      if (lastScaleDownAt !== undefined && T0 - lastScaleDownAt < input.policy.scaleDown.period)
        assert.equal(removed(p, 'scale-down'), 0);
    }),
    { numRuns: 2000 },
  );
});

test('no scaling on missing or stale data', () => {
  fc.assert(
    fc.property(inputArb, fc.boolean(), (input, stale) => {
      const samples = stale
        ? { ...input.samples, current: input.samples.current.map((s) => ({ ...s, at: T0 - 31_000 })) }
        : { ...input.samples, current: [] };
      const p = decidePool({ ...input, samples });
      assert.equal(created(p, 'scale-up'), 0);
      assert.equal(removed(p, 'scale-down'), 0);
    }),
    { numRuns: 1000 },
  );
});

/**
 * Pools that do scale on their samples as they are: every node ready, loads all busy with room
 * under max (a scale-up) or all quiet above capacity (a scale-down), no cooldown. What the two
 * properties below do to the samples is then all that can stop the scaling.
 */
const scalingArb = fc
  .record({
    n: fc.integer({ min: 1, max: 8 }),
    busy: fc.boolean(),
    loads: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 8, maxLength: 8 }),
  })
  .map(({ n, busy, loads }): DecideInput => {
    const nodes = Array.from({ length: n }, (_, i) => node(`n${i}`, 'ready', { createdAt: T0 - 1000 - i }));
    return {
      policy: basePolicy({
        size: busy ? { min: 0, capacity: 0, max: n + 2 } : { min: 0, capacity: n - 1, max: n },
        scaleUp: { cooldown: 0, rules: [upRule()] },
        scaleDown: { period: 0, lockAttemptPeriod: 0, rules: [downRule()] },
      }),
      now: T0,
      nodes,
      probes: new Map(nodes.map((x) => [x.id, READY])),
      samples: {
        current: nodes.map((x, i) => ({
          ref: 'nodes:load',
          node: x.id,
          value: busy ? 0.81 + loads[i]! * 0.19 : loads[i]! * 0.29,
          at: T0 - 1000,
        })),
        staleAfter: () => 30_000,
      },
      clocks: {},
    };
  });
const scales = (p: PoolPlan) => created(p, 'scale-up') + removed(p, 'scale-down') > 0;

test('no finite-free input ever scales: every sample NaN, ±Infinity, near the largest double, or from the future', () => {
  const corruption = fc.constantFrom('NaN', '+Infinity', '-Infinity', '1e308', 'future');
  fc.assert(
    fc.property(scalingArb, corruption, fc.nat(), (input, how, ahead) => {
      assert.ok(scales(decidePool(input)), 'the samples as they are scale the pool');
      // One node at 1e308 is a finite reading; without a valid range it is believed.
      if (how === '1e308' && input.nodes.length < 2) return;
      const current = input.samples.current.map((s) =>
        how === 'future' ? { ...s, at: T0 + 30_001 + (ahead % 86_400_000) } : { ...s, value: Number(how) },
      );
      const p = decidePool({ ...input, samples: { ...input.samples, current } });
      assert.ok(!scales(p), JSON.stringify(p.reasons));
    }),
    { numRuns: 1000 },
  );
});

test("one node's value outside a rule's valid range holds every rule reading it: no scale-up, no scale-down", () => {
  const outside = fc.constantFrom(-1e308, -0.001, 1.001, 1e308, Number.NaN, Number.POSITIVE_INFINITY);
  const valid = { min: 0, max: 1 };
  fc.assert(
    fc.property(scalingArb, fc.nat(), outside, (input, pick, value) => {
      const policy: PoolPolicy = {
        ...input.policy,
        scaleUp: { ...input.policy.scaleUp, rules: input.policy.scaleUp.rules.map((r) => ({ ...r, valid })) },
        scaleDown: {
          ...input.policy.scaleDown,
          rules: input.policy.scaleDown.rules.map((r) => ({ ...r, valid })),
        },
      };
      assert.ok(scales(decidePool({ ...input, policy })), 'the samples as they are scale the pool');
      const current = input.samples.current;
      const bad = current[pick % current.length]!;
      const p = decidePool({
        ...input,
        policy,
        samples: { ...input.samples, current: current.map((s) => (s === bad ? { ...s, value } : s)) },
      });
      assert.ok(!scales(p), JSON.stringify(p.reasons));
      assert.equal(p.decision, 'hold');
      assert.ok(p.reasons.some((r) => r.code === 'metric-invalid' && r.text.includes(`on node ${bad.node}`)));
    }),
    { numRuns: 1000 },
  );
});

test('invariant 1: a validator pool is never scaled or replaced', () => {
  fc.assert(
    fc.property(inputArb, (input) => {
      const policy: PoolPolicy = { ...input.policy, role: 'validator', size: undefined };
      const p = decidePool({ ...input, policy, everHadNode: true });
      assert.equal(p.actions.length, 0);
    }),
    { numRuns: 500 },
  );
});

test('over a run of ticks with restarts, max and cooldowns hold (clocks persist)', () => {
  fc.assert(
    fc.property(
      policyArb,
      fc.array(
        fc.record({
          load: fc.double({ min: 0, max: 1, noNaN: true }),
          dt: fc.integer({ min: 1000, max: 120_000 }),
        }),
        {
          minLength: 5,
          maxLength: 60,
        },
      ),
      (policy, steps) => {
        let now = T0;
        let nodes: NodeRecord[] = [];
        let clocks: PoolClocks = {};
        let seq = 0;
        const ups: number[] = [];
        const downs: number[] = [];
        for (const step of steps) {
          now += step.dt;
          const probes = new Map(nodes.map((n) => [n.id, READY]));
          const p = decidePool({
            policy,
            now,
            nodes,
            probes,
            samples: {
              current: nodes.map((n) => ({ ref: 'nodes:load', node: n.id, value: step.load, at: now })),
              staleAfter: () => 30_000,
            },
            clocks,
          });
          // Clocks go through JSON as they do through the store: a restart loses nothing.
          clocks = JSON.parse(JSON.stringify(p.clocks)) as PoolClocks;
          const updates = new Map(p.nodeUpdates.map((u) => [u.id, u]));
          nodes = nodes.map((n) => ({ ...n, ...updates.get(n.id) }));
          for (const a of p.actions) {
            if (a.kind === 'remove') {
              nodes = nodes.filter((n) => n.id !== a.nodeId);
              if (a.cause === 'scale-down') downs.push(now);
            }
          }
          for (const a of p.actions)
            if (a.kind === 'create') {
              if (a.cause === 'scale-up') ups.push(now);
              for (let i = 0; i < a.count; i++)
                nodes.push({
                  id: `x${seq++}`,
                  pool: 'p',
                  state: 'ready',
                  createdAt: now,
                  readyAt: now,
                  joinStartedAt: now,
                  joinAttempts: 0,
                  failMarker: 0,
                });
            }
          assert.ok(nodes.length <= policy.size!.max, `${nodes.length} nodes > max`);
        }
        for (let i = 1; i < ups.length; i++) assert.ok(ups[i]! - ups[i - 1]! >= policy.scaleUp.cooldown);
        for (let i = 1; i < downs.length; i++)
          assert.ok(downs[i]! - downs[i - 1]! >= policy.scaleDown.period);
      },
    ),
    { numRuns: 500 },
  );
});
