// A FAKE of the machines behind fake-azure-compute's VMs, for controller tests: the fake's
// VMs run nothing, so this watches its scale set and, for each running VM Rampart created,
// "boots" it as its custom data says: reads the node id from the boot script Rampart wrote,
// starts a simnode process on a loopback address of its own and sets the address tag the
// provider reads, as an image's boot script would. The node's data lives on the VM's OS disk
// (a folder of fake-azure-compute): a VM booted from a baked image starts from the data the
// image's snapshot copied of its source VM. A deallocated VM's process is stopped (SIGTERM: it
// saves its chain, as a graceful shutdown would), a deleted VM's killed.

import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { TAGS } from '../../src/providers/azure/azure-provider.ts';
import type { FakeAzureCompute } from './fake-azure-compute.ts';

const SIMNODE = fileURLToPath(new URL('../../src/nodes/simnode/server.ts', import.meta.url));

export interface AzureMachinesOptions {
  readonly fake: FakeAzureCompute;
  readonly resourceGroup: string;
  readonly scaleSet: string;
  /** Tag the runner writes the machine's address into (the provider's `address: { tag }`). */
  readonly addressTag: string;
  readonly ports: { readonly rpc: number; readonly metrics: number };
  readonly role: string;
  /** RPC URL of the chain source (the validator); a machine waits to boot until there is one. */
  readonly chainSource: () => Promise<string | undefined>;
  readonly syncRate?: number;
  readonly txCapacity?: number;
}

export interface AzureMachines {
  /** VM names whose simnode runs now. */
  running(): string[];
  /** Chain height each machine's data held when it first booted, by VM name (0: a blank disk). */
  bootHeights(): ReadonlyMap<string, number>;
  stop(): Promise<void>;
}

/** The node id the boot script Rampart wrote into the VM's custom data names. */
export function nodeIdOfCustomData(customData: unknown): string | undefined {
  if (typeof customData !== 'string') return undefined;
  const script = Buffer.from(customData, 'base64').toString('utf8');
  return /^RAMPART_NODE_ID='([^']+)'$/m.exec(script)?.[1];
}

export function startAzureMachines(o: AzureMachinesOptions): AzureMachines {
  const dir = mkdtempSync(path.join(tmpdir(), 'rampart-azure-machines-'));
  const machines = new Map<string, ChildProcess>();
  const net = `127.${100 + Math.floor(Math.random() * 150)}.${Math.floor(Math.random() * 250)}`;
  let next = 2;
  let stopped = false;
  const killAll = () => {
    for (const child of machines.values()) kill(child);
  };
  process.once('exit', killAll);

  const bootHeights = new Map<string, number>();
  const boot = (name: string, nodeId: string, source: string) => {
    const address = `${net}.${next++}`;
    // The VM's OS disk; a machine of a VM the fake no longer knows gets a folder of its own.
    const dataDir = o.fake.diskDir(o.resourceGroup, name) ?? path.join(dir, name);
    mkdirSync(dataDir, { recursive: true });
    if (!bootHeights.has(name)) bootHeights.set(name, heightIn(dataDir));
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
    machines.set(name, child);
    o.fake.setTag(o.resourceGroup, o.scaleSet, name, o.addressTag, address);
  };

  const pass = async () => {
    const seen = new Set<string>();
    /** VMs that exist but do not run (deallocating: a graceful shutdown, as Azure's). */
    const halted = new Set<string>();
    for (const vm of o.fake.machines(o.resourceGroup, o.scaleSet)) {
      const props = vm.properties as {
        provisioningState?: string;
        osProfile?: { customData?: string };
        instanceView?: { statuses?: { code?: string }[] };
      };
      const nodeId = nodeIdOfCustomData(props.osProfile?.customData);
      const running = props.instanceView?.statuses?.some((st) => st.code === 'PowerState/running');
      if (props.provisioningState === 'Succeeded' && !running) halted.add(vm.name);
      if (props.provisioningState !== 'Succeeded' || !running || !nodeId || vm.tags?.[TAGS.node] !== nodeId)
        continue;
      seen.add(vm.name);
      if (machines.has(vm.name)) continue;
      const source = await o.chainSource();
      if (source) boot(vm.name, nodeId, source);
    }
    for (const [name, child] of machines)
      if (!seen.has(name)) {
        // Deallocated: the node shuts down and saves its chain (what a snapshot then copies).
        kill(child, halted.has(name) ? 'SIGTERM' : 'SIGKILL');
        machines.delete(name);
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
    bootHeights: () => bootHeights,
    stop: async () => {
      stopped = true;
      await loop;
      killAll();
      machines.clear();
      process.removeListener('exit', killAll);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The chain height simnode saved in `dataDir` (0 when none). */
function heightIn(dataDir: string): number {
  try {
    const saved = JSON.parse(readFileSync(path.join(dataDir, 'chain.json'), 'utf8')) as { height?: unknown };
    return typeof saved.height === 'number' ? saved.height : 0;
  } catch {
    return 0;
  }
}

function kill(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // Already gone.
  }
}
