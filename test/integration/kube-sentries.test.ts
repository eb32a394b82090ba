// CometBFT sentries as a StatefulSet's pods, on the real API server: a real validator outside
// the cluster (Rampart's local provider, the operator's home), a sentry StatefulSet whose pods
// the fake kubelet runs as real CometBFT processes on loopback pod IPs. Transaction load
// drives the pool from 2 to 4 and back; each new pod's claim comes from the newest
// VolumeSnapshot, it is registered with the validator once caught up (its node id read from
// its RPC) and deregistered before its pod goes; a crashed sentry is restarted and peers
// again. Then the validator dies and `rampart validator promote` moves signing to a standby:
// the ConfigMap the pods read now names the new validator, and every sentry is its peer —
// one restarted after the promotion from the ConfigMap alone. Rampart acts with the rights of
// the deployed Role only. Storage and snapshots are the test bed's named fakes.

import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { loadConfigFile } from '../../src/config/load.ts';
import { Controller } from '../../src/controller/controller.ts';
import { readFailover } from '../../src/failover/failover-state.ts';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { getTomlValue, splitList } from '../../src/nodes/cometbft/config-toml.ts';
import type { NodeKind } from '../../src/nodes/node-kind.ts';
import { StatefulSetProvider } from '../../src/providers/kubernetes/stateful-set-provider.ts';
import type { CreateRequest } from '../../src/providers/provider.ts';
import { createRuntime } from '../../src/runtime/runtime.ts';
import { rpcResult } from '../support/cometbft-net.ts';
import { startFailoverBed } from '../support/failover-bed.ts';
import { fakeKubelet } from '../support/fake-kubelet.ts';
import { fakeSnapshotController } from '../support/fake-snapshot-controller.ts';
import { fakeVolumeProvisioner } from '../support/fake-volume-provisioner.ts';
import { makeFleet, runCli, waitFor } from '../support/fleet.ts';
import { createNamespace, installCrds, KWOK_FAST_POD_ANNOTATIONS, kubeForFile } from '../support/kube.ts';
import { helmTemplate, SENTRIES_CHART } from '../support/kube-chart.ts';
import { deployedRoleConnection } from '../support/kube-rbac.ts';
import { findBinary } from '../support/servers.ts';

const NS = 'chain';
const STS = 'sentry';
const PEERS_CONFIG_MAP = 'sentry-peers';

/** Polls (300 ms each) a registered, ready sentry may go unpeered: dial_peers waits 0–3 s, a redial comes each interval. */
const DIAL_WINDOW_POLLS = 30;

const silent = process.env.RAMPART_TEST_LOG
  ? pino({ level: 'debug' }, pino.destination(process.env.RAMPART_TEST_LOG))
  : pino({ level: 'silent' });

// Each pod owns a loopback address: a /24 of 127/8 of this run's own, away from 127.0.0.1.
const podNet = `127.${100 + Math.floor(Math.random() * 150)}.${Math.floor(Math.random() * 250)}`;
const bed = kubeForFile(
  () => ({ podCidr: `${podNet}.0/24` }),
  (k) => installCrds(k, ['volumesnapshots', 'volumesnapshotcontents', 'volumesnapshotclasses']),
);

interface ConfigMap {
  data?: Record<string, string>;
}
interface Claim {
  spec: { dataSource?: { kind: string; name: string } };
}
interface Snapshot {
  metadata: { name: string; annotations?: Record<string, string> };
  status?: { readyToUse?: boolean };
}

test('CometBFT sentries in pods: scaled, wired to a validator outside the cluster, rewired on promotion', {
  skip: bed.skip,
  timeout: 600_000,
}, async (t) => {
  const cometbft = findBinary('cometbft');
  if (!cometbft) return t.skip('cometbft is not installed: run bash scripts/testbed/cometbft.sh');
  const k = bed.kube();
  // Undone last first, right after the test (before the file's control plane stops).
  const cleanups: (() => unknown)[] = [];
  const after = (fn: () => unknown) => void cleanups.push(fn);
  t.after(async () => {
    for (const fn of cleanups.reverse())
      await Promise.resolve()
        .then(fn)
        .catch(() => undefined);
  });
  const dir = mkdtempSync(join(tmpdir(), 'rampart-kube-sentries-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  // The chain: four validators, the guarded one with 1 of 31 power, and a public full node.
  const chain = await startFailoverBed();
  after(() => chain.cleanup());
  const publicNode = chain.net.fullNodes[0]!;

  await createNamespace(k, NS);
  const conn = await deployedRoleConnection(k, NS, dir);
  // The StatefulSet of deploy/helm/cometbft-sentries, as the operator installs it.
  const [statefulSet] = helmTemplate(
    STS,
    NS,
    {
      peersConfigMap: PEERS_CONFIG_MAP,
      storage: { size: '1Gi' },
      // kube-controller-manager would try to publish the loopback pod IPs as endpoints, which the API refuses.
      headlessService: false,
      terminationGracePeriodSeconds: 1,
      podAnnotations: {
        ...KWOK_FAST_POD_ANNOTATIONS,
        // A kubelet deletes a pod's object once its containers are dead: the fake kubelet kills
        // the process within its 200 ms poll, kwok removes the object a second after deletion.
        'pod-delete.stage.kwok.x-k8s.io/delay': '1s',
      },
    },
    SENTRIES_CHART,
  ).filter((m) => m.kind === 'StatefulSet');
  await k.ok('POST', `/apis/apps/v1/namespaces/${NS}/statefulsets`, { body: statefulSet });
  await k.createNode('kwok-a', { pods: 50 });
  // A snapshot of the pool from before: every new sentry's claim starts from the newest one.
  await k.ok('POST', `/apis/snapshot.storage.k8s.io/v1/namespaces/${NS}/volumesnapshots`, {
    body: {
      apiVersion: 'snapshot.storage.k8s.io/v1',
      kind: 'VolumeSnapshot',
      metadata: {
        name: 'seed',
        labels: { 'rampart.dev/pool': 'sentries', 'rampart.dev/statefulset': STS },
      },
      spec: { source: { persistentVolumeClaimName: 'data-sentry-old' } },
    },
  });
  const provisioner = fakeVolumeProvisioner(k, NS);
  const snapshots = fakeSnapshotController(k, NS);
  const validatorHome = chain.guardedHome;
  const validatorToml = () => readFileSync(join(validatorHome, 'config', 'config.toml'), 'utf8');
  // Deregistered before its pod goes: when the kubelet sees a pod deleted, the validator's
  // config no longer names its address.
  const violations: string[] = [];
  const podsGone: string[] = [];
  const events: string[] = [];
  const kubelet = fakeKubelet(k, NS, {
    root: join(dir, 'kubelet'),
    path: [dirname(cometbft)],
    onPodGone: (pod, ip, why) => {
      if (!watching) return;
      podsGone.push(pod);
      events.push(`${new Date().toISOString()} ${pod} (${ip}) ${why}`);
      if (
        splitList(getTomlValue(validatorToml(), 'p2p', 'persistent_peers')).some((p) =>
          p.endsWith(`@${ip}:26656`),
        )
      )
        violations.push(`pod ${pod} (${ip}) deleted while still in the validator's persistent peers`);
    },
  });
  after(async () => {
    provisioner.stop();
    snapshots.stop();
    await kubelet.stop();
  });

  const fleet = makeFleet(`version: 1
controller:
  evaluationInterval: 500ms
  store: { kind: sqlite, path: state.db }
metrics:
  - { name: nodes, kind: scrape, staleAfter: 5s, timeout: 1s }
providers:
  - { name: here, kind: local, dataDir: nodes }
  - name: cluster
    kind: kubernetes
    cluster: { server: "${conn.server}", caFile: ${conn.caFile}, tokenFile: ${conn.tokenFile} }
    namespace: ${NS}
    workload:
      statefulSet: ${STS}
      address: pod-ip
      configMap: ${PEERS_CONFIG_MAP}
      volumes: { claim: data, restore: volume-snapshot, onScaleDown: snapshot, snapshotEvery: 1h, timeout: 60s }
pools:
  - name: validator
    role: validator
    provider: here
    node: { kind: cometbft, home: ${validatorHome}, doubleSignCheckHeight: 10 }
    health: { checkInterval: 500ms }
    failover: { detect: {}, standbyPool: standby, fenceBlocks: 10 }
  - name: sentries
    role: sentry
    provider: cluster
    node: { kind: cometbft, validatorPool: validator, peers: ["${publicNode.p2pAddress}"], maxLagBlocks: 10 }
    size: { min: 2, capacity: 2, max: 4 }
    scaleIn: { select: newest }
    scaleUp:
      cooldown: 2s
      rules: [ { metric: "nodes:cometbft_consensus_total_txs", rate: true, aggregate: max, comparator: ">", threshold: 15 } ]
    # 10 s, not 3: on a loaded 2-core machine the chain can stall for seconds while the load
    # runs, the tx rate reads 0 for a moment, and a 3 s period removed a sentry mid-load (it came
    # back restored from its own removal snapshot, not from the one under test).
    scaleDown:
      period: 10s
      lockAttemptPeriod: 100ms
      rules: [ { metric: "nodes:cometbft_consensus_total_txs", rate: true, aggregate: max, comparator: "<", threshold: 2 } ]
    health: { checkInterval: 500ms, joinTimeout: 120s }
  - name: standby
    role: standby
    provider: here
    node: { kind: cometbft, peerPool: sentries, maxLagBlocks: 10 }
    size: { min: 1, capacity: 1, max: 1 }
    health: { checkInterval: 500ms, joinTimeout: 180s }
`);
  after(() => fleet.cleanup());
  const controller = new Controller({
    runtime: createRuntime(loadConfigFile(fleet.configFile).config),
    log: silent,
  });
  await controller.start();
  after(() => controller.stop().catch(() => undefined));
  const rt = await fleet.inspect();

  const sentries = () => rt.store.listNodes({ pool: 'sentries' });
  const validatorNode = async () => (await rt.store.listNodes({ pool: 'validator', all: true }))[0];
  const peersOf = async (rpcPort: number | undefined, host = '127.0.0.1'): Promise<string[]> => {
    if (rpcPort === undefined) return [];
    const net = await rpcResult(`http://${host}:${rpcPort}`, '/net_info').catch(() => undefined);
    return ((net?.peers as { node_info: { moniker: string } }[] | undefined) ?? []).map(
      (p) => p.node_info.moniker,
    );
  };
  const validatorPeers = async () => peersOf((await validatorNode())?.ports?.rpc);
  const configMap = async () =>
    (await k.ok<ConfigMap>('GET', `/api/v1/namespaces/${NS}/configmaps/${PEERS_CONFIG_MAP}`)).data ?? {};
  const claimSource = async (ordinal: number) =>
    (await k.ok<Claim>('GET', `/api/v1/namespaces/${NS}/persistentvolumeclaims/data-${STS}-${ordinal}`)).spec
      .dataSource?.name;
  const diagnose = async () =>
    `sentries: ${JSON.stringify((await sentries()).map((n) => [n.id, n.state, n.stateReason, n.host, n.registered]))}\n` +
    [0, 1, 2, 3].map((o) => `${STS}-${o}:\n${kubelet.log(`${STS}-${o}`, 8)}`).join('\n');

  // Invariants at every poll: the validator peers only with registered sentries (and the
  // chain's other validators and public node); a registered, ready sentry becomes its peer
  // within the dial window (counted from when it was last seen ready, registered and not a
  // peer: a crashed sentry is ready in the records until its next probe); never more than max.
  const chainNodes = new Set(['node1', 'node2', 'node3', 'node4']);
  const unpeeredSince = new Map<string, number>();
  let polls = 0;
  let watching = true;
  const monitor = setInterval(async () => {
    if (!watching) return;
    try {
      await watch();
    } catch {
      // The store closing at the end of the test.
    }
  }, 300);
  after(() => clearInterval(monitor));
  const watch = async () => {
    polls++;
    const live = await sentries();
    if (live.length > 4) violations.push(`${live.length} sentries > max 4`);
    const registered = new Set(live.filter((n) => n.registered).map((n) => n.id));
    const peers = await validatorPeers();
    for (const p of peers)
      if (!registered.has(p) && !chainNodes.has(p))
        violations.push(`validator peer ${p} is not a registered sentry`);
    for (const n of live) {
      const waiting = n.registered && n.state === 'ready' && !peers.includes(n.id);
      if (!waiting) unpeeredSince.delete(n.id);
      else if (!unpeeredSince.has(n.id)) unpeeredSince.set(n.id, polls);
      else if (polls - unpeeredSince.get(n.id)! === DIAL_WINDOW_POLLS)
        violations.push(
          `registered ready sentry ${n.id} is not the validator's peer after ${DIAL_WINDOW_POLLS} polls`,
        );
    }
  };

  // 1. Two sentry pods, caught up, registered and peered with the validator.
  await waitFor(
    'two ready sentries in pods, registered and peered with the validator',
    async () => {
      const ready = (await sentries()).filter((n) => n.state === 'ready' && n.registered);
      const peers = await validatorPeers();
      return ready.length === 2 && ready.every((n) => peers.includes(n.id));
    },
    180_000,
  ).catch(async (e) => assert.fail(`${(e as Error).message}\n${await diagnose()}`));
  const validatorId = (
    (await rpcResult(`http://127.0.0.1:${(await validatorNode())!.ports!.rpc}`, '/status')).node_info as {
      id: string;
    }
  ).id;
  const first = await sentries();
  for (const n of first) {
    assert.ok(n.host?.startsWith(`${podNet}.`), `${n.id} is reached on its pod IP (${n.host})`);
    assert.deepEqual(Object.keys(n.ports ?? {}).sort(), ['metrics', 'p2p', 'rpc']);
  }
  // The ConfigMap the pods read: each replica's node id, the validator as their private,
  // unconditional, persistent peer, the public peer, the genesis.
  const cm = await configMap();
  assert.deepEqual(
    [cm['node-0'], cm['node-1']].sort(),
    first.map((n) => n.id).sort(),
    'node-<ordinal> holds each replica’s node id',
  );
  assert.deepEqual(splitList(cm.private_peer_ids), [validatorId]);
  assert.deepEqual(splitList(cm.unconditional_peer_ids), [validatorId]);
  assert.ok(splitList(cm.persistent_peers).some((p) => p.startsWith(`${validatorId}@127.0.0.1:`)));
  assert.ok(splitList(cm.persistent_peers).includes(publicNode.p2pAddress));
  assert.equal(JSON.parse(cm['genesis.json']!).chain_id, chain.net.chainId);
  // The validator's own config lists each sentry pod (so a validator restart keeps them).
  for (const n of first)
    assert.ok(
      splitList(getTomlValue(validatorToml(), 'p2p', 'persistent_peers')).some((p) =>
        p.endsWith(`@${n.host}:26656`),
      ),
      `the validator's persistent peers name ${n.id} at ${n.host}`,
    );
  assert.equal(await claimSource(0), 'seed');
  assert.equal(await claimSource(1), 'seed');
  // snapshotEvery: with no snapshot of its own yet, the controller snapshots a serving sentry's
  // claim at once (one of the two, at min: nothing is stopped), so new sentries start from it.
  const liveSnapshot = await waitFor('a VolumeSnapshot of a serving sentry, ready', async () => {
    const items = (
      await k.ok<{ items: Snapshot[] }>(
        'GET',
        `/apis/snapshot.storage.k8s.io/v1/namespaces/${NS}/volumesnapshots`,
      )
    ).items;
    return items.find((s) => /^data-sentry-[01]-a-/.test(s.metadata.name) && s.status?.readyToUse)?.metadata
      .name;
  });
  // The action is recorded once the bake returns (after its prune), a moment after the snapshot is ready.
  const bake = await waitFor('the snapshot action recorded', async () =>
    (await rt.store.listActions({ pool: 'sentries', limit: 1000 })).find(
      (a) => a.kind === 'snapshot' && a.outcome !== undefined,
    ),
  );
  assert.equal(bake!.outcome, 'succeeded', bake!.outcomeDetail);
  assert.match(bake!.outcomeDetail ?? '', /taken while it served/);
  assert.ok(
    (await sentries()).every((n) => n.maintenance === undefined),
    'no sentry was stopped or marked for it',
  );

  // 2. Transaction load drives the pool to max: two more pods, each restored and wired.
  let seq = 0;
  const loadStartedAt = Date.now();
  const load = setInterval(() => {
    for (let i = 0; i < 10; i++)
      fetch(`${publicNode.rpcUrl}/broadcast_tx_async?tx="k${Date.now()}-${seq++}=v"`).catch(() => undefined);
  }, 200);
  after(() => clearInterval(load));
  await waitFor(
    'four ready sentries, all registered and peered',
    async () => {
      const ready = (await sentries()).filter((n) => n.state === 'ready' && n.registered);
      const peers = await validatorPeers();
      return ready.length === 4 && ready.every((n) => peers.includes(n.id));
    },
    180_000,
  ).catch(async (e) => assert.fail(`${(e as Error).message}\n${await diagnose()}`));
  clearInterval(load);
  assert.equal(await claimSource(2), liveSnapshot, 'a new replica restores the newest snapshot');
  assert.equal(await claimSource(3), liveSnapshot);
  const registrations = (await rt.store.listActions({ pool: 'sentries', limit: 1000 })).filter(
    (a) => a.kind === 'register' && a.outcome === 'succeeded',
  );
  assert.ok(registrations.length >= 4, `each sentry registered (${registrations.length})`);
  // The issue's figure: metric change → sentry registered with the validator, per new pod.
  const actions = await rt.store.listActions({ pool: 'sentries', limit: 1000 });
  for (const c of actions.filter((a) => a.kind === 'create' && a.cause === 'scale-up')) {
    const reg = registrations.find((r) => r.nodeId === c.nodeId);
    if (reg?.outcomeAt === undefined) continue;
    t.diagnostic(
      `${c.nodeId}: load → scale-up ${((c.startedAt - loadStartedAt) / 1000).toFixed(1)} s, scale-up → registered ${((reg.outcomeAt - c.startedAt) / 1000).toFixed(1)} s`,
    );
  }

  // 3. Load gone: back to capacity, each pod deregistered before it goes, its volume snapshotted.
  const atMax = new Map((await sentries()).map((n) => [n.id, n]));
  await waitFor(
    'the pool back at capacity (2)',
    async () => {
      const live = await sentries();
      return live.length === 2 && live.every((n) => n.state === 'ready');
    },
    180_000,
  );
  await waitFor(
    'the removed pods gone',
    () => podsGone.includes(`${STS}-2`) && podsGone.includes(`${STS}-3`),
  );
  const removed = [...atMax.values()].filter((n) => !first.some((f) => f.id === n.id));
  assert.equal(removed.length, 2);
  for (const n of removed)
    assert.ok(
      !splitList(getTomlValue(validatorToml(), 'p2p', 'persistent_peers')).some((p) =>
        p.endsWith(`@${n.host}:26656`),
      ),
      `removed sentry ${n.id} is no longer in the validator's persistent peers`,
    );
  const cmAfter = await configMap();
  assert.equal(cmAfter['node-2'], undefined, 'a removed replica’s node id goes from the ConfigMap');
  assert.equal(cmAfter['node-3'], undefined);
  const snaps = (
    await k.ok<{ items: Snapshot[] }>(
      'GET',
      `/apis/snapshot.storage.k8s.io/v1/namespaces/${NS}/volumesnapshots`,
    )
  ).items;
  for (const n of removed)
    assert.ok(
      snaps.some((s) => s.metadata.annotations?.['rampart.dev/node'] === n.id && s.status?.readyToUse),
      `a ready snapshot of ${n.id}'s volume`,
    );

  // 4. A sentry's process crashes: the kubelet restarts it, and it is the validator's peer again.
  const crashed = (await sentries()).find((n) => n.host === kubelet.pods().get(`${STS}-1`)?.ip)!;
  assert.ok(crashed, 'sentry-1 is a Rampart node');
  const restartsBefore = kubelet.pods().get(`${STS}-1`)!.restarts;
  kubelet.crash(`${STS}-1`);
  await waitFor('sentry-1 restarted', () => (kubelet.pods().get(`${STS}-1`)?.restarts ?? 0) > restartsBefore);
  await waitFor(
    'the restarted sentry peered with the validator again',
    async () => {
      const n = (await sentries()).find((x) => x.id === crashed.id);
      return n?.state === 'ready' && (await validatorPeers()).includes(crashed.id);
    },
    120_000,
  );
  watching = false;
  clearInterval(monitor);
  assert.deepEqual(violations, [], `pods gone: ${events.join('; ')}`);

  // 5. The validator dies for good; the standby (synced through the sentry pods) is promoted.
  const standby = (await waitFor(
    'a ready standby',
    async () => (await rt.store.listNodes({ pool: 'standby' })).find((n) => n.state === 'ready'),
    180_000,
  ))!;
  const here = rt.providers.get('here')!;
  const oldId = (await validatorNode())!.id;
  const old = (await here.list()).find((i) => i.nodeId === oldId && i.running)!;
  const height = async () =>
    Number(
      ((await rpcResult(publicNode.rpcUrl, '/status')).sync_info as { latest_block_height: string })
        .latest_block_height,
    );
  await here.stop!(old);
  const stoppedAt = await height();
  await waitFor('11 blocks without the old signer', async () => (await height()) >= stoppedAt + 12, 90_000);
  const keyDir = join(fleet.dir, 'operator-keys');
  mkdirSync(keyDir);
  copyFileSync(
    join(validatorHome, 'config', 'priv_validator_key.json'),
    join(keyDir, 'priv_validator_key.json'),
  );
  const promoted = runCli([
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
  const r = await promoted.exited;
  assert.equal(r.code, 0, `promote:\n${promoted.output()}`);
  assert.equal((await readFailover(rt.store, 'validator')).signer?.node, standby.id);
  const promotedNode = (await rt.store.getNode(standby.id))!;
  const newId = (
    (await rpcResult(`http://127.0.0.1:${promotedNode.ports!.rpc}`, '/status')).node_info as {
      id: string;
    }
  ).id;
  assert.notEqual(newId, validatorId);
  const action = (await rt.store.listActions({ limit: 1000 })).find((a) => a.kind === 'promote');
  assert.match(action?.outcomeDetail ?? '', /pod settings rewritten for sentries/);

  // The ConfigMap the sentry pods read names the new validator, and the old one no more.
  const cmPromoted = await configMap();
  assert.deepEqual(splitList(cmPromoted.private_peer_ids), [newId]);
  assert.deepEqual(splitList(cmPromoted.unconditional_peer_ids), [newId]);
  const persistent = splitList(cmPromoted.persistent_peers);
  assert.ok(persistent.includes(`${newId}@127.0.0.1:${promotedNode.ports!.p2p}`), persistent.join(','));
  assert.ok(!persistent.some((p) => p.startsWith(`${validatorId}@`)), 'the old validator is gone from it');
  // Every sentry is the new validator's peer; one restarted now dials it from the ConfigMap alone.
  const live = await sentries();
  await waitFor(
    'every sentry pod peered with the new validator',
    async () => {
      const peers = await peersOf(promotedNode.ports!.rpc);
      return live.every((n) => peers.includes(n.id));
    },
    60_000,
  );
  const sentry0 = live.find((n) => n.host === kubelet.pods().get(`${STS}-0`)?.ip)!;
  const restarts0 = kubelet.pods().get(`${STS}-0`)!.restarts;
  kubelet.crash(`${STS}-0`);
  await waitFor('sentry-0 restarted', () => (kubelet.pods().get(`${STS}-0`)?.restarts ?? 0) > restarts0);
  // Its process reads the new validator from the ConfigMap (the kubelet wrote it out at the restart).
  const environ = () => {
    try {
      return readFileSync(`/proc/${kubelet.pods().get(`${STS}-0`)?.pid}/environ`, 'utf8').split('\0');
    } catch {
      return [];
    }
  };
  await waitFor('the restarted sentry started with the new validator as its private peer', () =>
    environ().includes(`CMT_P2P_PRIVATE_PEER_IDS=${newId}`),
  ).catch(() =>
    assert.fail(
      `the restarted sentry's peers: ${environ()
        .filter((e) => e.startsWith('CMT_P2P'))
        .join(' ')}`,
    ),
  );
  await waitFor(
    'the restarted sentry peered with the new validator',
    async () => {
      const st = await rpcResult(`http://${sentry0.host}:${sentry0.ports!.rpc}`, '/net_info').catch(
        () => undefined,
      );
      const peers = ((st?.peers as { node_info: { id: string } }[] | undefined) ?? []).map(
        (p) => p.node_info.id,
      );
      return peers.includes(newId);
    },
    90_000,
  );
  t.diagnostic(`pods on ${podNet}.0/24; ${registrations.length} registrations; promoted ${standby.id}`);
});

test('address: service — a Service per replica, made before its pod and deleted after it; the ConfigMap keeps each replica’s node id', {
  skip: bed.skip,
  timeout: 120_000,
}, async (t) => {
  const k = bed.kube();
  const ns = 'lb';
  const dir = mkdtempSync(join(tmpdir(), 'rampart-kube-services-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  await createNamespace(k, ns);
  const [statefulSet] = helmTemplate(
    'edge',
    ns,
    {
      peersConfigMap: 'edge-peers',
      storage: { size: '1Gi' },
      headlessService: false,
      podAnnotations: KWOK_FAST_POD_ANNOTATIONS,
    },
    SENTRIES_CHART,
  ).filter((m) => m.kind === 'StatefulSet');
  await k.ok('POST', `/apis/apps/v1/namespaces/${ns}/statefulsets`, { body: statefulSet });
  const provisioner = fakeVolumeProvisioner(k, ns);
  const client = new KubeClient(await deployedRoleConnection(k, ns, dir));
  t.after(() => {
    provisioner.stop();
    client.close();
  });
  const provider = new StatefulSetProvider({
    name: 'cluster',
    client,
    namespace: ns,
    statefulSet: 'edge',
    pool: 'sentries',
    address: 'service',
    serviceType: 'NodePort',
    configMap: 'edge-peers',
    pollMs: 100,
    podGoneTimeoutMs: 30_000,
  });
  // A node kind's pod settings, as CometBFT's would be (no chain runs in this test).
  const kind = { podConfig: async () => ({ persistent_peers: 'v1@192.0.2.1:26656' }) } as unknown as NodeKind;
  const request = (nodeId: string): CreateRequest => ({
    nodeId,
    pool: 'sentries',
    actionId: `act-${nodeId}`,
    term: 1,
    kind,
    launch: { role: 'sentry', upstream: [], options: { kind: 'cometbft' } },
  });
  await provider.create(request('sentries-a'));
  await provider.create(request('sentries-b'));
  interface Service {
    spec: {
      type: string;
      selector: Record<string, string>;
      ports: { name: string; port: number; nodePort: number }[];
    };
  }
  const svc = await k.ok<Service>('GET', `/api/v1/namespaces/${ns}/services/edge-1`);
  assert.equal(svc.spec.type, 'NodePort');
  assert.deepEqual(svc.spec.selector, { 'statefulset.kubernetes.io/pod-name': 'edge-1' });
  assert.deepEqual(svc.spec.ports.map((p) => [p.name, p.port]).sort(), [
    ['metrics', 26660],
    ['p2p', 26656],
    ['rpc', 26657],
  ]);
  // Reached on the pod's Node IP (kwok's --node-ip) and the Service's node ports.
  const instances = await waitFor('both replicas scheduled, with an address', async () => {
    const list = await provider.list();
    return list.length === 2 && list.every((i) => i.host === '127.0.0.1') ? list : undefined;
  });
  const b = instances!.find((i) => i.nodeId === 'sentries-b')!;
  assert.equal(b.ports.p2p, svc.spec.ports.find((p) => p.name === 'p2p')!.nodePort);
  const configMap = async () =>
    (await k.ok<ConfigMap>('GET', `/api/v1/namespaces/${ns}/configmaps/edge-peers`)).data ?? {};
  assert.deepEqual(await configMap(), {
    'node-0': 'sentries-a',
    'node-1': 'sentries-b',
    persistent_peers: 'v1@192.0.2.1:26656',
  });
  // A promotion's rewrite changes the settings, never the node ids.
  await provider.publishNodeConfig({ persistent_peers: 'v2@192.0.2.2:26656' });
  assert.equal((await configMap()).persistent_peers, 'v2@192.0.2.2:26656');
  assert.equal((await configMap())['node-1'], 'sentries-b');
  // Removal: the pod goes, then its Service and its node id; the other replica's stay.
  await provider.destroy(b);
  assert.equal((await k.request('GET', `/api/v1/namespaces/${ns}/services/edge-1`)).status, 404);
  assert.equal((await k.request('GET', `/api/v1/namespaces/${ns}/services/edge-0`)).status, 200);
  assert.deepEqual(await configMap(), { 'node-0': 'sentries-a', persistent_peers: 'v2@192.0.2.2:26656' });
});
