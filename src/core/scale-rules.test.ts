import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { downRule, samples, T0, upRule } from '../../test/support/decide-fixtures.ts';
import type { ScaleRule } from './policy.ts';
import type { Reason } from './pool-plan.ts';
import type { SampleWindow } from './rule-evaluation.ts';
import { scaleDownRules, scaleUpRules } from './scale-rules.ts';
import type { Sample } from './types.ts';

const READY = ['n1', 'n2', 'n3'];
const window = (current: Sample[]): SampleWindow => ({ current, staleAfter: () => 30_000 });
const load = (...values: number[]) =>
  window(samples(Object.fromEntries(values.map((v, i) => [`n${i + 1}`, v]))));
const poolLevel = (value: number) => window([{ ref: 'nodes:load', node: undefined, value, at: T0 }]);
const said = (reasons: readonly Reason[]) => reasons.map((r) => `${r.code}: ${r.text}`);
const target = (value: number): ScaleRule => ({
  kind: 'target',
  metric: 'nodes:load',
  aggregate: 'avg',
  target: value,
  tolerance: 0.1,
  rate: false,
});

describe('scale-up rules, 3 ready nodes', () => {
  const cases: {
    name: string;
    rules: ScaleRule[];
    samples: SampleWindow;
    lastScaleUpAt?: number;
    desired: number;
    fired: boolean;
    held?: string[];
    reasons: string[];
  }[] = [
    { name: 'no rules', rules: [], samples: load(0.9, 0.9, 0.9), desired: 3, fired: false, reasons: [] },
    {
      name: 'a threshold crossed adds its step',
      rules: [upRule()],
      samples: load(0.9, 0.9, 0.9),
      desired: 4,
      fired: true,
      reasons: ['rule-fired: scaleUp.rules[0]: avg nodes:load = 0.9 > 0.8 → +1'],
    },
    {
      name: 'a threshold not crossed',
      rules: [upRule()],
      samples: load(0.5, 0.5, 0.5),
      desired: 3,
      fired: false,
      reasons: ['rule-quiet: scaleUp.rules[0]: avg nodes:load = 0.5 not > 0.8'],
    },
    {
      name: 'a percent step rounds up',
      rules: [upRule({ step: { percent: 50 } } as never)],
      samples: load(0.9, 0.9, 0.9),
      desired: 5,
      fired: true,
      reasons: ['rule-fired: scaleUp.rules[0]: avg nodes:load = 0.9 > 0.8 → +2'],
    },
    {
      name: 'the largest of several wins',
      rules: [upRule(), upRule({ threshold: 0.5, step: { nodes: 3 } } as never)],
      samples: load(0.9, 0.9, 0.9),
      desired: 6,
      fired: true,
      reasons: [
        'rule-fired: scaleUp.rules[0]: avg nodes:load = 0.9 > 0.8 → +1',
        'rule-fired: scaleUp.rules[1]: avg nodes:load = 0.9 > 0.5 → +3',
      ],
    },
    {
      name: 'within the cooldown: fired, but nothing wanted, and how long is left',
      rules: [upRule()],
      samples: load(0.9, 0.9, 0.9),
      lastScaleUpAt: T0 - 60_000,
      desired: 3,
      fired: true,
      reasons: [
        'rule-fired: scaleUp.rules[0]: avg nodes:load = 0.9 > 0.8 → +1',
        'cooldown: scale-up cooldown: 3m of 4m remaining',
      ],
    },
    {
      name: 'the cooldown just over',
      rules: [upRule()],
      samples: load(0.9, 0.9, 0.9),
      lastScaleUpAt: T0 - 240_000,
      desired: 4,
      fired: true,
      reasons: ['rule-fired: scaleUp.rules[0]: avg nodes:load = 0.9 > 0.8 → +1'],
    },
    {
      name: 'within the cooldown, no rule firing: no cooldown said',
      rules: [upRule()],
      samples: load(0.5, 0.5, 0.5),
      lastScaleUpAt: T0 - 60_000,
      desired: 3,
      fired: false,
      reasons: ['rule-quiet: scaleUp.rules[0]: avg nodes:load = 0.5 not > 0.8'],
    },
    {
      name: 'a missing metric holds',
      rules: [upRule()],
      samples: window([]),
      desired: 3,
      fired: false,
      reasons: ['rule-quiet: scaleUp.rules[0]: holds: nodes:load missing (no samples from any ready node)'],
    },
    {
      name: 'a value that cannot be trusted holds the rule, by name',
      rules: [upRule()],
      samples: load(0.9, Number.NaN, 0.9),
      desired: 3,
      fired: false,
      held: ['scaleUp.rules[0]'],
      reasons: [
        'metric-invalid: scaleUp.rules[0]: nodes:load = NaN on node n2 is not a finite number: holding',
      ],
    },
    {
      name: 'two of three nodes reporting still scale up, and say so',
      rules: [upRule()],
      samples: load(0.9, 0.9),
      desired: 4,
      fired: true,
      reasons: [
        'rule-fired: scaleUp.rules[0]: avg nodes:load = 0.9 (2 of 3 ready nodes reporting) > 0.8 → +1',
      ],
    },
    {
      name: 'a pool-level value',
      rules: [upRule()],
      samples: poolLevel(0.95),
      desired: 4,
      fired: true,
      reasons: ['rule-fired: scaleUp.rules[0]: avg nodes:load = 0.95 (pool-level) > 0.8 → +1'],
    },
    {
      name: 'target tracking: ceil(ready × value / target)',
      rules: [target(0.5)],
      samples: load(1, 1, 1),
      desired: 6,
      fired: true,
      reasons: ['rule-fired: scaleUp.rules[0]: avg nodes:load = 1, target 0.5 → 6 nodes'],
    },
    {
      name: 'target tracking within the dead band',
      rules: [target(0.5)],
      samples: load(0.54, 0.54, 0.54),
      desired: 3,
      fired: false,
      reasons: ['rule-quiet: scaleUp.rules[0]: avg nodes:load = 0.54, target 0.5 → 3 nodes (no increase)'],
    },
  ];
  for (const c of cases)
    test(c.name, () => {
      const v = scaleUpRules({ cooldown: 240_000, rules: c.rules }, READY, c.samples, T0, 3, c.lastScaleUpAt);
      assert.equal(v.desired, c.desired);
      assert.equal(v.fired, c.fired);
      assert.deepEqual(v.held, c.held ?? []);
      assert.deepEqual(said(v.reasons), c.reasons);
    });

  test('each reason names its rule, value and threshold; the cooldown its time left', () => {
    const v = scaleUpRules(
      { cooldown: 240_000, rules: [upRule()] },
      READY,
      load(0.9, 0.9, 0.9),
      T0,
      3,
      T0 - 60_000,
    );
    assert.deepEqual(v.reasons[0], {
      code: 'rule-fired',
      text: 'scaleUp.rules[0]: avg nodes:load = 0.9 > 0.8 → +1',
      rule: 'scaleUp.rules[0]',
      value: 0.9,
      threshold: 0.8,
    });
    assert.equal(v.reasons[1]?.cooldownRemainingMs, 180_000);
  });
});

describe('scale-down rules, 3 ready nodes', () => {
  const cases: {
    name: string;
    rules: ScaleRule[];
    samples: SampleWindow;
    base?: number;
    agree: boolean;
    held?: string[];
    reasons: string[];
  }[] = [
    {
      name: 'no rules: nothing disagrees',
      rules: [],
      samples: load(0.1, 0.1, 0.1),
      agree: true,
      reasons: [],
    },
    {
      name: 'every node idle: agrees',
      rules: [downRule()],
      samples: load(0.1, 0.1, 0.1),
      agree: true,
      reasons: ['rule-agrees: scaleDown.rules[0]: avg nodes:load = 0.1 < 0.3'],
    },
    {
      name: 'busy: disagrees',
      rules: [downRule()],
      samples: load(0.5, 0.5, 0.5),
      agree: false,
      reasons: ['rule-disagrees: scaleDown.rules[0]: avg nodes:load = 0.5 not < 0.3'],
    },
    {
      name: 'a ready node not reporting holds',
      rules: [downRule()],
      samples: load(0.1, 0.1),
      agree: false,
      reasons: [
        'rule-disagrees: scaleDown.rules[0]: holds: avg nodes:load = 0.1 (2 of 3 ready nodes reporting); every ready node must report before a scale-down',
      ],
    },
    {
      name: 'a pool-level value is a full reading',
      rules: [downRule()],
      samples: poolLevel(0.1),
      agree: true,
      reasons: ['rule-agrees: scaleDown.rules[0]: avg nodes:load = 0.1 (pool-level) < 0.3'],
    },
    {
      name: 'one rule of two disagreeing holds',
      rules: [downRule(), downRule({ threshold: 0.05 } as never)],
      samples: load(0.1, 0.1, 0.1),
      agree: false,
      reasons: [
        'rule-agrees: scaleDown.rules[0]: avg nodes:load = 0.1 < 0.3',
        'rule-disagrees: scaleDown.rules[1]: avg nodes:load = 0.1 not < 0.05',
      ],
    },
    {
      name: 'a missing metric holds',
      rules: [downRule()],
      samples: window([]),
      agree: false,
      reasons: [
        'rule-disagrees: scaleDown.rules[0]: holds: nodes:load missing (no samples from any ready node)',
      ],
    },
    {
      name: 'a value that cannot be trusted holds the rule, by name',
      rules: [downRule({ valid: { min: 0, max: 1 } } as never)],
      samples: load(0.1, 0.1, 7),
      agree: false,
      held: ['scaleDown.rules[0]'],
      reasons: [
        'metric-invalid: scaleDown.rules[0]: nodes:load = 7 on node n3 is outside valid [0, 1]: holding',
      ],
    },
    {
      name: 'target tracking asks for fewer: agrees',
      rules: [target(0.5)],
      samples: load(0.1, 0.1, 0.1),
      agree: true,
      reasons: ['rule-agrees: scaleDown.rules[0]: avg nodes:load = 0.1, target 0.5 → 1 nodes'],
    },
    {
      name: 'target tracking within the dead band: disagrees',
      rules: [target(0.5)],
      samples: load(0.52, 0.52, 0.52),
      agree: false,
      reasons: ['rule-disagrees: scaleDown.rules[0]: avg nodes:load = 0.52, target 0.5 → 3 nodes'],
    },
  ];
  for (const c of cases)
    test(c.name, () => {
      const v = scaleDownRules(c.rules, READY, c.samples, T0, c.base ?? 3);
      assert.equal(v.agree, c.agree);
      assert.deepEqual(v.held, c.held ?? []);
      assert.deepEqual(said(v.reasons), c.reasons);
    });
});
