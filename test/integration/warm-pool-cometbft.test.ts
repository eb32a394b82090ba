// A warm spare on real CometBFT, through the whole controller: the spare follows the chain
// through the public peers without ever dialing the validator (the validator never lists it,
// its config never names it), keeps the validator private and unconditional in its own config,
// and once a scale-up takes it, is registered and becomes the validator's peer. Adds to
// warm-pool.test.ts (simnode) what only CometBFT's p2p layer can show.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import pino from 'pino';
import { loadConfigFile } from '../../src/config/load.ts';
import { Controller } from '../../src/controller/controller.ts';
import { getTomlValue, splitList } from '../../src/nodes/cometbft/config-toml.ts';
import { createRuntime } from '../../src/runtime/runtime.ts';
import type { StoredNode } from '../../src/store/store.ts';
import { createNetwork, rpcResult } from '../support/cometbft-net.ts';
import { makeFleet, waitFor } from '../support/fleet.ts';
import { requireBinary } from '../support/servers.ts';

const silent = pino({ level: 'silent' });

test('a CometBFT warm spare never reaches the validator until a scale-up takes it', {
  timeout: 300_000,
}, async (t) => {
  if (!requireBinary(t, 'cometbft')) return;
  const net = await createNetwork({ validators: 1, fullNodes: 1, timeoutCommit: '500ms' });
  after(() => net.cleanup());
  const publicNode = net.fullNodes[0]!;
  await net.start(publicNode);
  const validatorHome = net.validators[0]!.home;
  const fleet = makeFleet(`version: 1
controller:
  evaluationInterval: 500ms
  store: { kind: sqlite, path: state.db }
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
    size: { min: 1, capacity: 1, max: 3, warm: 1 }
    health: { checkInterval: 500ms, joinTimeout: 120s }
`);
  after(() => fleet.cleanup());
  const controller = new Controller({
    runtime: createRuntime(loadConfigFile(fleet.configFile).config),
    log: silent,
  });
  await controller.start();
  after(() => controller.stop().catch(() => undefined));
  const rt = await fleet.inspect();

  const validatorPeers = async (): Promise<string[]> => {
    const [v] = await rt.store.listNodes({ pool: 'validator' });
    if (!v?.ports) return [];
    const info = await rpcResult(`http://127.0.0.1:${v.ports.rpc}`, '/net_info').catch(() => undefined);
    return ((info?.peers as { node_info: { moniker: string } }[] | undefined) ?? []).map(
      (p) => p.node_info.moniker,
    );
  };
  const validatorConfig = () => readFileSync(path.join(validatorHome, 'config', 'config.toml'), 'utf8');
  const violations: string[] = [];
  const monitor = setInterval(() => void watch().catch(() => undefined), 300);
  after(() => clearInterval(monitor));
  async function watch(): Promise<void> {
    const spares = (await rt.store.listNodes({ pool: 'sentries' })).filter((n) => n.warm);
    const peers = await validatorPeers();
    const config = validatorConfig();
    for (const s of spares) {
      if (peers.includes(s.id)) violations.push(`spare ${s.id} is a peer of the validator`);
      if (s.ports && config.includes(`:${s.ports.p2p}`))
        violations.push(`spare ${s.id} is in the validator's config`);
    }
  }

  const spare = await waitFor<StoredNode | undefined>(
    'a serving sentry peered with the validator and a synced spare',
    async () => {
      const all = await rt.store.listNodes({ pool: 'sentries' });
      const peers = await validatorPeers();
      const serving = all.filter((n) => !n.warm && n.state === 'ready' && peers.includes(n.id));
      const spares = all.filter((n) => n.warm && n.state === 'ready');
      return serving.length === 1 && spares.length === 1 ? spares[0] : undefined;
    },
    180_000,
  );
  assert.ok(spare);
  // Its own config: the public peer to follow, the validator private and unconditional (so it
  // is never gossiped and its dial is taken once registered), but never dialed.
  const validatorId = (await rpcResult(
    `http://127.0.0.1:${(await rt.store.listNodes({ pool: 'validator' }))[0]!.ports!.rpc}`,
    '/status',
  )) as { node_info: { id: string } };
  const own = readFileSync(path.join(spare.dataDir!, 'config', 'config.toml'), 'utf8');
  const persistent = splitList(getTomlValue(own, 'p2p', 'persistent_peers'));
  assert.ok(persistent.includes(publicNode.p2pAddress), 'the spare follows the public peer');
  assert.ok(
    !persistent.some((p) => p.startsWith(`${validatorId.node_info.id}@`)),
    'the spare never dials the validator',
  );
  assert.ok(splitList(getTomlValue(own, 'p2p', 'private_peer_ids')).includes(validatorId.node_info.id));
  // Some blocks with the spare synced and following: the validator still knows nothing of it.
  const [, height] = await Promise.all([
    new Promise((r) => setTimeout(r, 3000)),
    rpcResult(`http://127.0.0.1:${spare.ports!.rpc}`, '/status'),
  ]);
  assert.ok(height);
  assert.deepEqual(violations, []);

  await rt.store.addRequest({
    id: 'r-size-2',
    at: Date.now(),
    kind: 'pool-size',
    body: { pool: 'sentries', size: 2 },
    caller: 'warm-pool-cometbft test',
  });
  await waitFor(
    'the spare taken, registered and peered with the validator, and a new spare behind it',
    async () => {
      const all = await rt.store.listNodes({ pool: 'sentries' });
      const taken = all.find((n) => n.id === spare.id);
      return (
        taken?.warm === undefined &&
        taken?.registered === true &&
        (await validatorPeers()).includes(spare.id) &&
        all.some((n) => n.warm && n.id !== spare.id)
      );
    },
    120_000,
  );
  const creates = (await rt.store.listActions({ pool: 'sentries', limit: 100 })).filter(
    (a) => a.kind === 'create',
  );
  assert.equal(creates.filter((a) => a.cause === 'manual-size').length, 0, 'the scale-up created no node');
  assert.deepEqual(violations, []);
});
