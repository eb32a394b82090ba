// `rampart status [--json] [--watch]`: each pool's size against its bounds, its nodes, and
// the last decision, as the controller last recorded them.

import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../../config/schema.ts';
import { type Candidate, electionCandidates } from '../../coordination/etcd.ts';
import { formatDuration } from '../../core/duration.ts';
import { createStore } from '../../runtime/runtime.ts';
import { EtcdStore, EtcdUnreachableError } from '../../store/etcd-store.ts';
import type { PoolStatus, Store } from '../../store/store.ts';
import { configFlag, jsonFlag, loadConfigFrom, parseFlags } from '../args.ts';

export async function status(argv: string[]): Promise<number> {
  const flags = parseFlags('status', argv, {
    ...configFlag,
    ...jsonFlag,
    watch: { type: 'boolean', short: 'w' },
  });
  const { config } = loadConfigFrom(flags);
  if (config.controller.store.kind === 'sqlite' && !existsSync(config.controller.store.path)) {
    process.stderr.write(
      `no state yet at ${config.controller.store.path}: start the controller with rampart up\n`,
    );
    return 1;
  }
  const store = createStore(config);
  try {
    await store.open();
  } catch (e) {
    if (!(e instanceof EtcdUnreachableError)) throw e;
    process.stderr.write(`${etcdDown(e)}\n`);
    return 1;
  }
  try {
    do {
      try {
        const rows = await store.listPoolStatus();
        const leader = store instanceof EtcdStore ? await leaderLine(store) : undefined;
        if (flags.json)
          process.stdout.write(
            `${JSON.stringify({ at: Date.now(), pools: rows, ...(leader ? { controllers: leader.controllers } : {}) })}\n`,
          );
        else {
          const text = `${leader ? `${leader.text}\n` : ''}${await formatStatus(config, rows, store)}`;
          process.stdout.write(flags.watch ? `\x1b[2J\x1b[H${text}` : text);
        }
      } catch (e) {
        // etcd went away while watching: say so, and keep watching for its return.
        if (!(e instanceof EtcdUnreachableError)) throw e;
        if (!flags.watch) {
          process.stderr.write(`${etcdDown(e)}\n`);
          return 1;
        }
        process.stdout.write(`\x1b[2J\x1b[H${new Date().toISOString()}\n${etcdDown(e)}\n`);
      }
      if (flags.watch) await sleep(1000);
    } while (flags.watch);
  } finally {
    await store.close();
  }
  return 0;
}

function etcdDown(e: Error): string {
  return `${e.message}\nno state can be read; every controller holds (no scaling, no removal) until etcd returns`;
}

/** With etcd: which replica leads and how many stand by. */
async function leaderLine(store: EtcdStore): Promise<{ text: string; controllers: Candidate[] }> {
  const candidates = await electionCandidates(store);
  const [leader, ...standby] = candidates;
  const who = (c: Candidate) => (c.holder.includes(c.host) ? c.holder : `${c.holder} on ${c.host}`);
  const text = leader
    ? `leader: ${who(leader)}${standby.length ? `; standing by: ${standby.map(who).join(', ')}` : ''}`
    : 'no controller is running on this store (no replica campaigns)';
  return { text, controllers: candidates };
}

export async function formatStatus(
  config: Config,
  rows: readonly PoolStatus[],
  store: Store,
): Promise<string> {
  const now = Date.now();
  const out: string[] = [`term ${await store.currentTerm()}  ${new Date(now).toISOString()}`];
  for (const pool of config.pools) {
    const row = rows.find((r) => r.pool === pool.name);
    if (!row) {
      out.push(`\n${pool.name} (${pool.role}): not observed yet`);
      continue;
    }
    const b = row.body as {
      decision: string;
      ready: number;
      live: number;
      desired: number;
      size: { min: number; capacity: number; max: number } | null;
      reasons: { code: string; text: string }[];
      nodes: {
        id: string;
        state: string;
        height: number | null;
        peers: number | null;
        failMarker: number;
        registered: boolean;
        connected: boolean | null;
        detail: string | null;
      }[];
    };
    const bounds = b.size ? `  min ${b.size.min} capacity ${b.size.capacity} max ${b.size.max}` : '';
    out.push(
      `\n${pool.name} (${pool.role}, ${pool.provider}): ${b.ready} ready / ${b.live} live → ${b.desired}${bounds}   [${b.decision}, ${formatDuration(now - row.at)} ago]`,
    );
    for (const r of b.reasons.filter((r) => r.code !== 'rule-quiet')) out.push(`  · ${r.text}`);
    for (const r of b.reasons.filter((r) => r.code === 'rule-quiet')) out.push(`  · ${r.text}`);
    out.push(
      `  ${'node'.padEnd(22)} ${'state'.padEnd(12)} ${'height'.padStart(8)} ${'peers'.padStart(5)} ${'fail'.padStart(4)}  wired`,
    );
    for (const n of b.nodes)
      out.push(
        `  ${n.id.padEnd(22)} ${n.state.padEnd(12)} ${String(n.height ?? '-').padStart(8)} ${String(n.peers ?? '-').padStart(5)} ${String(n.failMarker).padStart(4)}  ${n.connected === null ? '-' : n.connected ? 'yes' : n.registered ? 'registered' : 'no'}${n.state === 'ready' ? '' : `  ${n.detail ?? ''}`}`,
      );
  }
  return `${out.join('\n')}\n`;
}
