// Validator failover on a real chain of four validators — bare CometBFT, and gaiad, the
// Cosmos Hub's daemon, from one scenario — the guarded one holding
// 1 of 31 voting power (the chain goes on without it, and its signatures — missing, back,
// or doubled — show in the commits). Kill it: an alert reaches a webhook, a non-signing
// standby is restored from a snapshot and synced, nothing else signs with its key. Promote
// while the old validator runs: refused, nothing changes. Stop it, promote: its signatures
// come back from the standby, no duplicate-vote evidence, and the old node, restarted by
// mistake, refuses to sign.

import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, type TestContext, test } from 'node:test';
import pino from 'pino';
import { ValidatorsAnswer } from '../../src/api/schemas.ts';
import { startApiServer } from '../../src/api/server.ts';
import { loadConfigFile } from '../../src/config/load.ts';
import { Controller } from '../../src/controller/controller.ts';
import { readFailover } from '../../src/failover/failover-state.ts';
import { getTomlValue, splitList } from '../../src/nodes/cometbft/config-toml.ts';
import type { Instance } from '../../src/providers/provider.ts';
import { createRuntime } from '../../src/runtime/runtime.ts';
import type { StoredNode } from '../../src/store/store.ts';
import { rpcResult } from '../support/cometbft-net.ts';
import { type BedDaemon, startFailoverBed } from '../support/failover-bed.ts';
import { makeFleet, runCli, waitFor } from '../support/fleet.ts';
import { requireBinary } from '../support/servers.ts';

const silent = process.env.RAMPART_TEST_LOG
  ? pino({ level: 'debug' }, pino.destination(process.env.RAMPART_TEST_LOG))
  : pino({ level: 'silent' });

for (const daemon of ['cometbft', 'gaiad'] as const)
  test(
    `validator failover on ${daemon}: detect, alert, standby from a snapshot, guarded promotion`,
    {
      timeout: 600_000,
    },
    (t) => failover(t, daemon),
  );

async function failover(t: TestContext, daemon: BedDaemon): Promise<void> {
  if (!requireBinary(t, daemon)) return;
  const bed = await startFailoverBed(daemon);
  after(() => bed.cleanup());
  const { net, guardedHome, guardedAddress, hooked } = bed;
  const publicNode = net.fullNodes[0]!;
  const fleet = makeFleet(
    bed.config('{ pollInterval: 1s, unreachableFor: 4s, heightStalledFor: 10s, missedBlocks: 6 }'),
  );
  after(() => fleet.cleanup());
  const config = loadConfigFile(fleet.configFile).config;
  const controller = new Controller({ runtime: createRuntime(config), log: silent });
  await controller.start();
  after(() => controller.stop().catch(() => undefined));
  const rt = await fleet.inspect();
  const provider = rt.providers.get('here')!;

  const sentryUrl = async () => {
    const s = (await rt.store.listNodes({ pool: 'sentries' })).find((n) => n.state === 'ready');
    return s?.ports ? `http://127.0.0.1:${s.ports.rpc}` : publicNode.rpcUrl;
  };
  const height = async () =>
    Number(
      ((await rpcResult(publicNode.rpcUrl, '/status')).sync_info as { latest_block_height: string })
        .latest_block_height,
    );
  /** Addresses that signed the commit of `h`. */
  const signers = async (h: number): Promise<string[]> => {
    const r = await rpcResult(await sentryUrl(), `/commit?height=${h}`);
    const sigs = (
      r.signed_header as { commit: { signatures: { block_id_flag: number; validator_address: string }[] } }
    ).commit.signatures;
    return sigs.filter((s) => s.block_id_flag === 2).map((s) => s.validator_address);
  };
  const signedRecently = async (n: number) => {
    const top = (await height()) - 1;
    for (let h = top; h > top - n; h--) if ((await signers(h)).includes(guardedAddress)) return true;
    return false;
  };
  const validatorNode = async () => (await rt.store.listNodes({ pool: 'validator', all: true }))[0]!;
  const instanceOf = (n: StoredNode): Instance => ({
    id: n.instanceId ?? '',
    nodeId: n.id,
    pool: n.pool,
    actionId: n.actionId,
    host: n.host!,
    ports: n.ports!,
    dataDir: n.dataDir,
    running: false,
    createdAt: n.createdAt,
  });
  const runningInstance = async (nodeId: string) =>
    (await provider.list()).find((i) => i.nodeId === nodeId && i.running);

  // 1. Up: the validator signs, two sentries are wired, a snapshot exists, failover is calm.
  await waitFor(
    'validator signing, two ready sentries, a snapshot, failover healthy',
    async () => {
      const sentries = await rt.store.listNodes({ pool: 'sentries' });
      const f = await readFailover(rt.store, 'validator');
      return (
        sentries.filter((n) => n.state === 'ready' && n.registered).length === 2 &&
        (await rt.snapshotStores.get('chain')!.list('chain')).length > 0 &&
        f.detect.status === 'healthy' &&
        f.address === guardedAddress &&
        (await signedRecently(3))
      );
    },
    180_000,
  );
  assert.equal(hooked.length, 0, 'no alert while healthy');

  // 2. Kill the guarded validator.
  const oldNode = await validatorNode();
  const oldInstance = (await runningInstance(oldNode.id))!;
  process.kill(Number(oldInstance.id.split(':')[0]), 'SIGKILL');
  const killedAt = Date.now();
  const killHeight = await height();

  const down = (await waitFor(
    'a down alert at the webhook',
    () => hooked.find((h) => h.body.status === 'firing' && h.body.severity === 'critical'),
    60_000,
  ))!;
  assert.equal(down.body.key, 'validator-down/validator');
  assert.match(down.body.summary, /validator down/);
  t.diagnostic(`death → alert: ${((down.at - killedAt) / 1000).toFixed(1)} s`);

  const standby = (await waitFor(
    'a ready standby',
    async () => (await rt.store.listNodes({ pool: 'standby' })).find((n) => n.state === 'ready'),
    240_000,
  ))!;
  t.diagnostic(`death → synced standby: ${((Date.now() - killedAt) / 1000).toFixed(1)} s`);
  const created = (await rt.store.listActions({ pool: 'standby', limit: 100 })).find(
    (a) => a.kind === 'create' && a.nodeId === standby.id,
  );
  assert.match(created?.outcomeDetail ?? '', /restored from snapshot/, 'the standby came from a snapshot');
  const standbyStatus = await rpcResult(`http://127.0.0.1:${standby.ports!.rpc}`, '/status');
  assert.equal(
    Number((standbyStatus.validator_info as { voting_power: string }).voting_power),
    0,
    'the standby does not sign',
  );
  // The chain goes on without the guarded validator's signatures: nobody signs with its key.
  await waitFor('the chain to go 12 blocks on', async () => (await height()) >= killHeight + 12, 60_000);
  for (let h = killHeight + 2; h < killHeight + 12; h++)
    assert.ok(
      !(await signers(h)).includes(guardedAddress),
      `height ${h} carries the guarded key's signature`,
    );

  // The API (and the dashboard's Validators page) shows it: down, the standby, the dry run.
  const api = await startApiServer({
    config,
    log: silent,
    runtime: rt,
    listen: '127.0.0.1:0',
  });
  after(() => api.close());
  const view = ValidatorsAnswer.parse(await (await fetch(`${api.url}/api/v1/validators`)).json());
  const fo = view.validators.find((v) => v.pool === 'validator')?.failover;
  assert.equal(fo?.status, 'down');
  assert.equal(fo?.dryRun?.to, standby.id);
  assert.ok(fo?.dryRun?.checks.some((c) => c.name === 'standby-caught-up' && c.ok));
  assert.ok(fo?.transitions.some((x) => x.to === 'down'));

  const statusRun = runCli(['validator', 'status', '-c', fleet.configFile]);
  assert.equal((await statusRun.exited).code, 0, statusRun.output());
  assert.match(statusRun.output(), /validator: DOWN since/);
  assert.match(statusRun.output(), new RegExp(`promote ${standby.id} now\\? would be refused`));
  assert.match(statusRun.output(), /FAILED key: not checked: give the key folder/);
  assert.match(statusRun.output(), /ok +standby-caught-up/);

  // 3. The old validator comes back (its operator restarts it): recovered, resolved alert.
  const restarted = await provider.start!(instanceOf(await validatorNode()));
  await waitFor('the guarded key signing again', () => signedRecently(3), 90_000);
  await waitFor('a resolved alert', () => hooked.find((h) => h.body.status === 'resolved'), 60_000);

  // 4. Promote while it runs: refused, nothing changes.
  const keyDir = path.join(fleet.dir, 'operator-keys');
  mkdirSync(keyDir);
  copyFileSync(
    path.join(guardedHome, 'config', 'priv_validator_key.json'),
    path.join(keyDir, 'priv_validator_key.json'),
  );
  const standbyBefore = (await runningInstance(standby.id))!;
  const promote = () =>
    runCli([
      'validator',
      'promote',
      '-c',
      fleet.configFile,
      '--pool',
      'validator',
      '--to',
      standby.id,
      '--key-dir',
      keyDir,
    ]);
  const refused = promote();
  const r1 = await refused.exited;
  assert.equal(r1.code, 1, `promote must refuse while the old validator runs:\n${refused.output()}`);
  assert.match(refused.output(), /FAILED old-fenced: the old validator still runs/);
  assert.match(refused.output(), /FAILED old-silent/);
  assert.equal((await runningInstance(standby.id))?.id, standbyBefore.id, 'the standby was not touched');
  assert.equal((await readFailover(rt.store, 'validator')).signer, undefined);
  assert.ok(!(await rt.store.listActions({ limit: 1000 })).some((a) => a.kind === 'promote'));

  // 5. Stop it for good, let it fall silent, promote.
  await provider.stop!(restarted);
  const stoppedHeight = await height();
  await waitFor(
    '11 blocks without the old signer',
    async () => (await height()) >= stoppedHeight + 12,
    60_000,
  );
  const promoted = promote();
  const r2 = await promoted.exited;
  assert.equal(r2.code, 0, `promote must pass now:\n${promoted.output()}`);
  const promoteHeight = await height();

  const f = await readFailover(rt.store, 'validator');
  assert.equal(f.signer?.node, standby.id);
  assert.ok(f.fenced.includes(oldNode.id), 'the old validator is fenced');
  assert.equal((await rt.store.getPool('standby'))?.paused, true, 'the pool holding the signer is paused');
  const action = (await rt.store.listActions({ limit: 1000 })).find((a) => a.kind === 'promote');
  assert.equal(action?.outcome, 'succeeded');
  assert.match(action!.caller, /rampart validator promote/);

  // The new validator signs: its signatures reappear on chain, from the standby's node.
  const promotedNode = (await rt.store.getNode(standby.id))!;
  const promotedStatus = (await waitFor('the promoted node to answer as a validator', async () => {
    const s = await rpcResult(`http://127.0.0.1:${promotedNode.ports!.rpc}`, '/status').catch(
      () => undefined,
    );
    const v = s?.validator_info as { address: string; voting_power: string } | undefined;
    return s && v && Number(v.voting_power) > 0 ? { s, v } : undefined;
  }))!;
  assert.equal(promotedStatus.v.address, guardedAddress);
  await waitFor('the guarded key signing again, from the standby', () => signedRecently(3), 90_000);
  await waitFor('failover to follow the new signer, healthy again', async () => {
    const now = await readFailover(rt.store, 'validator');
    return now.detect.status === 'healthy' && now.signer?.node === standby.id;
  });
  // The sentries now name the new validator, not the old one.
  const newId = (promotedStatus.s.node_info as { id: string }).id;
  for (const s of await rt.store.listNodes({ pool: 'sentries' })) {
    const toml = readFileSync(path.join(s.dataDir!, 'config', 'config.toml'), 'utf8');
    assert.ok(splitList(getTomlValue(toml, 'p2p', 'private_peer_ids')).includes(newId));
    assert.ok(splitList(getTomlValue(toml, 'p2p', 'unconditional_peer_ids')).includes(newId));
    assert.ok(
      splitList(getTomlValue(toml, 'p2p', 'persistent_peers')).some((p) => p.startsWith(`${newId}@`)),
    );
  }

  // 6. The old node, restarted by mistake, does not sign: its double-sign check stops it.
  const mistaken = await provider.start!(instanceOf(await validatorNode()));
  await waitFor(
    'the fenced old validator to stop on its own',
    async () => !(await provider.list()).some((i) => i.id === mistaken.id && i.running),
    60_000,
  );
  const oldLog = readFileSync(path.join(mistaken.dataDir!, 'node.log'), 'utf8');
  // CometBFT's double_sign_check_height: its own key's signature in the last blocks stops it.
  assert.match(oldLog, /found signature from the same key/, 'it refused for double-sign risk');

  // No duplicate-vote evidence anywhere since the kill. Heights and blocks from one node: a
  // sentry may be a block behind the public node.
  const url = await sentryUrl();
  const top = Number(
    ((await rpcResult(url, '/status')).sync_info as { latest_block_height: string }).latest_block_height,
  );
  for (let h = killHeight; h <= top; h++) {
    const block = await rpcResult(url, `/block?height=${h}`);
    const evidence = (block.block as { evidence: { evidence: unknown[] } }).evidence.evidence;
    assert.deepEqual(evidence, [], `evidence at height ${h}`);
  }
  t.diagnostic(`promotion at height ${promoteHeight}, checked blocks ${killHeight}–${top}`);
}
