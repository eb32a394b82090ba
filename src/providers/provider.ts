// The contract every provider implements: where nodes come from. Every instance carries
// the id of the action that created it, so a restarted controller can reconcile intents
// against the provider's own listing.

import type { LaunchContext, NodeKind } from '../nodes/node-kind.ts';

export interface Instance {
  /** The provider's own id for the instance (a pid and start time, an instance id, ...). */
  readonly id: string;
  readonly nodeId: string;
  readonly pool: string;
  /** Id of the action that created it. */
  readonly actionId: string;
  /**
   * Leadership term of the controller that created it, where the provider records one (an
   * environment variable, a tag). A store that has not seen this term knows less than the
   * platform: `up` refuses to act on it (src/controller/fleet-ownership.ts).
   */
  readonly term?: number | undefined;
  readonly host: string;
  readonly ports: Readonly<Record<string, number>>;
  readonly dataDir?: string | undefined;
  readonly running: boolean;
  /** ms since the epoch. */
  readonly createdAt: number;
  /**
   * What the platform itself says of the instance, for providers that know (a pod's or a
   * Node's Ready condition); node kinds judged by their platform read it instead of probing.
   */
  readonly status?: PlatformStatus | undefined;
  /** Other names the instance is known by (a pod or Node name), for mapping metric series. */
  readonly names?: readonly string[] | undefined;
}

export interface PlatformStatus {
  readonly ready: boolean;
  /** False once the platform has given the instance up (a Failed pod, a Node gone NotReady for good). */
  readonly healthy: boolean;
  /** Why not ready or not healthy, in plain words. */
  readonly detail: string;
}

export interface CreateRequest {
  readonly nodeId: string;
  readonly pool: string;
  readonly actionId: string;
  /** Leadership term of the acting controller (fencing token). */
  readonly term: number;
  readonly kind: NodeKind;
  readonly launch: Omit<LaunchContext, 'host' | 'ports' | 'dataDir' | 'nodeId' | 'pool'>;
}

/**
 * Machine images baked from a stopped node's disk, for platforms whose templates boot the
 * newest image (a GCE image family, an AWS launch template's AMI): new nodes start close to
 * the tip instead of syncing. The controller picks and stops the source as for a snapshot.
 */
export interface ImageBaking {
  /** Bake one on this schedule (ms). Absent: never on schedule. */
  readonly everyMs?: number | undefined;
  /** Baked images kept; older ones are retired (deleted or deprecated) after each bake. */
  readonly keep: number;
  /**
   * Baked from a node that keeps serving (a crash-consistent volume snapshot, as a cloud disk
   * snapshot of a running machine): the controller neither stops nor marks the source, and
   * may take any ready node, even at min. Absent: the source is stopped for the bake.
   */
  readonly live?: boolean | undefined;
  /** The images this provider baked, newest first (`id`: the platform's own id where it is not the name, an AMI's). */
  list(): Promise<
    readonly { readonly name: string; readonly createdAt: number; readonly id?: string | undefined }[]
  >;
  /**
   * Bakes an image of `instance` (stopped by the caller unless `live`) and retires those beyond `keep`.
   * Names derive from `id` (the action's), so a retried bake finds its own work.
   */
  bake(
    instance: Instance,
    id: string,
  ): Promise<{ readonly image: string; readonly retired: readonly string[] }>;
}

/** Why an instance goes, as far as what is kept of it matters. */
export interface Removal {
  /**
   * The node was ready and serving when its removal began (a scale-in, a size lowered): its
   * data is a caught-up copy of the chain. False or absent — a failed node, a join that timed
   * out, a stale or orphan instance — its data may be empty, behind or broken: whatever is kept
   * of it is never a restore source.
   */
  readonly serving: boolean;
}

export interface Provider {
  readonly name: string;
  readonly kind: string;
  /**
   * True when the platform itself keeps the record of which instances Rampart made, for
   * every Rampart replica to read (a StatefulSet's annotation, a machine's tags behind a
   * node pool). An instance whose node a store has never seen was then made by a replica
   * with another store (Lease coordination, one store per replica): it is adopted, never
   * destroyed as an orphan.
   */
  readonly sharedRecord?: boolean | undefined;
  /** Every instance this provider holds for Rampart (all pools), running or not. */
  list(): Promise<Instance[]>;
  /** Creates and starts an instance. The returned instance is running (not yet ready). */
  create(req: CreateRequest): Promise<Instance>;
  /**
   * Stops and removes an instance and its data. Idempotent: a gone instance is not an error.
   * It may be given an instance its listing no longer holds (built from a node's record,
   * `running: false`): whatever of it is left (a data dir, a volume) goes. What a provider
   * keeps of a removed instance (a StatefulSet's removal snapshot) seeds new nodes only when
   * `removal.serving` says the node was serving when it went.
   */
  destroy(instance: Instance, removal?: Removal): Promise<void>;
  /**
   * For platforms that remove instances in one order only (a StatefulSet, its highest ordinal
   * first): `instances` (of one pool) in the order they can be destroyed, first to go first.
   * Absent: any order.
   */
  removalOrder?(instances: readonly Instance[]): Instance[];
  /**
   * For platforms whose nodes read shared settings from the platform when they start (a
   * ConfigMap): replaces those settings (the node kind's `podConfig`) with `files`. Running
   * nodes read them at their next start.
   */
  publishNodeConfig?(files: Readonly<Record<string, string>>): Promise<void>;
  /** Stops an instance, keeping its data (for a consistent snapshot). Idempotent. */
  stop?(instance: Instance): Promise<void>;
  /** Starts a stopped instance again with the same identity and data. */
  start?(instance: Instance): Promise<Instance>;
  /** Present when the provider bakes machine images from its pool's nodes. */
  readonly images?: ImageBaking | undefined;
}
