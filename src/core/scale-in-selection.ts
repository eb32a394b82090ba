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

/** The order candidates are considered in: newest first (createdAt descending), then by id descending. */
const newerFirst = (a: NodeRecord, b: NodeRecord): number =>
  b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1);

export function selectForScaleIn(
  policy: PoolPolicy,
  candidates: readonly NodeRecord[],
  samples: readonly Sample[],
): Selection | undefined {
  if (candidates.length === 0) return undefined;
  // Only the first or the last node in newest-first order is wanted, or the first of the least
  // busy: one scan finds it, with no copy or sort of the pool. A scan and a sort agree when the
  // order is total, which it is when every createdAt is a number (not NaN); ids are unique, and
  // two records with the same id and createdAt would give the same answer either way. Otherwise
  // (no such record is ever stored), sort as ever.
  for (const n of candidates)
    if (typeof n.createdAt !== 'number' || Number.isNaN(n.createdAt))
      return bySorting(policy, candidates, samples);
  const first = (): NodeRecord => {
    let best = candidates[0]!;
    for (let i = 1; i < candidates.length; i++)
      if (newerFirst(candidates[i]!, best) < 0) best = candidates[i]!;
    return best;
  };
  switch (policy.scaleIn.select) {
    case 'newest':
      return { nodeId: first().id, why: 'newest node' };
    case 'oldest': {
      let last = candidates[0]!;
      for (let i = 1; i < candidates.length; i++)
        if (newerFirst(candidates[i]!, last) > 0) last = candidates[i]!;
      return { nodeId: last.id, why: 'oldest node' };
    }
    case 'least-busy': {
      const measure = busyMeasure(policy);
      if (!measure) return { nodeId: first().id, why: 'newest node (no metric says how busy nodes are)' };
      const latest = latestByNode(samples, measure.metric);
      // The least busy; of equally busy ones, the first in newest-first order.
      let best: { node: NodeRecord; busy: number } | undefined;
      for (const node of candidates) {
        const s = latest.get(node.id);
        if (!s) continue;
        const busy = measure.higherIsBusier ? s.value : -s.value;
        if (!best || busy < best.busy || (busy === best.busy && newerFirst(node, best.node) < 0))
          best = { node, busy };
      }
      if (!best) return { nodeId: first().id, why: `newest node (no node reports ${measure.metric})` };
      const value = measure.higherIsBusier ? best.busy : -best.busy;
      return { nodeId: best.node.id, why: `least busy: ${measure.metric} = ${formatNumber(value)}` };
    }
  }
}

/** Each node's newest finite sample of a metric. */
function latestByNode(samples: readonly Sample[], metric: string): Map<string, Sample> {
  const latest = new Map<string, Sample>();
  for (const s of samples)
    if (s.ref === metric && s.node !== undefined && Number.isFinite(s.value)) {
      const prev = latest.get(s.node);
      if (!prev || prev.at < s.at) latest.set(s.node, s);
    }
  return latest;
}

/** The selection by a full newest-first sort: for candidates whose order is not total. */
function bySorting(
  policy: PoolPolicy,
  candidates: readonly NodeRecord[],
  samples: readonly Sample[],
): Selection | undefined {
  const newestFirst = [...candidates].sort(newerFirst);
  switch (policy.scaleIn.select) {
    case 'newest':
      return { nodeId: newestFirst[0]!.id, why: 'newest node' };
    case 'oldest':
      return { nodeId: newestFirst[newestFirst.length - 1]!.id, why: 'oldest node' };
    case 'least-busy': {
      const measure = busyMeasure(policy);
      if (!measure)
        return { nodeId: newestFirst[0]!.id, why: 'newest node (no metric says how busy nodes are)' };
      const latest = latestByNode(samples, measure.metric);
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
