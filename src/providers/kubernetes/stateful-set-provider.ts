// PLACEHOLDER (being written in this session): StatefulSet workload pools.
import type { Logger } from 'pino';
import type { KubeVolumesConfig } from '../../config/schema.ts';
import type { KubeClient } from '../../kube/kube-client.ts';
import type { CreateRequest, Instance, Provider } from '../provider.ts';

export interface StatefulSetProviderOptions {
  readonly name: string;
  readonly client: KubeClient;
  readonly namespace: string;
  readonly statefulSet: string;
  readonly volumes?: KubeVolumesConfig | undefined;
  /** The pool the StatefulSet serves (labels on the objects Rampart creates). */
  readonly pool?: string | undefined;
  readonly log?: Logger | undefined;
}

export class StatefulSetProvider implements Provider {
  readonly kind = 'kubernetes';
  readonly name: string;
  readonly options: StatefulSetProviderOptions;
  constructor(options: StatefulSetProviderOptions) {
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
