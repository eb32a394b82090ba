// Rampart driving a real Cosmos SDK chain: a Cosmos Hub validator (gaiad, its genesis made
// by gaiad's own commands) run from the operator's home, a public full node standing for the
// rest of the chain, and a sentry pool of gaiad nodes Rampart creates: wired to the validator
// through its three peer lists once caught up, a snapshot taken while the controller runs, the
// pool grown by a rule on the chain's transaction rate under real bank sends (the new sentry
// restored from the snapshot) and shrunk when the load stops, sentries unwired before they are
// removed. Nothing of the validator's files changes but those three lists.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import pino from 'pino';
import { loadConfigFile } from '../../src/config/load.ts';
import { Controller } from '../../src/controller/controller.ts';
import { FORBIDDEN_FILES } from '../../src/core/forbidden-files.ts';
import { getTomlValue, setTomlValues, splitList } from '../../src/nodes/cometbft/config-toml.ts';
import { createRuntime } from '../../src/runtime/runtime.ts';
import { rpcResult } from '../support/cometbft-net.ts';
import { makeFleet, runCli, waitFor } from '../support/fleet.ts';
import { createGaiaChain } from '../support/gaia-chain.ts';
import { startBankSendLoad } from '../../src/nodes/cometbft/bank-send-load.ts';
import { skipUnlessInstalled } from '../support/servers.ts';

const silent = process.env.RAMPART_TEST_LOG
  ? pino({ level: 'debug' }, pino.destination(process.env.RAMPART_TEST_LOG))
  : pino({ level: 'silent' });

const PEER_LISTS = ['persistent_peers', 'private_peer_ids', 'unconditional_peer_ids'] as const;

/**
 * A gaiad chain (one validator, one public full node), and a controller running a fleet of
 * that validator and a sentry pool whose `node`, size and bootstrap lines come from `sentryLines`.
 */
async function gaiaFleet(sentryLines: (publicPeer: string) => string) {
  const chain = await createGaiaChain({ fullNodes: 1 });
  after(() => chain.cleanup());
  const publicNode = chain.fullNodes[0]!;
  await chain.start(publicNode);
  const validatorHome = chain.validatorHome;
  const before = fingerprint(validatorHome);
  const configBefore = readFileSync(path.join(validatorHome, 'config', 'config.toml'), 'utf8');

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
    node: { kind: cometbft, binary: ${chain.binary}, home: ${validatorHome} }
    health: { checkInterval: 500ms }
  - name: sentries
    role: sentry
    provider: here
    node:
      kind: cometbft
      binary: ${chain.binary}
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
    const net = await rpcResult(url, '/net_info').catch(() => undefined);
    return ((net?.peers as { node_info: { moniker: string } }[] | undefined) ?? []).map(
      (p) => p.node_info.moniker,
    );
  };
  const validatorLists = () => {
    const text = readFileSync(path.join(validatorHome, 'config', 'config.toml'), 'utf8');
    return Object.fromEntries(PEER_LISTS.map((k) => [k, splitList(getTomlValue(text, 'p2p', k))]));
  };
  const nodeId = async (rpcPort: number) =>
    ((await rpcResult(`http://127.0.0.1:${rpcPort}`, '/status')).node_info as { id: string }).id;
  const wiredSentries = async () => {
    const ready = (await sentries()).filter((n) => n.state === 'ready' && n.registered && !n.maintenance);
    const peers = await validatorPeers();
    return ready.filter((n) => peers.includes(n.id));
  };

  const validatorId = async () => nodeId((await rt.store.listNodes({ pool: 'validator' }))[0]!.ports!.rpc!);
  return {
    chain,
    publicNode,
    validatorHome,
    before,
    configBefore,
    fleet,
    controller,
    rt,
    validatorRpc,
    sentries,
    validatorLists,
    nodeId,
    wiredSentries,
    validatorId,
  };
}

test('a gaiad sentry pool: wired, grown on the transaction rate from a snapshot, shrunk, unwired before removal', {
  timeout: 480_000,
  skip: skipUnlessInstalled('gaiad'),
}, async () => {
  const {
    chain,
    publicNode,
    validatorHome,
    before,
    configBefore,
    fleet,
    controller,
    rt,
    validatorRpc,
    sentries,
    validatorLists,
    nodeId,
    wiredSentries,
  } = await gaiaFleet(
    (publicPeer) => `      peers: ["${publicPeer}"]
      app: { pruning: everything }
    size: { min: 1, capacity: 2, max: 3 }
    bootstrap: { snapshots: sentry-snaps }
    scaleUp:
      cooldown: 3s
      rules: [ { metric: "nodes:cometbft_consensus_total_txs", rate: true, aggregate: max, comparator: ">", threshold: 15 } ]
    scaleDown:
      period: 3s
      lockAttemptPeriod: 100ms
      rules: [ { metric: "nodes:cometbft_consensus_total_txs", rate: true, aggregate: max, comparator: "<", threshold: 2 } ]
    health: { checkInterval: 500ms, joinTimeout: 180s }
snapshots:
  - { name: sentry-snaps, from: sentries, keep: 2, store: { kind: directory, path: snaps } }
`,
  );

  // The validator is gaiad itself, from the operator's home: it makes blocks.
  await waitFor(
    'the gaiad validator making blocks',
    async () => {
      const url = await validatorRpc();
      if (!url) return false;
      const s = await rpcResult(url, '/status');
      return Number((s.sync_info as { latest_block_height: string }).latest_block_height) > 2;
    },
    120_000,
  );
  const validator = (await rt.store.listNodes({ pool: 'validator' }))[0]!;
  const validatorId = await nodeId(validator.ports!.rpc!);
  // Its settings came as variables under gaiad's own prefix (its config.toml has Prometheus
  // off): the metrics endpoint answers where Rampart put it.
  assert.equal(getTomlValue(configBefore, 'instrumentation', 'prometheus'), false);
  const metrics = await fetch(`http://127.0.0.1:${validator.ports!.metrics}/metrics`);
  assert.match(await metrics.text(), /^cometbft_consensus_height\{/m);

  await waitFor(
    'two ready sentries, registered and peered with the validator',
    async () => (await wiredSentries()).length === 2,
    240_000,
  );
  // Sentry architecture: each sentry is in the validator's three lists; each sentry has the
  // validator as its private, unconditional peer; its app.toml is Rampart's.
  for (const s of await wiredSentries()) {
    const id = await nodeId(s.ports!.rpc!);
    const lists = validatorLists();
    assert.ok(lists.persistent_peers!.includes(`${id}@127.0.0.1:${s.ports!.p2p}`), `${s.id} persistent`);
    assert.ok(lists.private_peer_ids!.includes(id), `${s.id} private`);
    assert.ok(lists.unconditional_peer_ids!.includes(id), `${s.id} unconditional`);
    const sToml = readFileSync(path.join(s.dataDir!, 'config', 'config.toml'), 'utf8');
    assert.deepEqual(splitList(getTomlValue(sToml, 'p2p', 'private_peer_ids')), [validatorId]);
    const app = readFileSync(path.join(s.dataDir!, 'config', 'app.toml'), 'utf8');
    assert.equal(getTomlValue(app, '', 'minimum-gas-prices'), '0stake', "the validator's own gas prices");
    assert.equal(getTomlValue(app, '', 'pruning'), 'everything');
    assert.equal(getTomlValue(app, 'grpc', 'address'), `127.0.0.1:${s.ports!.grpc}`);
  }

  // A snapshot, asked of the running controller through the CLI.
  const snap = runCli(['snapshot', 'create', '-c', fleet.configFile]);
  const { code } = await snap.exited;
  assert.equal(code, 0, snap.output());
  const snapsDir = path.join(fleet.dir, 'snaps', 'sentry-snaps');
  const [snapId] = readdirSync(snapsDir);
  const files = walk(path.join(snapsDir, snapId!, 'files'));
  assert.ok(
    files.some((f) => f.includes('application.db')),
    "the snapshot holds the application's state",
  );
  for (const f of files)
    assert.ok(!FORBIDDEN_FILES.includes(path.basename(f)), `snapshot must not hold ${f}`);
  const manifest = JSON.parse(readFileSync(path.join(snapsDir, snapId!, 'manifest.json'), 'utf8'));
  assert.equal(manifest.chainId, chain.chainId);
  await waitFor(
    'both sentries wired again after the snapshot',
    async () => (await wiredSentries()).length === 2,
    120_000,
  );

  // Real bank sends, signed here and broadcast to the public node at 40 tx/s: the chain's
  // committed-transaction rate, read from the sentries' metrics, is above the scale-up rule's
  // 15/s, and the pool grows to max; the third sentry restores the snapshot and is wired.
  const load = await startBankSendLoad({
    rpcUrl: publicNode.rpcUrl,
    chainId: chain.chainId,
    from: chain.loadAccount,
    denom: chain.denom,
    rate: 40,
  });
  after(() => load.stop());
  await waitFor('three sentries wired under load', async () => (await wiredSentries()).length === 3, 240_000);
  const { accepted, rejected, lastRejection } = await load.stop();
  assert.ok(accepted > 0, `no transaction accepted (${rejected} rejected: ${lastRejection})`);
  const actions = await rt.store.listActions({ pool: 'sentries', limit: 1000 });
  const creates = actions.filter((a) => a.kind === 'create');
  assert.match(
    creates.at(-1)!.outcomeDetail ?? '',
    new RegExp(`restored from snapshot ${snapId} at height \\d+`),
  );
  const decisions = await rt.store.listDecisions({ pool: 'sentries', limit: 1000 });
  assert.ok(
    decisions.some(
      (d) =>
        d.decision === 'scale-up' &&
        d.reasons.some((r) => /rate of nodes:cometbft_consensus_total_txs = [\d.]+ > 15/.test(r.text)),
    ),
    'a scale-up decided on the transaction rate',
  );

  // The load gone, the rate falls under 2/s and the pool shrinks back to its capacity: one
  // sentry goes, unwired from the validator's lists first.
  await waitFor(
    'the pool back to two ready sentries',
    async () => {
      const live = await sentries();
      return live.length === 2 && live.every((n) => n.state === 'ready');
    },
    120_000,
  );
  const kept = await Promise.all(
    (await sentries()).map(async (n) => ({ id: await nodeId(n.ports!.rpc!), p2p: n.ports!.p2p! })),
  );
  const lists = validatorLists();
  assert.deepEqual(
    [...lists.persistent_peers!].sort(),
    [publicNode.p2pAddress, ...kept.map((k) => `${k.id}@127.0.0.1:${k.p2p}`)].sort(),
  );
  assert.deepEqual([...lists.private_peer_ids!].sort(), kept.map((k) => k.id).sort());
  assert.deepEqual([...lists.unconditional_peer_ids!].sort(), kept.map((k) => k.id).sort());

  // The validator's files: only the three peer lists of config.toml changed (the chain's data
  // and CometBFT's address book are the running daemon's own writes, not Rampart's edits).
  await controller.stop();
  const afterwards = fingerprint(validatorHome);
  const configAfter = readFileSync(path.join(validatorHome, 'config', 'config.toml'), 'utf8');
  const originalLists = Object.fromEntries(
    PEER_LISTS.map((k) => [k, String(getTomlValue(configBefore, 'p2p', k) ?? '')]),
  );
  assert.equal(setTomlValues(configAfter, { p2p: originalLists }), configBefore);
  delete before['config/config.toml'];
  delete afterwards['config/config.toml'];
  assert.deepEqual(afterwards, before);
});

test('a gaiad sentry joins by state sync from the snapshots its pool serves', {
  timeout: 480_000,
  skip: skipUnlessInstalled('gaiad'),
}, async () => {
  // Every 10 blocks (5 s here), kept for 50 snapshots: a snapshot the new node picks must
  // outlive its discovery (15 s) and fetch, or the source answers "no such chunk".
  const INTERVAL = 10;
  const { rt, fleet, wiredSentries } = await gaiaFleet(
    (publicPeer) => `      peers: ["${publicPeer}"]
      app: { snapshotInterval: ${INTERVAL}, snapshotKeepRecent: 50 }
      stateSync: prefer
    size: { min: 1, capacity: 1, max: 2 }
    health: { checkInterval: 500ms, joinTimeout: 180s }
`,
  );
  const heightOf = async (rpcPort: number) =>
    (await rpcResult(`http://127.0.0.1:${rpcPort}`, '/status')).sync_info as {
      latest_block_height: string;
      earliest_block_height: string;
    };

  // The first sentry has no sibling to sync from: it syncs from the network, from genesis,
  // and takes a snapshot every INTERVAL blocks.
  const [first] = (await waitFor(
    'one sentry wired',
    async () => {
      const w = await wiredSentries();
      return w.length === 1 ? w : undefined;
    },
    180_000,
  ))!;
  await waitFor(
    'the first sentry past two snapshot intervals',
    async () => Number((await heightOf(first!.ports!.rpc!)).latest_block_height) > 2 * INTERVAL + 2,
    120_000,
  );
  const firstCreate = (await rt.store.listActions({ pool: 'sentries', limit: 100 })).find(
    (a) => a.kind === 'create' && a.nodeId === first!.id,
  );
  assert.match(firstCreate!.outcomeDetail ?? '', /synced from the network/);

  // The second joins by state sync from the first, then catches up and is wired.
  const up = runCli(['pool', 'size', 'sentries', '2', '-c', fleet.configFile]);
  assert.equal((await up.exited).code, 0, up.output());
  const wired = (await waitFor(
    'two sentries wired',
    async () => {
      const w = await wiredSentries();
      return w.length === 2 ? w : undefined;
    },
    240_000,
  ))!;
  const second = wired.find((n) => n.id !== first!.id)!;
  const creates = (await rt.store.listActions({ pool: 'sentries', limit: 100 })).filter(
    (a) => a.kind === 'create',
  );
  assert.match(
    creates.find((a) => a.nodeId === second.id)!.outcomeDetail ?? '',
    new RegExp(`state sync from ${first!.id}, trusting height \\d+`),
  );
  // Its block store starts at the snapshot it restored, not at genesis; its app hash agrees.
  const synced = await heightOf(second.ports!.rpc!);
  assert.ok(Number(synced.earliest_block_height) > 1, `earliest block ${synced.earliest_block_height}`);
  assert.equal(Number(synced.earliest_block_height) % INTERVAL, 1, 'the block after a snapshot height');
  const toml = readFileSync(path.join(second.dataDir!, 'config', 'config.toml'), 'utf8');
  assert.equal(getTomlValue(toml, 'statesync', 'enable'), true);
  assert.equal(getTomlValue(toml, 'statesync', 'discovery_time'), '5s');
  assert.ok(
    splitList(getTomlValue(toml, 'p2p', 'persistent_peers')).some((p) => p.endsWith(`:${first!.ports!.p2p}`)),
  );
});

/**
 * sha256 of every file of the validator's home but what the running daemon writes itself:
 * its chain data (data/, and wasm/ where gaiad keeps CosmWasm code) and its address book.
 */
function fingerprint(home: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of walk(home)) {
    const rel = path.relative(home, f);
    if (/^(data|wasm)\//.test(rel) || rel === 'config/addrbook.json') continue;
    out[rel] = createHash('sha256').update(readFileSync(f)).digest('hex');
  }
  return out;
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}
