// Every store kind Rampart can keep its state in: the slice of `controller.store` each reads
// and how each is built from it. A new store is a file or folder beside this one and one line here.

import path from 'node:path';
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
import { redactUrls } from '../core/url-secrets.ts';
import { checkEtcdStore, etcdStoreConfig, etcdStoreConnections, sqliteStoreConfig } from './config.ts';
import { EtcdStore } from './etcd-store.ts';
import { SqliteStore } from './sqlite-store.ts';
import type { Store } from './store.ts';

/** A store kind, as the config and the wiring point see it. */
export interface StorePlugin<S extends KindSchema = KindSchema> extends Plugin<S, undefined, Store> {
  /** Controller replicas on other machines can share it (and so need coordination to take turns). */
  readonly shared: boolean;
  check?(entry: Parts<z.output<S>>, c: CheckContext): void;
  /** The URLs it connects to, for controller.api.requireTls. */
  connections?(entry: Parts<z.output<S>>): Connection[];
  /** Where it keeps its state, in words an operator recognises: its file, or its endpoints and prefix. */
  describe(entry: z.output<S>): string;
  /** The one file it lives in, if it is a file on this machine. */
  file?(entry: z.output<S>): string;
}

const store = <S extends KindSchema>(p: StorePlugin<S>) => p;

export const STORES = [
  store({
    config: sqliteStoreConfig,
    create: (s) => new SqliteStore(s.path),
    shared: false,
    describe: (s) => `store ${path.resolve(s.path)}`,
    file: (s) => s.path,
  }),
  store({
    config: etcdStoreConfig,
    create: (s) =>
      new EtcdStore({
        endpoints: s.endpoints,
        prefix: s.prefix,
        tls: s.tls,
        auth: s.auth,
        timeoutMs: s.timeout,
      }),
    shared: true,
    check: checkEtcdStore,
    connections: etcdStoreConnections,
    describe: (s) => `etcd store ${redactUrls(s.endpoints.join(','))} (prefix ${s.prefix})`,
  }),
] as const;

/** `controller.store`: one of the registered slices. */
export const storeConfig = unionOf(STORES);
export type StoreConfig = z.output<typeof storeConfig>;

/** The plugin of a store kind. */
export const storePlugin = (kind: string): StorePlugin => pluginOf<StorePlugin>(STORES, kind, 'store');

/** Builds the store `controller.store` names (not yet opened). */
export function createStoreFrom(s: StoreConfig): Store {
  return createFrom(STORES, s, undefined, 'store');
}
