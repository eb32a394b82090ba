// The `simnode` node kind: launches simulated chain nodes (server.ts) as local processes and
// probes, wires and unwires them through their CometBFT-shaped RPC.

import { fileURLToPath } from 'node:url';
import type { NodeProbe } from '../../core/types.ts';
import type {
  ChainPoint,
  LaunchContext,
  NodeAddress,
  NodeKind,
  ProbeContext,
  ProcessSpec,
} from '../node-kind.ts';

const SERVER_PATH = fileURLToPath(new URL('./server.ts', import.meta.url));
const SIMNODE_ROLES: ReadonlySet<string> = new Set(['validator', 'sentry', 'standby', 'full']);
/**
 * A caught-up node may trail the best known height by this many blocks and still be ready (the
 * default of the pool's `maxLagBlocks`, as for CometBFT): the tip and the node are read a moment
 * apart, so with short blocks a node that keeps up can read a few behind.
 */
export const DEFAULT_MAX_LAG_BLOCKS = 5;

export interface SimnodeKindOptions {
  /** Timeout of each probe request (ms). */
  readonly probeTimeoutMs?: number;
  /** Timeout of register / deregister / connectedPeers requests (ms). */
  readonly requestTimeoutMs?: number;
  /** The pool's `maxLagBlocks`. Default DEFAULT_MAX_LAG_BLOCKS. */
  readonly maxLagBlocks?: number | undefined;
}

/** Pool `node` options simnode understands, mapped to server.ts flags. */
const OPTION_FLAGS: readonly [option: string, flag: string, type: 'number' | 'string'][] = [
  ['blockTimeMs', '--block-time-ms', 'number'],
  ['syncRate', '--sync-rate', 'number'],
  ['txCapacity', '--tx-capacity', 'number'],
  ['startHeight', '--start-height', 'number'],
  ['chainId', '--chain-id', 'string'],
];

function rpcUrl(node: NodeAddress): string {
  const port = node.ports.rpc;
  if (port === undefined) throw new Error(`node ${node.id} has no "rpc" port`);
  return `http://${urlHost(node.host)}:${port}`;
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function describeError(err: unknown): string {
  if (err instanceof Error && err.name === 'TimeoutError') return 'timed out';
  if (err instanceof Error && err.name === 'AbortError') return 'aborted';
  const cause = (err as { cause?: { code?: unknown; message?: unknown } }).cause;
  if (typeof cause?.code === 'string') return cause.code;
  if (typeof cause?.message === 'string') return cause.message;
  return err instanceof Error ? err.message : String(err);
}

/** GETs a CometBFT-style JSON-RPC URL and returns `result`; throws an Error saying what went wrong. */
async function rpcGet(
  url: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<Record<string, unknown>> {
  const timeout = AbortSignal.timeout(timeoutMs);
  let res: Response;
  let text: string;
  try {
    res = await fetch(url, { signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
    text = await res.text();
  } catch (err) {
    throw new Error(describeError(err));
  }
  let body: { result?: unknown; error?: { message?: unknown; data?: unknown } };
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`HTTP ${res.status}, not JSON: ${text.slice(0, 200)}`);
  }
  if (body.error !== undefined) {
    const data = typeof body.error.data === 'string' && body.error.data !== '' ? `: ${body.error.data}` : '';
    throw new Error(`HTTP ${res.status}, RPC error ${String(body.error.message)}${data}`);
  }
  if (!res.ok || typeof body.result !== 'object' || body.result === null) {
    throw new Error(`HTTP ${res.status} without a JSON-RPC result`);
  }
  return body.result as Record<string, unknown>;
}

function readOption(
  options: Readonly<Record<string, unknown>>,
  key: string,
  type: 'number' | 'string',
): string | undefined {
  const value = options[key];
  if (value === undefined) return undefined;
  if (type === 'number' && typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (type === 'string' && typeof value === 'string' && value !== '') return value;
  throw new Error(`simnode option ${key} must be a ${type}, got ${JSON.stringify(value)}`);
}

export function createSimnodeKind(opts: SimnodeKindOptions = {}): NodeKind {
  const probeTimeoutMs = opts.probeTimeoutMs ?? 1_000;
  const requestTimeoutMs = opts.requestTimeoutMs ?? 2_000;
  const maxLagBlocks = opts.maxLagBlocks ?? DEFAULT_MAX_LAG_BLOCKS;

  return {
    kind: 'simnode',
    capabilities: { joinsOneAtATime: false, holdsSigningState: false, stateSync: 'never' },
    portNames: ['rpc', 'metrics'],

    async prepare(ctx: LaunchContext): Promise<void> {
      // A restored snapshot is the node's chain.json: it starts from that height.
      if (ctx.snapshot) await ctx.snapshot.restoreInto(ctx.dataDir);
    },

    snapshots: {
      async describe(node: NodeAddress, signal?: AbortSignal): Promise<ChainPoint> {
        const status = await rpcGet(`${rpcUrl(node)}/status`, requestTimeoutMs, signal);
        const info = status.node_info as { network: string };
        const sync = status.sync_info as {
          latest_block_height: string;
          catching_up: boolean;
          latest_app_hash: string;
        };
        if (sync.catching_up) throw new Error(`${node.id} is still catching up: not a snapshot source`);
        return {
          height: Number(sync.latest_block_height),
          chainId: info.network,
          appHash: sync.latest_app_hash,
        };
      },
      async files(): Promise<string[]> {
        // Its peers are its own; only the chain state travels.
        return ['chain.json'];
      },
    },

    processSpec(ctx: LaunchContext): ProcessSpec {
      if (!SIMNODE_ROLES.has(ctx.role)) {
        throw new Error(
          `simnode cannot run role "${ctx.role}" (pool ${ctx.pool}); it supports ${[...SIMNODE_ROLES].join(', ')}`,
        );
      }
      const port = (name: string): string => {
        const p = ctx.ports[name];
        if (p === undefined) throw new Error(`node ${ctx.nodeId} (pool ${ctx.pool}) has no "${name}" port`);
        return String(p);
      };
      const args = [
        SERVER_PATH,
        '--id',
        ctx.nodeId,
        '--role',
        ctx.role,
        '--host',
        ctx.host,
        '--rpc-port',
        port('rpc'),
        '--metrics-port',
        port('metrics'),
        '--data-dir',
        ctx.dataDir,
      ];
      const upstream = ctx.upstream[0];
      if (upstream !== undefined) args.push('--chain-source', rpcUrl(upstream));
      for (const [option, flag, type] of OPTION_FLAGS) {
        const value = readOption(ctx.options, option, type);
        if (value !== undefined) args.push(flag, value);
      }
      return { command: process.execPath, args };
    },

    metricsUrl(node: NodeAddress): string | undefined {
      const port = node.ports.metrics;
      return port === undefined ? undefined : `http://${urlHost(node.host)}:${port}/metrics`;
    },

    async probe(node: NodeAddress, ctx: ProbeContext): Promise<NodeProbe> {
      let base: string;
      try {
        base = rpcUrl(node);
      } catch (err) {
        return { reachable: false, ready: false, healthy: false, detail: (err as Error).message };
      }
      const [status, netInfo] = await Promise.allSettled([
        rpcGet(`${base}/status`, probeTimeoutMs, ctx.signal),
        rpcGet(`${base}/net_info`, probeTimeoutMs, ctx.signal),
      ]);
      if (status.status === 'rejected' || netInfo.status === 'rejected') {
        const [path, reason]: [string, unknown] =
          status.status === 'rejected'
            ? ['/status', status.reason]
            : ['/net_info', (netInfo as PromiseRejectedResult).reason];
        return {
          reachable: false,
          ready: false,
          healthy: false,
          detail: `unreachable: ${base}${path}: ${describeError(reason)}`,
        };
      }
      const nodeInfo = status.value.node_info as { id?: unknown } | undefined;
      const syncInfo = status.value.sync_info as
        | { latest_block_height?: unknown; catching_up?: unknown }
        | undefined;
      const height = Number(syncInfo?.latest_block_height);
      const catchingUp = syncInfo?.catching_up;
      const peers = Number(netInfo.value.n_peers);
      if (nodeInfo?.id !== node.id) {
        // A recycled port can put another node where this one used to be.
        return {
          reachable: true,
          ready: false,
          healthy: false,
          detail: `${base} answers as node ${JSON.stringify(nodeInfo?.id)}, not ${node.id}`,
        };
      }
      if (!Number.isInteger(height) || typeof catchingUp !== 'boolean' || !Number.isInteger(peers)) {
        return {
          reachable: true,
          ready: false,
          healthy: false,
          detail: `${base} answered /status or /net_info without height, catching_up or n_peers`,
        };
      }
      const tip = ctx.tipHeight;
      let detail: string | undefined;
      // A simnode follows its chain source the way a real node follows the public network,
      // so it needs no registered peer to be ready; the validator's side is checked by wiring.
      if (catchingUp) detail = `catching up: height ${height}${tip === undefined ? '' : ` of ${tip}`}`;
      else if (tip !== undefined && tip - height > maxLagBlocks) {
        detail = `behind: height ${height} of ${tip} (more than ${maxLagBlocks} blocks)`;
      }
      return {
        reachable: true,
        height,
        catchingUp,
        peers,
        ready: detail === undefined,
        healthy: true,
        detail,
      };
    },

    async register(node: NodeAddress, upstream: NodeAddress): Promise<void> {
      const self = rpcUrl(node).replace(/^http:\/\//, '');
      const peers = encodeURIComponent(JSON.stringify([`${node.id}@${self}`]));
      const url = `${rpcUrl(upstream)}/dial_peers?persistent=true&unconditional=true&private=true&peers=${peers}`;
      try {
        await rpcGet(url, requestTimeoutMs);
      } catch (err) {
        throw new Error(
          `register ${node.id} with ${upstream.id}: GET ${url} failed: ${(err as Error).message}`,
        );
      }
    },

    async deregister(node: NodeAddress, upstream: NodeAddress): Promise<void> {
      const url = `${rpcUrl(upstream)}/unsafe_remove_peer?id=${encodeURIComponent(node.id)}`;
      try {
        await rpcGet(url, requestTimeoutMs);
      } catch (err) {
        throw new Error(
          `deregister ${node.id} from ${upstream.id}: GET ${url} failed: ${(err as Error).message}`,
        );
      }
    },

    async connectedPeers(upstream: NodeAddress, signal?: AbortSignal): Promise<string[]> {
      const url = `${rpcUrl(upstream)}/net_info`;
      let result: Record<string, unknown>;
      try {
        result = await rpcGet(url, requestTimeoutMs, signal);
      } catch (err) {
        throw new Error(`peers of ${upstream.id}: GET ${url} failed: ${(err as Error).message}`);
      }
      const peers = Array.isArray(result.peers) ? (result.peers as { node_info?: { id?: unknown } }[]) : [];
      return peers.map((p) => p.node_info?.id).filter((id): id is string => typeof id === 'string');
    },
  };
}

export const simnodeKind: NodeKind = createSimnodeKind();
