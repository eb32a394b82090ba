// The contract of coordination: who may act (leadership, with a fencing term), the named
// locks that serialise risky work such as scale-down, and who is running now (for the CLI).

import type { Store } from '../store/store.ts';

export interface Leadership {
  /** Fencing token: every action and store write carries it. */
  readonly term: number;
  readonly holder: string;
  /** Aborted when leadership is lost; the holder must stop acting at once. */
  readonly lost: AbortSignal;
  resign(): Promise<void>;
}

export interface Lock {
  readonly name: string;
  /**
   * Aborted when the lock is lost while held (its lease could not be kept): the work it
   * guards must stop before its next step. Not aborted by release.
   */
  readonly lost: AbortSignal;
  release(): Promise<void>;
}

export interface Coordination {
  readonly kind: string;
  /** Resolves once this process leads. Rejects with a clear reason when it cannot. */
  campaign(holder: string, signal?: AbortSignal): Promise<Leadership>;
  /** Takes a named lock if free; undefined when another holder has it. */
  tryLock(name: string, holder: string): Promise<Lock | undefined>;
  /**
   * For coordination that holds its own record of terms (a Kubernetes Lease): throws
   * StaleTermError when `term` is no longer the newest it knows. Asked before every creation.
   */
  fence?(term: number, signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/** A controller process seen running on a store. */
export interface RunningController {
  /** For messages: `pid 123`, or the replica's holder name and host. */
  readonly who: string;
  readonly host?: string | undefined;
  readonly pid?: number | undefined;
  /** The one that acts (etcd: the oldest candidate); the others stand by. */
  readonly leading: boolean;
}

/** Whether a controller runs on a config's store, and how that was told. */
export interface ControllerPresence {
  /** True: one runs (`controllers` names them); false: none; undefined: could not tell (`unknown` says why). */
  readonly running: boolean | undefined;
  readonly controllers: readonly RunningController[];
  /** What was asked, for messages: the store's lock file, etcd's election, a Lease. */
  readonly by: string;
  readonly unknown?: string | undefined;
}

/** What a coordination kind reads to say who runs. */
export interface PresenceDeps {
  /** The store's own file, when it is one on this machine. */
  readonly storeFile: string | undefined;
  /** The config's store, already open, when the caller has it. */
  readonly store?: Store | undefined;
  /** Opens the config's store (the kind closes it), when `store` is not given. */
  readonly openStore: () => Promise<Store>;
}

/** What stopping the running controllers is given (`rampart down`). */
export interface StopDeps extends PresenceDeps {
  /** Longest wait for them to stop, ms. */
  readonly waitMs: number;
  /** One line for the operator. */
  readonly say: (line: string) => void;
}

/**
 * A campaign refused because another controller holds the store — one started again right
 * after the last was stopped (a supervisor). `rampart down` asks again a few times.
 */
export class StoreHeldError extends Error {}
