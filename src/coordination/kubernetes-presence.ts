// Who runs under Kubernetes coordination: the holder of the leadership Lease while it is
// held. `rampart down` stops nothing here: it campaigns for the Lease, which it gets once the
// running replicas let it go (scaled to zero, or stopped where they run).

import { KubeClient, kubePath } from '../kube/kube-client.ts';
import type { KubeCoordinationConfig } from './config.ts';
import type { ControllerPresence } from './coordination.ts';
import { heldAt, type Lease } from './kubernetes.ts';

export async function leasePresence(c: KubeCoordinationConfig): Promise<ControllerPresence> {
  const client = new KubeClient(c.cluster);
  try {
    const namespace = c.namespace ?? client.namespaceOr('default');
    const by = `the Lease ${namespace}/${c.leaseName}`;
    const lease = await client.find<Lease>(
      kubePath('coordination.k8s.io', 'v1', 'leases', namespace, c.leaseName),
    );
    if (!lease || !heldAt(lease, Date.now(), c.leaseTtl)) return { running: false, controllers: [], by };
    return { running: true, controllers: [{ who: lease.spec!.holderIdentity!, leading: true }], by };
  } finally {
    client.close();
  }
}
