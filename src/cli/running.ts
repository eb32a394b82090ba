// "Is a controller running on this store?" — asked of the config's coordination kind, which
// knows how it elects (the lock beside a SQLite store, the election in etcd, a Lease).

import type { Config } from '../config/schema.ts';
import type { ControllerPresence, PresenceDeps, RunningController } from '../coordination/coordination.ts';
import { coordinationPlugin } from '../coordination/registry.ts';
import { createStore, storeFileOf } from '../runtime/runtime.ts';
import type { Store } from '../store/store.ts';

export type { ControllerPresence, RunningController };

/** What the coordination kind reads: the store's file, or the store (`store` when open). */
export function presenceDeps(config: Config, store?: Store): PresenceDeps {
  return {
    storeFile: storeFileOf(config),
    store,
    openStore: async () => {
      const s = createStore(config);
      await s.open();
      return s;
    },
  };
}

/**
 * Whether a controller runs on the config's store, and how that was told; `unknown` when the
 * coordination could not be asked. `store`: the config's store, already open (etcd's election
 * is read through it rather than a second client).
 */
export async function controllerPresence(config: Config, store?: Store): Promise<ControllerPresence> {
  const c = config.controller.coordination;
  try {
    return await coordinationPlugin(c.kind).presence(c, presenceDeps(config, store));
  } catch (e) {
    return { running: undefined, controllers: [], by: c.kind, unknown: (e as Error).message };
  }
}

/** Every controller process on the config's store; empty when none runs. Throws when it cannot tell. */
export async function runningControllers(config: Config): Promise<readonly RunningController[]> {
  const c = config.controller.coordination;
  return (await coordinationPlugin(c.kind).presence(c, presenceDeps(config))).controllers;
}
