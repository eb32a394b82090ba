// A FAKE of the machines behind moto's instances, for controller tests: moto's instances run
// nothing, so this watches moto and, for each running instance Rampart launched, "boots"
// it: starts a simnode process on a loopback address of its own (127.x.y.z, the node's
// ports as the provider's config says) and sets the address tag the provider reads, as an
// image's boot script would. A terminated or stopped instance's process is killed.

import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { CreateTagsCommand, DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { TAGS } from '../../src/providers/aws/aws-provider.ts';
import { motoClients } from './moto-group.ts';

const SIMNODE = fileURLToPath(new URL('../../src/nodes/simnode/server.ts', import.meta.url));

export interface MachinesFakeOptions {
  /** moto's own URL (not a fault proxy's: machines do not boot through the API). */
  readonly endpoint: string;
  readonly group: string;
  /** Tag the fake writes the machine's address into (the provider's `address: { tag }`). */
  readonly addressTag: string;
  readonly ports: { readonly rpc: number; readonly metrics: number };
  /** simnode role of the machines, e.g. sentry. */
  readonly role: string;
  /** RPC URL of the chain source (the validator); a machine waits to boot until there is one. */
  readonly chainSource: () => Promise<string | undefined>;
  readonly syncRate?: number;
  readonly txCapacity?: number;
}

export interface MachinesFake {
  /** Instance ids whose simnode runs now. */
  running(): string[];
  stop(): Promise<void>;
}

interface Machine {
  readonly child: ChildProcess;
  readonly address: string;
}

export function startMachinesFake(o: MachinesFakeOptions): MachinesFake {
  const { ec2 } = motoClients(o.endpoint);
  const dir = mkdtempSync(path.join(tmpdir(), 'rampart-machines-'));
  const machines = new Map<string, Machine>();
  // One /16 of loopback addresses per fake, so two fakes never share one.
  const net = `127.${100 + Math.floor(Math.random() * 150)}.${Math.floor(Math.random() * 250)}`;
  let next = 2;
  let stopped = false;
  const killAll = () => {
    for (const m of machines.values()) kill(m.child);
  };
  process.once('exit', killAll);

  const boot = async (id: string, nodeId: string, source: string) => {
    const address = `${net}.${next++}`;
    const dataDir = path.join(dir, id);
    mkdirSync(dataDir, { recursive: true });
    const log = openSync(path.join(dataDir, 'node.log'), 'a');
    const args = [
      SIMNODE,
      '--id',
      nodeId,
      '--role',
      o.role,
      '--host',
      address,
      '--rpc-port',
      String(o.ports.rpc),
      '--metrics-port',
      String(o.ports.metrics),
      '--data-dir',
      dataDir,
      '--chain-source',
      source,
      ...(o.syncRate ? ['--sync-rate', String(o.syncRate)] : []),
      ...(o.txCapacity ? ['--tx-capacity', String(o.txCapacity)] : []),
    ];
    const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', log, log] });
    closeSync(log);
    child.unref();
    machines.set(id, { child, address });
    await ec2.send(new CreateTagsCommand({ Resources: [id], Tags: [{ Key: o.addressTag, Value: address }] }));
  };

  const pass = async () => {
    const out = await ec2.send(
      new DescribeInstancesCommand({ Filters: [{ Name: `tag:${TAGS.group}`, Values: [o.group] }] }),
    );
    const seen = new Set<string>();
    for (const i of (out.Reservations ?? []).flatMap((r) => r.Instances ?? [])) {
      const id = i.InstanceId!;
      const nodeId = i.Tags?.find((t) => t.Key === TAGS.node)?.Value;
      if (i.State?.Name !== 'running' || !nodeId) continue;
      seen.add(id);
      if (machines.has(id)) continue;
      const source = await o.chainSource();
      if (source) await boot(id, nodeId, source);
    }
    for (const [id, m] of machines)
      if (!seen.has(id)) {
        kill(m.child);
        machines.delete(id);
      }
  };

  const loop = (async () => {
    while (!stopped) {
      await pass().catch(() => undefined);
      await sleep(200);
    }
  })();

  return {
    running: () => [...machines.keys()],
    stop: async () => {
      stopped = true;
      await loop;
      killAll();
      machines.clear();
      process.removeListener('exit', killAll);
      ec2.destroy();
      rmSync(dir, { recursive: true, force: true });
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
