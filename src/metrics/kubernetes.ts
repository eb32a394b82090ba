// PLACEHOLDER (being written in this session): the metrics.k8s.io source.
import type { KubeClient } from '../kube/kube-client.ts';
import type { CollectResult, MetricSource, MetricTarget } from './metric-source.ts';

export interface KubernetesMetricsOptions {
  readonly name: string;
  readonly client: KubeClient;
  readonly timeoutMs?: number | undefined;
}

export class KubernetesMetricsSource implements MetricSource {
  readonly kind = 'kubernetes';
  readonly name: string;
  readonly options: KubernetesMetricsOptions;
  constructor(options: KubernetesMetricsOptions) {
    this.options = options;
    this.name = options.name;
  }
  collect(
    _refs: readonly string[],
    _targets: readonly MetricTarget[],
    _signal?: AbortSignal,
  ): Promise<CollectResult> {
    throw new Error('not yet');
  }
}
