// Rampart's own policy in the simulator: every evaluation it calls the core's decidePool — the
// same function the controller calls through planPool — with the simulated pool's nodes as
// NodeRecords, their probes, the scraped samples and the persisted clocks, then applies the
// plan to the model the way the controller applies it to a provider: removals first (a removed
// node is gone at once), then creations (pending until the model's delay has passed).

import type { Config, PoolConfig } from '../config/schema.ts';
import { type DecideInput, decidePool, type PoolClocks, type PoolPlan } from '../core/decide.ts';
import type { NodeRecord } from '../core/node-lifecycle.ts';
import type { PoolHistory } from '../core/pool-history.ts';
import type { NodeKindCapabilities, NodeProbe, Sample } from '../core/types.ts';
import type { SimNode, SimPool } from './model.ts';
import type { PolicyContext, Scrape, SimPolicy } from './policy.ts';

/** The metric references the simulator delivers, and nothing else. */
export const SIM_UTILIZATION = 'sim:utilization';
export const SIM_LOAD = 'sim:load';
export const SIM_REFS: readonly string[] = [SIM_UTILIZATION, SIM_LOAD];

/** Simulated seconds map to this wall-clock epoch (ms) in NodeRecords, samples and clocks. */
export const SIM_EPOCH_MS = Date.UTC(2026, 0, 1);

export const toMs = (t: number): number => SIM_EPOCH_MS + Math.round(t * 1000);

/** What a ready node's probe reports. */
export const READY_PROBE: NodeProbe = Object.freeze({ reachable: true, ready: true, healthy: true });
/** What a node still provisioning or restoring reports. */
export const JOINING_PROBE: NodeProbe = Object.freeze({
  reachable: true,
  ready: false,
  healthy: true,
  catchingUp: true,
  detail: 'restoring',
});
/** What a failed node reports: nothing. */
export const FAILED_PROBE: NodeProbe = Object.freeze({
  reachable: false,
  ready: false,
  healthy: false,
  detail: 'unreachable (failed)',
});

/** A pool the simulator cannot run, with every reason; each names the field. */
export class SimPoolError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'SimPoolError';
    this.problems = problems;
  }
}

/**
 * Picks the pool to simulate and checks it can be: it exists, is scaled (has a size), and its
 * rules read only sim:utilization and sim:load. Throws SimPoolError naming each offending rule.
 */
export function simulatedPool(config: Config, name: string): PoolConfig {
  const index = config.pools.findIndex((p) => p.name === name);
  const pool = config.pools[index];
  if (!pool)
    throw new SimPoolError([
      `pool "${name}" is not in the config (pools: ${config.pools.map((p) => p.name).join(', ')})`,
    ]);
  const problems: string[] = [];
  const at = `pools[${index}] (${pool.name})`;
  if (pool.role === 'validator' || !pool.size)
    problems.push(`${at}: a ${pool.role} pool without a size is never scaled: nothing to simulate`);
  for (const phase of ['scaleUp', 'scaleDown'] as const)
    pool[phase].rules.forEach((rule, i) => {
      if (!SIM_REFS.includes(rule.metric))
        problems.push(
          `${at}.${phase}.rules[${i}]: metric "${rule.metric}" is not one the simulator delivers (${SIM_REFS.join(', ')})`,
        );
    });
  if (pool.scaleIn.busyMetric !== undefined && !SIM_REFS.includes(pool.scaleIn.busyMetric))
    problems.push(
      `${at}.scaleIn.busyMetric: metric "${pool.scaleIn.busyMetric}" is not one the simulator delivers (${SIM_REFS.join(', ')})`,
    );
  if (pool.scaleUp.rules.length + pool.scaleDown.rules.length === 0)
    problems.push(`${at}: has no scale rules to simulate`);
  if (!config.metrics.some((m) => m.name === 'sim'))
    problems.push('metrics: the config defines no source named "sim" for the simulator to feed');
  if (problems.length > 0) throw new SimPoolError(problems);
  return pool;
}

/** The samples one scrape delivers: pool-level sim:utilization and sim:load. */
export function scrapeSamples(scrape: Scrape): Sample[] {
  if (scrape.utilization === undefined || scrape.loadPerNode === undefined) return [];
  const at = toMs(scrape.t);
  return [
    { ref: SIM_UTILIZATION, node: undefined, value: scrape.utilization, at },
    { ref: SIM_LOAD, node: undefined, value: scrape.loadPerNode, at },
  ];
}

/** Stale-after by metric source, as the controller computes it from the config (ms). */
export function staleAfterBySource(config: Config): ReadonlyMap<string, number> {
  return new Map(config.metrics.map((m) => [m.name, m.staleAfter]));
}

/**
 * A node record with the simulator's one key order. Every record the simulator keeps is built
 * here, whether new or updated, so the core's walk over thousands of them each tick reads
 * objects of a single shape (the same fields and values a spread would give).
 */
function simRecord(r: NodeRecord): NodeRecord {
  return {
    id: r.id,
    pool: r.pool,
    state: r.state,
    createdAt: r.createdAt,
    readyAt: r.readyAt,
    joinStartedAt: r.joinStartedAt,
    joinAttempts: r.joinAttempts,
    failMarker: r.failMarker,
    stateReason: r.stateReason,
  };
}

export interface RampartPolicyOptions {
  /** The whole config: evaluation interval and metric staleness come from it. */
  readonly config: Config;
  readonly pool: PoolConfig;
  /** Restored-but-idle nodes kept beside the pool (a simulator option). Default 0. */
  readonly warmPool?: number | undefined;
  /** What the pool's node kind can do, as the controller reads it from the node kind. */
  readonly capabilities: NodeKindCapabilities;
  /** Sees every decision's input and plan (the shared-code-path test uses it). */
  readonly onDecision?: ((input: DecideInput, plan: PoolPlan) => void) | undefined;
}

export function rampartPolicy(_ctx: PolicyContext, opts: RampartPolicyOptions): SimPolicy {
  const { config, pool: policy } = opts;
  const staleAfter = staleAfterBySource(config);
  const staleAfterOf = (ref: string) => staleAfter.get(ref.slice(0, ref.indexOf(':'))) ?? 30_000;
  // The controller ticks at the shorter of the evaluation interval and the health check interval.
  const interval = Math.min(config.controller.evaluationInterval, policy.health.checkInterval) / 1000;
  const upstreamRunning = policy.node.validatorPool === undefined ? undefined : true;

  const records: NodeRecord[] = [];
  const simNodes = new Map<string, SimNode>();
  const probes = new Map<string, NodeProbe>();
  /** Nodes whose model state may change by itself (pending), or that failed: checked every tick. */
  const watched = new Set<SimNode>();
  let current: Sample[] = [];
  let previous: Sample[] = [];
  let clocks: PoolClocks = {};
  /** The pool's memory, kept between ticks as the controller keeps it (with the pool's state). */
  let history: PoolHistory | undefined;

  const addRecord = (record: NodeRecord, node: SimNode) => {
    records.push(simRecord(record));
    simNodes.set(record.id, node);
  };
  // Few records change per tick: a search from the newest end beats keeping an index.
  const indexOf = (id: string): number => {
    for (let i = records.length - 1; i >= 0; i--) if (records[i]!.id === id) return i;
    throw new Error(`simulator: no record of node ${id}`);
  };
  const probeOf = (node: SimNode): NodeProbe =>
    node.state === 'ready' ? READY_PROBE : node.state === 'pending' ? JOINING_PROBE : FAILED_PROBE;
  const refreshProbes = (pool: SimPool) => {
    for (const node of pool.failed) watched.add(node);
    for (const node of watched) {
      if (node.gone) {
        watched.delete(node);
        continue;
      }
      probes.set(node.id, probeOf(node));
      if (node.state === 'ready') watched.delete(node);
    }
  };

  return {
    name: 'rampart',
    interval,
    warmPool: opts.warmPool,
    start(t, pool) {
      const now = toMs(t);
      for (const node of [...pool.ready, ...pool.pending]) {
        const ready = node.state === 'ready';
        addRecord(
          {
            id: node.id,
            pool: policy.name,
            state: ready ? 'ready' : 'provisioning',
            createdAt: now,
            readyAt: ready ? now : undefined,
            joinStartedAt: now,
            joinAttempts: 0,
            failMarker: 0,
            stateReason: ready ? 'ready' : 'restoring',
          },
          node,
        );
        probes.set(node.id, probeOf(node));
        if (!ready) watched.add(node);
      }
    },
    observe(scrape) {
      previous = current;
      current = scrapeSamples(scrape);
    },
    decide(t: number, pool: SimPool): number {
      const now = toMs(t);
      refreshProbes(pool);
      const input: DecideInput = {
        policy,
        now,
        nodes: records,
        probes,
        samples: { current, previous, staleAfter: staleAfterOf },
        clocks,
        paused: false,
        everHadNode: true,
        connectedToUpstream: undefined,
        upstreamRunning,
        joinsOneAtATime: opts.capabilities.joinsOneAtATime,
        history,
        historyRetention: config.controller.historyRetention,
      };
      const plan = decidePool(input);
      opts.onDecision?.(input, plan);

      for (const u of plan.nodeUpdates) {
        const i = indexOf(u.id);
        records[i] = simRecord({ ...records[i]!, ...u });
      }
      clocks = plan.clocks;
      history = plan.history;
      let sized = false;
      for (const action of plan.actions) {
        if (action.kind === 'remove') {
          pool.remove(t, simNodes.get(action.nodeId)!);
          simNodes.delete(action.nodeId);
          probes.delete(action.nodeId);
          records.splice(indexOf(action.nodeId), 1);
          if (action.cause === 'scale-down' || action.cause === 'above-max') sized = true;
        } else if (action.kind === 'rejoin') {
          const node = simNodes.get(action.nodeId)!;
          pool.restart(t, node);
          const i = indexOf(action.nodeId);
          records[i] = simRecord({
            ...records[i]!,
            state: 'provisioning',
            joinStartedAt: now,
            joinAttempts: action.attempt,
          });
          probes.set(node.id, probeOf(node));
          watched.add(node);
        }
      }
      for (const action of plan.actions) {
        if (action.kind !== 'create') continue;
        if (action.cause === 'scale-up' || action.cause === 'below-capacity') sized = true;
        for (const node of pool.create(t, action.count)) {
          addRecord(
            {
              id: node.id,
              pool: policy.name,
              state: 'provisioning',
              createdAt: now,
              joinStartedAt: now,
              joinAttempts: 0,
              failMarker: 0,
              stateReason: `created (${action.cause})`,
            },
            node,
          );
          probes.set(node.id, probeOf(node));
          watched.add(node);
        }
      }
      return sized ? 1 : 0;
    },
  };
}
