// `rampart history [--pool P] [--json] [--limit N]`: decisions with their reasons and actions
// with their outcomes, oldest first. --json: one document, { history: [{ type, … }] }.

import { createStore, storeExists, storeFileOf } from '../../runtime/runtime.ts';
import { loadConfigFrom, UsageError, wholeNumber } from '../args.ts';
import { DEFAULT_HISTORY_LIMIT } from '../defaults.ts';

export interface HistoryFlags {
  readonly config?: string | undefined;
  readonly json?: boolean | undefined;
  readonly pool?: string | undefined;
  /** The newest this many records. Default 50. */
  readonly limit?: string | undefined;
}

export async function history(flags: HistoryFlags): Promise<number> {
  const { config } = loadConfigFrom(flags);
  if (flags.pool !== undefined && !config.pools.some((p) => p.name === flags.pool))
    throw new UsageError(
      `rampart history: no pool "${flags.pool}" (pools: ${config.pools.map((p) => p.name).join(', ')})`,
    );
  const limit = wholeNumber('history', '--limit', flags.limit ?? DEFAULT_HISTORY_LIMIT);
  if (!storeExists(config)) {
    process.stderr.write(`no state yet at ${storeFileOf(config)}\n`);
    return 1;
  }
  const store = createStore(config);
  await store.open();
  try {
    const q = { pool: flags.pool, limit };
    const decisions = (await store.listDecisions(q)).map((d) => ({ type: 'decision' as const, at: d.at, d }));
    const actions = (await store.listActions(q)).map((a) => ({
      type: 'action' as const,
      at: a.startedAt,
      a,
    }));
    const events = (await store.listEvents(q)).map((e) => ({ type: 'event' as const, at: e.at, e }));
    const all = [...decisions, ...actions, ...events].sort((x, y) => x.at - y.at).slice(-limit);
    if (flags.json) {
      const records = all.map((item) => ({
        type: item.type,
        ...(item.type === 'decision' ? item.d : item.type === 'action' ? item.a : item.e),
      }));
      process.stdout.write(`${JSON.stringify({ history: records })}\n`);
      return 0;
    }
    for (const item of all) {
      const t = new Date(item.at).toISOString().replace('T', ' ').slice(0, 19);
      if (item.type === 'decision') {
        const d = item.d;
        process.stdout.write(
          `${t}  ${d.pool}  ${d.decision.toUpperCase()}  ${d.ready} ready / ${d.live} live → ${d.desired}\n`,
        );
        for (const a of d.actions) process.stdout.write(`      action: ${a}\n`);
        for (const r of d.reasons.filter((r) => r.code !== 'rule-quiet'))
          process.stdout.write(`      why: ${r.text}\n`);
      } else if (item.type === 'action') {
        const a = item.a;
        process.stdout.write(
          `${t}  ${a.pool}  ${a.kind} ${a.nodeId ?? ''} (${a.cause}) → ${a.outcome ?? 'IN FLIGHT'}${a.outcomeDetail ? `: ${a.outcomeDetail}` : ''}\n`,
        );
      } else {
        const e = item.e;
        process.stdout.write(`${t}  ${e.pool ?? '-'}  ${e.severity.toUpperCase()}  ${e.text}\n`);
      }
    }
  } finally {
    await store.close();
  }
  return 0;
}
