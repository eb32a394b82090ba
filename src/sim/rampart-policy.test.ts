// Rampart's policy in the simulator is the controller's decision, not a copy of it: for the
// same observations, planPool (what the controller and `rampart plan` call) returns the plan
// the simulator applied.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { parseConfigText } from '../config/load.ts';
import type { PoolObservation } from '../controller/observe.ts';
import { planPool } from '../controller/plan-pool.ts';
import type { PoolPlan } from '../core/decide.ts';
import { createNodeKind } from '../nodes/registry.ts';
import type { PoolState, StoredNode } from '../store/store.ts';
import {
  SIM_LOAD,
  SIM_UTILIZATION,
  SimPoolError,
  scrapeSamples,
  simulatedPool,
  toMs,
} from './rampart-policy.ts';
import { modelFor, simulateTrace } from './simulate.ts';
import { generateTrace } from './trace-generator.ts';

const { config } = parseConfigText(readFileSync('examples/simulate.yaml', 'utf8'), 'examples/simulate.yaml');
const pool = simulatedPool(config, 'sentries');
const capabilities = createNodeKind(pool, config).capabilities;

/**
 * Runs the simulator and, at every one of Rampart's decisions, asks planPool — the controller's
 * entry to the core — for its plan over the same observations; the two must be deep-equal.
 */
function compareWithController(trace: ReturnType<typeof generateTrace>, model: ReturnType<typeof modelFor>) {
  const staleAfterBySource = new Map(config.metrics.map((m) => [m.name, m.staleAfter]));
  const decisions: PoolPlan[] = [];
  let previousPlan: PoolPlan | undefined;
  simulateTrace(trace, {
    config,
    pool,
    model,
    capabilities,
    baselines: [],
    onDecision(input, plan) {
      // The controller's view of the same moment: stored nodes, their probes, the samples of
      // this tick and the one before, the persisted clocks.
      const nodes: StoredNode[] = input.nodes.map((n) => ({
        ...n,
        provider: pool.provider,
        actionId: 'a-sim',
        registered: false,
        updatedAt: input.now,
      }));
      const observation: PoolObservation = {
        pool,
        nodes,
        instances: new Map(),
        probes: input.probes,
        upstream: [],
        connectedToUpstream: undefined,
      };
      const state: PoolState = {
        name: pool.name,
        paused: false,
        everHadNode: true,
        clocks: input.clocks,
        history: input.history,
      };
      const controller = planPool(
        pool,
        observation,
        state,
        input.now,
        { current: input.samples.current, previous: input.samples.previous ?? [] },
        staleAfterBySource,
        capabilities,
        config.controller.historyRetention,
      );
      assert.deepEqual(plan, controller.plan);
      // The simulator applied the previous plan in full: this tick sees its desired size.
      if (previousPlan) assert.equal(input.nodes.length, previousPlan.desired, `at ${input.now}`);
      previousPlan = plan;
      decisions.push(plan);
    },
  });
  return decisions;
}

describe("Rampart's policy in the simulator", () => {
  test('decides exactly what the controller decides for the same observations (one code path)', () => {
    // Two bursts and failures: scale-ups, scale-downs, health replacements and holds all occur.
    const trace = generateTrace('ddos', { bursts: 2, duration: 3600, noise: 0.05 });
    const decisions = compareWithController(trace, modelFor(config, { failureRate: 1, seed: 5 }));
    const kinds = new Set(decisions.map((p) => p.decision));
    const causes = new Set<string>(
      decisions.flatMap((p) => p.actions.map((a) => (a.kind === 'rejoin' ? 'rejoin' : a.cause))),
    );
    for (const d of ['scale-up', 'scale-down', 'replace', 'hold', 'steady'])
      assert.ok(kinds.has(d as PoolPlan['decision']), `no ${d} decision was compared: ${[...kinds]}`);
    for (const c of ['scale-up', 'scale-down', 'failed-health'])
      assert.ok(causes.has(c), `no ${c} action was compared: ${[...causes]}`);
  });

  test('the same holds when samples go stale between scrapes', () => {
    // Scrapes every 50 s against staleAfter 30 s: some decisions see only stale samples.
    const trace = generateTrace('flash-crowd', { duration: 3600 });
    const decisions = compareWithController(trace, modelFor(config, { scrapeInterval: 50 }));
    assert.ok(decisions.some((p) => p.reasons.some((r) => /stale/.test(r.text))));
    assert.ok(decisions.some((p) => p.decision === 'scale-up'));
  });

  test('metrics arrive as pool-level samples named sim:utilization and sim:load, stamped with the scrape time', () => {
    assert.deepEqual(scrapeSamples({ t: 20, utilization: 1, loadPerNode: 250, ready: 4 }), [
      { ref: SIM_UTILIZATION, node: undefined, value: 1, at: toMs(20) },
      { ref: SIM_LOAD, node: undefined, value: 250, at: toMs(20) },
    ]);
    assert.deepEqual(scrapeSamples({ t: 20, utilization: undefined, loadPerNode: undefined, ready: 0 }), []);
  });

  test('a stale scrape holds: with the scrape interval above staleAfter, no scale-up without fresh evidence', () => {
    const decisions: PoolPlan[] = [];
    const trace = generateTrace('ddos', { duration: 1800 });
    simulateTrace(trace, {
      config,
      pool,
      model: modelFor(config, { scrapeInterval: 120 }),
      capabilities,
      baselines: [],
      onDecision: (_input, plan) => decisions.push(plan),
    });
    const stale = decisions.filter((p) => p.reasons.some((r) => /stale/.test(r.text)));
    assert.ok(stale.length > 0);
    assert.ok(stale.every((p) => p.decision !== 'scale-up' && p.decision !== 'scale-down'));
  });

  test('a rule on another metric is refused, naming the rule', () => {
    const text = readFileSync('examples/simulate.yaml', 'utf8').replace(
      'metric: "sim:load", target: 90, tolerance: 0 }',
      'metric: "sim:cpu", target: 90, tolerance: 0 }',
    );
    const other = parseConfigText(text, 'x.yaml').config;
    assert.throws(
      () => simulatedPool(other, 'sentries'),
      (e: unknown) =>
        e instanceof SimPoolError &&
        /pools\[0\] \(sentries\)\.scaleUp\.rules\[0\]: metric "sim:cpu" is not one the simulator delivers \(sim:utilization, sim:load\)/.test(
          e.message,
        ),
    );
    assert.throws(
      () => simulatedPool(config, 'nope'),
      /pool "nope" is not in the config \(pools: sentries, sentries-reactive, sentries-rate, /,
    );
  });
});
