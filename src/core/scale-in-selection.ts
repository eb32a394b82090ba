// Which node leaves on a scale-down: least-busy (default), newest or oldest. An unknown
// strategy is refused by the config schema; nothing here falls back silently.

import { formatNumber } from './format.ts';
import type { NodeRecord } from './node-lifecycle.ts';
import type { PoolPolicy } from './policy.ts';
import type { Sample } from './types.ts';

export interface Selection {
  readonly nodeId: string;
  readonly why: string;
}

/** How to read "busy" from the policy: which metric, and whether a higher value is busier. */
export function busyMeasure(policy: PoolPolicy): { metric: string; higherIsBusier: boolean } | undefined {
  if (policy.scaleIn.busyMetric !== undefined)
    return { metric: policy.scaleIn.busyMetric, higherIsBusier: true };
  const up = policy.scaleUp.rules[0];
  if (up) return { metric: up.metric, higherIsBusier: up.kind === 'target' || up.comparator.startsWith('>') };
  const down = policy.scaleDown.rules[0];
  // A scale-down rule fires when the pool is idle: `idle > 60` means a higher value is less busy.
  if (down)
    return { metric: down.metric, higherIsBusier: down.kind === 'target' || down.comparator.startsWith('<') };
  return undefined;
}

export function selectForScaleIn(
  policy: PoolPolicy,
  candidates: readonly NodeRecord[],
  samples: readonly Sample[],
): Selection | undefined {
  if (candidates.length === 0) return undefined;
  const newestFirst = [...candidates].sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1));
  switch (policy.scaleIn.select) {
    case 'newest':
      return { nodeId: newestFirst[0]!.id, why: 'newest node' };
    case 'oldest':
      return { nodeId: newestFirst[newestFirst.length - 1]!.id, why: 'oldest node' };
    case 'least-busy': {
      const measure = busyMeasure(policy);
      if (!measure)
        return { nodeId: newestFirst[0]!.id, why: 'newest node (no metric says how busy nodes are)' };
      const latest = new Map<string, Sample>();
      for (const s of samples)
        if (s.ref === measure.metric && s.node !== undefined && Number.isFinite(s.value)) {
          const prev = latest.get(s.node);
          if (!prev || prev.at < s.at) latest.set(s.node, s);
        }
      let best: { node: NodeRecord; busy: number } | undefined;
      for (const node of newestFirst) {
        const s = latest.get(node.id);
        if (!s) continue;
        const busy = measure.higherIsBusier ? s.value : -s.value;
        if (!best || busy < best.busy) best = { node, busy };
      }
      if (!best)
        return { nodeId: newestFirst[0]!.id, why: `newest node (no node reports ${measure.metric})` };
      const value = measure.higherIsBusier ? best.busy : -best.busy;
      return { nodeId: best.node.id, why: `least busy: ${measure.metric} = ${formatNumber(value)}` };
    }
  }
}
