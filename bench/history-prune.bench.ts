// History pruning (controller.historyRetention), two figures (JSON lines on stdout, progress
// on stderr): how long one prune of a backlog takes, and so how long the first prune after an
// upgrade keeps the process busy —
//
//   sqlite   N decisions and N events, written through the store, then pruned at once: one
//            transaction of DELETEs on Node's own thread (the process pauses for that long);
//   etcd     N decisions, then pruned: pages of 40 records, one fenced transaction each, run
//            beside the controller's ticks (etcd with its data on tmpfs, as the tests run it).
//
// Medians over RUNS runs, each on a fresh store. Env: RAMPART_BENCH_SQLITE_RECORDS (default
// 100000 decisions + as many events), RAMPART_BENCH_ETCD_RECORDS (default 4000),
// RAMPART_BENCH_RUNS (default 3). Needs Debian's etcd for the second figure.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EtcdStore } from '../src/store/etcd-store.ts';
import { SqliteStore } from '../src/store/sqlite-store.ts';
import type { Store } from '../src/store/store.ts';
import { startEtcd } from '../test/support/servers.ts';

const BENCH = 'history-prune';
const SQLITE_RECORDS = Number(process.env.RAMPART_BENCH_SQLITE_RECORDS ?? 100_000);
const ETCD_RECORDS = Number(process.env.RAMPART_BENCH_ETCD_RECORDS ?? 4000);
const RUNS = Number(process.env.RAMPART_BENCH_RUNS ?? 3);
const log = (msg: string) => process.stderr.write(`[${BENCH}] ${msg}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function fill(store: Store, term: number, n: number, events: boolean): Promise<void> {
  for (let i = 0; i < n; i++) {
    await store.recordDecision({
      pool: i % 2 ? 'sentries' : 'validator',
      at: 1_000_000 + i,
      term,
      decision: 'hold',
      ready: 3,
      live: 3,
      desired: 3,
      reasons: [{ code: 'rule-quiet', text: 'scaleUp.rules[0]: avg nodes:util = 0.41, not > 0.7' }],
      actions: [],
    });
    if (events)
      await store.recordEvent(
        { at: 1_000_000 + i, pool: 'sentries', severity: 'info', text: `event ${i}` },
        term,
      );
  }
}

/** Fills a fresh store, prunes everything, returns [ms, records removed]. */
async function once(open: () => Promise<Store>, n: number, events: boolean): Promise<[number, number]> {
  const store = await open();
  const term = await store.newTerm('bench');
  await fill(store, term, n, events);
  const t = performance.now();
  const removed = await store.pruneHistory(2_000_000 + n, term);
  const ms = performance.now() - t;
  await store.close();
  return [ms, removed.decisions + removed.events];
}

async function figure(name: string, open: () => Promise<Store>, n: number, events: boolean) {
  const ms: number[] = [];
  let records = 0;
  for (let run = 1; run <= RUNS; run++) {
    const [m, r] = await once(open, n, events);
    log(`${name} run ${run}: ${r} records pruned in ${m.toFixed(0)} ms`);
    ms.push(m);
    records = r;
  }
  const med = median(ms);
  console.log(
    JSON.stringify({
      bench: BENCH,
      figure: name,
      records,
      runs: RUNS,
      pruneMedianMs: Math.round(med),
      pruneMaxMs: Math.round(Math.max(...ms)),
      recordsPerSecond: Math.round(records / (med / 1000)),
    }),
  );
}

const dir = mkdtempSync(path.join(process.platform === 'linux' ? '/dev/shm' : tmpdir(), 'rampart-prune-'));
const cleanups: (() => unknown)[] = [() => rmSync(dir, { recursive: true, force: true })];
// The servers' helpers unref their processes and timers: this keeps the bench itself alive.
const keepAlive = setInterval(() => undefined, 1000);
cleanups.push(() => clearInterval(keepAlive));
try {
  let n = 0;
  await figure(
    'sqlite',
    async () => {
      const s = new SqliteStore(path.join(dir, `state-${++n}.db`));
      await s.open();
      return s;
    },
    SQLITE_RECORDS,
    true,
  );
  const hooks = {
    after: (fn: () => unknown) => void cleanups.push(fn),
    skip: (why?: string) => {
      throw new Error(why ?? 'etcd is not installed: bash scripts/testbed/etcd.sh');
    },
  };
  const etcd = await startEtcd(hooks);
  await figure(
    'etcd',
    async () => {
      const s = new EtcdStore({ endpoints: etcd!.endpoints, prefix: `/bench-${++n}/`, timeoutMs: 5000 });
      await s.open();
      return s;
    },
    ETCD_RECORDS,
    false,
  );
} finally {
  for (const fn of cleanups.reverse()) await Promise.resolve(fn()).catch(() => undefined);
}
