// The scale rules of a pool, read against its ready nodes: what the scale-up rules ask for (the
// largest wins, once the cooldown has passed), whether every scale-down rule agrees, and why.

import { formatDuration, remaining } from './duration.ts';
import { formatNumber } from './format.ts';
import type { PoolPolicy, ScaleRule } from './policy.ts';
import type { RuleLoad } from './pool-history.ts';
import type { Reason } from './pool-plan.ts';
import { compare, type RuleReading, readRule, type SampleWindow } from './rule-evaluation.ts';

/** What the scale-up rules ask for. */
export interface ScaleUpVerdict {
  /** The largest size a rule asks for; `base` when none fired, or during the cooldown. */
  readonly desired: number;
  /** Some rule fired, cooldown or not. */
  readonly fired: boolean;
  /** Names of the rules held by a value they cannot trust (`scaleUp.rules[0]`). */
  readonly held: readonly string[];
  /**
   * Nodes the load needs, fractional: the largest `ready × value / target` of the target rules
   * that read their metric (undefined when none did, or none is a target rule).
   */
  readonly need: number | undefined;
  /** Each target rule and its load (ready × value) when it read its metric, for the pool's history. */
  readonly loads: readonly RuleLoad[];
  /** The largest size a rule asked for, cooldown or not (undefined when no rule could read). */
  readonly ask: number | undefined;
  readonly reasons: readonly Reason[];
}

/**
 * Reads every scale-up rule over the ready nodes. A rule held by a value it cannot trust
 * (absurd, not finite, from the future) never fires; a missing metric never fires either.
 */
export function scaleUpRules(
  scaleUp: PoolPolicy['scaleUp'],
  readyIds: readonly string[],
  samples: SampleWindow,
  now: number,
  base: number,
  lastScaleUpAt: number | undefined,
): ScaleUpVerdict {
  let desired = base;
  let fired = false;
  let need: number | undefined;
  let ask: number | undefined;
  const loads: RuleLoad[] = [];
  const held: string[] = [];
  const reasons: Reason[] = [];
  scaleUp.rules.forEach((rule, i) => {
    const name = `scaleUp.rules[${i}]`;
    const reading = readRule(rule, readyIds, samples, now);
    const r = evaluateUp(rule, reading, base, readyIds.length);
    if (r.fired) {
      fired = true;
      desired = Math.max(desired, r.desired);
    }
    if (rule.kind === 'target') {
      // Every target rule, read or not (a metric missing for a tick keeps the rule's series);
      // two rules on one metric are one series, the first's.
      const metric = `${rule.metric} ${rule.aggregate}${rule.rate ? ' rate' : ''}`;
      const load =
        reading.status === 'ok' && readyIds.length > 0 ? readyIds.length * reading.value : undefined;
      if (!loads.some((l) => l.metric === metric)) loads.push({ metric, target: rule.target, load });
    }
    if (reading.status === 'ok') {
      if (rule.kind === 'target' && readyIds.length > 0) {
        const n = (readyIds.length * reading.value) / rule.target;
        if (Number.isFinite(n) && (need === undefined || n > need)) need = n;
      }
      if ((rule.kind === 'target' || r.fired) && (ask === undefined || r.desired > ask)) ask = r.desired;
    }
    if (reading.status === 'invalid') held.push(name);
    reasons.push({
      code: reading.status === 'invalid' ? 'metric-invalid' : r.fired ? 'rule-fired' : 'rule-quiet',
      text: `${name}: ${r.text}`,
      rule: name,
      ...r.figures,
    });
  });
  const cooldownLeft = remaining(lastScaleUpAt, scaleUp.cooldown, now);
  if (fired && cooldownLeft > 0) {
    reasons.push({
      code: 'cooldown',
      text: `scale-up cooldown: ${formatDuration(cooldownLeft)} of ${formatDuration(scaleUp.cooldown)} remaining`,
      cooldownRemainingMs: cooldownLeft,
    });
    desired = base;
  }
  return { desired, fired, held, need, loads, ask, reasons };
}

/** Whether the scale-down rules agree on removing a node. */
export interface ScaleDownVerdict {
  /** Every rule agrees (a held or missing rule does not). */
  readonly agree: boolean;
  /** Names of the rules held by a value they cannot trust (`scaleDown.rules[0]`). */
  readonly held: readonly string[];
  readonly reasons: readonly Reason[];
}

/**
 * Reads every scale-down rule over the ready nodes. A rule agrees only on a full reading:
 * while some ready node does not report, it holds.
 */
export function scaleDownRules(
  rules: readonly ScaleRule[],
  readyIds: readonly string[],
  samples: SampleWindow,
  now: number,
  base: number,
): ScaleDownVerdict {
  let agree = true;
  const held: string[] = [];
  const reasons: Reason[] = [];
  rules.forEach((rule, i) => {
    const name = `scaleDown.rules[${i}]`;
    const reading = readRule(rule, readyIds, samples, now);
    const r = evaluateDown(rule, reading, base, readyIds.length);
    if (!r.agrees) agree = false;
    if (reading.status === 'invalid') held.push(name);
    reasons.push({
      code: reading.status === 'invalid' ? 'metric-invalid' : r.agrees ? 'rule-agrees' : 'rule-disagrees',
      text: `${name}: ${r.text}`,
      rule: name,
      ...r.figures,
    });
  });
  return { agree, held, reasons };
}

interface RuleVerdict {
  readonly text: string;
  readonly figures: { value?: number; threshold?: number };
}

function describeReading(rule: ScaleRule, reading: RuleReading & { status: 'ok' }): string {
  const coverage =
    reading.nodesReporting === 0
      ? ' (pool-level)'
      : reading.nodesReporting < reading.nodesExpected
        ? ` (${reading.nodesReporting} of ${reading.nodesExpected} ready nodes reporting)`
        : '';
  return `${rule.aggregate}${rule.rate ? ' rate of' : ''} ${rule.metric} = ${formatNumber(reading.value)}${coverage}`;
}

/** Target tracking: ceil(ready × value / target), or `base` within the dead band. */
function targetDesired(
  rule: ScaleRule & { kind: 'target' },
  value: number,
  ready: number,
  base: number,
): number {
  const ratio = value / rule.target;
  if (Math.abs(ratio - 1) <= rule.tolerance) return base;
  if (ready === 0) return value > 0 ? Math.max(base, 1) : base;
  return Math.ceil(ready * ratio);
}

function evaluateUp(
  rule: ScaleRule,
  reading: RuleReading,
  base: number,
  ready: number,
): RuleVerdict & { fired: boolean; desired: number } {
  if (reading.status === 'missing')
    return {
      fired: false,
      desired: base,
      text: `holds: ${rule.metric} missing (${reading.why})`,
      figures: {},
    };
  if (reading.status === 'invalid')
    return { fired: false, desired: base, text: `${reading.why}: holding`, figures: {} };
  const seen = describeReading(rule, reading);
  if (rule.kind === 'target') {
    const desired = targetDesired(rule, reading.value, ready, base);
    const fired = desired > base;
    return {
      fired,
      desired,
      text: `${seen}, target ${formatNumber(rule.target)} → ${desired} nodes${fired ? '' : ' (no increase)'}`,
      figures: { value: reading.value, threshold: rule.target },
    };
  }
  const fired = compare(reading.value, rule.comparator, rule.threshold);
  const step =
    'nodes' in rule.step ? rule.step.nodes : Math.max(1, Math.ceil((base * rule.step.percent) / 100));
  return {
    fired,
    desired: base + step,
    text: `${seen} ${fired ? '' : 'not '}${rule.comparator} ${formatNumber(rule.threshold)}${fired ? ` → +${step}` : ''}`,
    figures: { value: reading.value, threshold: rule.threshold },
  };
}

function evaluateDown(
  rule: ScaleRule,
  reading: RuleReading,
  base: number,
  ready: number,
): RuleVerdict & { agrees: boolean } {
  if (reading.status === 'missing')
    return { agrees: false, text: `holds: ${rule.metric} missing (${reading.why})`, figures: {} };
  if (reading.status === 'invalid') return { agrees: false, text: `${reading.why}: holding`, figures: {} };
  const seen = describeReading(rule, reading);
  if (reading.nodesReporting > 0 && reading.nodesReporting < reading.nodesExpected)
    return {
      agrees: false,
      text: `holds: ${seen}; every ready node must report before a scale-down`,
      figures: {},
    };
  if (rule.kind === 'target') {
    const desired = targetDesired(rule, reading.value, ready, base);
    return {
      agrees: desired < base,
      text: `${seen}, target ${formatNumber(rule.target)} → ${desired} nodes`,
      figures: { value: reading.value, threshold: rule.target },
    };
  }
  const agrees = compare(reading.value, rule.comparator, rule.threshold);
  return {
    agrees,
    text: `${seen} ${agrees ? '' : 'not '}${rule.comparator} ${formatNumber(rule.threshold)}`,
    figures: { value: reading.value, threshold: rule.threshold },
  };
}
