// Node kind `cometbft`: real CometBFT nodes in the sentry architecture. A validator runs
// from the operator's own home (its keys never leave it) with pex off and no inbound peer
// but the registered sentries; sentries get their own home, the validator as a private,
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
} from '../node-kind.ts';
import { setTomlValues } from './config-toml.ts';
import { addUnique, editPeerLists } from './peer-lists.ts';
import { p2pAddress, peerAddress, rpc, type Status, status } from './rpc.ts';

const run = promisify(execFile);

import type { CometbftOptions } from './config.ts';

export type { CometbftOptions };

/** Files of a stopped node's data dir that a snapshot never carries (besides keys). */
const NOT_SNAPSHOTTED = new Set(['cs.wal', 'write-file-atomic']);

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
    if (NOT_SNAPSHOTTED.has(entry.name) || isForbidden(child)) continue;
    if (entry.isDirectory()) out.push(...(await walk(root, child)));
    else if (entry.isFile()) out.push(child);
  }
  return out;
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
  const homeOf = (ctx: { role: string; dataDir: string }) =>
    ctx.role === 'validator' ? o.home! : ctx.dataDir;

  /** A new node's home: CometBFT's init (its own keys, which never leave it) and the genesis. */
  const initHome = async (home: string, config: string, ctx: LaunchContext): Promise<void> => {
    if (!existsSync(config)) await run(binary, ['init', '--home', home], { timeout: 60_000 });
    // init makes a consensus key for every node; a non-validator's is never in the validator
    // set and never leaves its home. Its node key is fresh: a restored node is a new peer.
    const genesis = path.join(home, 'config', 'genesis.json');
    if (o.genesis) await copyFile(o.genesis, genesis);
    else {
      const from = ctx.upstream[0] ?? ctx.peers?.[0];
      if (!from)
        throw new Error(
          `node ${ctx.nodeId}: no genesis file configured and no validator or peer to fetch /genesis from`,
        );
      const g = await rpc(from, '/genesis', timeoutMs);
      await writeFile(genesis, `${JSON.stringify(g.genesis, null, 2)}\n`);
    }
  };

  return {
    kind: 'cometbft',
    capabilities: { joinsOneAtATime: false, holdsSigningState: true },
    portNames: ['p2p', 'rpc', 'metrics'],

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
      const [, , validators, peers] = await allSettledOrThrow([
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
      ]);
      const wired = [...validators, ...peers];
      const persistent = [...wired.map(({ u, id }) => peerAddress(id, u)), ...o.peers];
      const validatorIds = wired.map((v) => v.id).join(',');
      const text = await readFile(config, 'utf8');
      await writeFile(
        config,
        setTomlValues(text, {
          '': { proxy_app: o.proxyApp, moniker: ctx.nodeId },
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
        }),
      );
    },

    processSpec(ctx: LaunchContext): ProcessSpec {
      const home = homeOf(ctx);
      if (ctx.role !== 'validator') return { command: binary, args: ['start', '--home', home] };
      // The operator's config file stays theirs: runtime settings go as flags and CMT_ variables.
      return {
        command: binary,
        args: [
          'start',
          '--home',
          home,
          '--proxy_app',
          o.proxyApp,
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
          CMT_P2P_MAX_NUM_INBOUND_PEERS: '0',
          CMT_P2P_ADDR_BOOK_STRICT: 'false',
          CMT_P2P_ALLOW_DUPLICATE_IP: 'true',
          CMT_INSTRUMENTATION_PROMETHEUS: 'true',
          CMT_INSTRUMENTATION_PROMETHEUS_LISTEN_ADDR: `${ctx.host}:${ctx.ports.metrics}`,
        },
      };
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
        return walk(dataDir, 'data');
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
