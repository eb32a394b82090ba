// Every provider kind Rampart can drive, and how each is built from its config entry: the one
// place that knows them all. A new platform is a folder beside this file and one line here;
// a config kind without a line is a type error, never a guess at run time.

import type { Logger } from 'pino';
import type { ProviderConfig } from '../config/schema.ts';
import { KubeClient } from '../kube/kube-client.ts';
import { AwsProvider } from './aws/aws-provider.ts';
import { NodePoolProvider } from './kubernetes/node-pool-provider.ts';
import { StatefulSetProvider } from './kubernetes/stateful-set-provider.ts';
import { LocalProvider } from './local/local-provider.ts';
import type { Provider } from './provider.ts';

/** What a provider is built with besides its own config entry. */
export interface ProviderDeps {
  /** The pool the provider serves (an aws group, a StatefulSet serve one). */
  readonly pool?: string | undefined;
  /** Hears its retries and the like. */
  readonly log?: Logger | undefined;
  /** The provider a Kubernetes node pool's machines come from. */
  readonly machines?: Provider | undefined;
}

type Factories = {
  readonly [K in ProviderConfig['kind']]: (
    c: Extract<ProviderConfig, { kind: K }>,
    deps: ProviderDeps,
  ) => Provider;
};

export const PROVIDERS: Factories = {
  local: (p) => new LocalProvider({ name: p.name, dataDir: p.dataDir, host: p.host }),
  aws: (p, deps) =>
    new AwsProvider({
      name: p.name,
      region: p.region,
      autoScalingGroup: p.autoScalingGroup,
      launchTemplate: p.launchTemplate,
      endpoint: p.endpoint,
      address: p.address,
      ports: p.ports,
      retry: {
        attempts: p.retry.attempts,
        baseDelayMs: p.retry.baseDelay,
        maxDelayMs: p.retry.maxDelay,
        callTimeoutMs: p.retry.callTimeout,
      },
      userData: p.userData,
      pool: deps.pool,
      log: deps.log,
    }),
  kubernetes: (p, deps) => {
    const client = new KubeClient(p.cluster);
    const namespace = p.namespace ?? client.namespaceOr('default');
    if (p.workload)
      return new StatefulSetProvider({
        name: p.name,
        client,
        namespace,
        statefulSet: p.workload.statefulSet,
        volumes: p.workload.volumes,
        pool: deps.pool,
        log: deps.log,
      });
    if (!p.nodePool || !deps.machines)
      throw new Error(`kubernetes provider "${p.name}": a node pool needs its machines provider`);
    return new NodePoolProvider({
      name: p.name,
      client,
      machines: deps.machines,
      drainTimeoutMs: p.nodePool.drainTimeout,
      evictionRetryMs: p.nodePool.evictionRetry,
      log: deps.log,
    });
  },
};

/** Builds the provider a config entry names. */
export function createProvider(p: ProviderConfig, deps: ProviderDeps = {}): Provider {
  const create = PROVIDERS[p.kind] as (c: ProviderConfig, deps: ProviderDeps) => Provider;
  return create(p, deps);
}
