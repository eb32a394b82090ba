// Every coordination kind (who may act): the slice of `controller.coordination` each reads,
// and how each is built beside the store it fences through. A new kind is a file beside
// this one and one line here.

import path from 'node:path';
import type { Logger } from 'pino';
import type { z } from 'zod';
import {
  type CheckContext,
  type Connection,
  createFrom,
  type KindSchema,
  type Parts,
  type Plugin,
  pluginOf,
  unionOf,
} from '../config-kit/plugin.ts';
import { KubeClient } from '../kube/kube-client.ts';
import { EtcdStore } from '../store/etcd-store.ts';
import type { Store } from '../store/store.ts';
import {
  checkLeaseTtl,
  embeddedCoordinationConfig,
  etcdCoordinationConfig,
  kubeCoordinationConfig,
  kubeCoordinationConnections,
} from './config.ts';
import type { ControllerPresence, Coordination, PresenceDeps, StopDeps } from './coordination.ts';
import { EmbeddedCoordination } from './embedded.ts';
import { embeddedPresence, stopEmbedded } from './embedded-presence.ts';
import { EtcdCoordination } from './etcd.ts';
import { etcdPresence, stopEtcdReplicas } from './etcd-presence.ts';
import { KubernetesCoordination } from './kubernetes.ts';
import { leasePresence } from './kubernetes-presence.ts';

/** What a coordination is built with: the store it fences through, and a logger. */
export interface CoordinationDeps {
  /** The store's own file, when it is one on this machine (the embedded lock sits beside it). */
  readonly storeFile: string | undefined;
  readonly store: Store;
  readonly log?: Logger | undefined;
}

/** A coordination kind, as the config and the wiring point see it. */
export interface CoordinationPlugin<S extends KindSchema = KindSchema>
  extends Plugin<S, CoordinationDeps, Coordination> {
  /**
   * Which stores it takes turns on: `local` (one machine's file: it cannot be shared),
   * `shared` (a store replicas share), or `any`.
   */
  readonly stores: 'local' | 'shared' | 'any';
  /** What to write instead, when the store is not one it takes turns on. */
  readonly storeHint: string;
  check?(entry: Parts<z.output<S>>, c: CheckContext): void;
  /** The URLs it connects to, for controller.api.requireTls. */
  connections?(entry: Parts<z.output<S>>): Connection[];
  /** Who runs on the config's store now, told the way this kind elects (`status`, the CLI's commands). */
  presence(entry: z.output<S>, deps: PresenceDeps): Promise<ControllerPresence>;
  /**
   * Before `rampart down` campaigns: asks the running controllers to stop and waits until they
   * have, or throws saying why it cannot (nothing removed). Absent: the campaign itself waits
   * for them to let go.
   */
  stopRunning?(entry: z.output<S>, deps: StopDeps): Promise<void>;
}

const coordination = <S extends KindSchema>(p: CoordinationPlugin<S>) => p;

export const COORDINATIONS = [
  coordination({
    config: embeddedCoordinationConfig,
    create: (_c, { storeFile, store }) => {
      if (storeFile === undefined) throw new Error('embedded coordination needs the sqlite store');
      return new EmbeddedCoordination(store, `${path.resolve(storeFile)}.lock`);
    },
    stores: 'local',
    storeHint: 'a shared etcd store needs etcd coordination, or two controllers could act at once',
    presence: async (_c, deps) => embeddedPresence(deps),
    stopRunning: (_c, deps) => stopEmbedded(deps),
  }),
  coordination({
    config: etcdCoordinationConfig,
    create: (c, { store, log }) => {
      if (!(store instanceof EtcdStore)) throw new Error('etcd coordination needs the etcd store');
      return new EtcdCoordination(store, { leaseTtlMs: c.leaseTtl, log });
    },
    stores: 'shared',
    storeHint:
      'etcd coordination needs the etcd store (controller.store.kind: etcd): replicas must share state',
    check: checkLeaseTtl('etcd leases'),
    presence: (_c, deps) => etcdPresence(deps),
    stopRunning: (_c, deps) => stopEtcdReplicas(deps),
  }),
  coordination({
    config: kubeCoordinationConfig,
    create: (c, { store, log }) => {
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
    stores: 'any',
    storeHint: '',
    check: checkLeaseTtl('Lease durations'),
    connections: kubeCoordinationConnections,
    presence: (c) => leasePresence(c),
  }),
] as const;

/** `controller.coordination`: one of the registered slices. */
export const coordinationConfig = unionOf(COORDINATIONS);
export type CoordinationConfig = z.output<typeof coordinationConfig>;

/** The plugin of a coordination kind. */
export const coordinationPlugin = (kind: string): CoordinationPlugin =>
  pluginOf<CoordinationPlugin>(COORDINATIONS, kind, 'coordination');

/** Builds the coordination `controller.coordination` names. */
export function createCoordinationFrom(c: CoordinationConfig, deps: CoordinationDeps): Coordination {
  return createFrom(COORDINATIONS, c, deps, 'coordination');
}
