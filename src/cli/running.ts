// "Is a controller running on this store?" — answered from the lock beside a SQLite store,
// and from the election keys in etcd (every replica, leading or standing by).

import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/schema.ts';
import { lockHolder } from '../coordination/embedded.ts';
import { electionCandidates } from '../coordination/etcd.ts';
import { EtcdStore } from '../store/etcd-store.ts';

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
    return (await electionCandidates(store)).map((c, i) => ({
      who: `${c.holder}`,
      host: c.host,
      pid: c.pid,
      leading: i === 0,
    }));
  } finally {
    await store.close();
  }
}
