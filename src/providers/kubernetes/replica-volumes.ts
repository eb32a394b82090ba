// The data volume of a StatefulSet replica Rampart adds or removes: a new replica's claim is
// filled from the newest snapshot (a CSI VolumeSnapshot as its dataSource, or a restore Job
// for hostPath/local volumes), and a removed replica's claim is let go only after a ready
// snapshot of it exists — unless the operator wrote `onScaleDown: delete`.

import type { Logger } from 'pino';
import { type KubeClient, KubeError, type KubeObject, kubePath } from '../../kube/kube-client.ts';
import { parseBytes } from '../../kube/quantity.ts';
import type { CreateRequest } from '../provider.ts';
import type { KubeVolumesConfig } from './config.ts';

const SNAPSHOT_GROUP = 'snapshot.storage.k8s.io';
/** On a claim a restore Job fills: `pending` until the Job completed, then `done`. */
export const RESTORE_LABEL = 'rampart.dev/restore';
/**
 * On a claim whose replica is being removed: the node it belonged to. Only a claim marked
 * for that node is ever deleted, so a retried removal never takes a later replica's volume.
 */
export const RELEASED_BY_ANNOTATION = 'rampart.dev/released-by';
/**
 * On a removal snapshot of a replica that was not serving when it went (it failed, or never
 * became ready): `false`. Kept as the operator asked, but never restored into a new replica
 * nor counted as the pool's newest image: its data may be empty, behind or broken.
 */
export const RESTORE_SOURCE_LABEL = 'rampart.dev/restore-source';
/** On objects Rampart makes for a node: the node id (annotation: ids can exceed a label's 63 characters). */
export const NODE_ANNOTATION = 'rampart.dev/node';
/**
 * Finalizer on the deleted claim of a replica replaced in place: while the claim is held
 * terminating, the StatefulSet controller does not recreate the ordinal's pod ("pvc is being
 * deleted"), so the pod comes back only once the restored claim is in place.
 */
export const HOLD_FINALIZER = 'rampart.dev/replacing';

/** What a StatefulSet holds that its replicas' volumes are made from. */
export interface VolumeTemplateSource extends KubeObject {
  readonly spec: {
    readonly selector?: { readonly matchLabels?: Record<string, string> };
    readonly template?: {
      readonly spec?: {
        readonly nodeSelector?: Record<string, string>;
        readonly affinity?: unknown;
        readonly tolerations?: readonly unknown[];
        readonly imagePullSecrets?: readonly unknown[];
        readonly securityContext?: unknown;
      };
    };
    readonly volumeClaimTemplates?: readonly {
      readonly metadata: { readonly name: string; readonly labels?: Record<string, string> };
      readonly spec: {
        readonly storageClassName?: string;
        readonly accessModes?: readonly string[];
        readonly volumeMode?: string;
        readonly resources?: { readonly requests?: Record<string, string> };
      };
    }[];
  };
}

interface Claim extends KubeObject {
  readonly spec?: {
    readonly dataSource?: { readonly kind?: string; readonly name?: string };
    readonly dataSourceRef?: { readonly kind?: string; readonly name?: string };
  };
  readonly status?: { readonly phase?: string };
}

interface VolumeSnapshot extends KubeObject {
  readonly status?: {
    readonly readyToUse?: boolean;
    readonly creationTime?: string;
    readonly restoreSize?: string;
    readonly error?: { readonly message?: string; readonly time?: string };
  };
}

interface Job extends KubeObject {
  readonly status?: {
    readonly conditions?: readonly { type: string; status: string; reason?: string; message?: string }[];
  };
}

export interface ReplicaVolumesOptions {
  readonly client: KubeClient;
  readonly namespace: string;
  readonly statefulSet: string;
  readonly pool: string;
  readonly volumes: KubeVolumesConfig;
  readonly log?: Logger | undefined;
  /** Time between two looks at a snapshot, Job or claim, ms. Default 1000. */
  readonly pollMs?: number | undefined;
}

/** What scale-down does with a removed replica's claim, the default written out. */
export function scaleDownMode(v: KubeVolumesConfig): 'snapshot' | 'retain' | 'delete' {
  return v.onScaleDown ?? (v.restore === 'volume-snapshot' ? 'snapshot' : 'retain');
}

/** Bytes of a Kubernetes quantity (`1Gi`, `500M`, `1e9`); undefined when absent or not a quantity. */
export function quantityBytes(q: string | undefined): number | undefined {
  if (q === undefined) return undefined;
  try {
    return parseBytes(q.trim());
  } catch {
    return undefined;
  }
}

export class ReplicaVolumes {
  readonly #o: ReplicaVolumesOptions;
  readonly #c: KubeClient;

  constructor(options: ReplicaVolumesOptions) {
    this.#o = options;
    this.#c = options.client;
  }

  get mode(): 'snapshot' | 'retain' | 'delete' {
    return scaleDownMode(this.#o.volumes);
  }

  /** The claim the StatefulSet controller gives ordinal `n`: `<template>-<statefulset>-<n>`. */
  claimName(ordinal: number): string {
    return `${this.#o.volumes.claim}-${this.#o.statefulSet}-${ordinal}`;
  }

  /** The VolumeSnapshot Rampart takes of a removed node's claim: one per node, so a retry finds it. */
  snapshotName(ordinal: number, nodeId: string): string {
    return `${this.claimName(ordinal)}-${nodeId}`.slice(0, 253).replace(/[-.]+$/, '');
  }

  #labels(extra: Record<string, string> = {}): Record<string, string> {
    return { 'rampart.dev/pool': this.#o.pool, 'rampart.dev/statefulset': this.#o.statefulSet, ...extra };
  }

  #selector(): string {
    return Object.entries(this.#labels())
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
  }

  #claimPath(name?: string): string {
    return kubePath('', 'v1', 'persistentvolumeclaims', this.#o.namespace, name);
  }

  #snapshotPath(name?: string): string {
    return kubePath(SNAPSHOT_GROUP, 'v1', 'volumesnapshots', this.#o.namespace, name);
  }

  #jobPath(name?: string): string {
    return kubePath('batch', 'v1', 'jobs', this.#o.namespace, name);
  }

  #where(kind: string, name: string): string {
    return `${kind} ${this.#o.namespace}/${name}`;
  }

  /**
   * The newest ready snapshot of this pool's replicas (any ordinal: they hold the same chain)
   * that may seed a replica, if any: not one of a replica removed while not serving.
   */
  async newestSnapshot(): Promise<VolumeSnapshot | undefined> {
    const all = await this.#c.list<VolumeSnapshot>(this.#snapshotPath(), { labelSelector: this.#selector() });
    return all
      .filter((s) => s.status?.readyToUse === true && !s.metadata.deletionTimestamp && restoresFrom(s))
      .sort(newestFirst)[0];
  }

  /**
   * Deletes the VolumeSnapshots Rampart took of this pool beyond the newest `keepSnapshots`
   * ready ones (failed ones among them too), except one a claim is still being restored from
   * (not Bound yet) and one whose replica's claim still awaits its release. Removal snapshots
   * of replicas that were not serving are counted apart (the newest `keepSnapshots` of them
   * kept), so they never push a restore source out. Snapshots Rampart did not take are not
   * touched. Returns the names deleted.
   */
  async pruneSnapshots(): Promise<string[]> {
    const keep = this.#o.volumes.keepSnapshots;
    const ours = (
      await this.#c.list<VolumeSnapshot>(this.#snapshotPath(), { labelSelector: this.#selector() })
    )
      .filter((s) => s.metadata.annotations?.[NODE_ANNOTATION] !== undefined && !s.metadata.deletionTimestamp)
      .sort(newestFirst);
    const older: VolumeSnapshot[] = [];
    const ready = { source: 0, kept: 0 };
    for (const s of ours) {
      const kind = restoresFrom(s) ? 'source' : 'kept';
      if (ready[kind] < keep) ready[kind] += s.status?.readyToUse === true ? 1 : 0;
      else if (s.status?.readyToUse === true || s.status?.error !== undefined) older.push(s);
    }
    if (older.length === 0) return [];
    const claims = await this.#c.list<Claim>(this.#claimPath());
    const restoring = new Set(
      claims
        .filter((c) => c.status?.phase !== 'Bound')
        .flatMap((c) => [c.spec?.dataSource, c.spec?.dataSourceRef])
        .filter((d) => d?.kind === 'VolumeSnapshot' && d.name !== undefined)
        .map((d) => d!.name!),
    );
    // Nodes whose replica's claim still waits for its release (and so for their snapshot).
    const releasing = new Set(claims.flatMap((c) => c.metadata.annotations?.[RELEASED_BY_ANNOTATION] ?? []));
    const deleted: string[] = [];
    for (const s of older) {
      const name = s.metadata.name;
      if (restoring.has(name) || releasing.has(s.metadata.annotations![NODE_ANNOTATION]!)) continue;
      try {
        await this.#c.delete(this.#snapshotPath(name), { preconditions: { uid: s.metadata.uid } });
        deleted.push(name);
      } catch (e) {
        if (!(e instanceof KubeError && (e.status === 404 || e.status === 409))) throw e;
      }
    }
    if (deleted.length > 0)
      this.#o.log?.info(
        { snapshots: deleted, keep },
        `pruned ${deleted.length} older VolumeSnapshots of the pool`,
      );
    return deleted;
  }

  /**
   * Makes the claim of a new replica before the replica exists (the StatefulSet controller
   * adopts a claim of its name). Idempotent: an existing claim is kept, and a restore Job a
   * crash interrupted runs again.
   */
  async prepare(sts: VolumeTemplateSource, ordinal: number, req: CreateRequest): Promise<void> {
    const v = this.#o.volumes;
    const name = this.claimName(ordinal);
    const snapshot = req.launch.snapshot;
    const viaJob = v.restore === 'job' && snapshot !== undefined;
    if (viaJob && !snapshot.url)
      throw new Error(
        `restore Job for ${this.#where('volume claim', name)}: snapshot ${snapshot.id} has no URL a pod can fetch (its store is only readable on this host); use an s3 snapshot store with restore: job, or restore: none`,
      );
    let existing = await this.#c.find<Claim>(this.#claimPath(name));
    if (existing?.metadata.deletionTimestamp) {
      // The claim of a removed replica, still going (pvc-protection): a new one is made once it is gone.
      await this.#gone(this.#claimPath(name), this.#where('volume claim', name));
      existing = undefined;
    }
    const halfRestored = existing?.metadata.labels?.[RESTORE_LABEL] === 'pending';
    if (existing && halfRestored && !viaJob) {
      // An interrupted restore, and no snapshot to finish it from: its partial copy is worth nothing.
      this.#o.log?.warn(
        { claim: name },
        'volume claim of an interrupted restore and no snapshot now: replaced',
      );
      await this.#c.delete(this.#claimPath(name), { preconditions: { uid: existing.metadata.uid } });
      await this.#gone(this.#claimPath(name), this.#where('volume claim', name));
      existing = undefined;
    }
    if (existing) {
      this.#o.log?.info(
        { claim: name, dataSource: existing.spec?.dataSource?.name },
        'the new replica keeps the existing volume claim of its ordinal',
      );
      if (existing.metadata.annotations?.[RELEASED_BY_ANNOTATION] !== undefined)
        await this.#c.mergePatch(this.#claimPath(name), {
          metadata: { annotations: { [RELEASED_BY_ANNOTATION]: null } },
        });
    } else if (v.restore !== 'none') {
      await this.#createClaim(sts, name, req, viaJob);
    }
    if (viaJob && (existing === undefined || halfRestored)) {
      await this.#restoreJob(sts, name, ordinal, req);
      // Marked done before the Job goes: a crash in between does not run the restore again.
      await this.#c.mergePatch(this.#claimPath(name), { metadata: { labels: { [RESTORE_LABEL]: 'done' } } });
      await this.#c.delete(this.#jobPath(`${this.#o.statefulSet}-${ordinal}-restore`), {
        propagationPolicy: 'Background',
      });
    }
  }

  async #createClaim(sts: VolumeTemplateSource, name: string, req: CreateRequest, viaJob: boolean) {
    const { body, source } = await this.#claimBody(sts, name, req, viaJob);
    await this.#c.create(this.#claimPath(), body);
    this.#o.log?.info(
      { claim: name, node: req.nodeId, snapshot: source },
      source ? 'volume claim restored from the newest ready VolumeSnapshot' : 'volume claim created empty',
    );
  }

  /** The claim of a new replica: the template's, restored from the newest snapshot (its name in `source`). */
  async #claimBody(sts: VolumeTemplateSource, name: string, req: CreateRequest, viaJob: boolean) {
    const v = this.#o.volumes;
    const template = sts.spec.volumeClaimTemplates?.find((t) => t.metadata.name === v.claim);
    if (!template)
      throw new Error(
        `StatefulSet ${this.#o.namespace}/${this.#o.statefulSet} has no volumeClaimTemplate "${v.claim}" (volumes.claim names it); no replica was added`,
      );
    const source = v.restore === 'volume-snapshot' ? await this.newestSnapshot() : undefined;
    if (v.restore === 'volume-snapshot' && !source)
      this.#o.log?.warn(
        { claim: name, node: req.nodeId },
        'no ready VolumeSnapshot of this pool yet: the new replica starts with an empty volume and syncs from genesis',
      );
    const requests = { ...template.spec.resources?.requests };
    // A claim restored from a snapshot must be at least as large as the volume it was taken of.
    const wanted = quantityBytes(requests.storage);
    const restoreSize = quantityBytes(source?.status?.restoreSize);
    if (restoreSize !== undefined && (wanted === undefined || restoreSize > wanted))
      requests.storage = source!.status!.restoreSize!;
    const t = template.spec;
    const body = {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: {
        name,
        // The labels the StatefulSet controller would give it, so selectors on them keep working.
        labels: {
          ...template.metadata.labels,
          ...sts.spec.selector?.matchLabels,
          ...this.#labels({ 'rampart.dev/action': req.actionId }),
          // A claim a restore Job has not finished filling: a retry runs the Job again.
          ...(viaJob ? { [RESTORE_LABEL]: 'pending' } : {}),
        },
        annotations: { [NODE_ANNOTATION]: req.nodeId },
      },
      spec: {
        ...(t.storageClassName !== undefined ? { storageClassName: t.storageClassName } : {}),
        ...(t.accessModes ? { accessModes: t.accessModes } : {}),
        ...(t.volumeMode ? { volumeMode: t.volumeMode } : {}),
        resources: { ...t.resources, requests },
        ...(source
          ? { dataSource: { apiGroup: SNAPSHOT_GROUP, kind: 'VolumeSnapshot', name: source.metadata.name } }
          : {}),
      },
    };
    return { body, source: source?.metadata.name };
  }

  /**
   * Replaces the held claim of a replica replaced in place by the new node's (restored) one:
   * the new claim is ready to send before the held one is let go, then sent again and again
   * until the old one is gone — the StatefulSet controller, which is waiting to recreate the
   * pod, makes an empty claim of the name at its next sync after that. True when the claim of
   * the ordinal is now the one `req` made; false when the controller's came first.
   */
  async replaceHeld(sts: VolumeTemplateSource, ordinal: number, req: CreateRequest): Promise<boolean> {
    const name = this.claimName(ordinal);
    const path = this.#claimPath(name);
    const viaJob = this.#o.volumes.restore === 'job' && req.launch.snapshot !== undefined;
    const { body, source } = await this.#claimBody(sts, name, req, viaJob);
    await this.#unhold(name);
    const deadline = Date.now() + this.#o.volumes.timeout;
    const spinUntil = Date.now() + 2000;
    for (;;) {
      try {
        await this.#c.create(this.#claimPath(), body);
        this.#o.log?.info(
          { claim: name, node: req.nodeId, snapshot: source },
          'volume claim of the replaced replica restored',
        );
        return true;
      } catch (e) {
        if (!(e instanceof KubeError && e.status === 409)) throw e;
      }
      const claim = await this.#c.find<Claim>(path);
      if (claim && !claim.metadata.deletionTimestamp)
        return claim.metadata.labels?.['rampart.dev/action'] === req.actionId;
      if (Date.now() >= deadline)
        throw new Error(
          `${this.#where('volume claim', name)}: the replaced replica's claim is not gone within ${Math.round(this.#o.volumes.timeout / 1000)} s (volumes.timeout)`,
        );
      // Still terminating (the deletion not through yet): again at once; after 2 s (another
      // finalizer holds it), at the usual pace.
      if (claim)
        await new Promise((r) => setTimeout(r, Date.now() < spinUntil ? 5 : (this.#o.pollMs ?? 1000)));
    }
  }

  /** Takes HOLD_FINALIZER off a claim. */
  async #unhold(name: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const claim = await this.#c.find<Claim>(this.#claimPath(name));
      const finalizers = claim?.metadata.finalizers ?? [];
      if (!claim || !finalizers.includes(HOLD_FINALIZER)) return;
      try {
        await this.#c.mergePatch(this.#claimPath(name), {
          metadata: {
            resourceVersion: claim.metadata.resourceVersion,
            finalizers: finalizers.filter((f) => f !== HOLD_FINALIZER),
          },
        });
        return;
      } catch (e) {
        if (e instanceof KubeError && e.status === 409 && attempt < 5) continue;
        throw e;
      }
    }
  }

  /** Runs (or, after a crash, goes on waiting for) the Job that fills `claim` from the snapshot. */
  async #restoreJob(sts: VolumeTemplateSource, claim: string, ordinal: number, req: CreateRequest) {
    const job = this.#o.volumes.job;
    const snapshot = req.launch.snapshot!;
    const name = `${this.#o.statefulSet}-${ordinal}-restore`;
    const what = `restore Job ${this.#o.namespace}/${name} (snapshot ${snapshot.id} into ${claim})`;
    if (!job) throw new Error(`${what}: volumes.job is not configured (restore: job needs it)`);
    const found = await this.#c.find<Job>(this.#jobPath(name));
    if (found && terminalCondition(found, 'Failed')) {
      // Left by an earlier attempt for its logs; this attempt starts afresh.
      await this.#c.delete(this.#jobPath(name), { propagationPolicy: 'Background' });
      await this.#gone(this.#jobPath(name), this.#where('restore Job', name));
    }
    if (!found || terminalCondition(found, 'Failed')) {
      const pod = sts.spec.template?.spec ?? {};
      await this.#c.create(this.#jobPath(), {
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: {
          name,
          labels: this.#labels({ 'rampart.dev/action': req.actionId }),
          annotations: { [NODE_ANNOTATION]: req.nodeId },
        },
        spec: {
          backoffLimit: 2,
          // Stops the Job when Rampart gives up waiting, so it does not hold the volume on.
          activeDeadlineSeconds: Math.max(1, Math.ceil(this.#o.volumes.timeout / 1000)),
          ttlSecondsAfterFinished: 86_400,
          template: {
            metadata: { labels: this.#labels({ [RESTORE_LABEL]: 'job' }) },
            spec: {
              restartPolicy: 'Never',
              ...(job.serviceAccount ? { serviceAccountName: job.serviceAccount } : {}),
              // Where the replica's pods may run, the restore may run: the same nodes, the same
              // pull secrets, the same file owner (fsGroup) for the data it writes.
              ...(pod.nodeSelector ? { nodeSelector: pod.nodeSelector } : {}),
              ...(pod.affinity ? { affinity: pod.affinity } : {}),
              ...(pod.tolerations ? { tolerations: pod.tolerations } : {}),
              ...(pod.imagePullSecrets ? { imagePullSecrets: pod.imagePullSecrets } : {}),
              ...(pod.securityContext ? { securityContext: pod.securityContext } : {}),
              containers: [
                {
                  name: 'restore',
                  image: job.image,
                  command: job.command,
                  env: [
                    { name: 'RAMPART_SNAPSHOT_URL', value: snapshot.url },
                    { name: 'RAMPART_SNAPSHOT_ID', value: snapshot.id },
                    { name: 'RAMPART_SNAPSHOT_HEIGHT', value: String(snapshot.height) },
                  ],
                  volumeMounts: [{ name: 'data', mountPath: '/data' }],
                },
              ],
              volumes: [{ name: 'data', persistentVolumeClaim: { claimName: claim } }],
            },
          },
        },
      });
      this.#o.log?.info({ job: name, claim, snapshot: snapshot.id, node: req.nodeId }, 'restore Job started');
    }
    await this.#until(
      what,
      async () => {
        const j = await this.#c.get<Job>(this.#jobPath(name));
        const failed = terminalCondition(j, 'Failed');
        if (failed)
          throw new Error(
            `${what} failed: ${failed.reason ?? ''}${failed.message ? ` ${failed.message}` : ''}; the replica was not added (the Job is kept for its logs; the next attempt replaces it)`,
          );
        return terminalCondition(j, 'Complete') !== undefined;
      },
      '; the replica was not added',
    );
  }

  /**
   * Before a replica goes: with `snapshot`, a VolumeSnapshot of its claim, waited for until
   * ready — one that may seed new replicas only when the replica was `serving` (else labelled
   * RESTORE_SOURCE_LABEL=false); the claim is then marked as released by the node. Throws,
   * having removed nothing, when the snapshot fails or is not ready in time. A retry reuses
   * this node's snapshot (ready or still being taken) and replaces one that failed.
   */
  async beforeRemoval(
    ordinal: number,
    node: { nodeId: string; actionId: string },
    serving: boolean,
  ): Promise<void> {
    const mode = this.mode;
    if (mode === 'retain') return;
    const claim = this.claimName(ordinal);
    const found = await this.#c.find<Claim>(this.#claimPath(claim));
    if (!found || found.metadata.deletionTimestamp) return;
    if (mode === 'snapshot') {
      const extra: Record<string, string> = serving ? {} : { [RESTORE_SOURCE_LABEL]: 'false' };
      if (!serving)
        this.#o.log?.info(
          { claim, node: node.nodeId },
          'the replica goes while not serving: its removal snapshot is kept but never restored',
        );
      await this.#snapshot(claim, this.snapshotName(ordinal, node.nodeId), node, undefined, extra);
    }
    await this.#c.mergePatch(this.#claimPath(claim), {
      metadata: { annotations: { [RELEASED_BY_ANNOTATION]: node.nodeId } },
    });
  }

  /**
   * A VolumeSnapshot of a serving replica's claim (`snapshotEvery`, or asked for), named after
   * the action so a retry finds its own, waited for until ready; then the older ones beyond
   * `keepSnapshots` are pruned. Returns its name and those pruned.
   */
  async snapshotLive(
    ordinal: number,
    node: { nodeId: string; actionId: string },
  ): Promise<{ readonly image: string; readonly retired: readonly string[] }> {
    const claim = this.claimName(ordinal);
    const name = `${claim}-${node.actionId}`.slice(0, 253).replace(/[-.]+$/, '');
    await this.#snapshot(claim, name, node, '; the replica kept serving, nothing else changed');
    return { image: name, retired: await this.pruneSnapshots() };
  }

  /** The ready VolumeSnapshots Rampart took of this pool's replicas that may seed new ones, newest first. */
  async snapshots(): Promise<{ readonly name: string; readonly createdAt: number }[]> {
    return (await this.#c.list<VolumeSnapshot>(this.#snapshotPath(), { labelSelector: this.#selector() }))
      .filter(
        (s) =>
          s.status?.readyToUse === true &&
          !s.metadata.deletionTimestamp &&
          s.metadata.annotations?.[NODE_ANNOTATION] !== undefined &&
          restoresFrom(s),
      )
      .sort(newestFirst)
      .map((s) => ({
        name: s.metadata.name,
        createdAt: Date.parse(s.status?.creationTime ?? s.metadata.creationTimestamp ?? '') || 0,
      }));
  }

  async #snapshot(
    claim: string,
    name: string,
    node: { nodeId: string; actionId: string },
    kept = '; the scale-down was abandoned: the replica and its volume are kept, nothing was removed',
    labels: Record<string, string> = {},
  ) {
    const what = `VolumeSnapshot ${this.#o.namespace}/${name} of ${claim}`;
    let found = await this.#c.find<VolumeSnapshot>(this.#snapshotPath(name));
    if (found && !found.status?.readyToUse && found.status?.error) {
      this.#o.log?.warn(
        { snapshot: name, error: found.status.error.message },
        'an earlier VolumeSnapshot of this claim failed: taking a new one',
      );
      await this.#c.delete(this.#snapshotPath(name));
      await this.#gone(this.#snapshotPath(name), what);
      found = undefined;
    }
    // A retry that reuses an earlier attempt's snapshot adds what it says of it (a replica
    // no longer serving); it never takes a label away.
    const missing = Object.entries(labels).filter(([k, v]) => found?.metadata.labels?.[k] !== v);
    if (found && missing.length > 0)
      await this.#c.mergePatch(this.#snapshotPath(name), {
        metadata: { labels: Object.fromEntries(missing) },
      });
    if (!found) {
      await this.#c.create(this.#snapshotPath(), {
        apiVersion: `${SNAPSHOT_GROUP}/v1`,
        kind: 'VolumeSnapshot',
        metadata: {
          name,
          labels: this.#labels({ 'rampart.dev/action': node.actionId, ...labels }),
          annotations: { [NODE_ANNOTATION]: node.nodeId },
        },
        spec: {
          ...(this.#o.volumes.snapshotClass
            ? { volumeSnapshotClassName: this.#o.volumes.snapshotClass }
            : {}),
          source: { persistentVolumeClaimName: claim },
        },
      });
      this.#o.log?.info({ snapshot: name, claim, node: node.nodeId }, 'VolumeSnapshot of the replica taken');
    }
    await this.#until(
      what,
      async () => {
        const s = await this.#c.get<VolumeSnapshot>(this.#snapshotPath(name));
        if (s.status?.readyToUse === true) return true;
        if (s.status?.error)
          throw new Error(`${what} failed: status.error: ${s.status.error.message ?? 'no message'}${kept}`);
        return false;
      },
      kept,
    );
  }

  /**
   * Replacing a replica in place: its claim is deleted and held terminating by
   * HOLD_FINALIZER, so the StatefulSet controller cannot recreate its pod until `release`.
   * Idempotent. False when the ordinal has no claim.
   */
  async hold(ordinal: number): Promise<boolean> {
    const name = this.claimName(ordinal);
    for (let attempt = 0; ; attempt++) {
      const claim = await this.#c.find<Claim>(this.#claimPath(name));
      if (!claim) return false;
      const finalizers = claim.metadata.finalizers ?? [];
      try {
        if (!finalizers.includes(HOLD_FINALIZER))
          await this.#c.mergePatch(this.#claimPath(name), {
            metadata: {
              resourceVersion: claim.metadata.resourceVersion,
              finalizers: [...finalizers, HOLD_FINALIZER],
            },
          });
      } catch (e) {
        if (e instanceof KubeError && e.status === 409 && attempt < 5) continue;
        throw e;
      }
      if (!claim.metadata.deletionTimestamp)
        await this.#c.delete(this.#claimPath(name), { preconditions: { uid: claim.metadata.uid } });
      this.#o.log?.info(
        { claim: name },
        'volume claim of the replaced replica deleted, held until its replacement',
      );
      return true;
    }
  }

  /** Lets a held claim go (its replica is no longer replaced: scaled away). */
  async release(ordinal: number): Promise<void> {
    await this.#unhold(this.claimName(ordinal));
  }

  /**
   * After a replica went (its pod gone): its claim is deleted in `snapshot` mode (once this
   * node's snapshot is ready) and in `delete` mode, and only if it is marked as released by
   * this node. Safe to repeat.
   */
  async afterRemoval(ordinal: number, nodeId: string): Promise<void> {
    const mode = this.mode;
    if (mode === 'retain') return;
    const name = this.claimName(ordinal);
    const claim = await this.#c.find<Claim>(this.#claimPath(name));
    if (!claim) return;
    if (claim.metadata.annotations?.[RELEASED_BY_ANNOTATION] !== nodeId) {
      this.#o.log?.warn(
        { claim: name, node: nodeId, releasedBy: claim.metadata.annotations?.[RELEASED_BY_ANNOTATION] },
        'volume claim not released by this node: kept',
      );
      return;
    }
    if (mode === 'snapshot') {
      const s = await this.#c.find<VolumeSnapshot>(this.#snapshotPath(this.snapshotName(ordinal, nodeId)));
      if (s?.status?.readyToUse !== true) {
        this.#o.log?.warn({ claim: name, node: nodeId }, 'no ready snapshot of this volume claim: kept');
        return;
      }
    }
    try {
      // Preconditioned on the uid: the claim examined above, never one made since.
      await this.#c.delete(this.#claimPath(name), { preconditions: { uid: claim.metadata.uid } });
    } catch (e) {
      if (e instanceof KubeError && e.status === 409) return;
      throw e;
    }
    await this.#gone(this.#claimPath(name), this.#where('volume claim', name));
    this.#o.log?.info({ claim: name, mode, node: nodeId }, 'volume claim of the removed replica deleted');
    if (mode === 'snapshot')
      // The replica is gone either way: a snapshot left for now is pruned after the next removal.
      await this.pruneSnapshots().catch((e: Error) =>
        this.#o.log?.warn({ error: e.message }, 'pruning older VolumeSnapshots failed: kept for now'),
      );
  }

  async #gone(path: string, what: string): Promise<void> {
    await this.#until(`${what} to be deleted`, async () => (await this.#c.find(path)) === undefined);
  }

  async #until(what: string, check: () => Promise<boolean>, consequence = ''): Promise<void> {
    const timeout = this.#o.volumes.timeout;
    const deadline = Date.now() + timeout;
    for (;;) {
      if (await check()) return;
      if (Date.now() >= deadline)
        throw new Error(
          `${what}: not done within ${Math.round(timeout / 1000)} s (volumes.timeout)${consequence}`,
        );
      await new Promise((r) => setTimeout(r, this.#o.pollMs ?? 1000));
    }
  }
}

/** Newest first by the snapshot's own time; the name breaks ties, so every caller agrees. */
/** Whether a snapshot may seed a replica: all but removal snapshots of replicas not serving. */
function restoresFrom(s: VolumeSnapshot): boolean {
  return s.metadata.labels?.[RESTORE_SOURCE_LABEL] !== 'false';
}

function newestFirst(a: VolumeSnapshot, b: VolumeSnapshot): number {
  const time = (s: VolumeSnapshot) =>
    Date.parse(s.status?.creationTime ?? s.metadata.creationTimestamp ?? '') || 0;
  return (
    time(b) - time(a) || (a.metadata.name < b.metadata.name ? 1 : a.metadata.name > b.metadata.name ? -1 : 0)
  );
}

function terminalCondition(job: Job, type: 'Complete' | 'Failed') {
  return job.status?.conditions?.find((c) => c.type === type && c.status === 'True');
}
