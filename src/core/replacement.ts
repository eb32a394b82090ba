// Nodes that must go: a node past its fail tolerance is removed (and replaced by the steps after),
// a join past its timeout is retried, and after joinRetries failed joins the node is deleted.

import { formatDuration } from './duration.ts';
import { joinTimedOut, type NodeRecord } from './node-lifecycle.ts';
import type { HealthPolicy } from './policy.ts';
import type { Alert, PlannedAction, Reason, StepResult } from './pool-plan.ts';

export interface Replacement extends StepResult {
  /** 'replace' when any node is removed, else 'rejoin' when any join is retried. */
  readonly decision: 'replace' | 'rejoin' | undefined;
  /** Ids of the nodes this step removes. */
  readonly removed: ReadonlySet<string>;
}

/** What to do with the suspects the health step found, in their order. */
export function replaceFailing(
  suspects: readonly NodeRecord[],
  health: HealthPolicy,
  now: number,
): Replacement {
  const actions: PlannedAction[] = [];
  const reasons: Reason[] = [];
  const alerts: Alert[] = [];
  const removed = new Set<string>();
  let rejoined = false;
  for (const node of suspects) {
    if (node.failMarker > health.failTolerance) {
      actions.push({ kind: 'remove', nodeId: node.id, cause: 'failed-health' });
      removed.add(node.id);
      reasons.push({
        code: 'failed-health',
        text: `${node.id}: fail marker ${node.failMarker} > failTolerance ${health.failTolerance} (${node.stateReason ?? 'failing checks'}): replacing it`,
        value: node.failMarker,
        threshold: health.failTolerance,
      });
    } else if (joinTimedOut(node, health, now)) {
      const failures = node.joinAttempts + 1;
      if (failures >= health.joinRetries) {
        actions.push({ kind: 'remove', nodeId: node.id, cause: 'join-exhausted' });
        removed.add(node.id);
        const text = `${node.id}: join failed ${failures} times (joinRetries ${health.joinRetries}, joinTimeout ${formatDuration(health.joinTimeout)}): deleting it`;
        reasons.push({ code: 'join-exhausted', text });
        alerts.push({ severity: 'critical', node: node.id, text });
      } else {
        actions.push({ kind: 'rejoin', nodeId: node.id, attempt: failures });
        rejoined = true;
        reasons.push({
          code: 'join-timeout',
          text: `${node.id}: not ready after ${formatDuration(health.joinTimeout)} (${node.stateReason ?? 'joining'}): join attempt ${failures + 1} of ${health.joinRetries}`,
        });
      }
    }
  }
  const decision = removed.size > 0 ? 'replace' : rejoined ? 'rejoin' : undefined;
  return { decision, removed, actions, reasons, alerts };
}
