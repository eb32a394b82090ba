// How a node's lifecycle state and fail marker follow from what its probe saw. Pure.

import type { HealthPolicy } from './policy.ts';
import type { NodeProbe, NodeState } from './types.ts';

/** What Rampart remembers of a node between ticks. */
export interface NodeRecord {
  readonly id: string;
  readonly pool: string;
  readonly state: NodeState;
  /** ms since the epoch. */
  readonly createdAt: number;
  /** When it first became ready, if it ever did. */
  readonly readyAt?: number | undefined;
  /** Start of the current provision-to-ready cycle. */
  readonly joinStartedAt: number;
  /** Failed joins so far (0 on the first attempt). */
  readonly joinAttempts: number;
  /** +5 per failed health check, −1 per passed one, never below 0. */
  readonly failMarker: number;
  /** Why the node is in its state, in plain words. */
  readonly stateReason?: string | undefined;
  /** Set while Rampart has the node stopped on purpose (e.g. `snapshot <id>`). */
  readonly maintenance?: string | undefined;
  /**
   * A spare of the pool's warm pool: kept synced, never registered, not capacity (it still
   * holds a slot against max). Cleared when a scale-up takes it. Absent: a serving node.
   */
  readonly warm?: boolean | undefined;
}

/** Failed check adds this to the fail marker (seed 003). */
export const FAIL_MARKER_UP = 5;
/** Passed check takes this off the fail marker (seed 003). */
export const FAIL_MARKER_DOWN = 1;

export function nextFailMarker(marker: number, healthy: boolean): number {
  return healthy ? Math.max(0, marker - FAIL_MARKER_DOWN) : marker + FAIL_MARKER_UP;
}

/**
 * The state a live node moves to given its probe. Joining nodes become ready when the
 * probe says so; a ready node that stops being ready (fell behind, lost peers, stopped
 * answering) goes back to syncing, so it no longer counts as capacity. Draining and deleting are the
 * controller's to move, never the probe's.
 */
export function nextState(
  node: NodeRecord,
  probe: NodeProbe | undefined,
): { state: NodeState; reason?: string } {
  if (
    node.state === 'draining' ||
    node.state === 'deleting' ||
    node.state === 'gone' ||
    node.state === 'failed'
  )
    return { state: node.state };
  if (!probe) return { state: node.state };
  if (probe.ready) return { state: 'ready', reason: 'ready' };
  const why = probe.detail ?? (probe.reachable ? 'not ready' : 'unreachable');
  // A reachable node is past provisioning; a node that was ready and no longer is stops counting.
  if (node.state === 'ready' || (probe.reachable && node.state === 'provisioning'))
    return { state: 'syncing', reason: why };
  return { state: node.state, reason: why };
}

/** True when the node's join has run past its timeout. */
export function joinTimedOut(node: NodeRecord, health: HealthPolicy, now: number): boolean {
  return (
    (node.state === 'provisioning' || node.state === 'restoring' || node.state === 'syncing') &&
    node.readyAt === undefined &&
    now - node.joinStartedAt > health.joinTimeout
  );
}
