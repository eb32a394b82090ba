// `rampart status [--json] [--watch]`: each pool's size against its bounds, its nodes, and the
// last decision, as the controller last recorded them — and whether a controller runs now. A
// record the controller has not renewed recently is marked with its age; with no controller
// running the whole view is what it last recorded, and nodes removed since show as gone.
// --json: one document; with --watch, one document per refresh (JSON lines).

import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../../config/schema.ts';
import { type Candidate, electionCandidates } from '../../coordination/etcd.ts';
import { formatDuration } from '../../core/duration.ts';
import type { JoinFigure, JoinTimes } from '../../core/join-choice.ts';
import { createStore, storeExists, storeFileOf } from '../../runtime/runtime.ts';
import { EtcdStore, EtcdUnreachableError } from '../../store/etcd-store.ts';
import type { PoolStatus, Store } from '../../store/store.ts';
import { loadConfigFrom } from '../args.ts';
import { type ControllerPresence, controllerPresence } from '../running.ts';

export interface StatusFlags {
  readonly config?: string | undefined;
  readonly json?: boolean | undefined;
  /** Refresh every second until Ctrl-C. */
  readonly watch?: boolean | undefined;
}

export async function status(flags: StatusFlags): Promise<number> {
  const { config } = loadConfigFrom(flags);
  if (!storeExists(config)) {
    process.stderr.write(`no state yet at ${storeFileOf(config)}: start the controller with rampart up\n`);
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
        const view = await readView(config, store);
        if (flags.json) process.stdout.write(`${JSON.stringify(statusDocument(view))}\n`);
        else {
          const text = formatStatus(config, view);
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

/** Everything one refresh shows, read at one moment. */
export interface StatusView {
  readonly at: number;
  readonly term: number;
  readonly rows: readonly PoolStatus[];
  /** Ids of the nodes the store still counts as live (not gone, not failed). */
  readonly liveNodes: ReadonlySet<string>;
  readonly presence: ControllerPresence;
  /** With etcd: every replica campaigning, the leader first. */
  readonly candidates?: readonly Candidate[] | undefined;
  /** A pool record older than this (ms) was not renewed on time. */
  readonly staleAfter: number;
}

/** A pool record counts as stale after three evaluation intervals, and never before 15 s. */
export function staleAfterMs(config: Config): number {
  return Math.max(3 * config.controller.evaluationInterval, 15_000);
}

async function readView(config: Config, store: Store): Promise<StatusView> {
  const rows = await store.listPoolStatus();
  const liveNodes = new Set((await store.listNodes()).map((n) => n.id));
  const candidates = store instanceof EtcdStore ? await electionCandidates(store) : undefined;
  return {
    at: Date.now(),
    term: await store.currentTerm(),
    rows,
    liveNodes,
    presence: await controllerPresence(config, store),
    candidates,
    staleAfter: staleAfterMs(config),
  };
}

/** When a controller last recorded anything shown here; undefined before its first record. */
function lastRecordAt(view: StatusView): number | undefined {
  return view.rows.length > 0 ? Math.max(...view.rows.map((r) => r.at)) : undefined;
}

interface NodeBody {
  id: string;
  state: string;
  height: number | null;
  peers: number | null;
  failMarker: number;
  registered: boolean;
  /** A warm spare (absent in records written before warm pools). */
  warm?: boolean;
  connected: boolean | null;
  detail: string | null;
}

interface PoolBody {
  decision: string;
  ready: number;
  live: number;
  desired: number;
  size: { min: number; capacity: number; max: number; warm?: number } | null;
  /** The warm pool after the plan, where the pool has one. */
  warm?: { target: number; live: number; ready: number } | null;
  reasons: { code: string; text: string }[];
  nodes: NodeBody[];
  /** The pool's last measured joins, create to ready (stateSync auto picks by them). */
  joins?: JoinTimes;
}

/** The --json document: the records as stored, each with its age and what has changed since. */
export function statusDocument(view: StatusView): Record<string, unknown> {
  const last = lastRecordAt(view);
  return {
    at: view.at,
    term: view.term,
    controller: {
      running: view.presence.running ?? null,
      controllers: view.presence.controllers,
      by: view.presence.by,
      ...(view.presence.unknown ? { unknown: view.presence.unknown } : {}),
      lastRecordAt: last ?? null,
    },
    ...(view.candidates ? { controllers: view.candidates } : {}),
    pools: view.rows.map((r) => {
      const nodes = ((r.body as Partial<PoolBody>).nodes ?? []).map((n) => n.id);
      return {
        ...r,
        ageMs: view.at - r.at,
        stale: view.presence.running === false || view.at - r.at > view.staleAfter,
        goneNodes: nodes.filter((id) => !view.liveNodes.has(id)),
      };
    }),
  };
}

/** The controller line: who runs, or since when none does. */
function controllerLine(view: StatusView): string {
  const { presence } = view;
  if (presence.running === undefined)
    return `controller: cannot tell whether one runs (${presence.by}: ${presence.unknown})`;
  if (presence.running) {
    if (view.candidates) {
      const who = (c: Candidate) => (c.holder.includes(c.host) ? c.holder : `${c.holder} on ${c.host}`);
      const [leader, ...standby] = view.candidates;
      if (leader)
        return `controller: running; leader: ${who(leader)}${standby.length ? `; standing by: ${standby.map(who).join(', ')}` : ''}`;
    }
    return `controller: running (${presence.controllers.map((c) => c.who).join(', ')})`;
  }
  const last = lastRecordAt(view);
  if (last === undefined) return 'no controller is running on this store, and none has recorded a pool yet';
  return `no controller is running on this store since ${new Date(last).toISOString()} (its last record, ${formatDuration(view.at - last)} ago); nodes as last recorded`;
}

export function formatStatus(config: Config, view: StatusView): string {
  const { at: now } = view;
  const stopped = view.presence.running === false;
  const out: string[] = [`term ${view.term}  ${new Date(now).toISOString()}`, controllerLine(view)];
  for (const pool of config.pools) {
    const row = view.rows.find((r) => r.pool === pool.name);
    if (!row) {
      out.push(`\n${pool.name} (${pool.role}): not observed yet`);
      continue;
    }
    const b = row.body as unknown as PoolBody;
    const age = formatDuration(now - row.at);
    const stale = stopped || now - row.at > view.staleAfter;
    const seen = stopped
      ? `recorded ${age} ago, not seen since`
      : stale
        ? `${age} ago; NOT RENEWED: the controller evaluates every ${formatDuration(config.controller.evaluationInterval)}`
        : `${age} ago`;
    const bounds = b.size ? `  min ${b.size.min} capacity ${b.size.capacity} max ${b.size.max}` : '';
    // Spares apart from capacity: they hold a slot against max and serve only once taken.
    const warm = b.warm ? ` + ${b.warm.live} warm (${b.warm.ready} synced, keeps ${b.warm.target})` : '';
    out.push(
      `\n${pool.name} (${pool.role}, ${pool.provider}): ${b.ready} ready / ${b.live} live${warm} → ${b.desired}${bounds}   [${b.decision}, ${seen}]`,
    );
    for (const r of b.reasons.filter((r) => r.code !== 'rule-quiet')) out.push(`  · ${r.text}`);
    for (const r of b.reasons.filter((r) => r.code === 'rule-quiet')) out.push(`  · ${r.text}`);
    if (b.joins) out.push(`  · ${joinsLine(b.joins)}`);
    out.push(
      `  ${'node'.padEnd(22)} ${'state'.padEnd(12)} ${'height'.padStart(8)} ${'peers'.padStart(5)} ${'fail'.padStart(4)}  wired${stale ? `   (as recorded ${age} ago)` : ''}`,
    );
    for (const n of b.nodes) {
      if (!view.liveNodes.has(n.id)) {
        out.push(
          `  ${n.id.padEnd(22)} ${'gone'.padEnd(12)} ${'-'.padStart(8)} ${'-'.padStart(5)} ${'-'.padStart(4)}  -  removed since this record`,
        );
        continue;
      }
      const wired = n.warm
        ? 'warm'
        : n.connected === null
          ? '-'
          : n.connected
            ? 'yes'
            : n.registered
              ? 'registered'
              : 'no';
      out.push(
        `  ${n.id.padEnd(22)} ${n.state.padEnd(12)} ${String(n.height ?? '-').padStart(8)} ${String(n.peers ?? '-').padStart(5)} ${String(n.failMarker).padStart(4)}  ${wired}${n.state === 'ready' ? '' : `  ${n.detail ?? ''}`}`,
      );
    }
  }
  return `${out.join('\n')}\n`;
}

/**
 * `last joins, create to ready: state sync 9.8 s (sentries-a4dc), snapshot 6.5 s (sentries-99cd)`,
 * then the network's when measured; a join that timed out reads `> 120.0 s (timed out, …)`.
 */
export function joinsLine(j: JoinTimes): string {
  const one = (what: string, f: JoinFigure | undefined) =>
    !f
      ? `${what} not measured`
      : f.timedOut
        ? `${what} > ${(f.ms / 1000).toFixed(1)} s (timed out, ${f.node})`
        : `${what} ${(f.ms / 1000).toFixed(1)} s (${f.node})`;
  const network = j.network ? `, ${one('network', j.network)}` : '';
  return `last joins, create to ready: ${one('state sync', j.stateSync)}, ${one('snapshot', j.snapshot)}${network}`;
}
