// Node kind `cometbft`: real CometBFT nodes in the sentry architecture, run by bare
// CometBFT or by a chain daemon that embeds it (gaiad: daemon.ts). A validator runs from the
// operator's own home (its keys never leave it) with pex off and no inbound peer but the
// registered sentries; sentries get their own home, the validator as a private,
// unconditional, persistent peer, and sync from the public peers before they are wired.

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, readdir, readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { isForbidden } from '../../core/forbidden-files.ts';
import type { NodeProbe } from '../../core/types.ts';
import type {
  ChainPoint,
  LaunchContext,
  NodeAddress,
  NodeKind,
  ProbeContext,
  ProcessSpec,
  StateSyncPlan,
} from '../node-kind.ts';
import { getTomlValue, setTomlValues } from './config-toml.ts';
import { resolveDaemon } from './daemon.ts';
import { addUnique, editPeerLists } from './peer-lists.ts';
import { cometbftPodConfig } from './pod-config.ts';
import { p2pAddress, peerAddress, rpc, type Status, status } from './rpc.ts';

const run = promisify(execFile);

import type { CometbftOptions } from './config.ts';

export type { CometbftOptions };

/** Files of a stopped node's data dir that a snapshot never carries (besides keys). */
// exclusive.lock: the lock gaiad's CosmWasm VM holds on wasm/ while the node runs.
const NOT_SNAPSHOTTED = new Set(['cs.wal', 'write-file-atomic', 'exclusive.lock']);
/**
 * Beside data/, what a chain daemon's node needs to run: gaiad keeps CosmWasm code in wasm/.
 * data/snapshots (a daemon's state-sync snapshots) is left out: each node takes its own.
 */
const DAEMON_DIRS = ['wasm'];
const NOT_SNAPSHOTTED_PATHS = new Set(['data/snapshots']);

export function cometbftBinary(options: { binary?: string | undefined }): string {
  if (process.env.RAMPART_COMETBFT) return process.env.RAMPART_COMETBFT;
  if (options.binary) return options.binary;
  const cache = process.env.RAMPART_CACHE ?? path.join(homedir(), '.cache', 'rampart');
  const cached = path.join(cache, 'bin', 'cometbft');
  return existsSync(cached) ? cached : 'cometbft';
}

const isLoopback = (host: string) => host === 'localhost' || host.startsWith('127.') || host === '::1';

async function walk(root: string, rel: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(path.join(root, rel), { withFileTypes: true })) {
    const child = rel ? `${rel}/${entry.name}` : entry.name;
    if (NOT_SNAPSHOTTED.has(entry.name) || NOT_SNAPSHOTTED_PATHS.has(child) || isForbidden(child)) continue;
    if (entry.isDirectory()) out.push(...(await walk(root, child)));
    else if (entry.isFile()) out.push(child);
  }
  return out;
}

/**
 * config.toml's [statesync] for a node joining by state sync: the light client's two RPC
 * servers (the one source twice when there is one: CometBFT wants two entries) and the
 * header it trusts. The trust period stays below any chain's unbonding period. Discovery
 * waits CometBFT's minimum, 5 s, not its default 15 s: the sources are persistent peers,
 * dialed at start, and a discovery that finds nothing simply waits again (about 10 s less to
 * ready on gaiad here: bench/restore-vs-genesis-gaiad.bench.ts).
 */
function stateSyncSettings(plan: StateSyncPlan): Record<string, string | number | boolean> {
  const servers = plan.sources.map((s) => `http://${s.host}:${s.ports.rpc}`);
  if (servers.length === 1) servers.push(servers[0]!);
  return {
    enable: true,
    rpc_servers: servers.join(','),
    trust_height: plan.trustHeight,
    trust_hash: plan.trustHash,
    trust_period: '168h0m0s',
    discovery_time: '5s',
  };
}

export interface CometbftKindOptions {
  readonly options: CometbftOptions;
  /** The validator pool's node options, for a sentry pool (its home holds the peer lists). */
  readonly upstreamOptions?: CometbftOptions | undefined;
  readonly timeoutMs?: number | undefined;
}

export function createCometbftKind(opts: CometbftKindOptions): NodeKind {
  const o = opts.options;
  const timeoutMs = opts.timeoutMs ?? 2000;
  const binary = cometbftBinary(o);
  const daemon = resolveDaemon(binary, o);
  const homeOf = (ctx: { role: string; dataDir: string }) =>
    ctx.role === 'validator' ? o.home! : ctx.dataDir;

  /**
   * The app.toml settings Rampart owns on a chain daemon's node it created: minimum gas
   * prices (the daemon refuses to start without), pruning, state-sync snapshots, and gRPC on
   * the node's own port (REST off: nothing allocated a port for it).
   */
  async function writeAppToml(home: string, ctx: LaunchContext): Promise<void> {
    const file = path.join(home, 'config', 'app.toml');
    if (!existsSync(file))
      throw new Error(`node ${ctx.nodeId}: ${daemon.name} init wrote no ${file}; is it a Cosmos SDK daemon?`);
    let gasPrices = o.app?.minimumGasPrices;
    const validatorHome = opts.upstreamOptions?.home;
    if (gasPrices === undefined && validatorHome) {
      const theirs = path.join(validatorHome, 'config', 'app.toml');
      if (existsSync(theirs)) {
        const v = getTomlValue(await readFile(theirs, 'utf8'), '', 'minimum-gas-prices');
        if (typeof v === 'string' && v !== '') gasPrices = v;
      }
    }
    if (gasPrices === undefined)
      throw new Error(
        `node ${ctx.nodeId}: no minimum gas prices for ${daemon.name} (it refuses to start without): set node.app.minimumGasPrices, e.g. 0.005uatom`,
      );
    const text = await readFile(file, 'utf8');
    await writeFile(
      file,
      setTomlValues(text, {
        '': { 'minimum-gas-prices': gasPrices, pruning: o.app?.pruning ?? 'default' },
        'state-sync': {
          'snapshot-interval': o.app?.snapshotInterval ?? 0,
          'snapshot-keep-recent': o.app?.snapshotKeepRecent ?? 2,
        },
        grpc: { enable: true, address: `${ctx.host}:${ctx.ports.grpc}` },
        api: { enable: false },
      }),
    );
  }

  /** A new node's home: the daemon's init (its own keys, which never leave it) and the genesis. */
  const initHome = async (home: string, config: string, ctx: LaunchContext): Promise<void> => {
    // The chain's genesis first: a chain daemon's init needs its chain id.
    let genesisText: string;
    if (o.genesis) genesisText = await readFile(o.genesis, 'utf8');
    else {
      const from = ctx.upstream[0] ?? ctx.peers?.[0];
      if (!from)
        throw new Error(
          `node ${ctx.nodeId}: no genesis file configured and no validator or peer to fetch /genesis from`,
        );
      const g = await rpc(from, '/genesis', timeoutMs);
      genesisText = `${JSON.stringify(g.genesis, null, 2)}\n`;
    }
    const chainId = String((JSON.parse(genesisText) as { chain_id?: unknown }).chain_id ?? '');
    // init makes a consensus key for every node; a non-validator's is never in the validator
    // set and never leaves its home. Its node key is fresh: a restored node is a new peer.
    if (!existsSync(config))
      await run(binary, daemon.initArgs(ctx.nodeId, chainId, home), { timeout: 60_000 });
    const genesis = path.join(home, 'config', 'genesis.json');
    if (o.genesis) await copyFile(o.genesis, genesis);
    else await writeFile(genesis, genesisText);
  };

  return {
    kind: 'cometbft',
    capabilities: { joinsOneAtATime: false, holdsSigningState: true, stateSync: o.stateSync ?? 'never' },
    // A chain daemon also serves gRPC (queries, transactions): on a port of its own.
    portNames: daemon.appToml ? ['p2p', 'rpc', 'metrics', 'grpc'] : ['p2p', 'rpc', 'metrics'],

    async prepare(ctx: LaunchContext): Promise<void> {
      if (ctx.role === 'validator') {
        const home = o.home;
        if (!home || !existsSync(path.join(home, 'config', 'priv_validator_key.json')))
          throw new Error(
            `validator ${ctx.nodeId}: ${home ?? '(no home)'} has no config/priv_validator_key.json; a validator runs from the operator's own home and Rampart never creates its key`,
          );
        return;
      }
      const home = ctx.dataDir;
      const config = path.join(home, 'config', 'config.toml');
      // The snapshot's copy (data/) runs beside init, the genesis and the peers' ids (config/
      // and the network): a restored node's start waits for the longest, not for their sum.
      const [, , validators, peers, siblings] = await allSettledOrThrow([
        ctx.snapshot?.restoreInto(home),
        initHome(home, config, ctx),
        Promise.all(ctx.upstream.map(async (u) => ({ u, id: (await status(u, timeoutMs)).id }))),
        // A standby's sentries: persistent, private (never gossiped) and unconditional, like a
        // validator's; unreachable ones are left out rather than failing the node.
        Promise.all(
          (ctx.peers ?? []).map(async (u) => {
            try {
              return { u, id: (await status(u, timeoutMs)).id };
            } catch {
              return undefined;
            }
          }),
        ).then((all) => all.filter((p) => p !== undefined)),
        // A warm spare follows the chain through the pool's running nodes instead of the
        // validator; one that does not answer is left out.
        Promise.all(
          (ctx.warm ? (ctx.siblings ?? []) : []).map(async (u) => {
            try {
              return peerAddress((await status(u, timeoutMs)).id, u);
            } catch {
              return undefined;
            }
          }),
        ).then((all) => all.filter((p) => p !== undefined)),
      ]);
      const wired = [...validators, ...peers];
      // A node joining by state sync peers with its sources too: they serve the snapshots.
      const sources = await Promise.all(
        (ctx.stateSync?.sources ?? []).map(async (u) => peerAddress((await status(u, timeoutMs)).id, u)),
      );
      // A warm spare never dials its validator: the validator stays private and unconditional
      // (never gossiped; its dial accepted once a scale-up registers the spare), not persistent.
      const dialed = ctx.warm ? peers : wired;
      const persistent = [
        ...dialed.map(({ u, id }) => peerAddress(id, u)),
        ...siblings,
        ...o.peers,
        ...sources,
      ];
      const validatorIds = wired.map((v) => v.id).join(',');
      const text = await readFile(config, 'utf8');
      await writeFile(
        config,
        setTomlValues(text, {
          // A chain daemon runs its application in-process: proxy_app is not its to read.
          '': daemon.appToml ? { moniker: ctx.nodeId } : { proxy_app: o.proxyApp, moniker: ctx.nodeId },
          rpc: { laddr: `tcp://${ctx.host}:${ctx.ports.rpc}` },
          p2p: {
            laddr: `tcp://${ctx.host}:${ctx.ports.p2p}`,
            pex: true,
            persistent_peers: persistent.join(','),
            private_peer_ids: validatorIds,
            unconditional_peer_ids: validatorIds,
            addr_book_strict: false,
            allow_duplicate_ip: true,
          },
          instrumentation: { prometheus: true, prometheus_listen_addr: `${ctx.host}:${ctx.ports.metrics}` },
          ...(ctx.stateSync ? { statesync: stateSyncSettings(ctx.stateSync) } : {}),
        }),
      );
      if (daemon.appToml) await writeAppToml(home, ctx);
    },

    podConfig: (ctx) => cometbftPodConfig(o, ctx, timeoutMs),

    processSpec(ctx: LaunchContext): ProcessSpec {
      const home = homeOf(ctx);
      if (ctx.role !== 'validator') return { command: binary, args: daemon.startArgs(home) };
      // The operator's config files stay theirs: runtime settings go as flags and environment
      // variables (CMT_…, or a chain daemon's own prefix, GAIAD_…).
      const env = (key: string) => `${daemon.envPrefix}_${key}`;
      return {
        command: binary,
        args: [
          ...daemon.startArgs(home),
          ...(daemon.appToml
            ? ['--grpc.address', `${ctx.host}:${ctx.ports.grpc}`]
            : ['--proxy_app', o.proxyApp]),
          '--moniker',
          ctx.nodeId,
          '--p2p.laddr',
          `tcp://${ctx.host}:${ctx.ports.p2p}`,
          '--rpc.laddr',
          `tcp://${ctx.host}:${ctx.ports.rpc}`,
          '--p2p.pex=false',
          '--consensus.double_sign_check_height',
          String(o.doubleSignCheckHeight),
          // dial_peers (sentry registration) needs the unsafe RPC: only ever on loopback.
          ...(isLoopback(ctx.host) ? ['--rpc.unsafe'] : []),
        ],
        env: {
          [env('P2P_MAX_NUM_INBOUND_PEERS')]: '0',
          [env('P2P_ADDR_BOOK_STRICT')]: 'false',
          [env('P2P_ALLOW_DUPLICATE_IP')]: 'true',
          [env('INSTRUMENTATION_PROMETHEUS')]: 'true',
          [env('INSTRUMENTATION_PROMETHEUS_LISTEN_ADDR')]: `${ctx.host}:${ctx.ports.metrics}`,
        },
      };
    },

    async planStateSync({ siblings, signal }): Promise<StateSyncPlan | undefined> {
      if (o.stateSync === undefined) return undefined;
      // Sources: the pool's caught-up nodes, far enough past the snapshot interval to hold
      // at least one snapshot (CometBFT's RPC cannot say which snapshots a node has).
      const interval = o.app?.snapshotInterval ?? 0;
      const answers = await Promise.all(
        siblings.map(async (n) => {
          try {
            return { n, s: await status(n, timeoutMs, signal) };
          } catch {
            return undefined;
          }
        }),
      );
      const sources = answers
        .filter((a) => a !== undefined)
        .filter(({ n, s }) => s.moniker === n.id && !s.catchingUp && s.height >= 2 * interval)
        .sort((a, b) => b.s.height - a.s.height)
        .slice(0, 2);
      const trusted = sources[0]?.s;
      if (!trusted?.blockHash) return undefined;
      return { sources: sources.map((x) => x.n), trustHeight: trusted.height, trustHash: trusted.blockHash };
    },

    metricsUrl: (node) =>
      node.ports.metrics ? `http://${node.host}:${node.ports.metrics}/metrics` : undefined,

    async probe(node: NodeAddress, ctx: ProbeContext): Promise<NodeProbe> {
      let s: Status;
      let peers: number;
      try {
        const [st, net] = await Promise.all([
          status(node, timeoutMs, ctx.signal),
          rpc(node, '/net_info', timeoutMs, ctx.signal),
        ]);
        s = st;
        peers = Number(net.n_peers);
      } catch (e) {
        return {
          reachable: false,
          ready: false,
          healthy: false,
          detail: `unreachable: ${(e as Error).message}`,
        };
      }
      if (s.moniker !== node.id)
        return {
          reachable: true,
          ready: false,
          healthy: false,
          detail: `${node.host}:${node.ports.rpc} answers as ${s.moniker}, not ${node.id}`,
        };
      let detail: string | undefined;
      if (s.catchingUp)
        detail = `catching up: height ${s.height}${ctx.tipHeight === undefined ? '' : ` of ${ctx.tipHeight}`}`;
      else if (ctx.role !== 'validator' && peers < 1) detail = 'no peers';
      else if (ctx.tipHeight !== undefined && ctx.tipHeight - s.height > o.maxLagBlocks)
        detail = `behind: height ${s.height} of ${ctx.tipHeight} (more than ${o.maxLagBlocks} blocks)`;
      return {
        reachable: true,
        height: s.height,
        catchingUp: s.catchingUp,
        peers,
        ready: detail === undefined,
        healthy: true,
        detail,
      };
    },

    async register(node: NodeAddress, upstream: NodeAddress): Promise<void> {
      const address = await p2pAddress(node, timeoutMs);
      const id = address.split('@')[0]!;
      // Into the validator's config first, so a validator restart keeps the sentry.
      const home = opts.upstreamOptions?.home;
      if (home)
        await editPeerLists(home, (l) => {
          // The same node at an older address (a pod recreated on another IP) is replaced.
          l.persistent = l.persistent.filter((p) => p === address || p.split('@')[0] !== id);
          addUnique(l.persistent, address);
          addUnique(l.privateIds, id);
          addUnique(l.unconditional, id);
        });
      const peers = encodeURIComponent(JSON.stringify([address]));
      try {
        await rpc(
          upstream,
          `/dial_peers?persistent=true&unconditional=true&private=true&peers=${peers}`,
          timeoutMs,
        );
      } catch (e) {
        throw new Error(
          `registering ${node.id} (${address}) with validator ${upstream.id}: ${(e as Error).message}`,
        );
      }
    },

    async deregister(node: NodeAddress, _upstream: NodeAddress): Promise<void> {
      // The node may be down: find it in the validator's lists by its address, not its RPC.
      const home = opts.upstreamOptions?.home;
      if (!home) return;
      const suffix = `@${node.host}:${node.ports.p2p}`;
      await editPeerLists(home, (l) => {
        const ids = l.persistent.filter((p) => p.endsWith(suffix)).map((p) => p.split('@')[0]!);
        l.persistent = l.persistent.filter((p) => !p.endsWith(suffix));
        l.privateIds = l.privateIds.filter((x) => !ids.includes(x));
        l.unconditional = l.unconditional.filter((x) => !ids.includes(x));
      });
      // CometBFT has no RPC to drop a peer: the live connection ends when the node stops,
      // and the validator no longer dials it after a restart (README, "Sentry wiring").
    },

    async connectedPeers(upstream: NodeAddress, signal?: AbortSignal): Promise<string[]> {
      const net = await rpc(upstream, '/net_info', timeoutMs, signal);
      return ((net.peers as { node_info: { moniker: string } }[]) ?? []).map((p) => p.node_info.moniker);
    },

    snapshots: {
      async describe(node: NodeAddress, signal?: AbortSignal): Promise<ChainPoint> {
        const s = await status(node, timeoutMs, signal);
        if (s.catchingUp)
          throw new Error(`${node.id} is still catching up (height ${s.height}): not a snapshot source`);
        return { height: s.height, chainId: s.network, appHash: s.appHash };
      },
      async files(dataDir: string): Promise<string[]> {
        const dirs = ['data', ...(daemon.appToml ? DAEMON_DIRS : [])];
        const present = dirs.filter((d) => existsSync(path.join(dataDir, d)));
        return (await Promise.all(present.map((d) => walk(dataDir, d)))).flat();
      },
    },
  };
}

/** Waits for every step, then throws the first failure: nothing is left writing into a home. */
async function allSettledOrThrow<T extends readonly unknown[]>(
  steps: readonly [...{ [K in keyof T]: Promise<T[K]> | T[K] }],
): Promise<T> {
  const settled = await Promise.allSettled(steps);
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}
