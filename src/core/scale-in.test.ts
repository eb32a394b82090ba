import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { downRule, node, policy, samples, T0 } from '../../test/support/decide-fixtures.ts';
import type { PoolPolicy } from './policy.ts';
import type { Reason } from './pool-plan.ts';
import { type ScaleInContext, type ScaleInQuestion, scaleInOne, scaleInWanted } from './scale-in.ts';
import type { Sample } from './types.ts';

const size = { min: 2, capacity: 3, max: 5 };
const said = (reasons: readonly Reason[]) => reasons.map((r) => `${r.code}: ${r.text}`);
const ids = ['n1', 'n2', 'n3', 'n4'];
const loads = (...values: number[]): Sample[] =>
  samples(Object.fromEntries(values.map((v, i) => [ids[i]!, v])));

describe('whether a node should leave', () => {
  const ask = (over: Partial<ScaleInQuestion>): ScaleInQuestion => ({
    base: 4,
    size,
    scaleDown: policy().scaleDown,
    readyIds: ids,
    samples: { current: loads(0.1, 0.1, 0.1, 0.1), staleAfter: () => 30_000 },
    now: T0,
    heldUp: [],
    ...over,
  });
  const HELD_UP = ['scaleUp.rules[0]'];
  const cases: {
    name: string;
    question: ScaleInQuestion;
    cause: 'scale-down' | 'above-max' | undefined;
    held: boolean;
    reasons: string[];
  }[] = [
    {
      name: 'at capacity: never',
      question: ask({ base: 3 }),
      cause: undefined,
      held: false,
      reasons: ['at-capacity: 3 nodes, capacity 3: nothing to remove'],
    },
    {
      name: 'at capacity with a scale-up rule held: a hold',
      question: ask({ base: 3, heldUp: HELD_UP }),
      cause: undefined,
      held: true,
      reasons: ['at-capacity: 3 nodes, capacity 3: nothing to remove'],
    },
    {
      name: 'above max: always, whatever the rules read',
      question: ask({ base: 6, heldUp: HELD_UP, samples: { current: [], staleAfter: () => 30_000 } }),
      cause: 'above-max',
      held: true,
      reasons: ['above-max: 6 nodes > max 5: removing one at a time'],
    },
    {
      name: 'above capacity, no scale-down rules: never',
      question: ask({ scaleDown: { ...policy().scaleDown, rules: [] } }),
      cause: undefined,
      held: false,
      reasons: ['no-down-rules: 4 nodes > capacity 3, but no scale-down rules'],
    },
    {
      name: 'above capacity, every rule agrees',
      question: ask({}),
      cause: 'scale-down',
      held: false,
      reasons: ['rule-agrees: scaleDown.rules[0]: avg nodes:load = 0.1 < 0.3'],
    },
    {
      name: 'above capacity, a rule disagrees',
      question: ask({ samples: { current: loads(0.5, 0.5, 0.5, 0.5), staleAfter: () => 30_000 } }),
      cause: undefined,
      held: false,
      reasons: ['rule-disagrees: scaleDown.rules[0]: avg nodes:load = 0.5 not < 0.3'],
    },
    {
      name: 'every rule agrees but a scale-up rule is held: a hold, naming it',
      question: ask({ heldUp: HELD_UP }),
      cause: undefined,
      held: true,
      reasons: [
        'rule-agrees: scaleDown.rules[0]: avg nodes:load = 0.1 < 0.3',
        'metric-invalid: scale-down held: scaleUp.rules[0] read a value that cannot be trusted',
      ],
    },
    {
      name: 'the held scale-up and scale-down rules are named together',
      question: ask({
        heldUp: HELD_UP,
        scaleDown: {
          ...policy().scaleDown,
          rules: [downRule(), downRule({ metric: 'nodes:peers', valid: { max: 100 } } as never)],
        },
        samples: {
          current: [...loads(0.1, 0.1, 0.1, 0.1), ...samples({ n1: 500 }, T0, 'nodes:peers')],
          staleAfter: () => 30_000,
        },
      }),
      cause: undefined,
      held: true,
      reasons: [
        'rule-agrees: scaleDown.rules[0]: avg nodes:load = 0.1 < 0.3',
        'metric-invalid: scaleDown.rules[1]: nodes:peers = 500 on node n1 is above valid max 100: holding',
      ],
    },
  ];
  for (const c of cases)
    test(c.name, () => {
      const w = scaleInWanted(c.question);
      assert.equal(w.cause, c.cause);
      assert.equal(w.held, c.held);
      assert.deepEqual(said(w.reasons), c.reasons);
    });
});

describe('which node leaves now', () => {
  const ready = ids.map((id, i) => node(id, 'ready', { createdAt: T0 - 3_600_000 + i }));
  const context = (over: Partial<ScaleInContext> = {}): ScaleInContext => ({
    policy: policy(),
    size,
    busy: [],
    candidates: ready,
    samples: { current: loads(0.2, 0.1, 0.25, 0.05), staleAfter: () => 30_000 },
    clocks: {},
    now: T0,
    respectPeriod: true,
    ...over,
  });
  const select = (s: PoolPolicy['scaleIn']['select']) => policy({ scaleIn: { select: s } });
  const cases: {
    name: string;
    context: ScaleInContext;
    nodeId: string | undefined;
    reason: string;
    cooldownRemainingMs?: number;
  }[] = [
    {
      name: 'the least busy',
      context: context(),
      nodeId: 'n4',
      reason: 'selected: removing n4: least busy: nodes:load = 0.05',
    },
    {
      name: 'the newest',
      context: context({ policy: select('newest') }),
      nodeId: 'n4',
      reason: 'selected: removing n4: newest node',
    },
    {
      name: 'the oldest',
      context: context({ policy: select('oldest') }),
      nodeId: 'n1',
      reason: 'selected: removing n1: oldest node',
    },
    {
      name: 'not while another node joins or leaves',
      context: context({ busy: [node('n9', 'draining'), node('n8', 'syncing')] }),
      nodeId: undefined,
      reason: 'one-at-a-time: waiting for n9 (draining), n8 (syncing): one node at a time',
    },
    {
      name: 'not within the scale-down period',
      context: context({ clocks: { lastScaleDownAt: T0 - 100_000 } }),
      nodeId: undefined,
      reason: 'cooldown: scale-down period: 1m40s of 3m20s remaining',
      cooldownRemainingMs: 100_000,
    },
    {
      name: 'the scale-down period just over',
      context: context({ clocks: { lastScaleDownAt: T0 - 200_000 } }),
      nodeId: 'n4',
      reason: 'selected: removing n4: least busy: nodes:load = 0.05',
    },
    {
      name: 'a size set by hand does not wait for the period',
      context: context({ clocks: { lastScaleDownAt: T0 - 100_000 }, respectPeriod: false }),
      nodeId: 'n4',
      reason: 'selected: removing n4: least busy: nodes:load = 0.05',
    },
    {
      name: 'not within the lock attempt period, by hand or not',
      context: context({ clocks: { lastLockAttemptAt: T0 - 1_000 }, respectPeriod: false }),
      nodeId: undefined,
      reason: 'lock-attempt-period: next scale-down lock attempt in 9s',
      cooldownRemainingMs: 9_000,
    },
    {
      name: 'no ready node',
      context: context({ candidates: [] }),
      nodeId: undefined,
      reason: 'no-candidate: no ready node to remove',
    },
    {
      name: 'not when the upstream would keep fewer than min connected nodes',
      context: context({ connectedToUpstream: new Set(['n1', 'n4']) }),
      nodeId: undefined,
      reason: 'upstream-min: removing n4 would leave the validator 1 connected sentries, below min 2',
    },
    {
      name: 'an unconnected node may go however few are connected',
      context: context({ connectedToUpstream: new Set(['n1']) }),
      nodeId: 'n4',
      reason: 'selected: removing n4: least busy: nodes:load = 0.05',
    },
    {
      name: 'a connected node may go while min stay connected',
      context: context({ connectedToUpstream: new Set(['n1', 'n2', 'n4']) }),
      nodeId: 'n4',
      reason: 'selected: removing n4: least busy: nodes:load = 0.05',
    },
  ];
  for (const c of cases)
    test(c.name, () => {
      const out = scaleInOne(c.context);
      assert.equal(out.nodeId, c.nodeId);
      assert.deepEqual(said(out.reasons), [c.reason]);
      assert.equal(out.reasons[0]?.cooldownRemainingMs, c.cooldownRemainingMs);
    });
});
