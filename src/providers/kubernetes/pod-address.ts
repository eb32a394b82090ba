// Where a StatefulSet replica is reached, by Rampart and by the upstream it is wired to (a
// validator outside the cluster cannot reach pod IPs): its pod IP and container ports, its
// Node's IP and host ports, or a Service of its own. Pure: the provider reads the objects.

/** How a replica's address is made: `pod-ip`, `host-port` or `service`. */
export type AddressMode = 'pod-ip' | 'host-port' | 'service';

/** A container port of the pod template, by name (`p2p`, `rpc`, `metrics`…). */
export interface NamedPort {
  readonly name?: string;
  readonly containerPort: number;
  readonly hostPort?: number;
}

export interface AddressPod {
  readonly status?: { readonly podIP?: string; readonly hostIP?: string };
}

/** The per-pod Service of `service` mode, as the API server has it. */
export interface AddressService {
  readonly spec?: {
    readonly type?: string;
    readonly clusterIP?: string;
    readonly ports?: readonly { readonly name?: string; readonly port: number; readonly nodePort?: number }[];
  };
  readonly status?: {
    readonly loadBalancer?: { readonly ingress?: readonly { ip?: string; hostname?: string }[] };
  };
}

export interface ReplicaAddress {
  /** Undefined until the platform has given one (pod not scheduled, no load balancer yet). */
  readonly host: string | undefined;
  readonly ports: Readonly<Record<string, number>>;
}

/** The named ports of the template's containers (unnamed ones are nobody's to address). */
export function namedPorts(
  containers: readonly { readonly ports?: readonly NamedPort[] }[] | undefined,
): NamedPort[] {
  return (containers ?? []).flatMap((c) => (c.ports ?? []).filter((p) => p.name !== undefined));
}

/**
 * The address of a replica in `mode`: `pod-ip` the pod IP and container ports; `host-port`
 * its Node's IP and the ports' hostPorts (a port without one is left out: nothing listens
 * for it there); `service` the Service's load-balancer address and ports (LoadBalancer), the
 * pod's Node IP and node ports (NodePort), or its cluster IP and ports (ClusterIP).
 */
export function replicaAddress(
  mode: AddressMode,
  ports: readonly NamedPort[],
  pod: AddressPod | undefined,
  service?: AddressService,
): ReplicaAddress {
  const byName = (f: (p: NamedPort) => number | undefined) =>
    Object.fromEntries(ports.flatMap((p) => (f(p) === undefined ? [] : [[p.name!, f(p)!]])));
  if (mode === 'pod-ip') return { host: pod?.status?.podIP, ports: byName((p) => p.containerPort) };
  if (mode === 'host-port') return { host: pod?.status?.hostIP, ports: byName((p) => p.hostPort) };
  const spec = service?.spec;
  const svcPorts = (f: (p: { port: number; nodePort?: number }) => number | undefined) =>
    Object.fromEntries(
      (spec?.ports ?? []).flatMap((p) =>
        p.name === undefined || f(p) === undefined ? [] : [[p.name, f(p)!]],
      ),
    );
  if (spec?.type === 'LoadBalancer') {
    const ingress = service?.status?.loadBalancer?.ingress?.[0];
    return { host: ingress?.ip ?? ingress?.hostname, ports: svcPorts((p) => p.port) };
  }
  if (spec?.type === 'NodePort') return { host: pod?.status?.hostIP, ports: svcPorts((p) => p.nodePort) };
  const ip = spec?.clusterIP && spec.clusterIP !== 'None' ? spec.clusterIP : undefined;
  return { host: ip, ports: svcPorts((p) => p.port) };
}
