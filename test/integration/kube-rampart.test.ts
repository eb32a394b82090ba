// Rampart in a cluster, end to end against the real API server and kwok: two `rampart up`
// processes run as the Helm chart's ServiceAccount with the in-cluster environment (so the
// chart's RBAC is what they get), share one Lease, and scale a StatefulSet of sentries on
// the pods' CPU from the metrics API. Only the Lease holder acts; SIGKILL of it hands over.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { SqliteStore } from '../../src/store/sqlite-store.ts';
import { aggregatorFlags, startFakeMetricsServer } from '../support/fake-metrics-server.ts';
import { type CliRun, runCli, waitFor } from '../support/fleet.ts';
import {
  createNamespace,
  KUBE_SERVERS,
  type KubeControlPlane,
  KWOK_FAST_POD_ANNOTATIONS,
  startKube,
} from '../support/kube.ts';
import { installRampartChart } from '../support/kube-chart.ts';
import { freePort, skipUnlessInstalled } from '../support/servers.ts';

const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const fn of cleanups.reverse()) await fn();
});
const skip = skipUnlessInstalled(...KUBE_SERVERS);

const NS = 'chain';
const STS = 'sentry';

interface StatefulSet {
  metadata: { annotations?: Record<string, string>; resourceVersion: string };
  spec: { replicas: number };
  status?: { readyReplicas?: number };
}

interface Lease {
  spec: { holderIdentity?: string; leaseTransitions?: number };
  metadata: { annotations?: Record<string, string> };
}

async function sentryStatefulSet(kube: KubeControlPlane): Promise<void> {
  await kube.ok('POST', `/api/v1/namespaces/${NS}/services`, {
    body: {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: STS },
      spec: { clusterIP: 'None', selector: { app: STS }, ports: [{ name: 'p2p', port: 26656 }] },
    },
  });
  await kube.ok('POST', `/apis/apps/v1/namespaces/${NS}/statefulsets`, {
    body: {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: STS },
      spec: {
        // The operator's own replica: never Rampart's to list or remove.
        replicas: 1,
        serviceName: STS,
        podManagementPolicy: 'Parallel',
        selector: { matchLabels: { app: STS } },
        template: {
          metadata: { labels: { app: STS }, annotations: KWOK_FAST_POD_ANNOTATIONS },
          spec: { containers: [{ name: 'cometbft', image: 'cometbft/cometbft:v0.38.26' }] },
        },
      },
    },
  });
}

function config(storePath: string, apiPort: number): string {
  return `version: 1
controller:
  evaluationInterval: 1s
  store: { kind: sqlite, path: ${storePath} }
  coordination: { kind: kubernetes, leaseName: rampart, leaseTtl: 3s }
  api: { listen: 127.0.0.1:${apiPort} }
metrics:
  - { name: k8s, kind: kubernetes, staleAfter: 1m }
providers:
  - name: cluster
    kind: kubernetes
    namespace: ${NS}
    workload: { statefulSet: ${STS} }
pools:
  - name: sentries
    role: sentry
    provider: cluster
    node: { kind: kube-pod }
    size: { min: 1, capacity: 1, max: 3 }
    scaleIn: { select: newest }
    scaleUp:
      cooldown: 0s
      rules: [{ metric: k8s:cpu, aggregate: avg, comparator: '>', threshold: 0.8 }]
    scaleDown:
      period: 0s
      lockAttemptPeriod: 0s
      rules: [{ metric: k8s:cpu, aggregate: avg, comparator: '<', threshold: 0.2 }]
    health: { checkInterval: 1s, joinTimeout: 2m }
`;
}

test('two replicas as the chart ServiceAccount share a Lease; the holder scales a StatefulSet on pod CPU; SIGKILL hands over', {
  skip,
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rampart-kube-e2e-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const flags = aggregatorFlags(dir);
  const kube = await startKube(t, { apiserverArgs: flags });
  if (!kube) return;
  const metrics = await startFakeMetricsServer(kube);
  cleanups.push(() => metrics.stop());
  await createNamespace(kube, NS);
  for (const n of ['kwok-a', 'kwok-b']) await kube.createNode(n);
  await sentryStatefulSet(kube);

  const chart = await installRampartChart(kube, {
    namespace: 'rampart',
    release: 'rampart',
    values: {
      replicaCount: 2,
      rbac: { namespaces: [NS] },
      config: { version: 1, controller: { coordination: { kind: 'kubernetes' } } },
    },
  });
  const port = new URL(kube.url).port;
  const env = {
    KUBERNETES_SERVICE_HOST: '127.0.0.1',
    KUBERNETES_SERVICE_PORT: port,
    RAMPART_SERVICE_ACCOUNT_DIR: chart.serviceAccountDir,
  };

  // Every pod's CPU, as the metrics API reports it: idle until the test says otherwise.
  let cpu = 0.5;
  const podNames = async () =>
    (
      await kube.ok<{ items: { metadata: { name: string } }[] }>('GET', `/api/v1/namespaces/${NS}/pods`)
    ).items.map((p) => p.metadata.name);
  const feed = setInterval(async () => {
    try {
      for (const name of await podNames())
        metrics.set('pods', `${NS}/${name}`, { cpu, memory: 256 * 2 ** 20 });
    } catch {
      // The next round sets them.
    }
  }, 300);
  cleanups.push(() => clearInterval(feed));

  const replicas: { name: string; run: CliRun; store: string }[] = [];
  for (const name of ['r1', 'r2']) {
    const store = join(dir, `${name}.db`);
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, config(store, await freePort()));
    const run = runCli(['up', '-c', file], env);
    replicas.push({ name, run, store });
    cleanups.push(() => run.child.kill('SIGKILL'));
  }
  const output = () => replicas.map((r) => `--- ${r.name}\n${r.run.output().slice(-4000)}`).join('\n');

  const sts = () => kube.ok<StatefulSet>('GET', `/apis/apps/v1/namespaces/${NS}/statefulsets/${STS}`);
  const lease = () => kube.ok<Lease>('GET', '/apis/coordination.k8s.io/v1/namespaces/rampart/leases/rampart');
  // Never above the operator's replica plus max, never below the operator's: at every poll.
  const seen: number[] = [];
  const watch = setInterval(async () => {
    try {
      seen.push((await sts()).spec.replicas);
    } catch {}
  }, 200);
  cleanups.push(() => clearInterval(watch));
  const until = <T>(what: string, check: () => Promise<T> | T, ms = 90_000) =>
    waitFor(what, check, ms).catch((e: Error) => {
      throw new Error(`${e.message}\n${output()}`);
    });

  // Capacity: one Rampart sentry beside the operator's replica.
  await until('capacity (1 Rampart replica + the operator’s)', async () => {
    const s = await sts();
    return s.spec.replicas === 2 && s.status?.readyReplicas === 2;
  });
  const holder = (await lease()).spec.holderIdentity;
  assert.ok(holder, 'the Lease has a holder');

  // Load: every pod busy → up to max (3 Rampart replicas), one at a time.
  cpu = 0.95;
  await until('scale-up to max', async () => (await sts()).spec.replicas === 4);
  cpu = 0.05;
  await until('scale-down to capacity', async () => (await sts()).spec.replicas === 2, 120_000);

  assert.ok(Math.max(...seen) <= 4, `never above max: saw ${seen.join(',')}`);
  assert.ok(Math.min(...seen) >= 1, 'the operator’s replica is never removed');

  // Only the holder acted: the other replica's store holds no action at all.
  const actionsOf = async (file: string) => {
    const s = new SqliteStore(file);
    await s.open();
    try {
      return await s.listActions({ limit: 1000 });
    } finally {
      await s.close();
    }
  };
  // The holder is `rampart up on <host> (pid N)`.
  const leader = replicas.find((r) => holder.includes(`(pid ${r.run.child.pid})`));
  assert.ok(leader, `the holder ${holder} is one of the replicas`);
  const follower = replicas.find((r) => r !== leader)!;
  const leaderActions = await actionsOf(leader.store);
  assert.ok(leaderActions.filter((a) => a.kind === 'create').length >= 3, output());
  assert.equal((await actionsOf(follower.store)).length, 0, 'the replica without the Lease never acted');

  // SIGKILL of the holder: the other takes the Lease after it expires, with a higher term,
  // and scales in its turn.
  const nodesOf = async (file: string) => {
    const s = new SqliteStore(file);
    await s.open();
    try {
      return await s.listNodes({ pool: 'sentries' });
    } finally {
      await s.close();
    }
  };
  // The last removal settles (its pod gone) before the kill.
  const predecessors = (await until('one live Rampart replica', async () => {
    const live = await nodesOf(leader.store);
    return live.length === 1 && live[0]!.state === 'ready' ? live : undefined;
  }))!.map((n) => n.id);
  const termBefore = Number((await lease()).metadata.annotations?.['rampart.dev/term'] ?? 0);
  leader.run.child.kill('SIGKILL');
  await leader.run.exited;
  await until('the other replica holding the Lease', async () => {
    const l = await lease();
    return (
      l.spec.holderIdentity !== holder && Number(l.metadata.annotations?.['rampart.dev/term']) > termBefore
    );
  });
  // The new holder's store has never seen the Rampart replica its predecessor made: the
  // StatefulSet's record says it is Rampart's, so it is adopted — never destroyed as an orphan.
  const afterKill = seen.length;
  await until('the running replica adopted by the new holder', async () => {
    const ids = (await nodesOf(follower.store)).filter((n) => n.state === 'ready').map((n) => n.id);
    return predecessors.every((id) => ids.includes(id));
  });
  assert.ok(
    Math.min(...seen.slice(afterKill)) >= 2,
    `the predecessor's replica is kept across the handover: ${seen.slice(afterKill).join(',')}`,
  );
  cpu = 0.95;
  await until('a scale-up by the new holder', async () => (await sts()).spec.replicas >= 3);
  assert.ok(
    (await actionsOf(follower.store)).some((a) => a.kind === 'create'),
    output(),
  );
  const annotation = JSON.parse(
    (await sts()).metadata.annotations?.['rampart.dev/replicas'] ?? '{}',
  ) as Record<string, unknown>;
  assert.ok(!('0' in annotation), 'ordinal 0 is the operator’s, never in Rampart’s record');
});
