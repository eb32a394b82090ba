// Rampart running a real CometBFT network: a validator from the operator's home, a public
// full node standing for the rest of the chain, and a Rampart-managed sentry pool that grows
// under transaction load to max and back, wired to the validator as CometBFT's sentry
// architecture prescribes, restoring new sentries from snapshots that never carry keys.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import pino from 'pino';
import { loadConfigFile } from '../../src/config/load.ts';
import { Controller } from '../../src/controller/controller.ts';
import { FORBIDDEN_FILES } from '../../src/core/forbidden-files.ts';
import { getTomlValue, splitList } from '../../src/nodes/cometbft/config-toml.ts';
import { createRuntime } from '../../src/runtime/runtime.ts';
import { createNetwork, type Network, rpcResult } from '../support/cometbft-net.ts';
import { makeFleet, runCli, waitFor } from '../support/fleet.ts';
import { requireBinary } from '../support/servers.ts';

/**
 * Polls (300 ms each) a registered, ready sentry may go unpeered: CometBFT's dial_peers
 * waits a random 0–3 s before dialing, and the controller dials again every interval, so
 * 9 s on a loaded 2-core machine means the wiring is broken, not slow.
 */
const DIAL_WINDOW_POLLS = 30;

const silent = process.env.RAMPART_TEST_LOG
  ? pino({ level: 'debug' }, pino.destination(process.env.RAMPART_TEST_LOG))
  : pino({ level: 'silent' });

test('a real CometBFT sentry pool: wiring, load-driven scaling, snapshots', {
  timeout: 300_000,
}, async (t) => {
  if (!requireBinary(t, 'cometbft')) return;
  const net: Network = await createNetwork({ validators: 1, fullNodes: 1, timeoutCommit: '500ms' });
  after(() => net.cleanup());
  const publicNode = net.fullNodes[0]!;
  await net.start(publicNode);
  const validatorHome = net.validators[0]!.home;

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
    node: { kind: cometbft, home: ${validatorHome} }
    health: { checkInterval: 500ms }
  - name: sentries
    role: sentry
    provider: here
    node: { kind: cometbft, validatorPool: validator, peers: ["${publicNode.p2pAddress}"], maxLagBlocks: 10 }
    size: { min: 1, capacity: 2, max: 3 }
    bootstrap: { snapshots: sentry-snaps }
    scaleUp:
      cooldown: 3s
      rules: [ { metric: "nodes:cometbft_consensus_total_txs", rate: true, aggregate: max, comparator: ">", threshold: 15 } ]
    scaleDown:
      period: 3s
      lockAttemptPeriod: 100ms
      rules: [ { metric: "nodes:cometbft_consensus_total_txs", rate: true, aggregate: max, comparator: "<", threshold: 2 } ]
    health: { checkInterval: 500ms, joinTimeout: 120s }
snapshots:
  - { name: sentry-snaps, from: sentries, keep: 2, store: { kind: directory, path: snaps } }
`);
  after(() => fleet.cleanup());
  const config = loadConfigFile(fleet.configFile).config;
  const controller = new Controller({ runtime: createRuntime(config), log: silent });
  await controller.start();
  after(() => controller.stop().catch(() => undefined));
  const rt = await fleet.inspect();

  const validatorNode = async () => (await rt.store.listNodes({ pool: 'validator' }))[0];
  const validatorRpc = async () => {
    const v = await validatorNode();
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

  // Invariants at every poll: the validator peers only with registered sentries (and the
  // operator's static sentry, the public node); a registered, ready sentry becomes its peer
  // (see DIAL_WINDOW_POLLS) and stays one; never more than max; the chain keeps making blocks.
  const violations: string[] = [];
  const registeredAt = new Map<string, number>();
  let polls = 0;
  let lastHeight = 0;
  let stalledPolls = 0;
  const monitor = setInterval(async () => {
    polls++;
    const live = await sentries();
    if (live.length > 3) violations.push(`${live.length} sentries > max 3`);
    const registered = new Set(live.filter((n) => n.registered).map((n) => n.id));
    const peers = await validatorPeers();
    for (const p of peers)
      if (!registered.has(p) && p !== 'node1')
        violations.push(`validator peer ${p} is not a registered sentry`);
    for (const n of live) {
      if (n.registered && n.state === 'ready' && !registeredAt.has(n.id)) registeredAt.set(n.id, polls);
      if (!n.registered || n.state !== 'ready') registeredAt.delete(n.id);
    }
    // The window counts consecutive polls without the peer: a connection that drops later
    // (the sentry busy, a restart) is dialed again by the controller within the same window.
    for (const [id, at] of registeredAt)
      if (peers.includes(id)) registeredAt.set(id, polls);
      else if (polls - at >= DIAL_WINDOW_POLLS)
        violations.push(`registered ready sentry ${id} is not the validator's peer`);
    const url = await validatorRpc();
    if (url) {
      const s = await rpcResult(url, '/status').catch(() => undefined);
      const h = Number(
        (s?.sync_info as { latest_block_height?: string } | undefined)?.latest_block_height ?? 0,
      );
      stalledPolls = h > lastHeight ? 0 : stalledPolls + 1;
      if (stalledPolls > 30) violations.push(`no new block for ${stalledPolls} polls at height ${h}`);
      lastHeight = Math.max(lastHeight, h);
    }
  }, 300);
  after(() => clearInterval(monitor));

  await waitFor(
    'two ready sentries, registered and peered with the validator',
    async () => {
      const ready = (await sentries()).filter((n) => n.state === 'ready' && n.registered);
      const peers = await validatorPeers();
      return ready.length === 2 && ready.every((n) => peers.includes(n.id));
    },
    120_000,
  );

  // Sentry architecture: the validator config lists the sentries as private, unconditional,
  // persistent peers (so a restart keeps them); each sentry has the validator likewise.
  const vToml = readFileSync(path.join(validatorHome, 'config', 'config.toml'), 'utf8');
  const validatorId = ((await rpcResult((await validatorRpc())!, '/status')).node_info as { id: string }).id;
  const [firstSentry] = (await sentries()).filter((n) => n.registered);
  const sentryStatus = await rpcResult(`http://127.0.0.1:${firstSentry!.ports!.rpc}`, '/status');
  const sentryId = (sentryStatus.node_info as { id: string }).id;
  assert.ok(splitList(getTomlValue(vToml, 'p2p', 'unconditional_peer_ids')).includes(sentryId));
  assert.ok(splitList(getTomlValue(vToml, 'p2p', 'private_peer_ids')).includes(sentryId));
  assert.ok(
    splitList(getTomlValue(vToml, 'p2p', 'persistent_peers')).some((p) => p.startsWith(`${sentryId}@`)),
  );
  const sToml = readFileSync(path.join(firstSentry!.dataDir!, 'config', 'config.toml'), 'utf8');
  assert.equal(getTomlValue(sToml, 'p2p', 'pex'), true);
  assert.deepEqual(splitList(getTomlValue(sToml, 'p2p', 'private_peer_ids')), [validatorId]);
  assert.deepEqual(splitList(getTomlValue(sToml, 'p2p', 'unconditional_peer_ids')), [validatorId]);

  // A snapshot, asked of the running controller through the CLI, taken from a sentry while
  // the pool has more ready sentries (2) than min (1).
  const snap = runCli(['snapshot', 'create', '-c', fleet.configFile]);
  const { code } = await snap.exited;
  assert.equal(code, 0, snap.output());
  assert.match(snap.output(), /snapshot \S+ at height \d+/);
  const snapsDir = path.join(fleet.dir, 'snaps', 'sentry-snaps');
  const [snapId] = readdirSync(snapsDir);
  const files = walk(path.join(snapsDir, snapId!, 'files'));
  assert.ok(
    files.some((f) => f.includes('blockstore.db')),
    'the snapshot holds the block store',
  );
  for (const f of files)
    assert.ok(
      !FORBIDDEN_FILES.includes(path.basename(f)),
      `snapshot must not hold ${f}: keys and signing state never leave a node`,
    );
  const manifest = JSON.parse(readFileSync(path.join(snapsDir, snapId!, 'manifest.json'), 'utf8'));
  assert.equal(manifest.chainId, net.chainId);
  assert.ok(manifest.height > 0);
  await waitFor('both sentries ready again after the snapshot', async () => {
    const ready = (await sentries()).filter((n) => n.state === 'ready' && n.registered && !n.maintenance);
    return ready.length === 2;
  });

  // Transaction load drives the pool to max; the new sentry restores from the snapshot.
  let seq = 0;
  const load = setInterval(() => {
    for (let i = 0; i < 10; i++)
      fetch(`${publicNode.rpcUrl}/broadcast_tx_async?tx="k${Date.now()}-${seq++}=v"`).catch(() => undefined);
  }, 200);
  after(() => clearInterval(load));
  await waitFor(
    'the pool to reach max (3 ready)',
    async () => (await sentries()).filter((n) => n.state === 'ready').length === 3,
    120_000,
  );
  clearInterval(load);
  const creates = (await rt.store.listActions({ pool: 'sentries', limit: 1000 })).filter(
    (a) => a.kind === 'create',
  );
  assert.match(
    creates.at(-1)!.outcomeDetail ?? '',
    new RegExp(`restored from snapshot ${snapId} at height \\d+`),
  );

  await waitFor(
    'the pool to return to capacity (2)',
    async () => {
      const live = await sentries();
      return live.length === 2 && live.every((n) => n.state === 'ready');
    },
    120_000,
  );
  const removed = (await rt.store.listNodes({ pool: 'sentries', all: true })).filter(
    (n) => n.state === 'gone',
  );
  assert.ok(removed.length >= 1);
  const vTomlAfter = readFileSync(path.join(validatorHome, 'config', 'config.toml'), 'utf8');
  for (const n of removed)
    assert.ok(
      !splitList(getTomlValue(vTomlAfter, 'p2p', 'persistent_peers')).some((p) =>
        p.endsWith(`:${n.ports!.p2p}`),
      ),
      `removed sentry ${n.id} is still in the validator's persistent peers`,
    );
  clearInterval(monitor);
  assert.deepEqual(violations, []);
});

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}
