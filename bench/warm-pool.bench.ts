// Scale-up served from a warm pool, against a snapshot restore and a genesis sync, on one real
// CometBFT chain (loopback: a validator run as Rampart runs one, no inbound peer but registered
// sentries; a public full node the sentries sync from). Each figure is the time from "scale-up
// decided" to "serving": the new sentry registered with the validator and listed in its
// /net_info. What follows the decision differs by mode, and is all that is timed:
//   warm     a running spare (restored beforehand, following the chain, never dialed by the
//            validator): registration only;
//   stopped  a stopped spare (restored beforehand, then stopped with its data): start, catch
//            up the blocks made while it was stopped, register;
//   restore  create from the newest snapshot (Rampart's restore pipeline), start, register;
//   genesis  create with no snapshot, sync the whole chain, register.
// The modes alternate within each run, so load drift hits them alike; medians and ratios come
// from the same run. Everything is Rampart's own: LocalProvider runs the sentries, the cometbft
// kind prepares, probes and registers them (a spare launched `warm`), takeSnapshot and
// DirectorySnapshotStore move the bytes.
//
// stdout: one JSON line per figure, then a summary line. Progress goes to stderr.
// `--quick` (or RAMPART_BENCH_QUICK=1): a small chain and one run of each, a smoke run.
// Knobs (env): RAMPART_BENCH_LOAD_MB (transaction bytes loaded before the runs, default 250: a genesis sync
// of about a minute here, as in restore-vs-genesis),
// RAMPART_BENCH_RUNS (default 3), RAMPART_BENCH_STOPPED_S (how long a stopped spare stays
// stopped, default 20).

import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type CometbftOptions, createCometbftKind } from '../src/nodes/cometbft/cometbft-kind.ts';
import { setTomlValues } from '../src/nodes/cometbft/config-toml.ts';
import type { NodeAddress, RestoreSource } from '../src/nodes/node-kind.ts';
import { LocalProvider } from '../src/providers/local/local-provider.ts';
import type { Instance } from '../src/providers/provider.ts';
import { DirectorySnapshotStore } from '../src/snapshots/directory-store.ts';
import { restoreSource } from '../src/snapshots/snapshot-files.ts';
import { takeSnapshot } from '../src/snapshots/take-snapshot.ts';
import { createNetwork, type Network, rpcResult } from '../test/support/cometbft-net.ts';

const BENCH = 'warm-pool';
const QUICK = process.argv.includes('--quick') || process.env.RAMPART_BENCH_QUICK === '1';
const envNumber = (name: string, fallback: number) => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
};
const RUNS = QUICK ? 1 : envNumber('RAMPART_BENCH_RUNS', 3);
const LOAD_BYTES = (QUICK ? 5 : envNumber('RAMPART_BENCH_LOAD_MB', 250)) * 1e6;
const STOPPED_S = QUICK ? 5 : envNumber('RAMPART_BENCH_STOPPED_S', 20);
/** A running spare is watched this long before its take: the validator must never list it. */
const WATCH_SPARE_S = 5;
const TX_BYTES = 1024;
const BATCH_TXS = 1000;
const WORKERS = 3;
const MAX_PENDING_BYTES = 8 << 20;
const POLL_MS = 100;
/** A registered node not yet the validator's peer is dialed again this often (the controller: every tick). */
const REDIAL_S = 10;
const POOL = 'sentries';
const SET = 'sentry-snaps';

const t0Bench = performance.now();
const since = (t: number) => (performance.now() - t) / 1000;
const r3 = (x: number) => Number(x.toFixed(3));
const log = (msg: string) => process.stderr.write(`[${BENCH} +${since(t0Bench).toFixed(0)}s] ${msg}\n`);
const load1 = () => r3(loadavg()[0]!);
const emit = (figure: string, fields: Record<string, unknown>) =>
  console.log(JSON.stringify({ bench: BENCH, figure, ...fields }));
function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
const heightOf = async (url: string) =>
  Number(
    ((await rpcResult(url, '/status')).sync_info as { latest_block_height: string }).latest_block_height,
  );

// Everything started here is stopped and removed on exit, error and signal alike.
let net: Network | undefined;
let provider: LocalProvider | undefined;
let root: string | undefined;
const stopLoad = new AbortController();
let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    const keepAlive = setInterval(() => undefined, 1000);
    stopLoad.abort();
    const p = provider;
    if (p) await Promise.all((await p.list()).map((i) => p.destroy(i).catch(() => undefined)));
    await net?.cleanup().catch(() => undefined);
    if (root) await rm(root, { recursive: true, force: true }).catch(() => undefined);
    clearInterval(keepAlive);
  })();
  return cleaning;
}
for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const)
  process.once(signal, () => void cleanup().finally(() => process.exit(code)));

/** Loads `bytes` of 1 KiB kvstore transactions into the validator, paced by its mempool. */
async function load(rpcUrl: string, bytes: number): Promise<{ txs: number; seconds: number }> {
  const t0 = performance.now();
  const tag = randomBytes(3).toString('hex');
  let seq = 0;
  let sent = 0;
  let pending = 0;
  const going = () => sent < bytes && !stopLoad.signal.aborted;
  const poller = async () => {
    while (going()) {
      pending = Number(
        (await rpcResult(rpcUrl, '/num_unconfirmed_txs?limit=1').catch(() => ({ total_bytes: pending })))
          .total_bytes,
      );
      await sleep(200);
    }
  };
  const worker = async () => {
    while (going()) {
      if (pending > MAX_PENDING_BYTES) {
        await sleep(100);
        continue;
      }
      const txs = Array.from({ length: BATCH_TXS }, () => {
        const key = `k${tag}${(seq++).toString(36)}=`;
        return Buffer.from(
          key +
            randomBytes(TX_BYTES)
              .toString('base64url')
              .slice(0, TX_BYTES - key.length),
        );
      });
      try {
        const res = await fetch(rpcUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(
            txs.map((tx, id) => ({
              jsonrpc: '2.0',
              id,
              method: 'broadcast_tx_sync',
              params: { tx: tx.toString('base64') },
            })),
          ),
          signal: AbortSignal.any([stopLoad.signal, AbortSignal.timeout(60_000)]),
        });
        const out = (await res.json()) as { id: number; result?: { code: number } }[];
        for (const a of Array.isArray(out) ? out : [out]) if (a.result?.code === 0) sent += TX_BYTES;
      } catch (e) {
        if (stopLoad.signal.aborted) return;
        log(`load: ${(e as Error).message}`);
        await sleep(250);
      }
    }
  };
  await Promise.all([poller(), ...Array.from({ length: WORKERS }, worker)]);
  return { txs: Math.round(sent / TX_BYTES), seconds: since(t0) };
}

async function main(): Promise<void> {
  log(`${QUICK ? 'quick' : 'full'} run: ${RUNS} run(s) of each mode, ${LOAD_BYTES / 1e6} MB of transactions`);
  root = await mkdtemp(path.join(tmpdir(), 'rampart-bench-warm-'));
  net = await createNetwork({ validators: 1, fullNodes: 1, timeoutCommit: '500ms' });
  const validator = net.validators[0]!;
  const full = net.fullNodes[0]!;
  for (const node of [validator, full]) {
    const file = path.join(node.home, 'config', 'config.toml');
    const isValidator = node === validator;
    writeFileSync(
      file,
      setTomlValues(readFileSync(file, 'utf8'), {
        // dial_peers (registration) is an unsafe route: Rampart's own validator runs it on loopback.
        rpc: { max_body_bytes: 16_000_000, max_request_batch_size: 10_000, unsafe: isValidator },
        mempool: { size: 50_000, broadcast: false },
        // As Rampart runs a validator: no inbound peer but the registered (unconditional) sentries.
        p2p: {
          send_rate: 100_000_000,
          recv_rate: 100_000_000,
          ...(isValidator ? { max_num_inbound_peers: 0 } : {}),
        },
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
  const loaded = await load(validator.rpcUrl, LOAD_BYTES);
  // The runs start on a chain at rest: every loaded transaction in a block, the public node level.
  for (const t0 = performance.now(); ; ) {
    const pending = Number((await rpcResult(validator.rpcUrl, '/num_unconfirmed_txs?limit=1')).n_txs);
    const [v, f] = await Promise.all([heightOf(validator.rpcUrl), heightOf(full.rpcUrl)]);
    if (pending === 0 && f >= v - 1) break;
    if (since(t0) > 900) throw new Error(`the chain did not settle in 900 s (${pending} txs pending)`);
    await sleep(500);
  }
  log(
    `loaded ${loaded.txs} txs in ${loaded.seconds.toFixed(0)} s; settled at height ${await heightOf(validator.rpcUrl)}`,
  );

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
  const create = (nodeId: string, o: { snapshot?: RestoreSource; warm?: boolean } = {}) =>
    prov.create({
      nodeId,
      pool: POOL,
      actionId: `bench-${++actions}`,
      term: 1,
      kind,
      launch: { role: 'sentry', upstream: [validatorAddr], options, snapshot: o.snapshot, warm: o.warm },
    });
  const addressOf = (i: Instance): NodeAddress => ({ id: i.nodeId, host: i.host, ports: i.ports });
  const validatorPeers = async () =>
    ((await rpcResult(validator.rpcUrl, '/net_info')).peers as { node_info: { moniker: string } }[]).map(
      (p) => p.node_info.moniker,
    );

  /** Polls the kind's probe, with the validator's height as the tip, until it says ready. */
  const waitReady = async (addr: NodeAddress, t0: number, timeoutS: number): Promise<number> => {
    for (;;) {
      const tip = await heightOf(validator.rpcUrl).catch(() => undefined);
      const p = await kind.probe(addr, { role: 'sentry', tipHeight: tip });
      if (p.ready) return since(t0);
      if (since(t0) > timeoutS) throw new Error(`${addr.id} not ready after ${timeoutS} s: ${p.detail}`);
      await sleep(POLL_MS);
    }
  };
  /** Registers the node with the validator (as the controller does) and waits until it is its peer. */
  /**
   * Registers the node with the validator (as the controller does) and waits until it is its
   * peer, dialing again every REDIAL_S as the controller's loop does for a registered node the
   * validator is not connected to. `dials` says how many it took.
   */
  const registerAndWait = async (
    addr: NodeAddress,
    t0: number,
  ): Promise<{ registeredS: number; servingS: number; dials: number }> => {
    await kind.register(addr, validatorAddr);
    const registeredS = since(t0);
    let dials = 1;
    let dialedAt = performance.now();
    for (;;) {
      if ((await validatorPeers().catch((): string[] => [])).includes(addr.id))
        return { registeredS, servingS: since(t0), dials };
      if (since(t0) > 300) throw new Error(`${addr.id}: registered, not a peer of the validator after 300 s`);
      if (since(dialedAt) >= REDIAL_S) {
        await kind
          .register(addr, validatorAddr)
          .catch((e) => log(`${addr.id}: redial: ${(e as Error).message}`));
        dials++;
        dialedAt = performance.now();
      }
      await sleep(POLL_MS);
    }
  };

  // -- The snapshot: from a node synced from genesis (a genesis run of its own, not timed) -----
  let snapshot: RestoreSource;
  {
    const seed = await create('snapshot-source');
    await waitReady(addressOf(seed), performance.now(), 1800);
    const t0 = performance.now();
    const taken = await takeSnapshot({
      set: SET,
      store,
      kind,
      provider: prov,
      pool: POOL,
      nodeId: seed.nodeId,
      instance: seed,
      address: addressOf(seed),
    });
    snapshot = restoreSource(store, taken.manifest);
    log(
      `snapshot at height ${taken.manifest.height}: ${(taken.manifest.totalBytes / 1e6).toFixed(0)} MB in ${since(t0).toFixed(1)} s`,
    );
    emit('snapshot', { height: taken.manifest.height, bytes: taken.manifest.totalBytes });
    await prov.destroy(taken.instance);
  }

  const figures: Record<'warm' | 'stopped' | 'restore' | 'genesis', number[]> = {
    warm: [],
    stopped: [],
    restore: [],
    genesis: [],
  };
  let sparesListed = 0;
  for (let run = 1; run <= RUNS; run++) {
    // Spares made before the scale-up (as the warm pool is filled beforehand): untimed.
    const spare = await create(`warm-${run}`, { snapshot, warm: true });
    const stoppedSpare = await create(`stopped-${run}`, { snapshot, warm: true });
    await waitReady(addressOf(spare), performance.now(), 600);
    await waitReady(addressOf(stoppedSpare), performance.now(), 600);
    await prov.stop(stoppedSpare);
    const stoppedAt = performance.now();
    // A running spare follows the chain and the validator never learns of it.
    const watchUntil = performance.now() + WATCH_SPARE_S * 1000;
    while (performance.now() < watchUntil) {
      if ((await validatorPeers()).includes(spare.nodeId)) sparesListed++;
      await sleep(250);
    }

    const la = load1();
    {
      const t0 = performance.now();
      const r = await registerAndWait(addressOf(spare), t0);
      figures.warm.push(r.servingS);
      emit('warm', {
        run,
        seconds: r3(r.servingS),
        registeredS: r3(r.registeredS),
        dials: r.dials,
        loadavgBefore: la,
      });
      log(`run ${run} warm take: serving in ${r.servingS.toFixed(3)} s`);
    }
    {
      const wait = STOPPED_S - since(stoppedAt);
      if (wait > 0) await sleep(wait * 1000);
      const tipAtStart = await heightOf(validator.rpcUrl);
      const t0 = performance.now();
      const started = await prov.start(stoppedSpare);
      const readyS = await waitReady(addressOf(started), t0, 600);
      const r = await registerAndWait(addressOf(started), t0);
      figures.stopped.push(r.servingS);
      emit('stopped', {
        run,
        seconds: r3(r.servingS),
        readyS: r3(readyS),
        dials: r.dials,
        stoppedS: r3(STOPPED_S),
        tipAtStart,
        loadavgBefore: load1(),
      });
      log(`run ${run} stopped spare: serving in ${r.servingS.toFixed(2)} s (ready ${readyS.toFixed(2)} s)`);
    }
    {
      const t0 = performance.now();
      const i = await create(`restore-${run}`, { snapshot });
      const readyS = await waitReady(addressOf(i), t0, 600);
      const r = await registerAndWait(addressOf(i), t0);
      figures.restore.push(r.servingS);
      emit('restore', {
        run,
        seconds: r3(r.servingS),
        readyS: r3(readyS),
        dials: r.dials,
        loadavgBefore: load1(),
      });
      log(`run ${run} restore: serving in ${r.servingS.toFixed(2)} s`);
    }
    {
      const t0 = performance.now();
      const i = await create(`genesis-${run}`);
      const readyS = await waitReady(addressOf(i), t0, 1800);
      const r = await registerAndWait(addressOf(i), t0);
      figures.genesis.push(r.servingS);
      emit('genesis', {
        run,
        seconds: r3(r.servingS),
        readyS: r3(readyS),
        dials: r.dials,
        loadavgBefore: load1(),
      });
      log(`run ${run} genesis sync: serving in ${r.servingS.toFixed(2)} s`);
    }
    for (const i of await prov.list()) await prov.destroy(i);
  }

  const m = {
    warm: median(figures.warm),
    stopped: median(figures.stopped),
    restore: median(figures.restore),
    genesis: median(figures.genesis),
  };
  const summary = {
    runs: RUNS,
    chainHeight: await heightOf(validator.rpcUrl),
    medianS: Object.fromEntries(Object.entries(m).map(([k, v]) => [k, r3(v)])),
    genesisOverWarm: r3(m.genesis / m.warm),
    genesisOverStopped: r3(m.genesis / m.stopped),
    genesisOverRestore: r3(m.genesis / m.restore),
    restoreOverWarm: r3(m.restore / m.warm),
    warmGoal25x: m.genesis / m.warm >= 25,
    /** Polls in which the validator listed a running spare before its take (must be 0). */
    sparesListedBeforeTake: sparesListed,
  };
  emit('summary', summary);
  log(JSON.stringify(summary));
}

main()
  .catch((e) => {
    log(`failed: ${(e as Error).stack ?? e}`);
    process.exitCode = 1;
  })
  .finally(() => cleanup());
