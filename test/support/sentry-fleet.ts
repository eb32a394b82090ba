// A sentry fleet on a real chain for the cometbft node kind's integration tests: one
// validator (run by Rampart from the operator's home), one public full node standing for the
// rest of the chain (run here), and a controller running the validator and a sentry pool whose
// node, size and bootstrap lines the test gives. The chain runs on bare CometBFT (its kvstore
// app) or on gaiad (the Cosmos Hub's daemon, its genesis made by gaiad's own commands).

import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { after } from 'node:test';
import pino from 'pino';
import { loadConfigFile } from '../../src/config/load.ts';
import { Controller } from '../../src/controller/controller.ts';
import { getTomlValue, splitList } from '../../src/nodes/cometbft/config-toml.ts';
import { createRuntime } from '../../src/runtime/runtime.ts';
import { createNetwork, rpcResult } from './cometbft-net.ts';
import type { BedDaemon } from './failover-bed.ts';
import { makeFleet } from './fleet.ts';
import { createGaiaChain } from './gaia-chain.ts';

export const silent = process.env.RAMPART_TEST_LOG
  ? pino({ level: 'debug' }, pino.destination(process.env.RAMPART_TEST_LOG))
  : pino({ level: 'silent' });

export const PEER_LISTS = ['persistent_peers', 'private_peer_ids', 'unconditional_peer_ids'] as const;

/**
 * The chain, the fleet and a running controller (all cleaned up after the test), and what the
 * scenarios read of them. `sentryLines(publicPeer)` is the rest of the sentry pool's entry:
 * more `node:` fields (six spaces in), then size, bootstrap, rules, and any top-level section.
 */
export async function sentryFleet(daemon: BedDaemon, sentryLines: (publicPeer: string) => string) {
  const gaia = daemon === 'gaiad' ? await createGaiaChain({ fullNodes: 1 }) : undefined;
  const net = gaia ?? (await createNetwork({ validators: 1, fullNodes: 1, timeoutCommit: '500ms' }));
  after(() => net.cleanup());
  const publicNode = net.fullNodes[0]!;
  await net.start(publicNode);
  const validatorHome = net.validators[0]!.home;
  const before = fingerprint(validatorHome);
  const configBefore = readFileSync(path.join(validatorHome, 'config', 'config.toml'), 'utf8');
  // The node kind's binary: the testbed's cometbft by default, gaiad named.
  const binary = gaia ? `binary: ${gaia.binary}, ` : '';

  const fleet = makeFleet(`version: 1
controller:
  evaluationInterval: 500ms
  store: { kind: sqlite, path: state.db }
metrics:
  - { name: nodes, kind: scrape, staleAfter: 5s, timeout: 1s }
providers:
  - { name: here, kind: local, dataDir: nodes }
pools:
  - name: validator
    role: validator
    provider: here
    node: { kind: cometbft, ${binary}home: ${validatorHome} }
    health: { checkInterval: 500ms }
  - name: sentries
    role: sentry
    provider: here
    node:
      kind: cometbft
      ${gaia ? `binary: ${gaia.binary}` : '# binary: the testbed cometbft'}
      validatorPool: validator
      maxLagBlocks: 10
${sentryLines(publicNode.p2pAddress)}`);
  after(() => fleet.cleanup());
  const config = loadConfigFile(fleet.configFile).config;
  const controller = new Controller({ runtime: createRuntime(config), log: silent });
  await controller.start();
  after(() => controller.stop().catch(() => undefined));
  const rt = await fleet.inspect();

  const validatorRpc = async () => {
    const v = (await rt.store.listNodes({ pool: 'validator' }))[0];
    return v?.ports ? `http://127.0.0.1:${v.ports.rpc}` : undefined;
  };
  const sentries = () => rt.store.listNodes({ pool: 'sentries' });
  const validatorPeers = async (): Promise<string[]> => {
    const url = await validatorRpc();
    if (!url) return [];
    const info = await rpcResult(url, '/net_info').catch(() => undefined);
    return ((info?.peers as { node_info: { moniker: string } }[] | undefined) ?? []).map(
      (p) => p.node_info.moniker,
    );
  };
  const validatorLists = () => {
    const text = readFileSync(path.join(validatorHome, 'config', 'config.toml'), 'utf8');
    return Object.fromEntries(PEER_LISTS.map((k) => [k, splitList(getTomlValue(text, 'p2p', k))]));
  };
  const nodeId = async (rpcPort: number) =>
    ((await rpcResult(`http://127.0.0.1:${rpcPort}`, '/status')).node_info as { id: string }).id;
  /** Ready sentries registered with the validator and among its peers. */
  const wiredSentries = async () => {
    const ready = (await sentries()).filter((n) => n.state === 'ready' && n.registered && !n.maintenance);
    const peers = await validatorPeers();
    return ready.filter((n) => peers.includes(n.id));
  };

  return {
    net,
    gaia,
    publicNode,
    validatorHome,
    before,
    configBefore,
    fleet,
    config,
    controller,
    rt,
    validatorRpc,
    validatorPeers,
    sentries,
    validatorLists,
    nodeId,
    wiredSentries,
  };
}

/**
 * sha256 of every file of the validator's home but what the running node writes itself: its
 * chain data (data/, and wasm/ where gaiad keeps CosmWasm code) and its address book.
 */
export function fingerprint(home: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of walk(home)) {
    const rel = path.relative(home, f);
    if (/^(data|wasm)\//.test(rel) || rel === 'config/addrbook.json') continue;
    out[rel] = createHash('sha256').update(readFileSync(f)).digest('hex');
  }
  return out;
}

export function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}
