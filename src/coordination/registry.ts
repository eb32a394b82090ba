// Every coordination kind (who may act), and how each is built from
// `controller.coordination` beside the store it fences through: the one place that knows
// them all. A kind the schema allows without a line here is a type error.

import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.ts';
import { KubeClient } from '../kube/kube-client.ts';
import { EtcdStore } from '../store/etcd-store.ts';
import type { Store } from '../store/store.ts';
import type { Coordination } from './coordination.ts';
import { EmbeddedCoordination } from './embedded.ts';
import { EtcdCoordination } from './etcd.ts';
import { KubernetesCoordination } from './kubernetes.ts';

type CoordinationConfig = Config['controller']['coordination'];

/** What a coordination is built with: the store it fences through, and a logger. */
export interface CoordinationDeps {
  readonly storeConfig: Config['controller']['store'];
  readonly store: Store;
  readonly log?: Logger | undefined;
}

type Factories = {
  readonly [K in CoordinationConfig['kind']]: (
    c: Extract<CoordinationConfig, { kind: K }>,
    deps: CoordinationDeps,
  ) => Coordination;
};

export const COORDINATIONS: Factories = {
  embedded: (_c, { storeConfig, store }) => {
    if (storeConfig.kind !== 'sqlite') throw new Error('embedded coordination needs the sqlite store');
    return new EmbeddedCoordination(store, `${path.resolve(storeConfig.path)}.lock`);
  },
  etcd: (c, { store, log }) => {
    if (!(store instanceof EtcdStore)) throw new Error('etcd coordination needs the etcd store');
    return new EtcdCoordination(store, { leaseTtlMs: c.leaseTtl, log });
  },
  kubernetes: (c, { store, log }) => {
    const client = new KubeClient(c.cluster);
    return new KubernetesCoordination({
      client,
      namespace: c.namespace ?? client.namespaceOr('default'),
      leaseName: c.leaseName,
      leaseTtlMs: c.leaseTtl,
      store,
      log,
    });
  },
};

/** Builds the coordination `controller.coordination` names. */
export function createCoordinationFrom(c: CoordinationConfig, deps: CoordinationDeps): Coordination {
  return (COORDINATIONS[c.kind] as (c: CoordinationConfig, deps: CoordinationDeps) => Coordination)(c, deps);
}
