// The config slices of the store kinds (`controller.store`): sqlite, Rampart's embedded
// default in one file, and etcd, state shared by controller replicas (seed 003's etcd).

import { z } from 'zod';
import { filePath, httpUrl, positiveDurationDefault } from '../config-kit/fields.ts';
import type { CheckContext, Connection, Parts } from '../config-kit/plugin.ts';

export const sqliteStoreConfig = z.strictObject({
  kind: z.literal('sqlite'),
  /** Database file, relative to the config file's folder. Default .rampart/state.db. */
  path: filePath().default('.rampart/state.db'),
});

export type SqliteStoreConfig = z.output<typeof sqliteStoreConfig>;

export const etcdStoreConfig = z.strictObject({
  kind: z.literal('etcd'),
  /** Client URLs of the etcd cluster, e.g. https://10.0.0.5:2379. */
  endpoints: z.array(httpUrl).min(1),
  /** Every key Rampart writes starts with this. Default /rampart/. */
  prefix: z.string().startsWith('/').default('/rampart/'),
  /** TLS to etcd (seed 003's https scheme): files, relative to the config file's folder. */
  tls: z
    .strictObject({
      ca: filePath(0).optional(),
      cert: filePath(0).optional(),
      key: filePath(0).optional(),
    })
    .optional(),
  /** etcd user; the password is read from this file (never written in the config). */
  auth: z.strictObject({ username: z.string().min(1), passwordFile: filePath() }).optional(),
  /** Longest wait for one etcd call. Default 5s. */
  timeout: positiveDurationDefault('5s', 'Longest wait for one etcd call.'),
});

export type EtcdStoreConfig = z.output<typeof etcdStoreConfig>;

/** A client certificate is a pair; with tls, every endpoint is https. */
export function checkEtcdStore(store: Parts<EtcdStoreConfig>, c: CheckContext): void {
  if (!store.tls) return;
  const { cert, key } = store.tls;
  const missing = ['controller', 'store', 'tls', cert === undefined ? 'cert' : 'key'];
  if ((cert === undefined) !== (key === undefined) && !c.refused(missing))
    c.add(missing, 'a client certificate needs both cert and key');
  store.endpoints?.forEach((url, i) => {
    if (url?.startsWith('http://'))
      c.add(['controller', 'store', 'endpoints', i], `"${url}" is plain http but tls is set: use https://`);
  });
}

/** The etcd endpoints, for controller.api.requireTls. */
export const etcdStoreConnections = (store: Parts<EtcdStoreConfig>): Connection[] =>
  (store.endpoints ?? []).map((url, i) => ({ path: ['endpoints', i], url }));
