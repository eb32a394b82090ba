// The contract every NodeKind that runs its own process passes — simnode, cometbft and
// etcd-member (kube-pod and kube-node are judged by Kubernetes and run no process of
// Rampart's): distinct port names; a node nothing answers for probes unreachable, never
// throwing, even when the probe is aborted; a launched node — prepared, then started from its
// process spec as the local provider does — turns reachable and serves Prometheus text at its
// metrics URL; stopped, it is unreachable again; and what its snapshots would copy holds no
// key and no signing state. Each kind's bed says how to build a launch context for it.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LaunchContext, NodeAddress, NodeKind } from '../../src/nodes/node-kind.ts';
import { freePort } from '../support/servers.ts';

export interface NodeKindBed {
  readonly kind: () => NodeKind;
  /** A launch context for a node `nodeId` on `ports` with its data in `dataDir`. */
  context(nodeId: string, ports: Record<string, number>, dataDir: string): LaunchContext;
  /** A fresh directory for the test's nodes (removed by the caller's cleanup). */
  readonly dir: () => string;
  /** Longest wait for a launched node to turn reachable, ms. */
  readonly readyWithinMs: number;
  readonly skip?: string | false;
}

/** Files no snapshot may carry: keys and signing state (CometBFT's names, and any key file). */
const FORBIDDEN = /(^|\/)(priv_validator_key\.json|priv_validator_state\.json|node_key\.json|[^/]*\.key)$/;

/** A node started as the local provider starts one: its own process group, a log beside it. */
async function launch(kind: NodeKind, ctx: LaunchContext): Promise<{ stop(): Promise<void> }> {
  mkdirSync(ctx.dataDir, { recursive: true });
  await kind.prepare?.(ctx);
  const spec = kind.processSpec(ctx);
  const log = openSync(path.join(ctx.dataDir, 'node.log'), 'a');
  const child: ChildProcess = spawn(spec.command, [...spec.args], {
    detached: true,
    stdio: ['ignore', log, log],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: ctx.dataDir, ...spec.env },
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        return;
      }
      const gone = await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)]);
      if (!gone) process.kill(-child.pid!, 'SIGKILL');
      await exited;
    },
  };
}

async function freePorts(names: readonly string[]): Promise<Record<string, number>> {
  const ports: Record<string, number> = {};
  for (const name of names) ports[name] = await freePort();
  return ports;
}

export function nodeKindContract(name: string, bed: NodeKindBed): void {
  describe(`node kind contract: ${name}`, { skip: bed.skip ?? false }, () => {
    test('port names are distinct and not empty', () => {
      const { portNames } = bed.kind();
      assert.ok(portNames.length > 0);
      assert.equal(new Set(portNames).size, portNames.length);
      for (const p of portNames) assert.match(p, /^[a-z][a-z0-9-]*$/);
    });

    test('a node nothing answers for is unreachable, never a throw, aborted or not', async () => {
      const kind = bed.kind();
      const node: NodeAddress = { id: 'nobody', host: '127.0.0.1', ports: await freePorts(kind.portNames) };
      const probe = await kind.probe(node, { role: bed.context('nobody', node.ports, bed.dir()).role });
      assert.equal(probe.reachable, false);
      const stop = new AbortController();
      stop.abort(new Error('the tick is over'));
      const aborted = await kind.probe(node, { role: 'x', signal: stop.signal }).catch((e: Error) => e);
      assert.ok(!(aborted instanceof Error), `an aborted probe resolves: ${String(aborted)}`);
      assert.equal(aborted.reachable, false);
    });

    test('a launched node turns reachable and serves Prometheus text; stopped, it is unreachable; its snapshots hold no keys', async () => {
      const kind = bed.kind();
      const ports = await freePorts(kind.portNames);
      const dataDir = path.join(bed.dir(), 'node-1');
      const ctx = bed.context('node-1', ports, dataDir);
      const node: NodeAddress = { id: ctx.nodeId, host: ctx.host, ports };
      const running = await launch(kind, ctx);
      try {
        const deadline = Date.now() + bed.readyWithinMs;
        let probe = await kind.probe(node, { role: ctx.role });
        while (!probe.reachable && Date.now() < deadline) {
          await sleep(200);
          probe = await kind.probe(node, { role: ctx.role });
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
        await running.stop();
      }
      assert.equal((await kind.probe(node, { role: ctx.role })).reachable, false, 'stopped: unreachable');
      if (kind.snapshots) {
        const files = await kind.snapshots.files(dataDir);
        assert.ok(files.length > 0, 'a node that ran has data to snapshot');
        for (const f of files) assert.doesNotMatch(f, FORBIDDEN, `a snapshot would copy ${f}`);
      }
    });
  });
}
