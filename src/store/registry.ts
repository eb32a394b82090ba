// Every store kind Rampart can keep its state in, and how each is built from
// `controller.store`: the one place that knows them all. A store kind the schema allows
// without a line here is a type error.

import type { Config } from '../config/schema.ts';
import { EtcdStore } from './etcd-store.ts';
import { SqliteStore } from './sqlite-store.ts';
import type { Store } from './store.ts';

type StoreConfig = Config['controller']['store'];

type Factories = { readonly [K in StoreConfig['kind']]: (c: Extract<StoreConfig, { kind: K }>) => Store };

export const STORES: Factories = {
  sqlite: (s) => new SqliteStore(s.path),
  etcd: (s) =>
    new EtcdStore({
      endpoints: s.endpoints,
      prefix: s.prefix,
      tls: s.tls,
      auth: s.auth,
      timeoutMs: s.timeout,
    }),
};

/** Builds the store `controller.store` names (not yet opened). */
export function createStoreFrom(s: StoreConfig): Store {
  return (STORES[s.kind] as (c: StoreConfig) => Store)(s);
}
