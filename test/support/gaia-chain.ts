// A local Cosmos Hub chain on loopback for tests, made with gaiad's own commands: one
// validator home (`init`, a test-keyring key, `genesis add-genesis-account`, `gentx`,
// `collect-gentxs`), fast blocks, and "public" full nodes that run here and stand for the
// rest of the chain. The validator's home is handed to Rampart, which runs the validator.

import { execFile, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { setTomlValues } from '../../src/nodes/cometbft/config-toml.ts';
import { findBinary, freePort } from './servers.ts';

const run = promisify(execFile);

export interface GaiaNode {
  readonly home: string;
  readonly id: string;
  readonly p2pPort: number;
  readonly rpcPort: number;
  /** id@127.0.0.1:port */
  readonly p2pAddress: string;
  readonly rpcUrl: string;
}

export interface GaiaChain {
  readonly binary: string;
  readonly dir: string;
  readonly chainId: string;
  /** The validator's home: keys, genesis, config.toml, app.toml (never started here). */
  readonly validatorHome: string;
  readonly genesisFile: string;
  readonly fullNodes: readonly GaiaNode[];
  /** Starts a full node as a plain process (not Rampart's). */
  start(node: GaiaNode): Promise<{ stop(): Promise<void> }>;
  cleanup(): Promise<void>;
}

export interface GaiaChainOptions {
  readonly fullNodes?: number;
  /** Block interval; default 500ms. */
  readonly timeoutCommit?: string;
}

const CHAIN_ID = 'rampart-gaia-1';
/** gaiad's default bond denomination. */
const DENOM = 'stake';

export async function createGaiaChain(opts: GaiaChainOptions = {}): Promise<GaiaChain> {
  const binary = findBinary('gaiad');
  if (!binary) throw new Error('gaiad is not installed: run bash scripts/testbed/gaiad.sh');
  const dir = mkdtempSync(path.join(tmpdir(), 'rampart-gaia-'));
  const gaiad = async (...args: string[]) =>
    (await run(binary, args, { timeout: 60_000, maxBuffer: 16 << 20 })).stdout.trim();

  const validatorHome = path.join(dir, 'validator');
  const keyring = ['--keyring-backend', 'test', '--home', validatorHome];
  await gaiad('init', 'validator', '--chain-id', CHAIN_ID, '--home', validatorHome);
  await gaiad('keys', 'add', 'val', ...keyring);
  const address = await gaiad('keys', 'show', 'val', '-a', ...keyring);
  await gaiad('genesis', 'add-genesis-account', address, `1000000000000${DENOM}`, '--home', validatorHome);
  await gaiad('genesis', 'gentx', 'val', `100000000${DENOM}`, '--chain-id', CHAIN_ID, ...keyring);
  await gaiad('genesis', 'collect-gentxs', '--home', validatorHome);
  const genesisFile = path.join(validatorHome, 'config', 'genesis.json');

  const nodes: GaiaNode[] = [];
  for (let i = 0; i < (opts.fullNodes ?? 1); i++) {
    const home = path.join(dir, `node${i + 1}`);
    await gaiad('init', `node${i + 1}`, '--chain-id', CHAIN_ID, '--home', home);
    copyFileSync(genesisFile, path.join(home, 'config', 'genesis.json'));
    const id = await gaiad('comet', 'show-node-id', '--home', home);
    const [p2pPort, rpcPort] = [await freePort(), await freePort()];
    nodes.push({
      home,
      id,
      p2pPort,
      rpcPort,
      p2pAddress: `${id}@127.0.0.1:${p2pPort}`,
      rpcUrl: `http://127.0.0.1:${rpcPort}`,
    });
  }
  const timeoutCommit = opts.timeoutCommit ?? '500ms';
  const edit = (file: string, values: Parameters<typeof setTomlValues>[1]) =>
    writeFileSync(file, setTomlValues(readFileSync(file, 'utf8'), values));
  // The validator dials the public nodes (it takes no inbound peer); they dial each other.
  edit(path.join(validatorHome, 'config', 'config.toml'), {
    p2p: {
      persistent_peers: nodes.map((n) => n.p2pAddress).join(','),
      addr_book_strict: false,
      allow_duplicate_ip: true,
      pex: false,
    },
    consensus: { timeout_commit: timeoutCommit },
  });
  edit(path.join(validatorHome, 'config', 'app.toml'), { '': { 'minimum-gas-prices': `0${DENOM}` } });
  for (const node of nodes) {
    edit(path.join(node.home, 'config', 'config.toml'), {
      rpc: { laddr: `tcp://127.0.0.1:${node.rpcPort}` },
      p2p: {
        laddr: `tcp://127.0.0.1:${node.p2pPort}`,
        persistent_peers: nodes
          .filter((x) => x !== node)
          .map((x) => x.p2pAddress)
          .join(','),
        addr_book_strict: false,
        allow_duplicate_ip: true,
        pex: true,
      },
      consensus: { timeout_commit: timeoutCommit },
      instrumentation: { prometheus: false },
    });
    // gRPC and REST off: their default ports would collide between nodes on one host.
    edit(path.join(node.home, 'config', 'app.toml'), {
      '': { 'minimum-gas-prices': `0${DENOM}` },
      grpc: { enable: false },
      api: { enable: false },
    });
  }

  const running: { stop(): Promise<void> }[] = [];
  return {
    binary,
    dir,
    chainId: CHAIN_ID,
    validatorHome,
    genesisFile,
    fullNodes: nodes,
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
