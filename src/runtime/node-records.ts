// What a stored node's record says of where it runs: its instance's address, the record
// updated for a new instance, and the instance it last named (to stop, start or destroy it).

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

/** The instance a node's record names, as it was when last seen (not running now), if it names one. */
export function recordedInstance(node: StoredNode): Instance | undefined {
  if (node.instanceId === undefined || node.host === undefined || node.ports === undefined) return undefined;
  return {
    id: node.instanceId,
    nodeId: node.id,
    pool: node.pool,
    actionId: node.actionId,
    host: node.host,
    ports: node.ports,
    dataDir: node.dataDir,
    running: false,
    createdAt: node.createdAt,
  };
}
