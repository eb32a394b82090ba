// Scale-up latency of a CometBFT sentry: "create" to "ready" for a sentry restored from a
// snapshot vs. one synced from genesis, on a real loopback network (a validator and a public
// full node) whose chain is first loaded with transactions until a genesis sync takes at
// least 60 s. Also the floor for a restore: copying the snapshot's bytes + start-to-ready of
// an already-synced node + catching up the blocks made since the snapshot.
//
// Everything is Rampart's own: LocalProvider runs the sentries, the cometbft kind prepares
// and probes them, takeSnapshot / DirectorySnapshotStore / restoreSource move the bytes.
//
// Restores, alternating in the same run: "old" (the pipeline before issue 21: one file after
// the other through 64 KiB stream chunks), "new" (files side by side on worker threads) from
// the same full snapshot, and "lite": new, from a snapshot of the same node whose set leaves
// out data/tx_index.db. Each against its own floor (its own snapshot's plain copy). Then the
// restore's copy alone from S3 on moto (plain and zstd) against the directory store's.
//
// stdout: one JSON line per figure, then a summary line. Progress goes to stderr.
// `--quick` (or RAMPART_BENCH_QUICK=1): a small chain and one run of each, a smoke run.
// Knobs (env): RAMPART_BENCH_BUDGET_S (total, default 1800), RAMPART_BENCH_TX_BYTES (default
// 1024), RAMPART_BENCH_FIRST_LOAD_MB (transaction bytes of the first load phase, default 200).

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { type CometbftOptions, createCometbftKind } from '../src/nodes/cometbft/cometbft-kind.ts';
import { setTomlValues } from '../src/nodes/cometbft/config-toml.ts';
import type { NodeAddress, RestoreSource } from '../src/nodes/node-kind.ts';
import { LocalProvider } from '../src/providers/local/local-provider.ts';
import type { Instance } from '../src/providers/provider.ts';
import { DirectorySnapshotStore } from '../src/snapshots/directory-store.ts';
import { type SnapshotManifest, snapshotId } from '../src/snapshots/manifest.ts';
import { S3SnapshotStore } from '../src/snapshots/s3-store.ts';
import { copyIntoStore, restoreSource, verifySnapshot } from '../src/snapshots/snapshot-files.ts';
import { takeSnapshot } from '../src/snapshots/take-snapshot.ts';
import { createNetwork, type NetNode, type Network, rpcResult } from '../test/support/cometbft-net.ts';
import { skipUnlessInstalled, startMoto } from '../test/support/servers.ts';

const BENCH = 'restore-vs-genesis';
const QUICK = process.argv.includes('--quick') || process.env.RAMPART_BENCH_QUICK === '1';
const envNumber = (name: string, fallback: number) => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
};
/** A genesis sync must take at least this long (not in quick mode). */
const TARGET_GENESIS_S = 60;
/** What the load phase aims at, so that run-to-run noise stays above the 60 s. */
const AIM_GENESIS_S = 70;
const BUDGET_S = envNumber('RAMPART_BENCH_BUDGET_S', QUICK ? 300 : 1800);
const RUNS = QUICK ? 1 : 3;
const TX_BYTES = envNumber('RAMPART_BENCH_TX_BYTES', 1024);
const FIRST_LOAD_BYTES = (QUICK ? 20 : envNumber('RAMPART_BENCH_FIRST_LOAD_MB', 200)) * 1e6;
/** Bytes of transactions per JSON-RPC batch, and batches in flight. */
const BATCH_BYTES = 1 << 20;
const WORKERS = 3;
/** The load pauses while the validator's mempool holds more than this. */
const MAX_PENDING_BYTES = 8 << 20;
const POLL_MS = 250;
/** The snapshot source stays stopped at least this long, to measure its catch-up after. */
const PAUSE_S = 30;
const SET = 'sentry-snaps';
/** What the "lite" snapshot leaves out: a sentry with indexer = "null" needs none of it. */
const LITE_LEAVE_OUT = ['data/tx_index.db'];
const POOL = 'sentries';

const t0Bench = performance.now();
const elapsedS = () => (performance.now() - t0Bench) / 1000;
const since = (t: number) => (performance.now() - t) / 1000;
const r3 = (x: number) => Number(x.toFixed(3));
const log = (msg: string) => process.stderr.write(`[${BENCH} +${elapsedS().toFixed(0)}s] ${msg}\n`);
const load1 = () => r3(loadavg()[0]!);
const emit = (figure: string, fields: Record<string, unknown>) =>
  console.log(JSON.stringify({ bench: BENCH, figure, ...fields }));

function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += await dirBytes(p);
    else if (e.isFile()) total += (await stat(p)).size;
  }
  return total;
}

const heightOf = async (url: string) =>
  Number(
    ((await rpcResult(url, '/status')).sync_info as { latest_block_height: string }).latest_block_height,
  );

// ---------------------------------------------------------------------------------------------
// Everything started here, stopped and removed on exit, error and signal alike.

let net: Network | undefined;
let provider: LocalProvider | undefined;
let root: string | undefined;
const stopLoad = new AbortController();
let cleaning: Promise<void> | undefined;

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    // Servers' stops wait on unref'd timers: keep the process alive until all are done.
    const keepAlive = setInterval(() => undefined, 1000);
    stopLoad.abort();
    if (provider) {
      // The process table is the provider's truth: every node it ever started, running now.
      const p = provider;
      const stopAll = async () => Promise.all((await p.list()).map((i) => p.stop(i).catch(() => undefined)));
      await stopAll().catch((e) => log(`cleanup: stopping nodes: ${(e as Error).message}`));
      // A create that was mid-way when the signal came may have spawned since: once more.
      await sleep(200);
      await stopAll().catch(() => undefined);
    }
    await net?.cleanup().catch((e) => log(`cleanup: network: ${(e as Error).message}`));
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    if (root) await rm(root, { recursive: true, force: true }).catch(() => undefined);
    clearInterval(keepAlive);
  })();
  return cleaning;
}

for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const)
  process.once(signal, () => {
    log(`${signal}: cleaning up`);
    void cleanup().finally(() => process.exit(code));
  });

// ---------------------------------------------------------------------------------------------
// Load: large-ish kvstore transactions (key=value, random url-safe value) in JSON-RPC batches
// of broadcast_tx_sync to the validator, paced by its mempool.

/** Why the validator last turned a transaction down, for the progress log. */
let lastRejection = '';

interface LoadStats {
  txs: number;
  bytes: number;
  rejected: number;
  /** Sending, and then waiting for the chain to take it all in. */
  seconds: number;
}

let txSeq = 0;
const runTag = randomBytes(3).toString('hex');
function makeTx(): Buffer {
  const key = `k${runTag}${(txSeq++).toString(36)}=`;
  const n = Math.max(1, TX_BYTES - key.length);
  return Buffer.from(
    key +
      randomBytes(Math.ceil((n * 3) / 4) + 3)
        .toString('base64url')
        .slice(0, n),
  );
}

/** Sends transactions until the validator has accepted `targetBytes` of them in all. */
async function loadUntil(rpcUrl: string, targetBytes: number, stats: LoadStats): Promise<void> {
  const going = () => stats.bytes < targetBytes && !stopLoad.signal.aborted;
  const perBatch = Math.max(1, Math.floor(BATCH_BYTES / TX_BYTES));
  let pendingBytes = 0;
  const poller = async () => {
    while (going()) {
      try {
        pendingBytes = Number((await rpcResult(rpcUrl, '/num_unconfirmed_txs?limit=1')).total_bytes);
      } catch {
        // A busy validator: keep the last reading.
      }
      await sleep(200);
    }
  };
  const worker = async () => {
    while (going()) {
      if (pendingBytes > MAX_PENDING_BYTES) {
        await sleep(100);
        continue;
      }
      const txs = Array.from({ length: perBatch }, makeTx);
      const body = JSON.stringify(
        txs.map((tx, id) => ({
          jsonrpc: '2.0',
          id,
          method: 'broadcast_tx_sync',
          params: { tx: tx.toString('base64') },
        })),
      );
      let rejected = 0;
      try {
        const res = await fetch(rpcUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          signal: AbortSignal.any([stopLoad.signal, AbortSignal.timeout(60_000)]),
        });
        type Answer = { id: number; result?: { code: number; log?: string }; error?: { data?: string } };
        const out = (await res.json()) as Answer | Answer[];
        // A batch of one is answered with a plain object.
        const answers = Array.isArray(out) ? out : [out];
        for (const a of answers) {
          if (a.result?.code === 0) {
            stats.txs++;
            stats.bytes += txs[a.id]?.length ?? 0;
          } else {
            rejected++;
            lastRejection = a.error?.data ?? a.result?.log ?? `HTTP ${res.status}`;
          }
        }
        rejected += perBatch - answers.length;
      } catch (e) {
        if (stopLoad.signal.aborted) return;
        log(`load: ${(e as Error).message}`);
        rejected = perBatch;
      }
      stats.rejected += rejected;
      if (rejected > 0) await sleep(250);
    }
  };
  await Promise.all([poller(), ...Array.from({ length: WORKERS }, worker)]);
}

/** Waits until the validator's mempool is empty and the public full node is at its height. */
async function settle(validator: NetNode, full: NetNode): Promise<number> {
  const start = performance.now();
  for (;;) {
    const pending = await rpcResult(validator.rpcUrl, '/num_unconfirmed_txs?limit=1').catch(() => undefined);
    const [v, f] = await Promise.all([
      heightOf(validator.rpcUrl).catch(() => 0),
      heightOf(full.rpcUrl).catch(() => 0),
    ]);
    if (pending && Number(pending.n_txs) === 0 && v > 0 && f >= v - 1) return v;
    if (since(start) > 600)
      throw new Error(`the network did not settle in 600 s (validator ${v}, full ${f})`);
    await sleep(500);
  }
}

// ---------------------------------------------------------------------------------------------
// The restore before issue 21, for the same-run comparison: one file after the other, 64 KiB
// stream chunks hashed on the main thread.

function oldRestoreSource(store: DirectorySnapshotStore, m: SnapshotManifest): RestoreSource {
  return {
    id: m.id,
    height: m.height,
    restoreInto: async (dir) => {
      for (const f of m.files) {
        const dest = path.join(dir, f.path);
        await mkdir(path.dirname(dest), { recursive: true });
        const hash = createHash('sha256');
        let size = 0;
        const h = new Transform({
          transform(chunk: Buffer, _e, done) {
            hash.update(chunk);
            size += chunk.length;
            done(null, chunk);
          },
        });
        await pipeline(createReadStream(store.localFile(m.set, m.id, f.path)), h, createWriteStream(dest));
        if (hash.digest('hex') !== f.sha256 || size !== f.size) throw new Error(`${f.path}: checksum`);
      }
    },
  };
}

const cleanups: (() => Promise<void>)[] = [];

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  log(
    `${QUICK ? 'quick' : 'full'} run: budget ${BUDGET_S} s, ${RUNS} run(s) each, ${TX_BYTES}-byte txs, load ${new Date().toISOString()} loadavg ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  root = await mkdtemp(path.join(tmpdir(), 'rampart-bench-rvg-'));
  net = await createNetwork({ validators: 1, fullNodes: 1, timeoutCommit: '500ms' });
  const validator = net.validators[0]!;
  const full = net.fullNodes[0]!;
  // The network's own nodes (not Rampart's sentries, which keep CometBFT's defaults): room in
  // the mempool and the RPC for the load, fast links between them so the public node keeps up
  // with big blocks, no mempool gossip to it (it gets the transactions in blocks).
  for (const node of [validator, full]) {
    const file = path.join(node.home, 'config', 'config.toml');
    writeFileSync(
      file,
      setTomlValues(readFileSync(file, 'utf8'), {
        rpc: { max_body_bytes: 16_000_000, max_request_batch_size: 10_000 },
        mempool: { size: 50_000, broadcast: false },
        p2p: { send_rate: 100_000_000, recv_rate: 100_000_000 },
      }),
    );
  }
  await net.start(validator);
  await net.start(full);
  const validatorAddr: NodeAddress = {
    id: 'validator',
    host: '127.0.0.1',
    ports: { p2p: validator.p2pPort, rpc: validator.rpcPort, metrics: validator.metricsPort },
  };
  for (const n of [validator, full]) {
    const start = performance.now();
    while ((await heightOf(n.rpcUrl).catch(() => 0)) < 2) {
      if (since(start) > 60) throw new Error(`${n.home}: no blocks after 60 s`);
      await sleep(250);
    }
  }
  log(`network up: validator ${validator.rpcUrl}, public full node ${full.rpcUrl}`);

  const options: CometbftOptions = {
    kind: 'cometbft',
    validatorPool: 'validator',
    proxyApp: 'persistent_kvstore',
    peers: [full.p2pAddress],
    maxLagBlocks: 5,
    doubleSignCheckHeight: 10,
  };
  const kind = createCometbftKind({ options });
  const prov = new LocalProvider({ name: 'bench', dataDir: path.join(root, 'nodes') });
  provider = prov;
  const store = new DirectorySnapshotStore(path.join(root, 'snaps'));
  let actions = 0;
  const create = (nodeId: string, snapshot?: RestoreSource) =>
    prov.create({
      nodeId,
      pool: POOL,
      actionId: `bench-${++actions}`,
      term: 1,
      kind,
      launch: { role: 'sentry', upstream: [validatorAddr], options, snapshot },
    });
  const logTail = (nodeId: string, lines: number) => {
    try {
      return readFileSync(path.join(prov.dataDir, POOL, nodeId, 'node.log'), 'utf8')
        .trimEnd()
        .split('\n')
        .slice(-lines)
        .join('\n');
    } catch (e) {
      return `(no log: ${(e as Error).message})`;
    }
  };
  /**
   * Where a node's last start spent its time, from its own log (seconds after `t0Epoch`, the
   * create or start call): the process logging, the ABCI handshake done, the RPC listening,
   * block sync handing over to consensus.
   */
  const timeline = (nodeId: string, t0Epoch: number): Record<string, number> => {
    let text: string;
    try {
      text = readFileSync(path.join(prov.dataDir, POOL, nodeId, 'node.log'), 'utf8');
    } catch {
      return {};
    }
    const lines = text.slice(Math.max(0, text.lastIndexOf('Version info') - 40)).split('\n');
    const at = (marker: string) => {
      const line = lines.find((l) => l.includes(marker));
      // CometBFT's format: I[2026-11-22|03:12:11.784] message …, local time like Date's.
      const m = line && /\[(\d+)-(\d+)-(\d+)\|(\d+):(\d+):(\d+)\.(\d+)\]/.exec(line);
      if (!m) return undefined;
      const [y, mo, d, h, mi, sec, ms] = m.slice(1).map(Number) as [number, ...number[]];
      return r3((new Date(y, mo! - 1, d, h, mi, sec, ms).getTime() - t0Epoch) / 1000);
    };
    const out: Record<string, number> = {};
    for (const [name, marker] of [
      ['processS', 'Version info'],
      ['handshakeDoneS', 'Completed ABCI Handshake'],
      ['rpcUpS', 'Starting RPC HTTP server'],
      ['toConsensusS', 'Time to switch to consensus'],
    ] as const) {
      const v = at(marker);
      if (v !== undefined) out[name] = v;
    }
    return out;
  };
  const addressOf = (i: Instance): NodeAddress => ({ id: i.nodeId, host: i.host, ports: i.ports });

  interface Ready {
    seconds: number;
    height: number;
    tip: number;
    /** [seconds since t0, height] while it was not ready. */
    samples: [number, number][];
  }
  /** Polls the kind's probe, with the validator's height as the tip, until it says ready. */
  const waitReady = async (addr: NodeAddress, t0: number, timeoutS: number): Promise<Ready> => {
    const samples: [number, number][] = [];
    let lastLog = performance.now();
    for (;;) {
      const tip = await heightOf(validator.rpcUrl).catch(() => undefined);
      const p = await kind.probe(addr, { role: 'sentry', tipHeight: tip });
      const t = since(t0);
      if (p.ready && tip !== undefined) return { seconds: t, height: p.height ?? 0, tip, samples };
      if (p.height !== undefined) samples.push([t, p.height]);
      if (!p.reachable && !(await prov.list()).some((i) => i.nodeId === addr.id && i.running))
        throw new Error(`${addr.id} exited:\n${logTail(addr.id, 20)}`);
      if (t > timeoutS)
        throw new Error(`${addr.id} not ready after ${timeoutS} s: ${p.detail}\n${logTail(addr.id, 20)}`);
      if (since(lastLog) >= 15) {
        lastLog = performance.now();
        log(`  ${addr.id} at ${t.toFixed(0)} s: ${p.detail ?? 'ready but no tip'}`);
        if (!p.reachable) log(`  ${addr.id} log: ${logTail(addr.id, 3)}`);
      }
      await sleep(POLL_MS);
    }
  };

  interface GenesisRun {
    instance: Instance;
    seconds: number;
    createS: number;
    height: number;
    tip: number;
    blocksPerS: number;
  }
  const genesisRun = async (nodeId: string): Promise<GenesisRun> => {
    const la = load1();
    const t0 = performance.now();
    const instance = await create(nodeId);
    const createS = since(t0);
    const r = await waitReady(addressOf(instance), t0, 1200);
    const run = {
      instance,
      seconds: r.seconds,
      createS,
      height: r.height,
      tip: r.tip,
      blocksPerS: r.height / Math.max(0.001, r.seconds - createS),
    };
    log(`${nodeId}: ready in ${r.seconds.toFixed(1)} s at height ${r.height} (tip ${r.tip})`);
    emit('genesis-sync', {
      node: nodeId,
      seconds: r3(run.seconds),
      prepareS: r3(createS),
      height: r.height,
      tip: r.tip,
      blocksPerS: r3(run.blocksPerS),
      loadavgBefore: la,
      loadavgAfter: load1(),
    });
    return run;
  };

  // -- Load until a genesis sync takes at least TARGET_GENESIS_S (the sync is the probe) -----
  const stats: LoadStats = { txs: 0, bytes: 0, rejected: 0, seconds: 0 };
  const probes: { bytes: number; seconds: number }[] = [];
  let loadBytes = FIRST_LOAD_BYTES;
  let probeN = 0;
  let first: GenesisRun;
  let targetReached = false;
  for (;;) {
    log(`loading ${(loadBytes / 1e6).toFixed(0)} MB of transactions…`);
    const loadStart = performance.now();
    await loadUntil(validator.rpcUrl, stats.bytes + loadBytes, stats);
    const height = await settle(validator, full);
    stats.seconds += since(loadStart);
    const rate = stats.bytes / Math.max(1, stats.seconds);
    log(
      `loaded ${stats.txs} txs, ${(stats.bytes / 1e6).toFixed(0)} MB in ${stats.seconds.toFixed(0)} s (${(rate / 1e6).toFixed(2)} MB/s, ${stats.rejected} rejected${lastRejection ? `, last: ${lastRejection}` : ''}); height ${height}`,
    );
    const g = await genesisRun(`genesis-${++probeN}`);
    probes.push({ bytes: stats.bytes, seconds: g.seconds });
    emit('probe', { probe: probeN, loadedBytes: stats.bytes, loadedTxs: stats.txs, seconds: r3(g.seconds) });
    if (QUICK || g.seconds >= TARGET_GENESIS_S) {
      targetReached = g.seconds >= TARGET_GENESIS_S;
      first = g;
      break;
    }
    // Sync time as a line in loaded bytes: through the last two probes, or from ~5 s of
    // fixed cost with one.
    const last = probes.at(-1)!;
    const prev = probes.at(-2);
    let slope = (last.seconds - 5) / Math.max(1, last.bytes);
    if (prev && last.bytes > prev.bytes && last.seconds > prev.seconds)
      slope = (last.seconds - prev.seconds) / (last.bytes - prev.bytes);
    const wantBytes = last.bytes + (AIM_GENESIS_S - last.seconds) / Math.max(slope, 1e-12);
    // After this load: a probe, two more genesis runs, and ~3 min of snapshot, floor, restores.
    const affordableS = BUDGET_S - elapsedS() - 3 * AIM_GENESIS_S - 180;
    if (affordableS < 20) {
      log(
        `genesis sync ${g.seconds.toFixed(1)} s < ${TARGET_GENESIS_S} s, but the budget is spent: going on`,
      );
      first = g;
      break;
    }
    loadBytes = Math.max(5e6, Math.min((wantBytes - stats.bytes) * 1.05, affordableS * rate));
    log(`genesis sync ${g.seconds.toFixed(1)} s < ${TARGET_GENESIS_S} s: loading more`);
    await prov.destroy(g.instance);
  }
  const chainHeight = await heightOf(validator.rpcUrl);
  const chainBytes = await dirBytes(path.join(validator.home, 'data'));
  emit('chain', {
    height: chainHeight,
    dataBytes: chainBytes,
    loadedTxs: stats.txs,
    loadedTxBytes: stats.bytes,
    txBytes: TX_BYTES,
    loadSeconds: r3(stats.seconds),
    loadMBPerS: r3(stats.bytes / 1e6 / Math.max(1, stats.seconds)),
    rejectedTxs: stats.rejected,
    genesisTargetReached: QUICK ? null : targetReached,
  });

  // -- More genesis runs, the first synced node standing by (stopped) as the snapshot source --
  let source = first.instance;
  await prov.stop(source);
  const pausedAt = await heightOf(validator.rpcUrl);
  const pausedT = performance.now();
  const genesis = [first];
  for (let i = 2; i <= RUNS; i++) {
    const left = BUDGET_S - elapsedS() - 180;
    if (left < median(genesis.map((g) => g.seconds)) * 1.3) {
      log(`budget: skipping genesis run ${i}`);
      break;
    }
    const g = await genesisRun(`genesis-${++probeN}`);
    genesis.push(g);
    await prov.destroy(g.instance);
  }

  // -- The source back, caught up: its catch-up of the blocks made while it was stopped -------
  // (at least PAUSE_S of them, for a catch-up rate of empty blocks).
  let restartAfterPause: { seconds: number; blocks: number };
  {
    const short = PAUSE_S - since(pausedT);
    if (short > 0) {
      log(`letting the chain grow ${short.toFixed(0)} s more while the source is stopped`);
      await sleep(short * 1000);
    }
    const t0 = performance.now();
    source = await prov.start(source);
    const r = await waitReady(addressOf(source), t0, 600);
    const blocks = r.height - pausedAt;
    log(`source back after a pause: ${blocks} blocks caught up, ready in ${r.seconds.toFixed(1)} s`);
    emit('restart-after-pause', { seconds: r3(r.seconds), blocks, heightAtStop: pausedAt, height: r.height });
    restartAfterPause = { seconds: r.seconds, blocks };
  }

  // -- The snapshot ------------------------------------------------------------------------------
  let manifest: SnapshotManifest;
  {
    const t0 = performance.now();
    const taken = await takeSnapshot({
      set: SET,
      store,
      kind,
      provider: prov,
      pool: POOL,
      nodeId: source.nodeId,
      instance: source,
      address: addressOf(source),
    });
    manifest = taken.manifest;
    source = taken.instance;
    const seconds = since(t0);
    log(
      `snapshot ${manifest.id}: height ${manifest.height}, ${(manifest.totalBytes / 1e6).toFixed(0)} MB in ${manifest.files.length} files, ${seconds.toFixed(1)} s`,
    );
    emit('take-snapshot', {
      seconds: r3(seconds),
      height: manifest.height,
      bytes: manifest.totalBytes,
      files: manifest.files.length,
      mbPerS: r3(manifest.totalBytes / 1e6 / seconds),
      bytesByDb: Object.fromEntries(
        Object.entries(Object.groupBy(manifest.files, (f) => f.path.split('/').slice(0, 2).join('/'))).map(
          ([db, fs]) => [db, (fs ?? []).reduce((a, f) => a + f.size, 0)],
        ),
      ),
    });
    await waitReady(addressOf(source), t0, 600);
  }
  // The same node, its set leaving the transaction index out.
  let lite: SnapshotManifest;
  {
    const t0 = performance.now();
    const taken = await takeSnapshot({
      set: SET,
      store,
      kind,
      provider: prov,
      pool: POOL,
      nodeId: source.nodeId,
      instance: source,
      address: addressOf(source),
      leaveOut: LITE_LEAVE_OUT,
    });
    lite = taken.manifest;
    source = taken.instance;
    const seconds = since(t0);
    log(
      `lite snapshot ${lite.id}: height ${lite.height}, ${(lite.totalBytes / 1e6).toFixed(0)} MB (${LITE_LEAVE_OUT.join(', ')} left out), ${seconds.toFixed(1)} s`,
    );
    emit('take-snapshot-lite', {
      seconds: r3(seconds),
      height: lite.height,
      bytes: lite.totalBytes,
      files: lite.files.length,
      leftOut: LITE_LEAVE_OUT,
      shareOfFull: r3(lite.totalBytes / manifest.totalBytes),
    });
    await waitReady(addressOf(source), t0, 600);
  }

  // -- Floor (b): start-to-ready of an already-synced node --------------------------------------
  const restarts: number[] = [];
  for (let i = 1; i <= RUNS; i++) {
    await prov.stop(source);
    const la = load1();
    const t0Epoch = Date.now();
    const t0 = performance.now();
    source = await prov.start(source);
    const r = await waitReady(addressOf(source), t0, 300);
    restarts.push(r.seconds);
    const tl = timeline(source.nodeId, t0Epoch);
    log(`restart ${i}: ready in ${r.seconds.toFixed(2)} s ${JSON.stringify(tl)}`);
    emit('restart-to-ready', {
      run: i,
      seconds: r3(r.seconds),
      height: r.height,
      timeline: tl,
      loadavgBefore: la,
    });
  }
  // The source is done with: the restored sentries find the same peers the genesis ones did.
  await prov.destroy(source);

  // -- Floor (a): a plain copy of the snapshot's bytes ----------------------------------------
  const copies: Record<'full' | 'lite', number[]> = { full: [], lite: [] };
  for (let i = 1; i <= RUNS; i++) {
    for (const which of i % 2 ? (['full', 'lite'] as const) : (['lite', 'full'] as const)) {
      const m = which === 'full' ? manifest : lite;
      const filesDir = path.join(store.location, SET, m.id, 'files');
      const dest = path.join(root, `copy-${which}-${i}`);
      const t0 = performance.now();
      await cp(filesDir, dest, { recursive: true });
      const seconds = since(t0);
      copies[which].push(seconds);
      await rm(dest, { recursive: true, force: true });
      log(`plain copy ${which} ${i}: ${seconds.toFixed(2)} s`);
      emit('snapshot-copy', {
        snapshot: which,
        run: i,
        seconds: r3(seconds),
        bytes: m.totalBytes,
        mbPerS: r3(m.totalBytes / 1e6 / seconds),
      });
    }
  }

  // Reading and checking the snapshot without writing it anywhere: how much of a restore's
  // copy is hashing and reading.
  {
    const t0 = performance.now();
    await verifySnapshot(store, manifest);
    const seconds = since(t0);
    log(`verify (read + sha256, no write): ${seconds.toFixed(2)} s`);
    emit('snapshot-verify', {
      seconds: r3(seconds),
      bytes: manifest.totalBytes,
      mbPerS: r3(manifest.totalBytes / 1e6 / seconds),
    });
  }

  // -- Floor (c): catch-up rate of the (empty) blocks made since the snapshot -----------------
  // From the source's restart after its pause (PAUSE_S or more), less a plain restart. Start-up
  // varies by a few seconds (CometBFT dials peers after a random 0-3 s), so the difference is
  // taken as at least 0.5 s: a fast catch-up is then underestimated, which raises the floor.
  const restartS = median(restarts);
  const extraS = restartAfterPause.seconds - restartS;
  const catchUpBlocksPerS = restartAfterPause.blocks / Math.max(0.5, extraS);
  const catchUpFrom =
    extraS >= 0.5
      ? 'restart after a pause, less a plain restart'
      : `restart after a pause, less a plain restart (${extraS.toFixed(2)} s, taken as 0.5 s)`;
  emit('catch-up-rate', {
    blocksPerS: r3(catchUpBlocksPerS),
    blocks: restartAfterPause.blocks,
    from: catchUpFrom,
  });

  // -- Restores: old, new and lite, alternating -------------------------------------------------
  type Variant = 'old' | 'new' | 'lite';
  const VARIANTS: readonly Variant[] = ['old', 'new', 'lite'];
  const restores: Record<Variant, { seconds: number; floor: number; restoreIntoS: number }[]> = {
    old: [],
    new: [],
    lite: [],
  };
  let restoreN = 0;
  for (let i = 1; i <= RUNS; i++) {
    // Each variant takes each place in the order once over three runs.
    const order = VARIANTS.map((_, k) => VARIANTS[(k + i - 1) % VARIANTS.length]!);
    for (const variant of order) {
      const m = variant === 'lite' ? lite : manifest;
      const src = variant === 'old' ? oldRestoreSource(store, m) : restoreSource(store, m);
      let restoreIntoS = 0;
      const timed: RestoreSource = {
        id: src.id,
        height: src.height,
        restoreInto: async (dir, onProgress) => {
          const t = performance.now();
          await src.restoreInto(dir, onProgress);
          restoreIntoS = since(t);
        },
      };
      const la = load1();
      const t0Epoch = Date.now();
      const t0 = performance.now();
      const instance = await create(`restore-${++restoreN}-${variant}`, timed);
      const prepareS = since(t0);
      const r = await waitReady(addressOf(instance), t0, 600);
      const blocksSinceSnapshot = r.tip - m.height;
      const catchUpS = blocksSinceSnapshot / catchUpBlocksPerS;
      const copyS = median(copies[variant === 'lite' ? 'lite' : 'full']);
      const floor = copyS + restartS + catchUpS;
      restores[variant].push({ seconds: r.seconds, floor, restoreIntoS });
      log(
        `restore ${i} ${variant}: ready in ${r.seconds.toFixed(2)} s (restoreInto ${restoreIntoS.toFixed(2)} s, prepare ${prepareS.toFixed(2)} s), ${blocksSinceSnapshot} blocks since the snapshot; floor ${floor.toFixed(2)} s`,
      );
      emit('restore', {
        variant,
        run: i,
        seconds: r3(r.seconds),
        prepareS: r3(prepareS),
        restoreIntoS: r3(restoreIntoS),
        prepareOtherS: r3(prepareS - restoreIntoS),
        restoreIntoMBPerS: r3(m.totalBytes / 1e6 / Math.max(0.001, restoreIntoS)),
        startToReadyS: r3(r.seconds - prepareS),
        height: r.height,
        tip: r.tip,
        blocksSinceSnapshot,
        floorS: r3(floor),
        floorCatchUpS: r3(catchUpS),
        timeline: timeline(instance.nodeId, t0Epoch),
        loadavgBefore: la,
        loadavgAfter: load1(),
      });
      await prov.destroy(instance);
    }
  }

  // -- The restore's copy alone: directory store against S3 on moto (plain, zstd) ----------------
  const s3Copy: Record<string, number[]> = {};
  const motoSkip = skipUnlessInstalled('moto_server');
  if (motoSkip) log(`S3: skipped (${motoSkip})`);
  else {
    process.env.AWS_ACCESS_KEY_ID ??= 'test';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
    const scope = {
      skip: () => undefined,
      after: (fn: () => Promise<void>) => cleanups.push(fn),
    } as unknown as TestContext;
    // startMoto waits on unref'd timers: something must keep the process alive meanwhile.
    const keepAlive = setInterval(() => undefined, 1000);
    const moto = (await startMoto(scope).finally(() => clearInterval(keepAlive)))!;
    const client = new S3Client({ endpoint: moto.url, region: 'us-east-1', forcePathStyle: true });
    await client.send(new CreateBucketCommand({ Bucket: 'snaps' }));
    const s3: Record<'s3' | 's3zstd', { store: S3SnapshotStore; m: SnapshotManifest }> = {} as never;
    for (const name of ['s3', 's3zstd'] as const) {
      const s3store = new S3SnapshotStore(
        { bucket: 'snaps', prefix: `${name}/`, compression: name === 's3zstd' ? 'zstd' : undefined },
        client,
      );
      const id = snapshotId(Date.now(), name);
      const t0 = performance.now();
      const files = await copyIntoStore(
        s3store,
        SET,
        id,
        path.join(store.location, SET, manifest.id, 'files'),
        manifest.files.map((f) => f.path),
      );
      const m: SnapshotManifest = {
        ...manifest,
        id,
        files,
        ...(s3store.compression ? { compression: s3store.compression } : {}),
      };
      await s3store.putManifest(m);
      s3[name] = { store: s3store, m };
      emit('s3-upload', { store: name, seconds: r3(since(t0)), bytes: manifest.totalBytes });
      log(`${name}: uploaded in ${since(t0).toFixed(1)} s`);
    }
    for (let i = 1; i <= RUNS; i++) {
      const order = i % 2 ? ['dir', 's3', 's3zstd'] : ['s3zstd', 's3', 'dir'];
      for (const name of order) {
        const dest = path.join(root, `s3-${name}-${i}`);
        const t0 = performance.now();
        if (name === 'dir') await restoreSource(store, manifest).restoreInto(dest);
        else {
          const x = s3[name as 's3' | 's3zstd'];
          await restoreSource(x.store, x.m).restoreInto(dest);
        }
        const seconds = since(t0);
        s3Copy[name] = [...(s3Copy[name] ?? []), seconds];
        await rm(dest, { recursive: true, force: true });
        log(`restore copy from ${name} ${i}: ${seconds.toFixed(2)} s`);
        emit('restore-copy', { store: name, run: i, seconds: r3(seconds), bytes: manifest.totalBytes });
      }
    }
  }

  const genesisSyncMedianS = median(genesis.map((g) => g.seconds));
  const byVariant = Object.fromEntries(
    VARIANTS.map((v) => {
      const restoreMedianS = median(restores[v].map((r) => r.seconds));
      const floorS = median(restores[v].map((r) => r.floor));
      return [
        v,
        {
          restoreMedianS: r3(restoreMedianS),
          restoreIntoMedianS: r3(median(restores[v].map((r) => r.restoreIntoS))),
          floorS: r3(floorS),
          speedup: r3(genesisSyncMedianS / restoreMedianS),
          restoreVsFloor: r3(restoreMedianS / floorS),
          met: {
            speedup: genesisSyncMedianS / restoreMedianS >= 10,
            restoreVsFloor: restoreMedianS / floorS <= 1.2,
          },
        },
      ];
    }),
  );
  const s3Medians = Object.fromEntries(Object.entries(s3Copy).map(([k, v]) => [k, r3(median(v))]));
  console.log(
    JSON.stringify({
      bench: BENCH,
      quick: QUICK,
      chainHeight,
      chainBytes,
      loadedTxBytes: stats.bytes,
      txBytes: TX_BYTES,
      snapshotHeight: manifest.height,
      snapshotBytes: manifest.totalBytes,
      liteSnapshotBytes: lite.totalBytes,
      genesisSyncMedianS: r3(genesisSyncMedianS),
      restores: byVariant,
      newOverOld: r3(byVariant.new!.restoreMedianS / byVariant.old!.restoreMedianS),
      floor: {
        copyFullS: r3(median(copies.full)),
        copyLiteS: r3(median(copies.lite)),
        restartToReadyS: r3(restartS),
        catchUpBlocksPerS: r3(catchUpBlocksPerS),
      },
      restoreCopyMedianS: s3Medians,
      s3OverDir: s3Medians.s3 && s3Medians.dir ? r3(s3Medians.s3 / s3Medians.dir) : null,
      s3ZstdOverDir: s3Medians.s3zstd && s3Medians.dir ? r3(s3Medians.s3zstd / s3Medians.dir) : null,
      runs: {
        genesis: genesis.length,
        restorePerVariant: RUNS,
        copy: RUNS,
        restart: restarts.length,
      },
      genesisTargetReached: QUICK ? null : targetReached,
      targets: {
        genesisSyncS: QUICK ? null : TARGET_GENESIS_S,
        speedup: 10,
        restoreVsFloor: 1.2,
        s3OverDir: 1.5,
      },
      loadavg: loadavg().map(r3),
      elapsedS: r3(elapsedS()),
    }),
  );
}

try {
  await main();
} catch (e) {
  // After a signal the nodes are being stopped under main's feet: that is no failure to tell.
  if (!cleaning) log(`failed: ${(e as Error).stack ?? String(e)}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
