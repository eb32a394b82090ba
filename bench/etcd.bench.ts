// Rampart on etcd, two figures (JSON lines on stdout, progress on stderr):
//
//   decision-write   latency of one decision record written to the store (one fenced etcd
//                    transaction), median and p99 over ≥1000 writes — etcd with its data on
//                    tmpfs (as the tests run it) and on this machine's disk (fsync-bound, as
//                    a real member), and SQLite on the same disk for reference;
//   handover         leader handover: three `rampart up` replicas on one etcd with a simnode
//                    fleet; the leading process is SIGKILLed and the clock runs until another
//                    replica records a decision or an action under a higher term. Median over
//                    RUNS runs per lease TTL, against the target TTL + one evaluation interval.
//
// Env: RAMPART_BENCH_WRITES (default 2000), RAMPART_BENCH_RUNS (default 3),
// RAMPART_BENCH_TTLS (seconds, default "3,15"), RAMPART_BENCH_QUICK=1 (fewer of everything).
// Needs Debian's etcd (bash scripts/testbed/etcd.sh).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { EtcdStore } from '../src/store/etcd-store.ts';
import { SqliteStore } from '../src/store/sqlite-store.ts';
import type { DecisionRecord, Store } from '../src/store/store.ts';
import { etcdFleetConfig, type Replica, startReplica, stopReplica } from '../test/support/etcd-fleet.ts';
import { type Fleet, makeFleet } from '../test/support/fleet.ts';
import { type RunningEtcd, startEtcd } from '../test/support/servers.ts';

const BENCH = 'etcd';
const QUICK = process.env.RAMPART_BENCH_QUICK === '1';
const WRITES = Number(process.env.RAMPART_BENCH_WRITES ?? (QUICK ? 1000 : 2000));
const RUNS = Number(process.env.RAMPART_BENCH_RUNS ?? 3);
const TTLS = (process.env.RAMPART_BENCH_TTLS ?? (QUICK ? '3' : '3,15')).split(',').map(Number);
const EVALUATION_INTERVAL_MS = 1000;

const emit = (figure: string, fields: Record<string, unknown>) =>
  console.log(JSON.stringify({ bench: BENCH, figure, ...fields }));
const log = (msg: string) => process.stderr.write(`[${BENCH}] ${msg}\n`);
const r2 = (x: number) => Number(x.toFixed(2));

function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const i = (s.length - 1) * q;
  const lo = Math.floor(i);
  const hi = Math.ceil(i);
  return s[lo]! + (s[hi]! - s[lo]!) * (i - lo);
}

// Everything started here is stopped and removed on exit, error and signal alike.
const cleanups: (() => unknown)[] = [];
const hooks = {
  after: (fn: () => unknown) => void cleanups.push(fn),
  skip: (why?: string) => {
    throw new Error(why ?? 'etcd is not installed');
  },
};
let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const fn of cleanups.reverse()) await Promise.resolve(fn()).catch(() => undefined);
  })();
  return cleaning;
}
for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const)
  process.once(signal, () => void cleanup().finally(() => process.exit(code)));

function decision(i: number, term: number): DecisionRecord {
  return {
    pool: i % 3 === 0 ? 'validator' : 'sentries',
    at: Date.now(),
    term,
    decision: i % 10 === 0 ? 'scale-up' : 'hold',
    ready: 3,
    live: 3,
    desired: i % 10 === 0 ? 5 : 3,
    reasons: [
      { code: 'rule-fired', text: 'scaleUp.rules[0]: avg nodes:simnode_utilization_ratio = 0.93 > 0.7 → +2' },
      { code: 'cooldown', text: 'scale-up cooldown: 2s of 6s remaining', cooldownRemainingMs: 2000 },
      {
        code: 'rule-quiet',
        text: 'scaleDown.rules[0]: avg nodes:simnode_utilization_ratio = 0.93, not < 0.2',
      },
    ],
    actions: i % 10 === 0 ? ['create 2 (scale-up)'] : [],
  };
}

/** Latency of `writes` decision records, one after the other, as the controller writes them. */
async function writeLatency(store: Store, where: string): Promise<void> {
  await store.open();
  const term = await store.newTerm('bench');
  for (let i = 0; i < 50; i++) await store.recordDecision(decision(i, term)); // warm-up
  const ms: number[] = [];
  const started = performance.now();
  for (let i = 0; i < WRITES; i++) {
    const t = performance.now();
    await store.recordDecision(decision(i, term));
    ms.push(performance.now() - t);
  }
  const totalS = (performance.now() - started) / 1000;
  await store.close();
  emit('decision-write', {
    store: where,
    writes: WRITES,
    medianMs: r2(quantile(ms, 0.5)),
    p99Ms: r2(quantile(ms, 0.99)),
    maxMs: r2(Math.max(...ms)),
    writesPerSecond: Math.round(WRITES / totalS),
  });
}

function etcdStore(etcd: RunningEtcd, prefix: string): EtcdStore {
  return new EtcdStore({ endpoints: etcd.endpoints, prefix, timeoutMs: 5000 });
}

/** The replica leading now: the last one whose last word on leadership was `leading`. */
function leader(replicas: readonly Replica[]): Replica | undefined {
  return replicas.find((r) => r.alive && r.leading());
}

async function waitUntil<T>(what: string, check: () => Promise<T> | T, ms: number): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function handover(etcd: RunningEtcd, ttlS: number): Promise<void> {
  const fleet: Fleet = makeFleet(
    etcdFleetConfig({
      endpoints: etcd.endpoints,
      leaseTtl: `${ttlS}s`,
      sentries: { min: 1, capacity: 2, max: 3 },
    }).replace('evaluationInterval: 300ms', `evaluationInterval: ${EVALUATION_INTERVAL_MS}ms`),
  );
  cleanups.push(() => fleet.cleanup());
  const replicas: Replica[] = [];
  cleanups.push(async () => {
    for (const r of replicas) await stopReplica(r, 'SIGKILL');
  });
  const rt = await fleet.inspect();
  const settled = async () =>
    (await rt.store.listNodes({ pool: 'sentries' })).filter((n) => n.state === 'ready' && n.registered)
      .length === 2 && (await rt.store.openActions()).length === 0;
  for (let i = 0; i < 3; i++) replicas.push(startReplica(`r${i}`, fleet.configFile));
  await waitUntil('the fleet to settle', settled, 120_000);
  const times: number[] = [];
  const elected: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const current = await waitUntil('a leader', () => leader(replicas), 60_000);
    // All three have been up long enough to campaign (a fresh one takes seconds to start).
    await waitUntil(
      'standbys',
      () => replicas.filter((r) => r.alive && r.logged(/standing by|campaigning/).length > 0).length === 3,
      60_000,
    );
    const term = await rt.store.currentTerm();
    const killedAt = Date.now();
    current.run.child.kill('SIGKILL');
    await current.run.exited;
    const next = await waitUntil(
      'a record under a newer term',
      async () => {
        const d = (await rt.store.listDecisions({ since: killedAt - 1, limit: 50 })).find(
          (x) => x.term > term,
        );
        const a = (await rt.store.listActions({ since: killedAt - 1, limit: 50 })).find((x) => x.term > term);
        const at = Math.min(d?.at ?? Number.POSITIVE_INFINITY, a?.startedAt ?? Number.POSITIVE_INFINITY);
        return Number.isFinite(at) ? { at, term: (d ?? a)!.term } : undefined;
      },
      ttlS * 1000 * 4 + 30_000,
    );
    const successor = replicas.find((r) => r.terms().includes(next.term));
    const leadingAt = Number(successor?.logged(/^leading$/).find((l) => Number(l.term) === next.term)?.time);
    times.push(next.at - killedAt);
    if (Number.isFinite(leadingAt)) elected.push(leadingAt - killedAt);
    log(`ttl ${ttlS}s run ${run + 1}: ${next.at - killedAt} ms to the first record of term ${next.term}`);
    // Back to three replicas, settled, before the next run.
    replicas.splice(replicas.indexOf(current), 1);
    replicas.push(startReplica(`r${run + 3}`, fleet.configFile));
    await waitUntil('the fleet to settle again', settled, 120_000);
  }
  emit('handover', {
    leaseTtlMs: ttlS * 1000,
    evaluationIntervalMs: EVALUATION_INTERVAL_MS,
    runs: times.length,
    medianMs: Math.round(quantile(times, 0.5)),
    maxMs: Math.max(...times),
    electedMedianMs: Math.round(quantile(elected, 0.5)),
    targetMs: ttlS * 1000 + EVALUATION_INTERVAL_MS,
    withinTarget: quantile(times, 0.5) <= ttlS * 1000 + EVALUATION_INTERVAL_MS,
  });
  for (const r of replicas) await stopReplica(r);
  await rt.store.close();
}

// The servers' helpers unref their processes and timers: this keeps the bench itself alive.
const keepAlive = setInterval(() => undefined, 1000);
try {
  const memory = await startEtcd(hooks);
  const disk = await startEtcd(hooks, { onDisk: true });
  await writeLatency(etcdStore(memory!, '/bench/write/'), 'etcd (data on tmpfs)');
  await writeLatency(etcdStore(disk!, '/bench/write/'), 'etcd (data on disk)');
  const sqliteDir = mkdtempSync(path.join(tmpdir(), 'rampart-bench-sqlite-'));
  cleanups.push(() => rmSync(sqliteDir, { recursive: true, force: true }));
  await writeLatency(new SqliteStore(path.join(sqliteDir, 'state.db')), 'sqlite (on disk, reference)');
  for (const ttl of TTLS) await handover(memory!, ttl);
} catch (e) {
  log(`failed: ${(e as Error).stack ?? String(e)}`);
  process.exitCode = 1;
} finally {
  await cleanup();
  clearInterval(keepAlive);
}
