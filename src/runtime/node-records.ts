// What a stored node's record says of where it runs: its instance's address, and the record
// updated for a new instance.

import type { NodeAddress } from '../nodes/node-kind.ts';
import type { Instance } from '../providers/provider.ts';
import type { StoredNode } from '../store/store.ts';

export function addressOf(node: StoredNode, instance: Instance | undefined): NodeAddress | undefined {
  const host = instance?.host ?? node.host;
  const ports = instance?.ports ?? node.ports;
  return host && ports ? { id: node.id, host, ports } : undefined;
}

export function withInstance(node: StoredNode, instance: Instance): StoredNode {
  return {
    ...node,
    instanceId: instance.id,
    host: instance.host,
    ports: instance.ports,
    dataDir: instance.dataDir,
    actionId: instance.actionId,
    updatedAt: Date.now(),
  };
}
