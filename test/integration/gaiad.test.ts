// Rampart choosing how a new sentry of a real Cosmos SDK chain joins (gaiad, the Cosmos Hub's
// daemon): by CometBFT state sync from the snapshots its pool's nodes take, or by restoring a
// file snapshot, whichever the pool last measured faster (`stateSync: auto`). The sentry pool
// scenario itself (wiring, snapshots, scaling on the transaction rate) runs on gaiad and on
// bare CometBFT from one suite: cometbft.test.ts.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { Controller } from '../../src/controller/controller.ts';
import { getTomlValue, splitList } from '../../src/nodes/cometbft/config-toml.ts';
import { accountState } from '../../src/nodes/cometbft/cosmos-tx.ts';
import { createRuntime } from '../../src/runtime/runtime.ts';
import { rpcResult } from '../support/cometbft-net.ts';
import { runCli, waitFor } from '../support/fleet.ts';
import { sentryFleet, silent } from '../support/sentry-fleet.ts';
import { skipUnlessInstalled } from '../support/servers.ts';

test('a gaiad sentry pool with stateSync auto: joins by state sync and by snapshot, measured, then the faster', {
  timeout: 600_000,
  skip: skipUnlessInstalled('gaiad'),
}, async (t) => {
  // Every 10 blocks (5 s here), kept for 50 snapshots: a snapshot the new node picks must
  // outlive its discovery (5 s) and fetch, or the source answers "no such chunk".
  const INTERVAL = 10;
  const { rt, fleet, config, controller, wiredSentries, sentries, gaia } = await sentryFleet(
    'gaiad',
    (publicPeer) => `      peers: ["${publicPeer}"]
      app: { snapshotInterval: ${INTERVAL}, snapshotKeepRecent: 50 }
      stateSync: auto
    size: { min: 1, capacity: 1, max: 3 }
    bootstrap: { snapshots: sentry-snaps }
    health: { checkInterval: 500ms, joinTimeout: 180s }
snapshots:
  - { name: sentry-snaps, from: sentries, keep: 2, store: { kind: directory, path: snaps } }
`,
  );
  const heightOf = async (rpcPort: number) =>
    (await rpcResult(`http://127.0.0.1:${rpcPort}`, '/status')).sync_info as {
      latest_block_height: string;
      earliest_block_height: string;
    };
  const createOf = async (nodeId: string) =>
    (await rt.store.listActions({ pool: 'sentries', limit: 1000 })).find(
      (a) => a.kind === 'create' && a.nodeId === nodeId,
    )!.outcomeDetail ?? '';
  const sizeTo = async (n: number) => {
    const cli = runCli(['pool', 'size', 'sentries', String(n), '-c', fleet.configFile]);
    assert.equal((await cli.exited).code, 0, cli.output());
  };
  const wiredCount = (n: number, within: number) =>
    waitFor(
      `${n} sentries wired`,
      async () => {
        const w = await wiredSentries();
        return w.length === n ? w : undefined;
      },
      within,
    ) as Promise<Awaited<ReturnType<typeof wiredSentries>>>;

  // The first sentry has no sibling to sync from and the set no snapshot: it syncs from the
  // network, from genesis, and takes a snapshot every INTERVAL blocks.
  const [first] = await wiredCount(1, 180_000);
  await waitFor(
    'the first sentry past two snapshot intervals',
    async () => Number((await heightOf(first!.ports!.rpc!)).latest_block_height) > 2 * INTERVAL + 2,
    120_000,
  );
  assert.match(await createOf(first!.id), /synced from the network|syncing from genesis/);
  assert.match(await createOf(first!.id), /neither a state-sync source nor a file snapshot yet/);

  // The second: no file snapshot yet, so state sync from the first (the only way), then it
  // catches up and is wired; its join is the pool's first figure.
  await sizeTo(2);
  const second = (await wiredCount(2, 240_000)).find((n) => n.id !== first!.id)!;
  assert.match(
    await createOf(second.id),
    new RegExp(
      `state sync from ${first!.id}, trusting height \\d+ \\(stateSync auto — state sync: the only way \\(no file snapshot yet\\)\\)`,
    ),
  );
  // Its block store starts at the snapshot it restored, not at genesis.
  const synced = await heightOf(second.ports!.rpc!);
  assert.ok(Number(synced.earliest_block_height) > 1, `earliest block ${synced.earliest_block_height}`);
  assert.equal(Number(synced.earliest_block_height) % INTERVAL, 1, 'the block after a snapshot height');
  const toml = readFileSync(path.join(second.dataDir!, 'config', 'config.toml'), 'utf8');
  assert.equal(getTomlValue(toml, 'statesync', 'enable'), true);
  assert.equal(getTomlValue(toml, 'statesync', 'discovery_time'), '5s');
  assert.ok(
    splitList(getTomlValue(toml, 'p2p', 'persistent_peers')).some((p) => p.endsWith(`:${first!.ports!.p2p}`)),
  );
  const bySync = (await waitFor(
    'the state sync measured',
    async () => (await rt.store.getPool('sentries'))?.joins?.stateSync,
  ))!;
  assert.equal(bySync.node, second.id);
  assert.equal(bySync.ms, (await rt.store.getNode(second.id))!.readyAt! - second.createdAt);

  // A file snapshot, then a third sentry: both ways possible, the snapshot not measured yet.
  const snap = runCli(['snapshot', 'create', '-c', fleet.configFile]);
  assert.equal((await snap.exited).code, 0, snap.output());
  await wiredCount(2, 120_000);
  await sizeTo(3);
  const third = (await wiredCount(3, 240_000)).find((n) => n.id !== first!.id && n.id !== second.id)!;
  assert.match(
    await createOf(third.id),
    new RegExp(
      `restored from snapshot \\S+ at height \\d+ \\(stateSync auto — snapshot: not measured yet \\(state sync last ${(bySync.ms / 1000).toFixed(1)} s\\)\\)`,
    ),
  );
  const joins = (await waitFor('the restore measured', async () => {
    const j = (await rt.store.getPool('sentries'))?.joins;
    return j?.snapshot ? j : undefined;
  }))!;
  assert.equal(joins.snapshot!.node, third.id);

  // Down to two, and a new controller (the figures are the pool's stored state): the next
  // sentry joins the way measured faster, and its create says so with both figures.
  await sizeTo(2);
  await waitFor('two sentries left', async () => (await sentries()).length === 2, 120_000);
  await controller.stop();
  const again = new Controller({ runtime: createRuntime(config), log: silent });
  await again.start();
  after(() => again.stop().catch(() => undefined));
  const before = new Set((await sentries()).map((n) => n.id));
  await sizeTo(3);
  const fourth = (await wiredCount(3, 240_000)).find((n) => !before.has(n.id))!;
  const syncFaster = joins.stateSync!.ms < joins.snapshot!.ms;
  const s = (f: { ms: number }) => `${(f.ms / 1000).toFixed(1)} s`;
  assert.match(
    await createOf(fourth.id),
    new RegExp(
      syncFaster
        ? `state sync from .+, trusting height \\d+ \\(stateSync auto — state sync: last ${s(joins.stateSync!)} against ${s(joins.snapshot!)} by snapshot\\)`
        : `restored from snapshot \\S+ at height \\d+ \\(stateSync auto — snapshot: last ${s(joins.snapshot!)} against ${s(joins.stateSync!)} by state sync\\)`,
    ),
  );
  for (const n of [first!, second, third, fourth]) t.diagnostic(`${n.id}: ${await createOf(n.id)}`);
  // `rampart status` shows the pool's figures as the controller last recorded them.
  const status = runCli(['status', '-c', fleet.configFile]);
  assert.equal((await status.exited).code, 0, status.output());
  assert.match(
    status.output(),
    new RegExp(
      `· last joins, create to ready: state sync ${s(bySync)} \\(${second.id}\\), snapshot \\d+\\.\\d s \\(sentries-[0-9a-f]+\\)`,
    ),
  );

  // `rampart load --bank-send`: real bank sends, signed by the CLI from a key file, through
  // the pool's ready sentries; the chain counts them in the account's sequence.
  const keyFile = path.join(fleet.dir, 'load.key');
  writeFileSync(keyFile, `${gaia!.loadKeyHex}\n`, { mode: 0o600 });
  const account = gaia!.loadAccount.address;
  const sequenceBefore = (await accountState(gaia!.fullNodes[0]!.rpcUrl, account))!.sequence;
  const loadRun = runCli([
    'load',
    '-c',
    fleet.configFile,
    '--rate',
    '5',
    '--duration',
    '6s',
    '--bank-send',
    '--key-file',
    keyFile,
    '--gas-price',
    `10${gaia!.denom}`,
  ]);
  assert.equal((await loadRun.exited).code, 0, loadRun.output());
  assert.match(loadRun.output(), new RegExp(`sending 5 bank sends/s from ${account} on ${gaia!.chainId}`));
  const accepted = Number(/accepted (\d+)/.exec(loadRun.output())?.[1]);
  assert.ok(accepted > 0, loadRun.output());
  assert.ok(!loadRun.output().includes(gaia!.loadKeyHex), 'the secret is never printed');
  await waitFor('the bank sends committed', async () => {
    const now = (await accountState(gaia!.fullNodes[0]!.rpcUrl, account))!.sequence;
    return now >= sequenceBefore + BigInt(accepted);
  });
});
