// A local Cosmos Hub chain on loopback for tests, made with gaiad's own commands: validator
// homes (`init`, a test-keyring key each, `genesis add-genesis-account`, `gentx` per
// validator, `collect-gentxs`), fast blocks, and "public" full nodes that stand for the rest
// of the chain. The same shape as test/support/cometbft-net.ts, so a scenario runs on
// either: a validator's home is handed to Rampart (which runs it), the others run here.

import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { setTomlValues } from '../../src/nodes/cometbft/config-toml.ts';
import { type Account, newAccount } from '../../src/nodes/cometbft/cosmos-tx.ts';
import type { NetNode, Network } from './cometbft-net.ts';
import { findBinary, freePort } from './servers.ts';

const run = promisify(execFile);

export interface GaiaChain extends Network {
  /** The gaiad binary, for a config's `binary:`. */
  readonly binary: string;
  /** The first validator's home: keys, genesis, config.toml, app.toml (never started here). */
  readonly validatorHome: string;
  readonly genesisFile: string;
  /** An account funded at genesis whose key is here, not in a keyring: it signs the load (src/nodes/cometbft/cosmos-tx.ts). */
  readonly loadAccount: Account;
  /** Its secret as 64 hex digits, as `rampart load --bank-send --key-file` reads it. */
  readonly loadKeyHex: string;
  /** The fee denomination, `stake`. */
  readonly denom: string;
}

export interface GaiaChainOptions {
  readonly validators?: number;
  readonly fullNodes?: number;
  /** Block interval; default 500ms. */
  readonly timeoutCommit?: string;
  /** Voting power of each validator, in order (default 10 each): its self-bond in 10^6 stake. */
  readonly powers?: readonly number[];
  /**
   * gaiad's fee market (on by default, as on the Hub): it raises the gas price while blocks
   * run more than half of 30M gas full. Off, the nodes' minimum gas prices (0stake) apply, so
   * a bench can load as fast as the chain takes transactions.
   */
  readonly feeMarket?: boolean;
}

const CHAIN_ID = 'rampart-gaia-1';
/** gaiad's default bond denomination; one unit of voting power is 10^6 of it. */
const DENOM = 'stake';
const POWER = 1_000_000;

export async function createGaiaChain(opts: GaiaChainOptions = {}): Promise<GaiaChain> {
  const binary = findBinary('gaiad');
  if (!binary) throw new Error('gaiad is not installed: run bash scripts/testbed/gaiad.sh');
  const dir = mkdtempSync(path.join(tmpdir(), 'rampart-gaia-'));
  const gaiad = async (...args: string[]) =>
    (await run(binary, args, { timeout: 60_000, maxBuffer: 16 << 20 })).stdout.trim();
  const v = opts.validators ?? 1;
  const n = opts.fullNodes ?? 1;

  const nodes: NetNode[] = [];
  for (let i = 0; i < v + n; i++) {
    const home = path.join(dir, `node${i}`);
    await gaiad('init', `node${i}`, '--chain-id', CHAIN_ID, '--home', home);
    const id = await gaiad('comet', 'show-node-id', '--home', home);
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
  const validators = nodes.slice(0, v);
  const fullNodes = nodes.slice(v);

  // The genesis: every validator's account funded in the first home, each validator's gentx
  // made in its own home against that genesis, all collected in the first.
  const first = validators[0]!.home;
  const genesisFile = path.join(first, 'config', 'genesis.json');
  const keyring = (home: string) => ['--keyring-backend', 'test', '--home', home];
  for (const val of validators) {
    await gaiad('keys', 'add', 'val', ...keyring(val.home));
    const address = await gaiad('keys', 'show', 'val', '-a', ...keyring(val.home));
    await gaiad('genesis', 'add-genesis-account', address, `1000000000000${DENOM}`, '--home', first);
  }
  // The load's account: its key made here, so transactions are signed without gaiad's CLI.
  const loadSecret = randomBytes(32);
  const loadAccount = newAccount(loadSecret);
  await gaiad(
    'genesis',
    'add-genesis-account',
    loadAccount.address,
    `1000000000000000${DENOM}`,
    '--home',
    first,
  );
  const gentxDir = path.join(first, 'config', 'gentx');
  for (const [i, val] of validators.entries()) {
    if (val.home !== first) copyFileSync(genesisFile, path.join(val.home, 'config', 'genesis.json'));
    const bond = `${(opts.powers?.[i] ?? 10) * POWER}${DENOM}`;
    await gaiad('genesis', 'gentx', 'val', bond, '--chain-id', CHAIN_ID, ...keyring(val.home));
    if (val.home === first) continue;
    mkdirSync(gentxDir, { recursive: true });
    const own = path.join(val.home, 'config', 'gentx');
    for (const f of readdirSync(own)) copyFileSync(path.join(own, f), path.join(gentxDir, f));
  }
  await gaiad('genesis', 'collect-gentxs', '--home', first);
  // The Cosmos Hub's own downtime rule (sign 5% of 10,000 blocks) instead of the SDK's
  // default (50% of 100): at 2 blocks/s the default jails a validator down for a minute,
  // and a failover test's guarded validator is down for longer on purpose.
  const genesis = JSON.parse(readFileSync(genesisFile, 'utf8')) as {
    app_state: {
      slashing: { params: Record<string, string> };
      feemarket: { params: { enabled: boolean } };
    };
  };
  Object.assign(genesis.app_state.slashing.params, {
    signed_blocks_window: '10000',
    min_signed_per_window: '0.050000000000000000',
  });
  if (opts.feeMarket === false) genesis.app_state.feemarket.params.enabled = false;
  writeFileSync(genesisFile, `${JSON.stringify(genesis, null, 2)}\n`);
  for (const node of nodes)
    if (node.home !== first) copyFileSync(genesisFile, path.join(node.home, 'config', 'genesis.json'));

  const edit = (file: string, values: Parameters<typeof setTomlValues>[1]) =>
    writeFileSync(file, setTomlValues(readFileSync(file, 'utf8'), values));
  for (const node of nodes) {
    const isValidator = validators.includes(node);
    // Validators dial each other and the public nodes (a guarded one takes no inbound peer);
    // public nodes dial each other.
    const peers = (isValidator ? nodes : fullNodes).filter((x) => x !== node).map((x) => x.p2pAddress);
    edit(path.join(node.home, 'config', 'config.toml'), {
      rpc: { laddr: `tcp://127.0.0.1:${node.rpcPort}` },
      p2p: {
        laddr: `tcp://127.0.0.1:${node.p2pPort}`,
        persistent_peers: peers.join(','),
        addr_book_strict: false,
        allow_duplicate_ip: true,
        pex: !isValidator,
      },
      consensus: { timeout_commit: opts.timeoutCommit ?? '500ms' },
      instrumentation: { prometheus: false, prometheus_listen_addr: `127.0.0.1:${node.metricsPort}` },
    });
    // gRPC and REST off: their default ports would collide between nodes on one host (Rampart
    // gives the validator it runs a gRPC port of its own).
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
    validatorHome: first,
    genesisFile,
    loadAccount,
    loadKeyHex: loadSecret.toString('hex'),
    denom: DENOM,
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
