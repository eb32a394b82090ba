// "Is a controller running on this store?" — answered from the lock beside a SQLite store,
// from the election keys in etcd (every replica, leading or standing by), and for `status` and
// `pool` also from the leadership Lease of Kubernetes coordination.

import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/schema.ts';
import { lockHolder } from '../coordination/embedded.ts';
import { electionCandidates } from '../coordination/etcd.ts';
import { heldAt, type Lease } from '../coordination/kubernetes.ts';
import { KubeClient, kubePath } from '../kube/kube-client.ts';
import { EtcdStore } from '../store/etcd-store.ts';
import type { Store } from '../store/store.ts';

export interface RunningController {
  /** For messages: `pid 123`, or the replica's holder name and host. */
  readonly who: string;
  readonly host?: string | undefined;
  readonly pid?: number | undefined;
  /** The one that acts (etcd: the oldest candidate); the others stand by. */
  readonly leading: boolean;
}

/** Every controller process on the config's store; empty when none runs. */
export async function runningControllers(config: Config): Promise<RunningController[]> {
  const s = config.controller.store;
  if (s.kind === 'sqlite') {
    const held = existsSync(s.path) ? lockHolder(`${path.resolve(s.path)}.lock`) : undefined;
    if (!held) return [];
    const who = held.pid === undefined ? held.holder : `pid ${held.pid}`;
    return [{ who, pid: held.pid, leading: true }];
  }
  const store = new EtcdStore({
    endpoints: s.endpoints,
    prefix: s.prefix,
    tls: s.tls,
    auth: s.auth,
    timeoutMs: s.timeout,
  });
  await store.open();
  try {
    return await candidatesOf(store);
  } finally {
    await store.close();
  }
}

async function candidatesOf(store: EtcdStore): Promise<RunningController[]> {
  return (await electionCandidates(store)).map((c, i) => ({
    who: c.holder,
    host: c.host,
    pid: c.pid,
    leading: i === 0,
  }));
}

/** Whether a controller runs on the config's store, and how that was told. */
export interface ControllerPresence {
  /** True: one runs (`controllers` names them); false: none; undefined: could not tell (`unknown` says why). */
  readonly running: boolean | undefined;
  readonly controllers: readonly RunningController[];
  /** What was asked, for messages: the store's lock file, etcd's election, a Lease. */
  readonly by: string;
  readonly unknown?: string | undefined;
}

/**
 * Asks whatever elects the controller of this config. `store`: the config's store, already
 * open (etcd's election is read through it rather than a second client).
 */
export async function controllerPresence(config: Config, store?: Store): Promise<ControllerPresence> {
  const c = config.controller.coordination;
  const s = config.controller.store;
  try {
    if (c.kind === 'kubernetes') return await leasePresence(config);
    if (s.kind === 'etcd') {
      const controllers =
        store instanceof EtcdStore ? await candidatesOf(store) : await runningControllers(config);
      return { running: controllers.length > 0, controllers, by: 'the election in etcd' };
    }
    const controllers = await runningControllers(config);
    return {
      running: controllers.length > 0,
      controllers,
      by: `the lock ${path.resolve(s.path)}.lock`,
    };
  } catch (e) {
    return { running: undefined, controllers: [], by: c.kind, unknown: (e as Error).message };
  }
}

async function leasePresence(config: Config): Promise<ControllerPresence> {
  const c = config.controller.coordination;
  if (c.kind !== 'kubernetes') throw new Error('not Kubernetes coordination');
  const client = new KubeClient(c.cluster);
  const namespace = c.namespace ?? client.namespaceOr('default');
  const by = `the Lease ${namespace}/${c.leaseName}`;
  const lease = await client.find<Lease>(
    kubePath('coordination.k8s.io', 'v1', 'leases', namespace, c.leaseName),
  );
  if (!lease || !heldAt(lease, Date.now(), c.leaseTtl)) return { running: false, controllers: [], by };
  return { running: true, controllers: [{ who: lease.spec!.holderIdentity!, leading: true }], by };
}
