// Lifecycle and health, the first step of a pool decision: this tick's probes move each node's
// state and fail marker, and one walk over the pool sorts out what the later steps need of it.

import { joinTimedOut, type NodeRecord, nextFailMarker, nextState } from './node-lifecycle.ts';
import type { HealthPolicy } from './policy.ts';
import type { NodeUpdate } from './pool-plan.ts';
import { JOINING_STATES, type NodeProbe } from './types.ts';

/** What the lifecycle-and-health step found of a pool's nodes. Lists keep the nodes' order. */
export interface NodeHealth {
  /** Nodes that occupy a slot: every state but gone and failed. */
  readonly live: number;
  /** Ready nodes' ids: the nodes the rules read. */
  readonly readyIds: readonly string[];
  /** Ready nodes' records as updated: the scale-in candidates. */
  readonly readyNodes: readonly NodeRecord[];
  /** Nodes joining, draining or deleting (few: a scale-down waits for them). */
  readonly busy: readonly NodeRecord[];
  /** How many nodes are draining or deleting. */
  readonly leaving: number;
  /** Nodes the replacement step acts on: fail marker over the tolerance, or join timed out. */
  readonly suspects: readonly NodeRecord[];
  /** Nodes whose state, fail marker or readyAt changed. */
  readonly updates: readonly NodeUpdate[];
}

/** True when a health check is due: none yet, or `checkInterval` since the last. */
export function healthCheckDue(health: HealthPolicy, lastCheckAt: number | undefined, now: number): boolean {
  return lastCheckAt === undefined || now - lastCheckAt >= health.checkInterval;
}

/**
 * Applies each live node's probe: its next state, its fail marker when a check is due (joined,
 * not leaving, not stopped for maintenance; a node without a probe fails the check), and readyAt
 * the first time it is ready. Nodes gone or failed are skipped.
 */
export function assessNodeHealth(
  nodes: readonly NodeRecord[],
  probes: ReadonlyMap<string, NodeProbe>,
  health: HealthPolicy,
  healthDue: boolean,
  now: number,
): NodeHealth {
  const readyIds: string[] = [];
  const readyNodes: NodeRecord[] = [];
  const busy: NodeRecord[] = [];
  const suspects: NodeRecord[] = [];
  const updates: NodeUpdate[] = [];
  let live = 0;
  let leaving = 0;
  // Probes mostly come in the nodes' order: walk them beside the nodes, and look a node's up by
  // id only when the next one in line is not its own. Keys are unique, so it is the probe
  // probes.get(node.id) returns either way. Kept because the tick benchmark (bench/decide.bench.ts,
  // 10,000 nodes) shows it: a plain get for every node made the tick about 15% slower.
  const probeIds = probes.keys();
  const probeValues = probes.values();
  let nextId = probeIds.next().value;
  for (const node of nodes) {
    let probe: NodeProbe | undefined;
    if (nextId === node.id && nextId !== undefined) {
      probe = probeValues.next().value;
      nextId = probeIds.next().value;
    } else probe = probes.get(node.id);
    if (node.state === 'gone' || node.state === 'failed') continue;
    live++;
    if (probe?.ready && node.state === 'ready' && node.maintenance === undefined) {
      // The common case, a ready node still ready, without the general case below: what it
      // computes for such a node (next state ready, reason 'ready'; joined, not leaving, no join
      // to time out). Kept because the simulator's week (bench/simulate.bench.ts, ~1,000 nodes, most
      // unchanged each tick) ran 25-30% slower without it; the tick benchmark barely shows it.
      const failMarker = healthDue ? nextFailMarker(node.failMarker, probe.healthy) : node.failMarker;
      const readyAt = node.readyAt ?? now;
      const changed = failMarker !== node.failMarker || readyAt !== node.readyAt;
      const updated: NodeRecord =
        changed || node.stateReason !== 'ready'
          ? { ...node, state: 'ready', failMarker, readyAt, stateReason: 'ready' }
          : node;
      readyIds.push(node.id);
      readyNodes.push(updated);
      if (failMarker > health.failTolerance) suspects.push(updated);
      if (changed) updates.push({ id: node.id, state: 'ready', failMarker, readyAt, stateReason: 'ready' });
      continue;
    }
    const next = nextState(node, probe);
    const leavingNow = next.state === 'draining' || next.state === 'deleting';
    const joined = node.readyAt !== undefined || next.state === 'ready';
    const checked = healthDue && joined && !leavingNow && node.maintenance === undefined;
    const failMarker = checked ? nextFailMarker(node.failMarker, probe?.healthy ?? false) : node.failMarker;
    const readyAt = node.readyAt ?? (next.state === 'ready' ? now : undefined);
    const stateReason = next.reason ?? node.stateReason;
    const changed = next.state !== node.state || failMarker !== node.failMarker || readyAt !== node.readyAt;
    // Most nodes change nothing between ticks: they keep their record. Kept because the
    // simulator's week ran about twice as long when every record was copied.
    const updated: NodeRecord =
      changed || stateReason !== node.stateReason
        ? { ...node, state: next.state, failMarker, readyAt, stateReason }
        : node;
    if (next.state === 'ready') {
      readyIds.push(node.id);
      readyNodes.push(updated);
    } else if (leavingNow) {
      leaving++;
      busy.push(updated);
    } else if (JOINING_STATES.has(next.state)) busy.push(updated);
    if (!leavingNow && (failMarker > health.failTolerance || joinTimedOut(updated, health, now)))
      suspects.push(updated);
    if (changed) updates.push({ id: node.id, state: next.state, failMarker, readyAt, stateReason });
  }
  return { live, readyIds, readyNodes, busy, leaving, suspects, updates };
}
