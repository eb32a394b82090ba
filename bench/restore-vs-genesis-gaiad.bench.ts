// How fast a new gaiad sentry is ready, three ways, on the same Cosmos Hub chain in the same run:
// synced from genesis (every block replayed through the application), restored from a file
// snapshot of a sentry's data (then the blocks since), and joined by CometBFT state sync from
// the application snapshots a sentry of the pool serves (then the blocks since). The chain
// (one validator, one public full node, made with gaiad's own commands) is first loaded with
// real bank sends, signed here, each to a new account, so the state and the history both grow.
//
// Everything is Rampart's own: LocalProvider runs the sentries, the cometbft kind makes their
// homes (`gaiad init`, app.toml), plans the state sync and probes readiness;
// takeSnapshot / DirectorySnapshotStore / restoreSource move the file snapshot's bytes.
//
// stdout: one JSON line per figure, then a summary line with the medians and their ratios.
// Progress goes to stderr. `--quick` (or RAMPART_BENCH_QUICK=1): a small chain and one run of
// each, a smoke run. Knobs (env): RAMPART_BENCH_GAIA_SENDS (bank sends loaded, default 10000),
// RAMPART_BENCH_RUNS (runs of each way, default 3).

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BankSender } from '../src/nodes/cometbft/bank-send-load.ts';
import { createCometbftKind } from '../src/nodes/cometbft/cometbft-kind.ts';
import { type CometbftOptions, cometbftKindConfig } from '../src/nodes/cometbft/config.ts';
import { setTomlValues } from '../src/nodes/cometbft/config-toml.ts';
import type { NodeAddress, NodeKind, RestoreSource, StateSyncPlan } from '../src/nodes/node-kind.ts';
import { LocalProvider } from '../src/providers/local/local-provider.ts';
import type { Instance } from '../src/providers/provider.ts';
import { DirectorySnapshotStore } from '../src/snapshots/directory-store.ts';
import { restoreSource } from '../src/snapshots/snapshot-files.ts';
import { takeSnapshot } from '../src/snapshots/take-snapshot.ts';
import { rpcResult } from '../test/support/cometbft-net.ts';
import { createGaiaChain, type GaiaChain } from '../test/support/gaia-chain.ts';
import { findBinary } from '../test/support/servers.ts';

const BENCH = 'restore-vs-genesis-gaiad';
const QUICK = process.argv.includes('--quick') || process.env.RAMPART_BENCH_QUICK === '1';
const envNumber = (name: string, fallback: number) => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
};
const SENDS = QUICK ? 5_000 : envNumber('RAMPART_BENCH_GAIA_SENDS', 10_000);
const RUNS = QUICK ? 1 : envNumber('RAMPART_BENCH_RUNS', 3);
/** MsgSends per transaction: fewer signatures to check, the same state and history growth. */
const SENDS_PER_TX = 20;
/** Transactions per JSON-RPC batch (the chain's own nodes take 100). */
const BATCH = 50;
/** The load pauses while the validator's mempool holds more transactions than this. */
const MAX_PENDING_TXS = 1_000;
/**
 * Blocks every second: the chain grows while the bench runs, and every genesis sync replays
 * those blocks too; slower blocks keep that share small.
 */
const BLOCK_TIME = '1s';
/**
 * The serving sentry takes a state-sync snapshot every INTERVAL blocks (50 s at 1 block/s)
 * and keeps KEEP of them: a snapshot a joining node picked outlives its discovery and fetch.
 * The kind serves state sync only from a node at least two intervals high: the quick chain
 * (5,000 sends) is about 70 blocks high when its state sync starts, so it snapshots every 20.
 */
const INTERVAL = QUICK ? 20 : 50;
const KEEP = 10;
const POLL_MS = 250;
/** A catching-up node whose height has not moved for this long is restarted (waitReady). */
const STALL_S = 60;
const POOL = 'sentries';
const SET = 'sentry-snaps';

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
  if (!existsSync(dir)) return 0;
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += await dirBytes(p);
    else if (e.isFile()) total += (await stat(p)).size;
  }
  return total;
}

const syncInfo = async (url: string) =>
  (await rpcResult(url, '/status')).sync_info as {
    latest_block_height: string;
    earliest_block_height: string;
  };
const heightOf = async (url: string) => Number((await syncInfo(url)).latest_block_height);

// ---------------------------------------------------------------------------------------------
// Everything started here, stopped and removed on exit, error and signal alike.

let chain: GaiaChain | undefined;
let provider: LocalProvider | undefined;
let root: string | undefined;
let cleaning: Promise<void> | undefined;

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    const keepAlive = setInterval(() => undefined, 1000);
    if (provider) {
      const p = provider;
      const stopAll = async () => Promise.all((await p.list()).map((i) => p.stop(i).catch(() => undefined)));
      await stopAll().catch((e) => log(`cleanup: stopping nodes: ${(e as Error).message}`));
      await sleep(200);
      await stopAll().catch(() => undefined);
    }
    await chain?.cleanup().catch((e) => log(`cleanup: chain: ${(e as Error).message}`));
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

async function main(): Promise<void> {
  if (!findBinary('gaiad')) throw new Error('gaiad is not installed: run bash scripts/testbed/gaiad.sh');
  log(
    `${QUICK ? 'quick' : 'full'} run: ${SENDS} bank sends, ${RUNS} run(s) of each way, loadavg ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  root = await mkdtemp(path.join(tmpdir(), 'rampart-bench-gaia-'));
  // The fee market off: the load goes as fast as the chain takes it, at the nodes' 0stake.
  chain = await createGaiaChain({ validators: 1, fullNodes: 1, timeoutCommit: BLOCK_TIME, feeMarket: false });
  const validator = chain.validators[0]!;
  const full = chain.fullNodes[0]!;
  // The chain's own nodes (not Rampart's sentries, which keep the defaults): room in the
  // mempool and the RPC for the load, no mempool gossip to the public node.
  for (const node of [validator, full]) {
    const file = path.join(node.home, 'config', 'config.toml');
    writeFileSync(
      file,
      setTomlValues(readFileSync(file, 'utf8'), {
        rpc: { max_body_bytes: 16_000_000, max_request_batch_size: 100 },
        mempool: { size: 20_000, broadcast: false },
        p2p: { send_rate: 100_000_000, recv_rate: 100_000_000 },
      }),
    );
  }
  await chain.start(validator);
  await chain.start(full);
  for (const n of [validator, full]) {
    const start = performance.now();
    while ((await heightOf(n.rpcUrl).catch(() => 0)) < 2) {
      if (since(start) > 120) throw new Error(`${n.home}: no blocks after 120 s`);
      await sleep(250);
    }
  }
  log(`chain up: validator ${validator.rpcUrl}, public full node ${full.rpcUrl}`);

  // -- Load: bank sends to new accounts, paced by the validator's mempool ----------------------
  const sender = new BankSender({
    rpcUrl: validator.rpcUrl,
    chainId: chain.chainId,
    from: chain.loadAccount,
    denom: chain.denom,
    sendsPerTx: SENDS_PER_TX,
  });
  await sender.sync();
  const loadStart = performance.now();
  let lastLog = performance.now();
  while (sender.stats.accepted * SENDS_PER_TX < SENDS) {
    const pending = await rpcResult(validator.rpcUrl, '/num_unconfirmed_txs?limit=1').catch(() => undefined);
    if (!pending || Number(pending.n_txs) > MAX_PENDING_TXS) {
      await sleep(100);
      continue;
    }
    const n = Math.min(BATCH, Math.ceil((SENDS - sender.stats.accepted * SENDS_PER_TX) / SENDS_PER_TX));
    await sender.broadcast(sender.sign(n), undefined, BATCH);
    if (since(lastLog) > 15) {
      lastLog = performance.now();
      log(
        `  loaded ${sender.stats.accepted * SENDS_PER_TX} sends (${sender.stats.rejected} txs rejected${sender.stats.lastRejection ? `, last: ${sender.stats.lastRejection}` : ''})`,
      );
    }
  }
  // Settled: the validator's mempool empty, the public node at its height.
  for (;;) {
    const pending = await rpcResult(validator.rpcUrl, '/num_unconfirmed_txs?limit=1').catch(() => undefined);
    const [v, f] = await Promise.all([
      heightOf(validator.rpcUrl).catch(() => 0),
      heightOf(full.rpcUrl).catch(() => 0),
    ]);
    if (pending && Number(pending.n_txs) === 0 && f >= v - 1) break;
    if (since(loadStart) > 1800) throw new Error(`the chain did not settle (validator ${v}, full ${f})`);
    await sleep(500);
  }
  const loadS = since(loadStart);
  const chainHeight = await heightOf(validator.rpcUrl);
  const chainBytes = await dirBytes(path.join(validator.home, 'data'));
  const appBytes = await dirBytes(path.join(validator.home, 'data', 'application.db'));
  log(
    `loaded ${sender.stats.accepted * SENDS_PER_TX} sends in ${sender.stats.accepted} txs, ${loadS.toFixed(0)} s; height ${chainHeight}, data ${(chainBytes / 1e6).toFixed(0)} MB (application ${(appBytes / 1e6).toFixed(0)} MB)`,
  );
  emit('chain', {
    height: chainHeight,
    dataBytes: chainBytes,
    applicationBytes: appBytes,
    sends: sender.stats.accepted * SENDS_PER_TX,
    txs: sender.stats.accepted,
    rejectedTxs: sender.stats.rejected,
    loadSeconds: r3(loadS),
    sendsPerS: r3((sender.stats.accepted * SENDS_PER_TX) / loadS),
  });

  // -- The pool's two node options: plain sentries, and sentries that serve state sync --------
  const base = {
    kind: 'cometbft',
    binary: chain.binary,
    genesis: chain.genesisFile,
    peers: [full.p2pAddress],
    maxLagBlocks: 5,
  };
  const plainOptions: CometbftOptions = cometbftKindConfig.parse({
    ...base,
    app: { minimumGasPrices: `0${chain.denom}` },
  });
  const servingOptions: CometbftOptions = cometbftKindConfig.parse({
    ...base,
    app: { minimumGasPrices: `0${chain.denom}`, snapshotInterval: INTERVAL, snapshotKeepRecent: KEEP },
    stateSync: 'prefer',
  });
  const plain = createCometbftKind({ options: plainOptions });
  const serving = createCometbftKind({ options: servingOptions });
  const prov = new LocalProvider({ name: 'bench', dataDir: path.join(root, 'nodes') });
  provider = prov;
  const store = new DirectorySnapshotStore(path.join(root, 'snaps'));
  const validatorAddr: NodeAddress = {
    id: 'validator',
    host: '127.0.0.1',
    ports: { p2p: validator.p2pPort, rpc: validator.rpcPort, metrics: validator.metricsPort },
  };
  let actions = 0;
  const create = (
    nodeId: string,
    kind: NodeKind,
    options: CometbftOptions,
    join: { snapshot?: RestoreSource; stateSync?: StateSyncPlan } = {},
  ) =>
    prov.create({
      nodeId,
      pool: POOL,
      actionId: `bench-${++actions}`,
      term: 1,
      kind,
      launch: { role: 'sentry', upstream: [validatorAddr], options, ...join },
    });
  const addressOf = (i: Instance): NodeAddress => ({ id: i.nodeId, host: i.host, ports: i.ports });
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

  interface Ready {
    instance: Instance;
    seconds: number;
    height: number;
    tip: number;
    /** When the node first reported a height (after a state sync: the snapshot's), and which. */
    firstHeightS?: number;
    firstHeight?: number;
    /** Restarts after a stalled block sync (see STALL_S). */
    restarts: number;
  }
  /**
   * Polls the kind's probe, with the validator's height as the tip, until it says ready. A
   * node whose height has not moved for STALL_S while it catches up is restarted, and counted:
   * on this loaded host, CometBFT's block sync sometimes drops a peer as too slow and then
   * stalls with both peers connected (seen at height 22 for minutes, 0.38.19).
   */
  const waitReady = async (
    kind: NodeKind,
    instance: Instance,
    t0: number,
    timeoutS: number,
  ): Promise<Ready> => {
    let lastLog = performance.now();
    let first: { s: number; h: number } | undefined;
    let moved = { at: performance.now(), height: -1 };
    let restarts = 0;
    for (;;) {
      const addr = addressOf(instance);
      const tip = await heightOf(validator.rpcUrl).catch(() => undefined);
      const p = await kind.probe(addr, { role: 'sentry', tipHeight: tip });
      const t = since(t0);
      if (!first && (p.height ?? 0) > 0) first = { s: t, h: p.height! };
      if (p.ready && tip !== undefined)
        return {
          instance,
          seconds: t,
          height: p.height ?? 0,
          tip,
          ...(first ? { firstHeightS: r3(first.s), firstHeight: first.h } : {}),
          restarts,
        };
      if (!p.reachable && !(await prov.list()).some((i) => i.nodeId === addr.id && i.running))
        throw new Error(`${addr.id} exited:\n${logTail(addr.id, 20)}`);
      if (t > timeoutS)
        throw new Error(`${addr.id} not ready after ${timeoutS} s: ${p.detail}\n${logTail(addr.id, 20)}`);
      if (p.height !== undefined && p.height !== moved.height)
        moved = { at: performance.now(), height: p.height };
      // Height 0 is a state sync still restoring: not a stall.
      else if (p.catchingUp && moved.height > 0 && since(moved.at) > STALL_S) {
        log(`  ${addr.id}: block sync stalled at height ${moved.height} for ${STALL_S} s: restarting it`);
        await prov.stop(instance);
        instance = await prov.start(instance);
        restarts++;
        moved = { at: performance.now(), height: -1 };
      }
      if (since(lastLog) >= 15) {
        lastLog = performance.now();
        log(`  ${addr.id} at ${t.toFixed(0)} s: ${p.detail ?? 'ready but no tip'}`);
      }
      await sleep(POLL_MS);
    }
  };

  // -- The serving sentry: synced from genesis, taking state-sync snapshots as it goes --------
  let source: Instance;
  {
    const t0 = performance.now();
    const r = await waitReady(serving, await create('source', serving, servingOptions), t0, 1800);
    source = r.instance;
    log(
      `source (serving snapshots every ${INTERVAL} blocks): genesis sync ready in ${r.seconds.toFixed(1)} s`,
    );
    emit('source-genesis-sync', {
      seconds: r3(r.seconds),
      height: r.height,
      snapshotInterval: INTERVAL,
      restarts: r.restarts,
    });
  }
  // It serves a snapshot once it has made one at the tip (the light client trusts a recent
  // header, and state sync takes the newest snapshot it is offered), and the kind plans a state
  // sync from it only once it is two intervals high (planStateSync): the bench waits for both.
  const snapshotsDir = path.join(source.dataDir!, 'data', 'snapshots');
  const heights = async () =>
    existsSync(snapshotsDir) ? (await readdir(snapshotsDir)).filter((d) => /^\d+$/.test(d)).map(Number) : [];
  const readyAt = Math.max(await heightOf(validator.rpcUrl), 2 * INTERVAL);
  {
    const start = performance.now();
    while (!(await heights()).some((h) => h >= readyAt)) {
      if (since(start) > 300 + 2 * INTERVAL)
        throw new Error(`source: no state-sync snapshot after height ${readyAt}`);
      await sleep(500);
    }
    // The snapshot's chunks are written before its metadata, which is what makes it served.
    await sleep(5000);
    log(`source: state-sync snapshots at heights ${(await heights()).sort((a, b) => a - b).join(', ')}`);
  }

  // -- File snapshots, taken from the same sentry (stopped for the copy, then started again) --
  // A fresh one before each restore, as its state-sync snapshots are every INTERVAL blocks: both
  // ways then catch up a like number of blocks, and the figures compare the ways, not the ages.
  const fileSnapshot = async () => {
    const taken = await takeSnapshot({
      set: SET,
      store,
      kind: serving,
      provider: prov,
      pool: POOL,
      nodeId: source.nodeId,
      instance: source,
      address: addressOf(source),
    });
    const m = taken.manifest;
    source = (await waitReady(serving, taken.instance, performance.now(), 600)).instance;
    log(
      `file snapshot ${m.id}: height ${m.height}, ${(m.totalBytes / 1e6).toFixed(0)} MB in ${m.files.length} files`,
    );
    emit('file-snapshot', { height: m.height, bytes: m.totalBytes, files: m.files.length });
    return m;
  };
  let snapshotBytes = 0;

  // -- The three ways, each taking each place in the order once over three runs ----------------
  type Way = 'genesis' | 'restore' | 'stateSync';
  const WAYS: readonly Way[] = ['genesis', 'restore', 'stateSync'];
  const seconds: Record<Way, number[]> = { genesis: [], restore: [], stateSync: [] };
  const restarts: Record<Way, number> = { genesis: 0, restore: 0, stateSync: 0 };
  let n = 0;
  for (let i = 1; i <= RUNS; i++) {
    const order = WAYS.map((_, k) => WAYS[(k + i - 1) % WAYS.length]!);
    for (const way of order) {
      const nodeId = `${way}-${++n}`;
      const manifest = way === 'restore' ? await fileSnapshot() : undefined;
      const la = load1();
      const t0 = performance.now();
      let instance: Instance;
      let kind = plain;
      const extra: Record<string, unknown> = {};
      if (way === 'genesis') instance = await create(nodeId, plain, plainOptions);
      else if (manifest) {
        instance = await create(nodeId, plain, plainOptions, { snapshot: restoreSource(store, manifest) });
        extra.snapshotHeight = manifest.height;
        snapshotBytes = manifest.totalBytes;
      } else {
        kind = serving;
        const plan = await serving.planStateSync!({ siblings: [addressOf(source)] });
        if (!plan) throw new Error('no state-sync source: the serving sentry is not caught up');
        instance = await create(nodeId, serving, servingOptions, { stateSync: plan });
        extra.trustHeight = plan.trustHeight;
      }
      const prepareS = since(t0);
      const r = await waitReady(kind, instance, t0, 1800);
      instance = r.instance;
      restarts[way] += r.restarts;
      const earliest = Number(
        (await syncInfo(`http://127.0.0.1:${instance.ports.rpc}`).catch(() => undefined))
          ?.earliest_block_height ?? 0,
      );
      // A state-synced node's block store starts just after the snapshot it restored.
      if (way === 'stateSync') extra.snapshotHeight = earliest - 1;
      // Blocks it synced after its snapshot, to the height it was ready at.
      if (typeof extra.snapshotHeight === 'number') extra.catchUpBlocks = r.height - extra.snapshotHeight;
      seconds[way].push(r.seconds);
      log(
        `${way} ${i}: ready in ${r.seconds.toFixed(1)} s at height ${r.height}${r.firstHeightS !== undefined ? ` (first height ${r.firstHeight} at ${r.firstHeightS.toFixed(1)} s)` : ''}, earliest block ${earliest}`,
      );
      emit(way, {
        run: i,
        seconds: r3(r.seconds),
        prepareS: r3(prepareS),
        height: r.height,
        tip: r.tip,
        earliestBlock: earliest,
        restarts: r.restarts,
        firstHeight: r.firstHeight,
        firstHeightS: r.firstHeightS,
        ...extra,
        loadavgBefore: la,
        loadavgAfter: load1(),
      });
      await prov.destroy(instance);
    }
  }

  const med = Object.fromEntries(WAYS.map((w) => [w, median(seconds[w])])) as Record<Way, number>;
  console.log(
    JSON.stringify({
      bench: BENCH,
      quick: QUICK,
      chainHeight,
      heightAtEnd: await heightOf(validator.rpcUrl).catch(() => null),
      chainBytes,
      applicationBytes: appBytes,
      sends: sender.stats.accepted * SENDS_PER_TX,
      fileSnapshotBytes: snapshotBytes,
      snapshotInterval: INTERVAL,
      medianS: { genesis: r3(med.genesis), restore: r3(med.restore), stateSync: r3(med.stateSync) },
      genesisOverRestore: r3(med.genesis / med.restore),
      genesisOverStateSync: r3(med.genesis / med.stateSync),
      stateSyncOverRestore: r3(med.stateSync / med.restore),
      runs: RUNS,
      stalledRestarts: restarts,
      loadavg: loadavg().map(r3),
      elapsedS: r3(elapsedS()),
    }),
  );
}

try {
  await main();
} catch (e) {
  if (!cleaning) log(`failed: ${(e as Error).stack ?? String(e)}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
