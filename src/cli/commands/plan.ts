// `rampart plan -c FILE [--json]`: what the controller would do now and why, per pool.
// Changes nothing; answers even when nodes or metric sources are unreachable. --json: one
// document, { at, pools: [plan…], metricErrors: […] }.

import { observe } from '../../controller/observe.ts';
import { emptyPoolState, planPool } from '../../controller/plan-pool.ts';
import type { PoolPlan } from '../../core/decide.ts';
import { createRuntime, type Runtime, storeExists } from '../../runtime/runtime.ts';
import { SqliteStore } from '../../store/sqlite-store.ts';
import { loadConfigFrom } from '../args.ts';

export interface PlanFlags {
  readonly config?: string | undefined;
  readonly json?: boolean | undefined;
}

export async function plan(flags: PlanFlags): Promise<number> {
  const { config } = loadConfigFrom(flags);
  let rt: Runtime = createRuntime(config);
  // No state yet: plan over an empty in-memory store rather than create one.
  if (!storeExists(config)) rt = { ...rt, store: new SqliteStore(':memory:') };
  await rt.store.open();
  try {
    const obs = await observe(rt);
    const staleAfter = new Map(config.metrics.map((m) => [m.name, m.staleAfter]));
    const plans: PoolPlan[] = [];
    for (const pool of config.pools) {
      const po = obs.pools.get(pool.name)!;
      const state = (await rt.store.getPool(pool.name)) ?? emptyPoolState(pool.name);
      const providerError = obs.providerErrors.get(pool.provider);
      const { plan: p } = planPool(
        pool,
        po,
        state,
        obs.at,
        { current: obs.samples, previous: [] },
        staleAfter,
        rt.nodeKind(pool.name).capabilities,
        config.controller.historyRetention,
      );
      const shown: PoolPlan = providerError
        ? {
            ...p,
            decision: 'hold',
            actions: [],
            reasons: [{ code: 'provider-unreachable', text: `provider ${pool.provider}: ${providerError}` }],
          }
        : p;
      plans.push(shown);
      if (!flags.json) process.stdout.write(formatPlan(shown, pool.size));
    }
    if (flags.json) {
      process.stdout.write(
        `${JSON.stringify({ at: obs.at, pools: plans, metricErrors: obs.metricErrors })}\n`,
      );
    } else if (obs.metricErrors.length > 0) {
      process.stdout.write('metric sources:\n');
      for (const e of obs.metricErrors.slice(0, 10))
        process.stdout.write(`  ${e.source}${e.target ? ` ${e.target}` : ''}: ${e.message}\n`);
    }
  } finally {
    await rt.store.close();
  }
  return 0;
}

export function formatPlan(
  p: PoolPlan,
  size: { min: number; capacity: number; max: number } | undefined,
): string {
  const bounds = size ? `, min ${size.min} capacity ${size.capacity} max ${size.max}` : '';
  const warm = p.warm ? `; warm ${p.warm.live} of ${p.warm.target}, ${p.warm.ready} synced` : '';
  const lines = [
    `${p.pool}: ${p.decision} (${p.ready} ready of ${p.live}, heading for ${p.desired}${bounds}${warm})`,
  ];
  const would = (a: (typeof p.actions)[number]): string => {
    switch (a.kind) {
      case 'create':
        return `create ${a.count} node(s) (${a.cause})`;
      case 'remove':
        return `remove ${a.nodeId} (${a.cause})`;
      case 'rejoin':
        return `rejoin ${a.nodeId}`;
      case 'take-warm':
        return `take warm ${a.nodeId} (${a.cause})`;
    }
  };
  for (const a of p.actions) lines.push(`  would ${would(a)}`);
  for (const r of p.reasons) lines.push(`  - ${r.text}`);
  return `${lines.join('\n')}\n`;
}
