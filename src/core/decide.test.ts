import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  DOWN,
  downRule,
  input,
  node,
  policy,
  READY,
  SYNCING,
  samples,
  T0,
  upRule,
} from '../../test/support/decide-fixtures.ts';
import { type DecideInput, decidePool } from './decide.ts';
import type { ScaleRule } from './policy.ts';
import type { Sample } from './types.ts';

const creates = (p: ReturnType<typeof decidePool>) =>
  p.actions.reduce((n, a) => n + (a.kind === 'create' ? a.count : 0), 0);
const removes = (p: ReturnType<typeof decidePool>) => p.actions.filter((a) => a.kind === 'remove');

describe('scale-up', () => {
  test('a firing rule adds its step and names rule, value and threshold', () => {
    const p = decidePool(input(3, 0.9));
    assert.equal(p.decision, 'scale-up');
    assert.equal(creates(p), 1);
    assert.equal(p.clocks.lastScaleUpAt, T0);
    const r = p.reasons.find((x) => x.code === 'rule-fired')!;
    assert.equal(r.rule, 'scaleUp.rules[0]');
    assert.equal(r.value, 0.9);
    assert.equal(r.threshold, 0.8);
    assert.match(r.text, /avg nodes:load = 0\.9 > 0\.8 → \+1/);
  });

  test('the cooldown holds a firing rule and says how long remains', () => {
    const p = decidePool(input(3, 0.9, { clocks: { lastScaleUpAt: T0 - 60_000 } }));
    assert.equal(p.decision, 'hold');
    assert.equal(creates(p), 0);
    const c = p.reasons.find((x) => x.code === 'cooldown')!;
    assert.equal(c.cooldownRemainingMs, 180_000);
    assert.match(c.text, /3m of 4m remaining/);
  });

  test('several rules: the largest result wins, capped by max', () => {
    const pol = policy({
      scaleUp: {
        cooldown: 0,
        rules: [
          upRule({ step: { nodes: 1 } }),
          upRule({ comparator: '>', threshold: 0.5, step: { nodes: 4 } } as never),
        ],
      },
    });
    const p = decidePool(input(3, 0.9, { policy: pol }));
    assert.equal(creates(p), 2, 'max 5 caps 3 + 4');
    assert.ok(p.reasons.some((r) => r.code === 'at-max'));
  });

  test('percent step rounds up and adds at least one node', () => {
    const pol = policy({ scaleUp: { cooldown: 0, rules: [upRule({ step: { percent: 10 } } as never)] } });
    assert.equal(creates(decidePool(input(3, 0.9, { policy: pol }))), 1);
  });

  test('target tracking: desired = ceil(ready × value / target), dead band holds', () => {
    const target = {
      kind: 'target',
      metric: 'nodes:load',
      aggregate: 'avg',
      target: 0.5,
      tolerance: 0.1,
      rate: false,
    } as const;
    const pol = policy({ size: { min: 1, capacity: 1, max: 20 }, scaleUp: { cooldown: 0, rules: [target] } });
    assert.equal(creates(decidePool(input(4, 1.0, { policy: pol }))), 4, 'ceil(4 × 1.0 / 0.5) = 8');
    assert.equal(creates(decidePool(input(4, 0.54, { policy: pol }))), 0, 'within ±10% of target');
  });

  test('missing metrics never scale up; the reason says so', () => {
    const p = decidePool(input(3, 0.9, { samples: { current: [], staleAfter: () => 30_000 } }));
    assert.equal(creates(p), 0);
    assert.ok(p.reasons.some((r) => /missing/.test(r.text)));
  });

  test('stale samples count as missing', () => {
    const stale = samples({ n1: 0.9, n2: 0.9, n3: 0.9 }, T0 - 31_000);
    const p = decidePool(input(3, 0, { samples: { current: stale, staleAfter: () => 30_000 } }));
    assert.equal(creates(p), 0);
    assert.ok(p.reasons.some((r) => /stale/.test(r.text)));
  });

  test('pool-level samples are used when no node reports', () => {
    const pool = [{ ref: 'nodes:load', node: undefined, value: 0.95, at: T0 }];
    const p = decidePool(input(3, 0, { samples: { current: pool, staleAfter: () => 30_000 } }));
    assert.equal(creates(p), 1);
  });

  test('rate rules compare the per-second rate of a counter', () => {
    const pol = policy({
      scaleUp: { cooldown: 0, rules: [upRule({ rate: true, threshold: 100 } as never)] },
    });
    const prev = samples({ n1: 1000, n2: 1000, n3: 1000 }, T0 - 10_000);
    const cur = samples({ n1: 3000, n2: 3000, n3: 3000 }, T0);
    const p = decidePool(
      input(3, 0, { policy: pol, samples: { current: cur, previous: prev, staleAfter: () => 30_000 } }),
    );
    assert.equal(creates(p), 1, '200/s > 100');
    const reset = samples({ n1: 5, n2: 5, n3: 5 }, T0);
    const q = decidePool(
      input(3, 0, { policy: pol, samples: { current: reset, previous: prev, staleAfter: () => 30_000 } }),
    );
    assert.equal(creates(q), 0, 'a counter reset gives no rate');
  });
});

describe('size floors', () => {
  test('below capacity returns to capacity without any rule firing, ignoring cooldown', () => {
    const p = decidePool(input(2, 0.5, { clocks: { lastScaleUpAt: T0 } }));
    assert.equal(p.decision, 'replenish', 'back to capacity, no rule needed');
    assert.equal(creates(p), 1);
    assert.equal(p.clocks.lastScaleUpAt, T0, 'restoring does not restart the cooldown');
  });

  test('below min is restored at once', () => {
    const p = decidePool(input(1, 0.5));
    assert.equal(creates(p), 2);
    assert.ok(p.reasons.some((r) => r.code === 'below-min'));
  });

  test('max is never exceeded, counting nodes still leaving', () => {
    const i = input(4, 0.95, {
      policy: policy({ scaleUp: { cooldown: 0, rules: [upRule({ step: { nodes: 3 } } as never)] } }),
    });
    const leaving = node('n9', 'deleting');
    const p = decidePool({ ...i, nodes: [...i.nodes, leaving] });
    assert.equal(creates(p), 0, '4 staying + 1 deleting = max 5');
  });
});

describe('scale-down', () => {
  const quiet = (over = {}) => input(5, 0.1, over);

  test('all rules agree, period passed: one node, the least busy, with the lock', () => {
    const p = decidePool(input(5, [0.2, 0.1, 0.25, 0.05, 0.2]));
    assert.equal(p.decision, 'scale-down');
    assert.equal(p.needsLock, true);
    assert.deepEqual(removes(p), [{ kind: 'remove', nodeId: 'n4', cause: 'scale-down' }]);
    assert.equal(p.clocks.lastScaleDownAt, T0);
  });

  test('never below capacity', () => {
    const p = decidePool(input(3, 0.0));
    assert.equal(removes(p).length, 0);
    assert.equal(p.decision, 'steady');
  });

  test('the scale-down period holds', () => {
    const p = decidePool(quiet({ clocks: { lastScaleDownAt: T0 - 100_000 } }));
    assert.equal(removes(p).length, 0);
    assert.equal(p.reasons.find((r) => r.code === 'cooldown')?.cooldownRemainingMs, 100_000);
  });

  test('one rule disagreeing holds', () => {
    const pol = policy({
      scaleDown: {
        period: 0,
        lockAttemptPeriod: 0,
        rules: [downRule(), downRule({ metric: 'nodes:peers' })],
      },
    });
    const i = quiet({ policy: pol });
    const p = decidePool({
      ...i,
      samples: {
        ...i.samples,
        current: [...i.samples.current, ...samples({ n1: 9, n2: 9, n3: 9, n4: 9, n5: 9 }, T0, 'nodes:peers')],
      },
    });
    assert.equal(removes(p).length, 0);
  });

  test('a node not reporting holds the scale-down', () => {
    const i = quiet();
    const p = decidePool({ ...i, samples: { ...i.samples, current: i.samples.current.slice(1) } });
    assert.equal(removes(p).length, 0);
    assert.ok(p.reasons.some((r) => /every ready node must report/.test(r.text)));
  });

  test('one at a time: no scale-down while a node joins or leaves', () => {
    const i = quiet();
    const p = decidePool({
      ...i,
      nodes: [...i.nodes, node('n6', 'syncing', { joinStartedAt: T0 - 1_000 })],
      probes: new Map([...i.probes, ['n6', SYNCING]]),
    });
    assert.equal(removes(p).length, 0, JSON.stringify(p.reasons));
    assert.ok(p.reasons.some((r) => r.code === 'one-at-a-time'));
  });

  test('the validator keeps at least min connected sentries', () => {
    const p = decidePool(quiet({ connectedToUpstream: new Set(['n1', 'n2']) }));
    assert.equal(removes(p).length, 1, 'removing an unconnected node is fine');
    const connected = new Set(['n1', 'n2', 'n3', 'n4', 'n5'].slice(0, 2));
    const q = decidePool(input(5, [0.2, 0.05, 0.2, 0.2, 0.2], { connectedToUpstream: connected }));
    assert.equal(removes(q).length, 0, 'n2 is least busy, connected, and 1 < min 2 would remain');
    assert.ok(q.reasons.some((r) => r.code === 'upstream-min'));
  });

  test('newest and oldest selection', () => {
    const newest = decidePool(quiet({ policy: policy({ scaleIn: { select: 'newest' } }) }));
    assert.equal(removes(newest)[0]?.nodeId, 'n5');
    const oldest = decidePool(quiet({ policy: policy({ scaleIn: { select: 'oldest' } }) }));
    assert.equal(removes(oldest)[0]?.nodeId, 'n1');
  });

  test('missing metrics never scale down', () => {
    const p = decidePool(quiet({ samples: { current: [], staleAfter: () => 30_000 } }));
    assert.equal(removes(p).length, 0);
  });
});

describe('health', () => {
  test('fail marker: +5 per failed check, −1 per passed, never below 0', () => {
    const i = input(3, 0.5);
    const p = decidePool({
      ...i,
      probes: new Map([...i.probes, ['n1', DOWN]]),
      nodes: i.nodes.map((n) => ({ ...n, failMarker: n.id === 'n2' ? 3 : 0 })),
    });
    const u = new Map(p.nodeUpdates.map((x) => [x.id, x.failMarker]));
    assert.equal(u.get('n1'), 5);
    assert.equal(u.get('n2'), 2);
    assert.equal(u.has('n3'), false, 'unchanged at 0');
  });

  test('checks run only every checkInterval', () => {
    const i = input(3, 0.5, { clocks: { lastHealthCheckAt: T0 - 5_000 } });
    const p = decidePool({ ...i, probes: new Map([...i.probes, ['n1', DOWN]]) });
    assert.equal(p.nodeUpdates.find((u) => u.id === 'n1')?.failMarker ?? 0, 0);
  });

  test('past failTolerance the node is removed and replaced within max', () => {
    const i = input(3, 0.5);
    const nodes = i.nodes.map((n) => (n.id === 'n1' ? { ...n, failMarker: 20 } : n));
    const p = decidePool({ ...i, nodes, probes: new Map([...i.probes, ['n1', DOWN]]) });
    assert.equal(p.decision, 'replace');
    assert.deepEqual(removes(p), [{ kind: 'remove', nodeId: 'n1', cause: 'failed-health' }]);
    assert.equal(creates(p), 1);
  });

  test('a join past its timeout retries, then after joinRetries is deleted with an alert', () => {
    const late = node('n4', 'syncing', { joinStartedAt: T0 - 700_000, createdAt: T0 - 700_000 });
    const i = input(3, 0.5);
    const retry = decidePool({
      ...i,
      nodes: [...i.nodes, late],
      probes: new Map([...i.probes, ['n4', SYNCING]]),
    });
    assert.deepEqual(retry.actions[0], { kind: 'rejoin', nodeId: 'n4', attempt: 1 });
    const last = { ...late, joinAttempts: 2 };
    const gone = decidePool({
      ...i,
      nodes: [...i.nodes, last],
      probes: new Map([...i.probes, ['n4', SYNCING]]),
    });
    assert.deepEqual(removes(gone), [{ kind: 'remove', nodeId: 'n4', cause: 'join-exhausted' }]);
    assert.equal(gone.alerts.length, 1);
    assert.equal(gone.alerts[0]!.severity, 'critical');
  });

  test('only ready nodes count as capacity; a ready node that falls behind stops counting', () => {
    const i = input(3, 0.5);
    const p = decidePool({ ...i, probes: new Map([...i.probes, ['n3', SYNCING]]) });
    assert.equal(p.ready, 2);
    assert.equal(p.nodeUpdates.find((u) => u.id === 'n3')?.state, 'syncing');
  });
});

describe('validator pools', () => {
  const validator = policy({
    name: 'validator',
    role: 'validator',
    size: undefined,
    scaleUp: { cooldown: 0, rules: [] },
    scaleDown: { period: 0, lockAttemptPeriod: 0, rules: [] },
  });

  test('created once, never again', () => {
    const first = decidePool({ ...input(0, 0), policy: validator, everHadNode: false });
    assert.deepEqual(first.actions, [{ kind: 'create', count: 1, cause: 'bootstrap' }]);
    const again = decidePool({ ...input(0, 0), policy: validator, everHadNode: true });
    assert.equal(again.actions.length, 0);
  });

  test('never replaced, even failing every check', () => {
    const i = input(1, 0);
    const nodes = i.nodes.map((n) => ({ ...n, failMarker: 100 }));
    const p = decidePool({
      ...i,
      nodes,
      policy: validator,
      everHadNode: true,
      probes: new Map([['n1', DOWN]]),
    });
    assert.equal(p.actions.length, 0);
    assert.ok(p.reasons.some((r) => r.code === 'validator-never-scaled'));
  });
});

test('paused pools act on nothing', () => {
  const p = decidePool(input(1, 0.99, { paused: true }));
  assert.equal(p.actions.length, 0);
  assert.equal(p.decision, 'hold');
});

test('a ready probe makes a joining node ready and stamps readyAt', () => {
  const i = input(3, 0.5);
  const joining = node('n4', 'syncing');
  const p = decidePool({ ...i, nodes: [...i.nodes, joining], probes: new Map([...i.probes, ['n4', READY]]) });
  const u = p.nodeUpdates.find((x) => x.id === 'n4')!;
  assert.equal(u.state, 'ready');
  assert.equal(u.readyAt, T0);
});

test('nothing is created while the upstream (validator) has no running node', () => {
  const p = decidePool(input(0, 0, { upstreamRunning: false }));
  assert.equal(p.actions.length, 0);
  assert.ok(p.reasons.some((r) => r.code === 'no-upstream'));
  assert.equal(decidePool(input(0, 0, { upstreamRunning: true })).actions.length, 1);
});

test('a node stopped for maintenance is not capacity, not health-checked, not removed', () => {
  const i = input(4, 0.1);
  const nodes = i.nodes.map((n) => (n.id === 'n4' ? { ...n, maintenance: 'snapshot s1' } : n));
  const p = decidePool({ ...i, nodes, probes: new Map([...i.probes, ['n4', DOWN]]) });
  const u = p.nodeUpdates.find((x) => x.id === 'n4')!;
  assert.equal(u.state, 'syncing');
  assert.equal(u.failMarker, 0);
  assert.equal(p.ready, 3);
  assert.ok(!p.actions.some((a) => a.kind === 'remove' && a.nodeId === 'n4'));
});

describe('size set by hand', () => {
  test('grows to the manual size at once, rules and cooldown aside, naming who set it', () => {
    const p = decidePool(
      input(3, 0.1, { manualSize: 5, manualSizeBy: 'alice', clocks: { lastScaleUpAt: T0 - 1_000 } }),
    );
    assert.equal(p.decision, 'scale-up');
    assert.equal(creates(p), 2);
    assert.equal(p.desired, 5);
    assert.deepEqual(p.actions, [{ kind: 'create', count: 2, cause: 'manual-size' }]);
    const r = p.reasons.find((x) => x.code === 'manual-size')!;
    assert.match(r.text, /size set by hand to 5 by alice/);
    assert.ok(!p.reasons.some((x) => x.code === 'rule-fired' || x.code === 'rule-quiet'), 'rules not read');
  });

  test('a firing scale-up rule does not grow past the manual size', () => {
    const p = decidePool(input(4, 0.99, { manualSize: 4, manualSizeBy: 'alice' }));
    assert.equal(p.decision, 'steady');
    assert.equal(p.actions.length, 0);
    assert.equal(p.desired, 4);
  });

  test('kept within [min, max]: never above max, never below min', () => {
    const high = decidePool(input(3, 0.1, { manualSize: 50 }));
    assert.equal(creates(high), 2, 'max 5');
    assert.match(high.reasons.find((x) => x.code === 'manual-size')!.text, /within min 2 and max 5: 5/);
    const low = decidePool(input(2, 0.9, { manualSize: 0 }));
    assert.equal(low.actions.length, 0, 'min 2: nothing removed');
    assert.equal(low.desired, 2);
  });

  test('may go below capacity (down to min), one node at a time through the lock', () => {
    const p = decidePool(input(5, 0.9, { manualSize: 2, clocks: { lastScaleDownAt: T0 - 1_000 } }));
    assert.equal(p.decision, 'scale-down');
    assert.equal(removes(p).length, 1, 'one node, even though three must go');
    assert.equal(removes(p)[0]!.cause, 'manual-size');
    assert.equal(p.needsLock, true);
    assert.equal(p.desired, 4);
    assert.equal(p.clocks.lastScaleDownAt, T0);
  });

  test('a scale-down by hand waits for a node still leaving, and for the lock attempt period', () => {
    const i = input(4, 0.5, { manualSize: 2 });
    const leaving = decidePool({ ...i, nodes: [...i.nodes, node('n9', 'draining')] });
    assert.equal(removes(leaving).length, 0);
    assert.ok(leaving.reasons.some((r) => r.code === 'one-at-a-time'));
    const lock = decidePool(input(4, 0.5, { manualSize: 2, clocks: { lastLockAttemptAt: T0 - 1_000 } }));
    assert.equal(removes(lock).length, 0);
    assert.ok(lock.reasons.some((r) => r.code === 'lock-attempt-period'));
  });

  test('health replacement still runs under a manual size', () => {
    const i = input(3, 0.5, { manualSize: 3 });
    const nodes = i.nodes.map((n) => (n.id === 'n1' ? { ...n, failMarker: 20 } : n));
    const p = decidePool({ ...i, nodes, probes: new Map([...i.probes, ['n1', DOWN]]) });
    assert.equal(p.decision, 'replace');
    assert.deepEqual(removes(p), [{ kind: 'remove', nodeId: 'n1', cause: 'failed-health' }]);
    assert.equal(creates(p), 1);
  });

  test('paused wins over a manual size, and the reason names who paused', () => {
    const p = decidePool(input(3, 0.5, { manualSize: 5, paused: true, pausedBy: 'bob' }));
    assert.equal(p.actions.length, 0);
    assert.match(p.reasons[0]!.text, /paused by bob/);
  });

  test('a manual size waits for the upstream like any creation', () => {
    const p = decidePool(input(3, 0.5, { manualSize: 4, upstreamRunning: false }));
    assert.equal(p.actions.length, 0);
    assert.ok(p.reasons.some((r) => r.code === 'no-upstream'));
  });
});

describe('pools whose nodes join one at a time (etcd members)', () => {
  test('a scale-up of 2 creates 1, and says why', () => {
    const pol = policy({ scaleUp: { cooldown: 0, rules: [upRule({ step: { nodes: 2 } })] } });
    const p = decidePool(input(3, 0.9, { policy: pol, joinsOneAtATime: true }));
    assert.equal(creates(p), 1);
    assert.ok(p.reasons.some((r) => r.code === 'one-join-at-a-time' && /creating 1 of 2/.test(r.text)));
  });

  test('nothing is created while another node joins, and the scale-up is not spent', () => {
    const base = input(3, 0.9, { joinsOneAtATime: true });
    const joining = node('n4', 'syncing', { readyAt: undefined });
    const p = decidePool({
      ...base,
      nodes: [...base.nodes, joining],
      probes: new Map([...base.probes, ['n4', SYNCING]]),
    });
    assert.equal(creates(p), 0);
    assert.equal(p.clocks.lastScaleUpAt, undefined);
    assert.ok(p.reasons.some((r) => r.code === 'one-join-at-a-time' && /n4 \(syncing\)/.test(r.text)));
  });

  test('a pool below min is refilled one node per decision', () => {
    const p = decidePool(input(0, 0, { joinsOneAtATime: true, everHadNode: true }));
    assert.equal(creates(p), 1);
  });
});

describe('values a rule cannot trust hold it', () => {
  // CPU idle in percent: scale down when the pool idles, up when it does not.
  const idle = (over: Partial<ScaleRule> = {}) => ({
    up: upRule({ metric: 'nodes:idle', comparator: '<', threshold: 10, ...over } as never),
    down: downRule({ metric: 'nodes:idle', comparator: '>', threshold: 90, ...over } as never),
  });
  const percent = idle({ valid: { min: 0, max: 100 } });
  const pol = (rules: { up: ScaleRule; down: ScaleRule }, extraUp: ScaleRule[] = []) =>
    policy({
      scaleUp: { cooldown: 0, rules: [rules.up, ...extraUp] },
      scaleDown: { period: 0, lockAttemptPeriod: 0, rules: [rules.down] },
    });
  const ids = ['n1', 'n2', 'n3', 'n4', 'n5'];
  const at = (values: readonly number[], stamp = T0) =>
    samples(
      Object.fromEntries(ids.slice(0, values.length).map((id, i) => [id, values[i]!])),
      stamp,
      'nodes:idle',
    );
  /** Five ready nodes (capacity 3, max 5) reporting the given idle percentages. */
  const pool = (
    rules: { up: ScaleRule; down: ScaleRule },
    current: Sample[],
    over: Partial<DecideInput> = {},
  ) => input(5, 0, { policy: pol(rules), samples: { current, staleAfter: () => 30_000 }, ...over });

  const cases: {
    name: string;
    input: DecideInput;
    /** The reason of the held rule, in full. */
    held: string;
  }[] = [
    {
      name: 'every node at 1e308: the average is infinite',
      input: pool(idle(), at([1e308, 1e308, 1e308, 1e308, 1e308])),
      held: 'scaleUp.rules[0]: avg of nodes:idle over 5 node(s) is Infinity, not a finite number: holding',
    },
    {
      name: 'one node at 1e308 among busy ones, outside valid [0, 100]',
      input: pool(percent, at([5, 5, 5, 5, 1e308])),
      held: 'scaleUp.rules[0]: nodes:idle = 1e+308 on node n5 is outside valid [0, 100]: holding',
    },
    {
      name: 'several nodes outside the range: the first is named, the others counted',
      input: pool(percent, at([150, 95, -1, 95, 101])),
      held: 'scaleUp.rules[0]: nodes:idle = 150 on node n1 is outside valid [0, 100] (and 2 more node(s)): holding',
    },
    {
      name: 'a value below a lone min',
      input: pool(idle({ valid: { min: 0 } }), at([95, 95, 95, 95, -5])),
      held: 'scaleUp.rules[0]: nodes:idle = -5 on node n5 is below valid min 0: holding',
    },
    {
      name: 'a value above a lone max',
      input: pool(idle({ valid: { max: 100 } }), at([95, 95, 95, 100.5, 95])),
      held: 'scaleUp.rules[0]: nodes:idle = 100.5 on node n4 is above valid max 100: holding',
    },
    {
      name: 'NaN on one node among busy ones',
      input: pool(idle(), at([5, 5, 5, 5, Number.NaN])),
      held: 'scaleUp.rules[0]: nodes:idle = NaN on node n5 is not a finite number: holding',
    },
    {
      name: '-Infinity on one node',
      input: pool(idle(), at([95, Number.NEGATIVE_INFINITY, 95, 95, 95])),
      held: 'scaleUp.rules[0]: nodes:idle = -Infinity on node n2 is not a finite number: holding',
    },
    {
      name: 'samples stamped an hour in the future (they would never go stale)',
      input: pool(idle(), at([95, 95, 95, 95, 95], T0 + 3_600_000)),
      held: 'scaleUp.rules[0]: nodes:idle on node n1 is stamped 1h ahead of the clock (more than staleAfter 30s is refused) (and 4 more node(s)): holding',
    },
    {
      name: 'a pool-level value outside the range',
      input: pool(percent, [{ ref: 'nodes:idle', node: undefined, value: 1e308, at: T0 }]),
      held: 'scaleUp.rules[0]: nodes:idle = 1e+308 pool-level is outside valid [0, 100]: holding',
    },
    {
      name: 'a counter rate outside the range',
      input: pool(idle({ rate: true, valid: { min: 0, max: 1000 } }), at([1e12, 1e3, 1e3, 1e3, 1e3]), {
        samples: {
          current: at([1e12, 1e3, 1e3, 1e3, 1e3]),
          previous: at([0, 0, 0, 0, 0], T0 - 10_000),
          staleAfter: () => 30_000,
        },
      }),
      held: 'scaleUp.rules[0]: rate of nodes:idle = 100000000000/s on node n1 is outside valid [0, 1000]: holding',
    },
    {
      name: 'a counter rate that overflows',
      input: pool(idle({ rate: true }), [], {
        samples: {
          current: at([1.7e308, 1e3, 1e3, 1e3, 1e3]),
          previous: at([0, 0, 0, 0, 0], T0 - 1),
          staleAfter: () => 30_000,
        },
      }),
      held: 'scaleUp.rules[0]: rate of nodes:idle on node n1 is not a finite number (0 → 1.7e+308): holding',
    },
    {
      name: 'a NaN counter',
      input: pool(idle({ rate: true }), [], {
        samples: {
          current: at([Number.NaN, 1e3, 1e3, 1e3, 1e3]),
          previous: at([0, 0, 0, 0, 0], T0 - 10_000),
          staleAfter: () => 30_000,
        },
      }),
      held: 'scaleUp.rules[0]: nodes:idle = NaN on node n1 is not a finite number: holding',
    },
  ];
  for (const c of cases)
    test(`${c.name}: neither scale-up nor scale-down, and the decision is hold`, () => {
      const p = decidePool(c.input);
      assert.equal(p.decision, 'hold', JSON.stringify(p.reasons));
      assert.equal(creates(p), 0);
      assert.equal(removes(p).length, 0);
      const held = p.reasons.filter((r) => r.code === 'metric-invalid').map((r) => r.text);
      assert.equal(held[0], c.held);
      assert.equal(
        held[1],
        c.held.replace('scaleUp.rules[0]', 'scaleDown.rules[0]'),
        'the down rule holds too',
      );
    });

  test('a sample stamped up to staleAfter ahead of the clock is read as usual', () => {
    const p = decidePool(pool(idle(), at([95, 95, 95, 95, 95], T0 + 30_000)));
    assert.equal(p.decision, 'scale-down');
  });

  test('the same values inside the valid range scale as usual', () => {
    assert.equal(decidePool(pool(percent, at([95, 95, 95, 95, 100]))).decision, 'scale-down');
    const four = { ...pool(percent, at([0, 5, 5, 10])), nodes: input(4, 0).nodes };
    assert.equal(decidePool(four).decision, 'scale-up');
  });

  test('at capacity, a held rule makes the decision hold, not steady', () => {
    const p = decidePool({ ...pool(percent, at([50, 50, 1e308])), nodes: input(3, 0).nodes });
    assert.equal(p.decision, 'hold');
    assert.ok(p.reasons.some((r) => r.code === 'at-capacity'));
  });

  test('a held scale-up rule blocks a scale-down that other rules agree on', () => {
    const rules = {
      up: percent.up,
      down: downRule({ metric: 'nodes:load', comparator: '<', threshold: 0.3 }),
    };
    const current = [
      ...at([95, 95, 95, 95, 1e308]),
      ...samples({ n1: 0.1, n2: 0.1, n3: 0.1, n4: 0.1, n5: 0.1 }),
    ];
    const p = decidePool(pool(rules, current));
    assert.equal(p.decision, 'hold');
    assert.equal(removes(p).length, 0);
    assert.ok(p.reasons.some((r) => r.code === 'rule-agrees'));
    assert.ok(
      p.reasons.some(
        (r) => r.text === 'scale-down held: scaleUp.rules[0] read a value that cannot be trusted',
      ),
    );
  });

  test('another scale-up rule with positive evidence still scales up', () => {
    const busy = upRule({ metric: 'nodes:load', comparator: '>', threshold: 0.8 });
    const i = pool(percent, [
      ...at([50, 50, 50, 50, 1e308]),
      ...samples({ n1: 0.9, n2: 0.9, n3: 0.9, n4: 0.9, n5: 0.9 }),
    ]);
    const p = decidePool({ ...i, policy: pol(percent, [busy]), nodes: i.nodes.slice(0, 4) });
    assert.equal(p.decision, 'scale-up');
    assert.equal(creates(p), 1);
  });

  test('health replacement runs as with missing metrics', () => {
    const i = pool(percent, at([50, 50, 1e308]));
    const nodes = input(3, 0).nodes.map((n) => (n.id === 'n1' ? { ...n, failMarker: 20 } : n));
    const p = decidePool({ ...i, nodes, probes: new Map([...i.probes, ['n1', DOWN]]) });
    assert.equal(p.decision, 'replace');
    assert.deepEqual(removes(p), [{ kind: 'remove', nodeId: 'n1', cause: 'failed-health' }]);
    assert.equal(creates(p), 1);
  });

  test('a pool below capacity returns to it as with missing metrics', () => {
    const i = pool(percent, at([5, 1e308]));
    const p = decidePool({ ...i, nodes: input(2, 0).nodes });
    assert.equal(p.decision, 'replenish');
    assert.deepEqual(p.actions, [{ kind: 'create', count: 1, cause: 'below-capacity' }]);
  });
});
