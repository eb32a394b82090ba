// Runs Rampart's policy and the chosen baselines on one trace, the oracle always among them,
// and scores each against the oracle.

import type { Config, PoolConfig } from '../config/schema.ts';
import type { DecideInput, PoolPlan } from '../core/decide.ts';
import type { NodeKindCapabilities } from '../core/types.ts';
import { awsPolicy } from './aws.ts';
import { type RunResult, runSimulation } from './engine.ts';
import { gcePolicy } from './gce.ts';
import { heatPolicy } from './heat.ts';
import { hpaPolicy } from './hpa.ts';
import { DEFAULT_MODEL, type ModelOptions } from './model.ts';
import { oraclePolicy } from './oracle.ts';
import type { PolicyContext, SimPolicy } from './policy.ts';
import { rampartPolicy } from './rampart-policy.ts';
import { findSteps, type Score, score } from './scoring.ts';
import type { Trace } from './trace.ts';

export const BASELINES = ['hpa', 'heat', 'gce', 'aws', 'oracle'] as const;
export type BaselineName = (typeof BASELINES)[number];

export interface SimulationSetup {
  readonly config: Config;
  /** The simulated pool (checked with simulatedPool). */
  readonly pool: PoolConfig;
  readonly model: ModelOptions;
  /** What the pool's node kind can do (joins one at a time), as the controller reads it. */
  readonly capabilities: NodeKindCapabilities;
  /** Baselines to run beside Rampart's policy; the oracle runs in any case. */
  readonly baselines: readonly BaselineName[];
  readonly onDecision?: ((input: DecideInput, plan: PoolPlan) => void) | undefined;
}

export interface TraceOutcome {
  readonly trace: Trace;
  /** Times of the trace's load steps, s. */
  readonly steps: readonly number[];
  /** Rampart's run first, then the baselines in the order asked, the oracle last. */
  readonly runs: readonly RunResult[];
  readonly scores: readonly Score[];
}

/** The model for a config: the scrape interval defaults to the controller's evaluation interval. */
export function modelFor(config: Config, overrides: Partial<ModelOptions> = {}): ModelOptions {
  return { ...DEFAULT_MODEL, scrapeInterval: config.controller.evaluationInterval / 1000, ...overrides };
}

export function makePolicy(
  name: 'rampart' | BaselineName,
  ctx: PolicyContext,
  setup: SimulationSetup,
): SimPolicy {
  switch (name) {
    case 'rampart':
      return rampartPolicy(ctx, {
        config: setup.config,
        pool: setup.pool,
        warmPool: setup.model.warmPool,
        capabilities: setup.capabilities,
        onDecision: setup.onDecision,
      });
    case 'hpa':
      return hpaPolicy(ctx);
    case 'heat':
      return heatPolicy(ctx);
    case 'gce':
      return gcePolicy(ctx);
    case 'aws':
      return awsPolicy(ctx);
    case 'oracle':
      return oraclePolicy(ctx);
  }
}

export function simulateTrace(trace: Trace, setup: SimulationSetup): TraceOutcome {
  const ctx: PolicyContext = { size: setup.pool.size!, model: setup.model, trace };
  const names: ('rampart' | BaselineName)[] = [
    'rampart',
    ...setup.baselines.filter((b) => b !== 'oracle'),
    'oracle',
  ];
  const runs = names.map((name) => runSimulation(ctx, makePolicy(name, ctx, setup)));
  const oracle = runs[runs.length - 1]!;
  const steps = findSteps(trace, { minRise: setup.model.nodeCapacity });
  return { trace, steps, runs, scores: runs.map((run) => score(run, oracle, steps)) };
}
