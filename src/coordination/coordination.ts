// The contract of coordination: who may act (leadership, with a fencing term) and the
// named locks that serialise risky work such as scale-down.

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
