// PLACEHOLDER (being written in this session): Lease coordination.
import type { Logger } from 'pino';
import type { KubeClient } from '../kube/kube-client.ts';
import type { Store } from '../store/store.ts';
import type { Coordination, Leadership, Lock } from './coordination.ts';

export interface KubernetesCoordinationOptions {
  readonly client: KubeClient;
  readonly namespace: string;
  readonly leaseName: string;
  readonly leaseTtlMs: number;
  readonly store: Store;
  readonly log?: Logger | undefined;
}

export class KubernetesCoordination implements Coordination {
  readonly kind = 'kubernetes';
  readonly options: KubernetesCoordinationOptions;
  constructor(options: KubernetesCoordinationOptions) {
    this.options = options;
  }
  campaign(_holder: string, _signal?: AbortSignal): Promise<Leadership> {
    throw new Error('not yet');
  }
  tryLock(_name: string, _holder: string): Promise<Lock | undefined> {
    throw new Error('not yet');
  }
  async close(): Promise<void> {}
}
