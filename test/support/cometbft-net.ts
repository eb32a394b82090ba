// A real CometBFT network on loopback for tests: `cometbft testnet` homes, fast blocks, the
// built-in persistent_kvstore app, free ports on 127.0.0.1. Validator homes are handed to
// Rampart (which runs the validator); "public" full nodes run here and stand for the rest of
// the chain that new sentries sync from.

import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { setTomlValues } from '../../src/nodes/cometbft/config-toml.ts';
import { findBinary, freePort, requireBinary } from './servers.ts';

export interface NetNode {
  readonly home: string;
  readonly id: string;
  readonly p2pPort: number;
  readonly rpcPort: number;
  readonly metricsPort: number;
  /** id@127.0.0.1:port */
  readonly p2pAddress: string;
  readonly rpcUrl: string;
}

export interface Network {
  readonly dir: string;
  readonly chainId: string;
  readonly validators: readonly NetNode[];
  readonly fullNodes: readonly NetNode[];
  /** Starts a node of the network as a plain process (not Rampart's). */
  start(node: NetNode): Promise<{ stop(): Promise<void> }>;
  cleanup(): Promise<void>;
}

export function cometbftBinaryForTests(t: TestContext): string | undefined {
  return requireBinary(t, 'cometbft');
}

export interface NetworkOptions {
  readonly validators?: number;
  readonly fullNodes?: number;
  /** Block interval. Default 500ms: below ~300ms, non-validators on this 2-core host fall behind the gossip. */
  readonly timeoutCommit?: string;
  /** Voting power of each validator, in order (default 10 each). */
  readonly powers?: readonly number[];
}

export async function createNetwork(opts: NetworkOptions = {}): Promise<Network> {
  const binary = findBinary('cometbft');
  if (!binary) throw new Error('cometbft is not installed: run bash scripts/testbed/cometbft.sh');
  const v = opts.validators ?? 1;
  const n = opts.fullNodes ?? 1;
  const dir = mkdtempSync(path.join(tmpdir(), 'rampart-cometbft-'));
  execFileSync(
    binary,
    ['testnet', '--v', String(v), '--n', String(n), '--o', dir, '--starting-ip-address', '127.0.0.1'],
    {
      stdio: 'ignore',
    },
  );
  const nodes: NetNode[] = [];
  for (let i = 0; i < v + n; i++) {
    const home = path.join(dir, `node${i}`);
    const id = execFileSync(binary, ['show-node-id', '--home', home], { encoding: 'utf8' }).trim();
    const [p2pPort, rpcPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
    nodes.push({
      home,
      id,
      p2pPort,
      rpcPort,
      metricsPort,
      p2pAddress: `${id}@127.0.0.1:${p2pPort}`,
      rpcUrl: `http://127.0.0.1:${rpcPort}`,
    });
  }
  const genesisFile = path.join(nodes[0]!.home, 'config', 'genesis.json');
  const genesis = JSON.parse(readFileSync(genesisFile, 'utf8')) as {
    chain_id: string;
    validators: { power: string }[];
  };
  if (opts.powers)
    for (const [i, val] of genesis.validators.entries()) val.power = String(opts.powers[i] ?? 10);
  const validators = nodes.slice(0, v);
  const fullNodes = nodes.slice(v);
  for (const node of nodes) {
    writeFileSync(path.join(node.home, 'config', 'genesis.json'), JSON.stringify(genesis, null, 2));
    const isValidator = validators.includes(node);
    // Validators dial each other and the public full nodes; full nodes dial each other.
    const peers = (isValidator ? nodes : fullNodes).filter((x) => x !== node).map((x) => x.p2pAddress);
    const file = path.join(node.home, 'config', 'config.toml');
    writeFileSync(
      file,
      setTomlValues(readFileSync(file, 'utf8'), {
        '': { proxy_app: 'persistent_kvstore', moniker: path.basename(node.home) },
        rpc: { laddr: `tcp://127.0.0.1:${node.rpcPort}` },
        p2p: {
          laddr: `tcp://127.0.0.1:${node.p2pPort}`,
          persistent_peers: peers.join(','),
          addr_book_strict: false,
          allow_duplicate_ip: true,
          pex: !isValidator,
        },
        consensus: { timeout_commit: opts.timeoutCommit ?? '500ms' },
        instrumentation: { prometheus: true, prometheus_listen_addr: `127.0.0.1:${node.metricsPort}` },
      }),
    );
  }
  const running: { stop(): Promise<void> }[] = [];
  return {
    dir,
    chainId: genesis.chain_id,
    validators,
    fullNodes,
    async start(node) {
      const log = openSync(path.join(node.home, 'node.log'), 'a');
      const child = spawn(binary, ['start', '--home', node.home], {
        stdio: ['ignore', log, log],
        detached: true,
      });
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      const handle = {
        async stop() {
          try {
            process.kill(-child.pid!, 'SIGTERM');
          } catch {
            return;
          }
          const killer = setTimeout(() => {
            try {
              process.kill(-child.pid!, 'SIGKILL');
            } catch {
              // Already gone.
            }
          }, 5000);
          await exited;
          clearTimeout(killer);
        },
      };
      running.push(handle);
      return handle;
    },
    async cleanup() {
      for (const r of running) await r.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls a CometBFT RPC path until it answers; returns its `result`. */
export async function rpcResult(url: string, pathAndQuery: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${url}${pathAndQuery}`, { signal: AbortSignal.timeout(2000) });
  const body = (await res.json()) as { result?: Record<string, unknown>; error?: unknown };
  if (!body.result) throw new Error(`${url}${pathAndQuery}: ${JSON.stringify(body.error)}`);
  return body.result;
}
