// PLACEHOLDER (being written in this session): Kubernetes node pools on cloud machines.
import type { Logger } from 'pino';
import type { KubeClient } from '../../kube/kube-client.ts';
import type { CreateRequest, Instance, Provider } from '../provider.ts';

export interface NodePoolProviderOptions {
  readonly name: string;
  readonly client: KubeClient;
  /** The cloud provider whose machines become Nodes (aws), matched by providerID. */
  readonly machines: Provider;
  readonly drainTimeoutMs: number;
  readonly evictionRetryMs: number;
  readonly log?: Logger | undefined;
}

export class NodePoolProvider implements Provider {
  readonly kind = 'kubernetes';
  readonly name: string;
  readonly options: NodePoolProviderOptions;
  constructor(options: NodePoolProviderOptions) {
    this.options = options;
    this.name = options.name;
  }
  list(): Promise<Instance[]> {
    throw new Error('not yet');
  }
  create(_req: CreateRequest): Promise<Instance> {
    throw new Error('not yet');
  }
  destroy(_instance: Instance): Promise<void> {
    throw new Error('not yet');
  }
}
