// Node kinds Kubernetes judges itself: `kube-pod` (a StatefulSet's pod, ready by its
// readiness probe) and `kube-node` (a worker Node, ready when its kubelet says so). Rampart
// neither launches nor wires them: the kubernetes provider creates them and reports their
// Ready condition, which the controller reads instead of probing.

import type { NodeProbe } from '../../core/types.ts';
import type { NodeKind } from '../node-kind.ts';

function platformKind(kind: 'kube-pod' | 'kube-node', what: string): NodeKind {
  return {
    kind,
    portNames: [],
    judgedByPlatform: true,
    capabilities: { joinsOneAtATime: false, holdsSigningState: false, stateSync: 'never' },
    processSpec() {
      throw new Error(`${kind}: ${what} runs only on the kubernetes provider, never as a local process`);
    },
    metricsUrl: () => undefined,
    async probe(): Promise<NodeProbe> {
      // Only reached without a platform status, which the controller reads first.
      return {
        reachable: false,
        ready: false,
        healthy: true,
        detail: `${what}: no status from Kubernetes yet`,
      };
    },
    async register() {},
    async deregister() {},
    async connectedPeers() {
      return [];
    },
  };
}

export const kubePodKind = platformKind('kube-pod', 'a StatefulSet pod');
export const kubeNodeKind = platformKind('kube-node', 'a Kubernetes Node');
