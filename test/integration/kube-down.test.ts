// `rampart down` on a StatefulSet pool, against the real API server with kwok: a StatefulSet
// removes only its highest ordinal, so down removes Rampart's replicas highest first (the
// provider's removal order) and leaves the operator's replica, exit 0 — with `rampart up`
// running on the same store when down is run.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPLICAS_ANNOTATION } from '../../src/providers/kubernetes/stateful-set-provider.ts';
import { runCli, waitFor } from '../support/fleet.ts';
import { createNamespace, KWOK_FAST_POD_ANNOTATIONS, kubeForFile } from '../support/kube.ts';

const NS = 'probe';
const STS = 'web';
/** Rampart's replicas: ordinals 1–4 above the operator's 0. */
const RAMPART_REPLICAS = 4;

const bed = kubeForFile(undefined, async (k) => {
  await k.createNode('kwok-a');
  await createNamespace(k, NS);
  await k.ok('POST', `/apis/apps/v1/namespaces/${NS}/statefulsets`, {
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
          metadata: {
            labels: { app: STS },
            annotations: { ...KWOK_FAST_POD_ANNOTATIONS, 'pod-delete.stage.kwok.x-k8s.io/delay': '50ms' },
          },
          spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'node', image: 'sentry' }] },
        },
      },
    },
  });
});

interface StatefulSet {
  metadata: { annotations?: Record<string, string> };
  spec: { replicas: number };
}

test('down removes a StatefulSet pool highest ordinal first, with up running; the operator’s replica stays', {
  skip: bed.skip,
}, async () => {
  const k = bed.kube();
  const dir = mkdtempSync(join(tmpdir(), 'rampart-kube-down-'));
  bed.cleanup(() => rmSync(dir, { recursive: true, force: true }));
  const config = join(dir, 'rampart.yaml');
  writeFileSync(
    config,
    `version: 1
controller:
  evaluationInterval: 500ms
  store: { kind: sqlite, path: state.db }
  api: { listen: "127.0.0.1:0" }
metrics:
  - { name: k8s, kind: kubernetes, staleAfter: 1m, cluster: { server: "${k.url}", caFile: ${k.caFile}, tokenFile: ${k.adminTokenFile} } }
providers:
  - name: cluster
    kind: kubernetes
    cluster: { server: "${k.url}", caFile: ${k.caFile}, tokenFile: ${k.adminTokenFile} }
    namespace: ${NS}
    workload: { statefulSet: ${STS} }
pools:
  - name: sentries
    role: sentry
    provider: cluster
    node: { kind: kube-pod }
    size: { min: ${RAMPART_REPLICAS}, capacity: ${RAMPART_REPLICAS}, max: ${RAMPART_REPLICAS} }
    scaleIn: { select: newest }
    scaleUp: { rules: [{ metric: k8s:cpu, aggregate: avg, comparator: '>', threshold: 0.8 }] }
    health: { checkInterval: 500ms, joinTimeout: 2m }
`,
  );
  const sts = () => k.ok<StatefulSet>('GET', `/apis/apps/v1/namespaces/${NS}/statefulsets/${STS}`);
  const record = async () =>
    JSON.parse((await sts()).metadata.annotations?.[REPLICAS_ANNOTATION] ?? '{}') as Record<string, unknown>;

  const up = runCli(['up', '-c', config]);
  bed.cleanup(() => up.child.kill('SIGKILL'));
  await waitFor(
    `${RAMPART_REPLICAS} Rampart replicas above the operator's`,
    async () => {
      if (up.child.exitCode !== null) throw new Error(`up exited ${up.child.exitCode}`);
      return (await sts()).spec.replicas === RAMPART_REPLICAS + 1;
    },
    120_000,
  ).catch((e: Error) => {
    throw new Error(`${e.message}\nup:\n${up.output().slice(-4000)}`);
  });
  assert.deepEqual(
    Object.keys(await record()).sort(),
    ['1', '2', '3', '4'],
    'ordinals 1–4 are recorded as Rampart’s',
  );

  const down = runCli(['down', '-c', config]);
  const { code } = await down.exited;
  const context = `down:\n${down.output()}\nup:\n${up.output().slice(-3000)}`;
  assert.equal(code, 0, context);
  assert.match(down.output(), new RegExp(`removed ${RAMPART_REPLICAS} node\\(s\\)`), context);
  assert.equal((await sts()).spec.replicas, 1, `only the operator's replica is left; ${context}`);
  assert.deepEqual(await record(), {}, 'nothing is recorded as Rampart’s');
  for (let ordinal = 1; ordinal <= RAMPART_REPLICAS; ordinal++)
    assert.equal(
      (await k.request('GET', `/api/v1/namespaces/${NS}/pods/${STS}-${ordinal}`)).status,
      404,
      `pod ${STS}-${ordinal} is gone`,
    );
});
