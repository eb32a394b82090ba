// Where a StatefulSet replica is reached in each address mode, from its pod and its Service.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type AddressService, namedPorts, replicaAddress } from './pod-address.ts';

const ports = namedPorts([
  {
    ports: [
      { name: 'p2p', containerPort: 26656, hostPort: 30656 },
      { name: 'rpc', containerPort: 26657 },
      { containerPort: 9999 },
    ],
  },
  { ports: [{ name: 'metrics', containerPort: 26660, hostPort: 30660 }] },
]);
const pod = { status: { podIP: '10.1.2.3', hostIP: '192.0.2.7' } };
const service = (type: string, extra: Partial<AddressService> = {}): AddressService => ({
  spec: {
    type,
    clusterIP: '10.96.0.9',
    ports: [
      { name: 'p2p', port: 26656, nodePort: 31656 },
      { name: 'rpc', port: 26657, nodePort: 31657 },
    ],
  },
  ...extra,
});

test('the address of a replica in each mode', () => {
  const cases: [string, ReturnType<typeof replicaAddress>, ReturnType<typeof replicaAddress>][] = [
    [
      'pod-ip: the pod IP and the named container ports (unnamed ones left out)',
      replicaAddress('pod-ip', ports, pod),
      { host: '10.1.2.3', ports: { p2p: 26656, rpc: 26657, metrics: 26660 } },
    ],
    [
      'pod-ip, pod not scheduled: no host yet',
      replicaAddress('pod-ip', ports, undefined),
      {
        host: undefined,
        ports: { p2p: 26656, rpc: 26657, metrics: 26660 },
      },
    ],
    [
      'host-port: the Node IP and the hostPorts; a port without one is not there',
      replicaAddress('host-port', ports, pod),
      { host: '192.0.2.7', ports: { p2p: 30656, metrics: 30660 } },
    ],
    [
      'service LoadBalancer: the ingress and the Service ports',
      replicaAddress(
        'service',
        ports,
        pod,
        service('LoadBalancer', { status: { loadBalancer: { ingress: [{ hostname: 'lb.example' }] } } }),
      ),
      { host: 'lb.example', ports: { p2p: 26656, rpc: 26657 } },
    ],
    [
      'service LoadBalancer not provisioned yet: no host',
      replicaAddress('service', ports, pod, service('LoadBalancer')),
      {
        host: undefined,
        ports: { p2p: 26656, rpc: 26657 },
      },
    ],
    [
      'service NodePort: the pod’s Node IP and the node ports',
      replicaAddress('service', ports, pod, service('NodePort')),
      {
        host: '192.0.2.7',
        ports: { p2p: 31656, rpc: 31657 },
      },
    ],
    [
      'service ClusterIP: the cluster IP',
      replicaAddress('service', ports, pod, service('ClusterIP')),
      {
        host: '10.96.0.9',
        ports: { p2p: 26656, rpc: 26657 },
      },
    ],
    [
      'service not made yet: nothing',
      replicaAddress('service', ports, pod, undefined),
      { host: undefined, ports: {} },
    ],
  ];
  for (const [what, got, want] of cases) assert.deepEqual(got, want, what);
});
