// A fake kubelet join: moto's (and fake-azure-compute's) machines boot nothing, so this
// stands for each machine's kubelet registering its Node. It polls the machines and creates a kwok Node (made Ready
// by kwok's stages) with the machine's providerID for every running machine without one.

import type { Instance, Provider } from '../../src/providers/provider.ts';
import type { KubeControlPlane } from './kube.ts';

export interface FakeKubeletJoinOptions {
  /** Time between two looks at the machines, ms. Default 200. */
  readonly intervalMs?: number;
  /** Availability zone in the providerID. Default us-east-1a (moto-group's subnet). */
  readonly zone?: string;
  /** Labels on every Node, e.g. to tell this test's Nodes apart. */
  readonly labels?: Readonly<Record<string, string>>;
  /** The Node's providerID for a machine. Default `aws:///ZONE/ID`. */
  readonly providerID?: (machine: Instance) => string;
  /** The Node's name for a machine. Default EC2's private DNS name (ec2NodeName). */
  readonly nodeName?: (machine: Instance) => string;
}

export interface FakeKubeletJoin {
  /** Node names by machine id, as registered so far. */
  readonly joined: ReadonlyMap<string, string>;
  /** Stops polling (the Nodes stay). */
  stop(): Promise<void>;
}

/** EC2's private DNS name for an address: `10.0.1.23` → `ip-10-0-1-23.ec2.internal`. */
export function ec2NodeName(host: string, machineId: string): string {
  return /^\d+\.\d+\.\d+\.\d+$/.test(host)
    ? `ip-${host.replaceAll('.', '-')}.ec2.internal`
    : `node-${machineId.toLowerCase()}`;
}

export function fakeKubeletJoin(
  kube: KubeControlPlane,
  machines: Provider,
  opts: FakeKubeletJoinOptions = {},
): FakeKubeletJoin {
  const joined = new Map<string, string>();
  const zone = opts.zone ?? 'us-east-1a';
  let stopped = false;
  let lastError: unknown;
  const round = async () => {
    for (const m of await machines.list()) {
      if (!m.running || joined.has(m.id)) continue;
      const name = opts.nodeName ? opts.nodeName(m) : ec2NodeName(m.host, m.id);
      const providerID = opts.providerID ? opts.providerID(m) : `aws:///${zone}/${m.id}`;
      const r = await kube.request<{ spec?: { providerID?: string } }>('GET', `/api/v1/nodes/${name}`);
      // A Node of that name for another machine is stale: its address was reused, as in EC2.
      if (r.status === 200 && r.body.spec?.providerID !== providerID)
        await kube.ok('DELETE', `/api/v1/nodes/${name}`);
      if (r.status === 404 || r.body.spec?.providerID !== providerID)
        await kube.createNode(name, { providerID, labels: opts.labels });
      joined.set(m.id, name);
    }
  };
  const loop = (async () => {
    while (!stopped) {
      try {
        await round();
      } catch (e) {
        // Kept for stop(): a join that keeps failing should fail the test, not hang it.
        lastError = e;
      }
      await new Promise((r) => setTimeout(r, opts.intervalMs ?? 200));
    }
  })();
  return {
    joined,
    async stop() {
      stopped = true;
      await loop;
      if (lastError !== undefined && joined.size === 0) throw lastError;
    },
  };
}
