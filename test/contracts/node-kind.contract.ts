// The contract every NodeKind that runs its own process passes — simnode, cometbft and
// etcd-member (kube-pod and kube-node are judged by Kubernetes and run no process of
// Rampart's): distinct port names; a node nothing answers for probes unreachable, never
// throwing, even when the probe is aborted; a node the local provider creates turns reachable
// and serves Prometheus text at its metrics URL; stopped, it is unreachable again; and what
// its snapshots would copy holds no key and no signing state. Each kind's bed says what the
// controller hands a new node of that kind.

import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { NodeAddress, NodeKind } from '../../src/nodes/node-kind.ts';
import { freePorts } from '../../src/providers/local/free-ports.ts';
import { LocalProvider } from '../../src/providers/local/local-provider.ts';
import type { CreateRequest } from '../../src/providers/provider.ts';

export interface NodeKindBed {
  readonly kind: () => NodeKind;
  /** What the controller hands a new node of this kind (role, upstream, siblings, options). */
  readonly launch: CreateRequest['launch'];
  /** A fresh directory for the test's nodes (removed by the caller's cleanup). */
  readonly dir: () => string;
  /** Longest wait for a launched node to turn reachable, ms. */
  readonly readyWithinMs: number;
  readonly skip?: string | false;
  /** Runs once before the suite's tests (a chain to make first, whose commands take seconds). */
  readonly setup?: () => Promise<void>;
}

/** Files no snapshot may carry: keys and signing state (CometBFT's names, and any key file). */
const FORBIDDEN = /(^|\/)(priv_validator_key\.json|priv_validator_state\.json|node_key\.json|[^/]*\.key)$/;

export function nodeKindContract(name: string, bed: NodeKindBed): void {
  describe(`node kind contract: ${name}`, { skip: bed.skip ?? false }, () => {
    if (bed.setup) before(bed.setup);
    test('port names are distinct and not empty', () => {
      const { portNames } = bed.kind();
      assert.ok(portNames.length > 0);
      assert.equal(new Set(portNames).size, portNames.length);
      for (const p of portNames) assert.match(p, /^[a-z][a-z0-9-]*$/);
    });

    test('a node nothing answers for is unreachable, never a throw, aborted or not', async () => {
      const kind = bed.kind();
      const ports = await freePorts('127.0.0.1', kind.portNames, new Set());
      const node: NodeAddress = { id: 'nobody', host: '127.0.0.1', ports };
      const probe = await kind.probe(node, { role: bed.launch.role });
      assert.equal(probe.reachable, false);
      const stop = new AbortController();
      stop.abort(new Error('the tick is over'));
      const aborted = await kind.probe(node, { role: 'x', signal: stop.signal }).catch((e: Error) => e);
      assert.ok(!(aborted instanceof Error), `an aborted probe resolves: ${String(aborted)}`);
      assert.equal(aborted.reachable, false);
    });

    test('a launched node turns reachable and serves Prometheus text; stopped, it is unreachable; its snapshots hold no keys', async () => {
      const kind = bed.kind();
      // Started by the real local provider: prepare, then the kind's process spec.
      const provider = new LocalProvider({ name: 'contract', dataDir: bed.dir() });
      const instance = await provider.create({
        nodeId: 'node-1',
        pool: 'contract',
        actionId: 'a-1',
        term: 1,
        kind,
        launch: bed.launch,
      });
      const { ports } = instance;
      const role = bed.launch.role;
      const node: NodeAddress = { id: instance.nodeId, host: instance.host, ports };
      try {
        const deadline = Date.now() + bed.readyWithinMs;
        let probe = await kind.probe(node, { role });
        while (!probe.reachable && Date.now() < deadline) {
          await sleep(200);
          probe = await kind.probe(node, { role });
        }
        assert.equal(
          probe.reachable,
          true,
          `reachable within ${bed.readyWithinMs} ms: ${JSON.stringify(probe)}`,
        );
        const url = kind.metricsUrl(node);
        if (url !== undefined) {
          assert.ok(
            Object.values(ports).includes(Number(new URL(url).port)),
            `${url} is on one of the node's ports`,
          );
          const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
          assert.equal(response.status, 200);
          assert.match(await response.text(), /^# (HELP|TYPE) \w+/m, 'Prometheus text');
        }
      } finally {
        await provider.stop(instance);
      }
      assert.equal((await kind.probe(node, { role })).reachable, false, 'stopped: unreachable');
      if (kind.snapshots) {
        const files = await kind.snapshots.files(instance.dataDir!);
        assert.ok(files.length > 0, 'a node that ran has data to snapshot');
        for (const f of files) assert.doesNotMatch(f, FORBIDDEN, `a snapshot would copy ${f}`);
      }
      await provider.destroy(instance);
    });
  });
}
