// Kubernetes worker pools on cloud machines: each node of the pool is a machine of another
// provider (aws, azure) whose kubelet registered a Node, matched by the Node's spec.providerID.
// A node is ready when its Node is; it is removed by draining the Node, then deleting it
// and its machine.

import type { Logger } from 'pino';
import { type KubeClient, type KubeObject, kubePath, readyCondition } from '../../kube/kube-client.ts';
import type { CreateRequest, Instance, PlatformStatus, Provider } from '../provider.ts';
import { DRAINING_ANNOTATION, drainNode } from './drain.ts';

/**
 * How long a registered Node may stay NotReady or Unknown before it counts as given up
 * (healthy false), ms: 5 minutes, the node lifecycle controller's own grace before it
 * evicts a lost Node's pods.
 */
export const NODE_LOST_AFTER_MS = 5 * 60_000;

export interface NodePoolProviderOptions {
  readonly name: string;
  readonly client: KubeClient;
  /** The cloud provider whose machines become Nodes (aws, azure), matched by providerID. */
  readonly machines: Provider;
  /** Longest a drain may take before it is undone and the removal refused, ms (config default 5m). */
  readonly drainTimeoutMs: number;
  /** Time between two eviction attempts of a pod a PodDisruptionBudget blocks, ms (config default 5s). */
  readonly evictionRetryMs: number;
  readonly log?: Logger | undefined;
}

export interface KubeNode extends KubeObject {
  readonly spec?: { readonly providerID?: string; readonly unschedulable?: boolean };
  readonly status?: {
    readonly conditions?: readonly {
      type: string;
      status: string;
      reason?: string;
      message?: string;
      lastTransitionTime?: string;
    }[];
  };
}

/**
 * The machine id a providerID names, lower-cased (Azure names are case-insensitive, and
 * cloud-provider-azure may change their case): `aws:///us-east-1a/i-0abc` → `i-0abc`;
 * `azure:///subscriptions/…/virtualMachines/NAME` (a Flexible scale set's VM) → `name`;
 * `azure:///subscriptions/…/virtualMachineScaleSets/SET/virtualMachines/3` (a Uniform
 * scale set's instance) → `set_3`, the instance's name.
 */
export function machineIdOf(providerID: string | undefined): string | undefined {
  if (!providerID) return undefined;
  const uniform = /\/virtualMachineScaleSets\/([^/]+)\/virtualMachines\/([^/]+)$/i.exec(providerID);
  if (providerID.startsWith('azure://') && uniform) return `${uniform[1]}_${uniform[2]}`.toLowerCase();
  const id = providerID.slice(providerID.lastIndexOf('/') + 1);
  return id === '' ? undefined : id.toLowerCase();
}

/** What Kubernetes says of a machine's Node, for the controller (which reads it instead of probing). */
export function nodeStatus(node: KubeNode | undefined, now = Date.now()): PlatformStatus {
  if (!node)
    return { ready: false, healthy: true, detail: 'machine running; its Node has not registered yet' };
  const name = node.metadata.name;
  const draining = node.metadata.annotations?.[DRAINING_ANNOTATION];
  if (draining !== undefined)
    return { ready: false, healthy: true, detail: `Node ${name} is being drained (${draining})` };
  const ready = readyCondition(node);
  if (ready.ready) return { ready: true, healthy: true, detail: `Node ${name} is Ready` };
  const c = node.status?.conditions?.find((x) => x.type === 'Ready');
  const since = c?.lastTransitionTime ? Date.parse(c.lastTransitionTime) : Number.NaN;
  const lost = c !== undefined && c.status !== 'True' && now - since > NODE_LOST_AFTER_MS;
  return {
    ready: false,
    healthy: !lost,
    detail: lost
      ? `Node ${name} ${ready.detail} for more than ${NODE_LOST_AFTER_MS / 60_000} minutes`
      : `Node ${name} ${ready.detail}`,
  };
}

export class NodePoolProvider implements Provider {
  readonly kind = 'kubernetes';
  /** The record is the machines' own tags (node, pool, action), which every Rampart replica reads. */
  readonly sharedRecord = true;
  readonly name: string;
  readonly options: NodePoolProviderOptions;
  constructor(options: NodePoolProviderOptions) {
    this.options = options;
    this.name = options.name;
  }

  /** Nodes by the machine id their providerID ends with. */
  async #nodesByMachine(): Promise<Map<string, KubeNode>> {
    const nodes = await this.options.client.list<KubeNode>(kubePath('', 'v1', 'nodes'));
    const out = new Map<string, KubeNode>();
    for (const n of nodes) {
      const id = machineIdOf(n.spec?.providerID);
      if (id !== undefined) out.set(id, n);
    }
    return out;
  }

  #join(machine: Instance, node: KubeNode | undefined): Instance {
    const status: PlatformStatus = machine.running
      ? nodeStatus(node)
      : {
          ready: false,
          healthy: false,
          detail: `machine ${machine.id} is not running${node ? ` (Node ${node.metadata.name})` : ''}`,
        };
    return {
      id: machine.id,
      nodeId: machine.nodeId,
      pool: machine.pool,
      actionId: machine.actionId,
      host: node?.metadata.name ?? machine.host,
      ports: {},
      running: machine.running,
      createdAt: machine.createdAt,
      status,
      names: node ? [node.metadata.name] : [],
    };
  }

  async list(): Promise<Instance[]> {
    const [machines, nodes] = await Promise.all([this.options.machines.list(), this.#nodesByMachine()]);
    return machines.map((m) => this.#join(m, nodes.get(m.id.toLowerCase())));
  }

  /** Launches a machine; its kubelet registers the Node later, and only then is the node ready. */
  async create(req: CreateRequest): Promise<Instance> {
    const machine = await this.options.machines.create(req);
    const nodes = await this.#nodesByMachine();
    return this.#join(machine, nodes.get(machine.id.toLowerCase()));
  }

  /**
   * Drains the machine's Node (cordon, evictions that respect PodDisruptionBudgets, wait for
   * the pods to go), deletes the Node, then the machine. A drain that does not finish within
   * drainTimeoutMs is undone and throws: the Node keeps serving, nothing is deleted.
   * Idempotent: a gone Node or machine is not an error.
   */
  async destroy(instance: Instance): Promise<void> {
    const { client, machines, log } = this.options;
    const node = (await this.#nodesByMachine()).get(instance.id.toLowerCase());
    const machine = (await machines.list()).find((m) => m.id === instance.id) ?? instance;
    if (node) {
      const name = node.metadata.name;
      await drainNode({
        client,
        node: name,
        reason: `removal of node ${instance.nodeId} of pool ${instance.pool} by rampart provider ${this.name}`,
        timeoutMs: this.options.drainTimeoutMs,
        retryMs: this.options.evictionRetryMs,
        subject: `machine ${instance.id} of node ${instance.nodeId}, kubernetes provider ${this.name}`,
        // A cordon that is not ours (no annotation: an operator's) survives an undone drain.
        cordonedBefore:
          node.spec?.unschedulable === true && node.metadata.annotations?.[DRAINING_ANNOTATION] === undefined,
        log,
      });
      // Deleting the Node first: no pod is scheduled onto a machine that is about to vanish.
      await client.delete(kubePath('', 'v1', 'nodes', undefined, name));
      log?.info(
        { node: name, machine: instance.id },
        `Node ${name} deleted; terminating machine ${instance.id}`,
      );
    }
    await machines.destroy(machine);
  }
}
