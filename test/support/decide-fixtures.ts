// Builders for the core's decision tests: a policy, nodes and samples with sensible defaults, so each
// test states only what it is about.

import type { DecideInput } from '../../src/core/decide.ts';
import type { NodeRecord } from '../../src/core/node-lifecycle.ts';
import type { PoolPolicy, ScaleRule } from '../../src/core/policy.ts';
import type { NodeProbe, NodeState, Sample } from '../../src/core/types.ts';

export const T0 = 1_700_000_000_000;

export function policy(over: Partial<PoolPolicy> = {}): PoolPolicy {
  return {
    name: 'sentries',
    role: 'sentry',
    size: { min: 2, capacity: 3, max: 5 },
    scaleUp: { cooldown: 240_000, rules: [upRule()] },
    scaleDown: { period: 200_000, lockAttemptPeriod: 10_000, rules: [downRule()] },
    health: { checkInterval: 10_000, failTolerance: 20, joinRetries: 3, joinTimeout: 600_000 },
    scaleIn: { select: 'least-busy' },
    ...over,
  };
}

export function upRule(over: Partial<ScaleRule> = {}): ScaleRule {
  return {
    kind: 'threshold',
    metric: 'nodes:load',
    aggregate: 'avg',
    comparator: '>',
    threshold: 0.8,
    step: { nodes: 1 },
    rate: false,
    ...over,
  } as ScaleRule;
}

export function downRule(over: Partial<ScaleRule> = {}): ScaleRule {
  return {
    kind: 'threshold',
    metric: 'nodes:load',
    aggregate: 'avg',
    comparator: '<',
    threshold: 0.3,
    step: { nodes: 1 },
    rate: false,
    ...over,
  } as ScaleRule;
}

export function node(id: string, state: NodeState = 'ready', over: Partial<NodeRecord> = {}): NodeRecord {
  return {
    id,
    pool: 'sentries',
    state,
    createdAt: T0 - 3_600_000,
    readyAt: state === 'ready' ? T0 - 3_000_000 : undefined,
    joinStartedAt: T0 - 3_600_000,
    joinAttempts: 0,
    failMarker: 0,
    ...over,
  };
}

export const READY: NodeProbe = { reachable: true, ready: true, healthy: true, catchingUp: false, peers: 3 };
export const DOWN: NodeProbe = { reachable: false, ready: false, healthy: false, detail: 'unreachable' };
export const SYNCING: NodeProbe = {
  reachable: true,
  ready: false,
  healthy: true,
  catchingUp: true,
  detail: 'catching up',
};

export function samples(values: Record<string, number>, at = T0, ref = 'nodes:load'): Sample[] {
  return Object.entries(values).map(([nodeId, value]) => ({ ref, node: nodeId, value, at }));
}

/** A decide input over ready nodes n1..nN all probing ready and reporting `load`. */
export function input(
  n: number,
  load: number | readonly number[],
  over: Partial<DecideInput> = {},
): DecideInput {
  const nodes = Array.from({ length: n }, (_, i) =>
    node(`n${i + 1}`, 'ready', { createdAt: T0 - 3_600_000 + i }),
  );
  const loads = Array.isArray(load) ? load : nodes.map(() => load as number);
  return {
    policy: policy(),
    now: T0,
    nodes,
    probes: new Map(nodes.map((x) => [x.id, READY])),
    samples: {
      current: samples(Object.fromEntries(nodes.map((x, i) => [x.id, loads[i] ?? 0]))),
      staleAfter: () => 30_000,
    },
    clocks: {},
    ...over,
  };
}
