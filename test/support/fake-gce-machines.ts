// A FAKE of the machines behind fake-gce's instances, for controller tests: fake-gce's VMs run
// nothing, so this watches the fake and "boots" each RUNNING instance Rampart created (its
// metadata names the node): a simnode process on the instance's own networkIP (a loopback
// address fake-gce gave it), the node's ports as the provider's config says, its data on the
// instance's boot disk (a folder: what an image baked from it carries). A stopped or deleted
// instance's process is killed. `crash` kills a machine's process while GCE still says RUNNING
// (a hung host), for the controller to find and replace.

import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { METADATA } from '../../src/providers/gce/gce-provider.ts';
import type { FakeGce } from './fake-gce-compute.ts';

const SIMNODE = fileURLToPath(new URL('../../src/nodes/simnode/server.ts', import.meta.url));

export interface GceMachinesOptions {
  readonly fake: FakeGce;
  readonly ports: { readonly rpc: number; readonly metrics: number };
  /** simnode role of the machines, e.g. sentry. */
  readonly role: string;
  /** RPC URL of the chain source (the validator); a machine waits to boot until there is one. */
  readonly chainSource: () => Promise<string | undefined>;
  readonly syncRate?: number;
  readonly txCapacity?: number;
}

export interface GceMachines {
  /** Instance names whose simnode runs now. */
  running(): string[];
  /** Kills the instance's process for good (GCE still reports it RUNNING). */
  crash(name: string): void;
  stop(): Promise<void>;
}

export function startGceMachines(o: GceMachinesOptions): GceMachines {
  const machines = new Map<string, { child: ChildProcess; id: string }>();
  const crashed = new Set<string>();
  let stopped = false;
  const killAll = () => {
    for (const m of machines.values()) kill(m.child);
  };
  process.once('exit', killAll);

  const boot = (
    name: string,
    vmId: string,
    nodeId: string,
    address: string,
    dataDir: string,
    source: string,
  ) => {
    const log = openSync(path.join(dataDir, 'node.log'), 'a');
    const args = [
      SIMNODE,
      ...['--id', nodeId, '--role', o.role, '--host', address],
      ...['--rpc-port', String(o.ports.rpc), '--metrics-port', String(o.ports.metrics)],
      ...['--data-dir', dataDir, '--chain-source', source],
      ...(o.syncRate ? ['--sync-rate', String(o.syncRate)] : []),
      ...(o.txCapacity ? ['--tx-capacity', String(o.txCapacity)] : []),
    ];
    const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', log, log] });
    closeSync(log);
    child.unref();
    machines.set(name, { child, id: vmId });
  };

  const pass = async () => {
    const seen = new Set<string>();
    for (const i of o.fake.instances.values()) {
      const nodeId = i.metadata[METADATA.node];
      if (i.status !== 'RUNNING' || !nodeId || crashed.has(i.id)) continue;
      seen.add(i.name);
      const m = machines.get(i.name);
      if (m?.id === i.id) continue;
      if (m) kill(m.child); // the group recreated the VM under the same name
      const source = await o.chainSource();
      if (source && !stopped) boot(i.name, i.id, nodeId, i.networkIP, o.fake.diskDir(i.name), source);
    }
    for (const [name, m] of machines)
      if (!seen.has(name)) {
        kill(m.child);
        machines.delete(name);
      }
  };

  const loop = (async () => {
    while (!stopped) {
      await pass().catch(() => undefined);
      await sleep(150);
    }
  })();

  return {
    running: () => [...machines.keys()],
    crash: (name) => {
      const m = machines.get(name);
      if (!m) throw new Error(`no machine runs instance ${name}`);
      crashed.add(m.id);
      kill(m.child);
      machines.delete(name);
    },
    stop: async () => {
      stopped = true;
      await loop;
      killAll();
      machines.clear();
      process.removeListener('exit', killAll);
    },
  };
}

function kill(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // Already gone.
  }
}
