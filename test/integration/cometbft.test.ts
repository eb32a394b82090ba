// Rampart running a real chain's sentry pool, one scenario on bare CometBFT and on gaiad (the
// Cosmos Hub's daemon, its genesis made by gaiad's own commands): a validator from the
// operator's home, a public full node standing for the rest of the chain, and a Rampart-managed
// sentry pool wired to the validator as CometBFT's sentry architecture prescribes, a snapshot
// taken while the controller runs (never carrying keys), grown on the chain's transaction rate
// under real load to max (the new sentry restored from the snapshot) and shrunk when the load
// stops, sentries unwired before they are removed. Nothing of the validator's files changes
// but its three peer lists.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, type TestContext, test } from 'node:test';
import { FORBIDDEN_FILES } from '../../src/core/forbidden-files.ts';
import { startBankSendLoad } from '../../src/nodes/cometbft/bank-send-load.ts';
import { getTomlValue, setTomlValues, splitList } from '../../src/nodes/cometbft/config-toml.ts';
import { rpcResult } from '../support/cometbft-net.ts';
import type { BedDaemon } from '../support/failover-bed.ts';
import { runCli, waitFor } from '../support/fleet.ts';
import { fingerprint, PEER_LISTS, sentryFleet, walk } from '../support/sentry-fleet.ts';
import { requireBinary } from '../support/servers.ts';

/**
 * Polls (300 ms each) a registered, ready sentry may go unpeered: CometBFT's dial_peers
 * waits a random 0–3 s before dialing, and the controller dials again every interval, so
 * 9 s on a loaded 2-core machine means the wiring is broken, not slow.
 */
const DIAL_WINDOW_POLLS = 30;

for (const daemon of ['cometbft', 'gaiad'] as const)
  test(
    `a ${daemon} sentry pool: wired, grown on the transaction rate from a snapshot, shrunk, unwired before removal`,
    { timeout: 480_000 },
    (t) => sentryPool(t, daemon),
  );

async function sentryPool(t: TestContext, daemon: BedDaemon): Promise<void> {
  if (!requireBinary(t, daemon)) return;
  const {
    net,
    gaia,
    publicNode,
    validatorHome,
    before,
    configBefore,
    fleet,
    controller,
    rt,
    validatorRpc,
    validatorPeers,
    sentries,
    validatorLists,
    nodeId,
    wiredSentries,
  } = await sentryFleet(
    daemon,
    (publicPeer) => `      peers: ["${publicPeer}"]
${appLines(daemon)}    size: { min: 1, capacity: 2, max: 3 }
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
  const publicMoniker = path.basename(publicNode.home);

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
      if (!registered.has(p) && p !== publicMoniker)
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
      stalledPolls = lastHeight === 0 || h > lastHeight ? 0 : stalledPolls + 1;
      if (stalledPolls > 30) violations.push(`no new block for ${stalledPolls} polls at height ${h}`);
      lastHeight = Math.max(lastHeight, h);
    }
  }, 300);
  after(() => clearInterval(monitor));

  // The validator runs from the operator's home and makes blocks.
  await waitFor(
    'the validator making blocks',
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
  if (gaia) {
    // Its settings came as variables under gaiad's own prefix (its config.toml has Prometheus
    // off): the metrics endpoint answers where Rampart put it.
    assert.equal(getTomlValue(configBefore, 'instrumentation', 'prometheus'), false);
    const metrics = await fetch(`http://127.0.0.1:${validator.ports!.metrics}/metrics`);
    assert.match(await metrics.text(), /^cometbft_consensus_height\{/m);
  }

  await waitFor(
    'two ready sentries, registered and peered with the validator',
    async () => (await wiredSentries()).length === 2,
    240_000,
  );
  // Sentry architecture: the validator's config lists each sentry as a private,
  // unconditional, persistent peer (so a restart keeps them); each sentry has the validator
  // likewise, and pex on. A chain daemon's sentry has Rampart's app.toml.
  for (const s of await wiredSentries()) {
    const id = await nodeId(s.ports!.rpc!);
    const lists = validatorLists();
    assert.ok(lists.persistent_peers!.includes(`${id}@127.0.0.1:${s.ports!.p2p}`), `${s.id} persistent`);
    assert.ok(lists.private_peer_ids!.includes(id), `${s.id} private`);
    assert.ok(lists.unconditional_peer_ids!.includes(id), `${s.id} unconditional`);
    const sToml = readFileSync(path.join(s.dataDir!, 'config', 'config.toml'), 'utf8');
    assert.equal(getTomlValue(sToml, 'p2p', 'pex'), true);
    assert.deepEqual(splitList(getTomlValue(sToml, 'p2p', 'private_peer_ids')), [validatorId]);
    assert.deepEqual(splitList(getTomlValue(sToml, 'p2p', 'unconditional_peer_ids')), [validatorId]);
    if (!gaia) continue;
    const app = readFileSync(path.join(s.dataDir!, 'config', 'app.toml'), 'utf8');
    assert.equal(getTomlValue(app, '', 'minimum-gas-prices'), '0stake', "the validator's own gas prices");
    assert.equal(getTomlValue(app, '', 'pruning'), 'everything');
    assert.equal(getTomlValue(app, 'grpc', 'address'), `127.0.0.1:${s.ports!.grpc}`);
  }

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
  if (gaia)
    assert.ok(
      files.some((f) => f.includes('application.db')),
      "the snapshot holds the application's state",
    );
  for (const f of files)
    assert.ok(
      !FORBIDDEN_FILES.includes(path.basename(f)),
      `snapshot must not hold ${f}: keys and signing state never leave a node`,
    );
  const manifest = JSON.parse(readFileSync(path.join(snapsDir, snapId!, 'manifest.json'), 'utf8'));
  assert.equal(manifest.chainId, net.chainId);
  assert.ok(manifest.height > 0);
  await waitFor(
    'both sentries wired again after the snapshot',
    async () => (await wiredSentries()).length === 2,
    120_000,
  );

  // Transactions on the public node lift the committed-transaction rate read from the
  // sentries' metrics above the scale-up rule's 15/s, and the pool grows to max; the third
  // sentry restores the snapshot and is wired. On CometBFT, kvstore pairs at 50/s; on gaiad,
  // real bank sends, signed here, at 40/s.
  const stopLoad = gaia
    ? await (async () => {
        const load = await startBankSendLoad({
          rpcUrl: publicNode.rpcUrl,
          chainId: net.chainId,
          from: gaia.loadAccount,
          denom: gaia.denom,
          rate: 40,
        });
        after(() => load.stop());
        return async () => {
          const { accepted, rejected, lastRejection } = await load.stop();
          assert.ok(accepted > 0, `no transaction accepted (${rejected} rejected: ${lastRejection})`);
        };
      })()
    : (() => {
        let seq = 0;
        const load = setInterval(() => {
          for (let i = 0; i < 10; i++)
            fetch(`${publicNode.rpcUrl}/broadcast_tx_async?tx="k${Date.now()}-${seq++}=v"`).catch(
              () => undefined,
            );
        }, 200);
        after(() => clearInterval(load));
        return async () => clearInterval(load);
      })();
  await waitFor('three sentries wired under load', async () => (await wiredSentries()).length === 3, 240_000);
  await stopLoad();
  const creates = (await rt.store.listActions({ pool: 'sentries', limit: 1000 })).filter(
    (a) => a.kind === 'create',
  );
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
  // sentry goes, unwired from the validator's lists first. The lists are the operator's own
  // plus the sentries kept.
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
  const operators = (k: (typeof PEER_LISTS)[number]) => splitList(getTomlValue(configBefore, 'p2p', k));
  const lists = validatorLists();
  assert.deepEqual(
    [...lists.persistent_peers!].sort(),
    [...operators('persistent_peers'), ...kept.map((k) => `${k.id}@127.0.0.1:${k.p2p}`)].sort(),
  );
  assert.deepEqual(
    [...lists.private_peer_ids!].sort(),
    [...operators('private_peer_ids'), ...kept.map((k) => k.id)].sort(),
  );
  assert.deepEqual(
    [...lists.unconditional_peer_ids!].sort(),
    [...operators('unconditional_peer_ids'), ...kept.map((k) => k.id)].sort(),
  );
  clearInterval(monitor);
  assert.deepEqual(violations, []);

  // The validator's files: only the three peer lists of config.toml changed (the chain's data
  // and CometBFT's address book are the running node's own writes, not Rampart's edits).
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
}

/** A gaiad sentry's app.toml setting under test (pruning); bare CometBFT has no app.toml. */
function appLines(daemon: BedDaemon): string {
  return daemon === 'gaiad' ? '      app: { pruning: everything }\n' : '';
}
