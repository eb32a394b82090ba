// Turns one pool's observation and stored state into the core's plan. Shared by the
// controller (which then acts) and `rampart plan` (which only prints): one code path.

import type { PoolConfig } from '../config/schema.ts';
import type { PoolPlan } from '../core/decide.ts';
import type { NodeKindCapabilities, Sample } from '../core/types.ts';
import { decideWithWarmPool } from '../core/warm-pool.ts';
import type { PoolState, StoredNode } from '../store/store.ts';
import type { PoolObservation } from './observe.ts';

export interface PoolPlanning {
  readonly plan: PoolPlan;
  /** Live nodes the plan was made over (vanished ones excluded). */
  readonly nodes: readonly StoredNode[];
  /** Nodes whose instance is gone: they are failed and hold no slot any more. */
  readonly vanished: readonly StoredNode[];
}

export function emptyPoolState(name: string): PoolState {
  return { name, paused: false, everHadNode: false, clocks: {} };
}

export function planPool(
  pool: PoolConfig,
  po: PoolObservation,
  state: PoolState,
  at: number,
  samples: { current: readonly Sample[]; previous: readonly Sample[] },
  staleAfterBySource: ReadonlyMap<string, number>,
  capabilities: NodeKindCapabilities,
  historyRetention?: number,
): PoolPlanning {
  const nodes: StoredNode[] = [];
  const vanished: StoredNode[] = [];
  for (const n of po.nodes) {
    // A node stopped on purpose (a snapshot) has no running instance and is not lost.
    if (
      n.instanceId !== undefined &&
      !po.instances.has(n.id) &&
      n.state !== 'deleting' &&
      n.maintenance === undefined
    )
      vanished.push(n);
    else nodes.push(n);
  }
  const plan = decideWithWarmPool({
    policy: pool,
    now: at,
    nodes,
    probes: po.probes,
    samples: {
      current: samples.current,
      previous: samples.previous,
      staleAfter: (ref) => staleAfterBySource.get(ref.slice(0, ref.indexOf(':'))) ?? 30_000,
    },
    clocks: state.clocks,
    paused: state.paused,
    pausedBy: state.pausedBy,
    manualSize: state.manualSize?.size,
    manualSizeBy: state.manualSize?.by,
    everHadNode: state.everHadNode,
    connectedToUpstream: po.connectedToUpstream,
    upstreamRunning: pool.node.validatorPool === undefined ? undefined : po.upstream.length > 0,
    joinsOneAtATime: capabilities.joinsOneAtATime,
    history: state.history,
    historyRetention,
  });
  return { plan, nodes, vanished };
}
