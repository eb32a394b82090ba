// The data volume of a StatefulSet replica Rampart adds or removes: a new replica's claim is
// filled from the newest snapshot (a CSI VolumeSnapshot as its dataSource, or a restore Job
// for hostPath/local volumes), and a removed replica's claim is let go only after a ready
// snapshot of it exists — unless the operator wrote `onScaleDown: delete`.

import type { Logger } from 'pino';
import type { KubeVolumesConfig } from '../../config/schema.ts';
import { type KubeClient, type KubeObject, kubePath } from '../../kube/kube-client.ts';
import type { CreateRequest } from '../provider.ts';
import type { StatefulSet } from './stateful-set-provider.ts';

const SNAPSHOT_GROUP = 'snapshot.storage.k8s.io';
/** On a claim a restore Job fills: `pending` until the Job completed, then `done`. */
const RESTORE_LABEL = 'rampart.dev/restore';

interface VolumeSnapshot extends KubeObject {
  readonly status?: {
    readonly readyToUse?: boolean;
    readonly creationTime?: string;
    readonly error?: { readonly message?: string; readonly time?: string };
  };
}

interface Job extends KubeObject {
  readonly status?: { readonly conditions?: readonly { type: string; status: string; message?: string }[] };
}

export interface ReplicaVolumesOptions {
  readonly client: KubeClient;
  readonly namespace: string;
  readonly statefulSet: string;
  readonly pool: string;
  readonly volumes: KubeVolumesConfig;
  readonly log?: Logger | undefined;
  /** Time between two looks at a snapshot or Job, ms. Default 1000. */
  readonly pollMs?: number | undefined;
}

/** What scale-down does with a removed replica's claim, the default written out. */
export function scaleDownMode(v: KubeVolumesConfig): 'snapshot' | 'retain' | 'delete' {
  return v.onScaleDown ?? (v.restore === 'volume-snapshot' ? 'snapshot' : 'retain');
}

export class ReplicaVolumes {
  readonly #o: ReplicaVolumesOptions;
  readonly #c: KubeClient;

  constructor(options: ReplicaVolumesOptions) {
    this.#o = options;
    this.#c = options.client;
  }

  claimName(ordinal: number): string {
    return `${this.#o.volumes.claim}-${this.#o.statefulSet}-${ordinal}`;
  }

  #labels(extra: Record<string, string> = {}): Record<string, string> {
    return { 'rampart.dev/pool': this.#o.pool, 'rampart.dev/statefulset': this.#o.statefulSet, ...extra };
  }

  #claimPath(name?: string): string {
    return kubePath('', 'v1', 'persistentvolumeclaims', this.#o.namespace, name);
  }

  #snapshotPath(name?: string): string {
    return kubePath(SNAPSHOT_GROUP, 'v1', 'volumesnapshots', this.#o.namespace, name);
  }

  /** The newest ready snapshot of this pool's replicas, if any. */
  async newestSnapshot(): Promise<VolumeSnapshot | undefined> {
    const selector = Object.entries(this.#labels())
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    const all = await this.#c.list<VolumeSnapshot>(this.#snapshotPath(), { labelSelector: selector });
    const time = (s: VolumeSnapshot) =>
      Date.parse(s.status?.creationTime ?? s.metadata.creationTimestamp ?? '') || 0;
    return all.filter((s) => s.status?.readyToUse === true).sort((a, b) => time(b) - time(a))[0];
  }

  /** Makes the claim of a new replica before it exists. Idempotent: an existing claim is kept. */
  async prepare(sts: StatefulSet, ordinal: number, req: CreateRequest): Promise<void> {
    const v = this.#o.volumes;
    if (v.restore === 'none') return;
    const name = this.claimName(ordinal);
    const template = sts.spec.volumeClaimTemplates?.find((t) => t.metadata.name === v.claim);
    if (!template)
      throw new Error(
        `StatefulSet ${this.#o.namespace}/${this.#o.statefulSet} has no volumeClaimTemplate "${v.claim}" (volumes.claim)`,
      );
    const snapshot = req.launch.snapshot;
    const viaJob = v.restore === 'job' && snapshot !== undefined;
    let existing = await this.#c.find(this.#claimPath(name));
    if (existing?.metadata.deletionTimestamp) {
      // The claim of a removed replica, still going (pvc-protection): a new one is made once it is gone.
      await this.#gone(this.#claimPath(name), `volume claim ${this.#o.namespace}/${name}`);
      existing = undefined;
    }
    if (existing) {
      this.#o.log?.info({ claim: name }, 'the replica keeps its existing volume claim');
    } else {
      const source = v.restore === 'volume-snapshot' ? await this.newestSnapshot() : undefined;
      if (v.restore === 'volume-snapshot' && !source)
        this.#o.log?.warn(
          { claim: name },
          'no ready VolumeSnapshot of this pool: the replica starts empty and syncs',
        );
      await this.#c.create(this.#claimPath(), {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: {
          name,
          labels: this.#labels({
            'rampart.dev/node': req.nodeId,
            'rampart.dev/action': req.actionId,
            // A claim a restore Job has not finished filling: a retry runs the Job again.
            ...(viaJob ? { [RESTORE_LABEL]: 'pending' } : {}),
          }),
        },
        spec: {
          ...template.spec,
          ...(source
            ? { dataSource: { apiGroup: SNAPSHOT_GROUP, kind: 'VolumeSnapshot', name: source.metadata.name } }
            : {}),
        },
      });
    }
    if (viaJob && (!existing || existing.metadata.labels?.[RESTORE_LABEL] === 'pending')) {
      await this.#restoreJob(name, ordinal, req);
      await this.#c.mergePatch(this.#claimPath(name), { metadata: { labels: { [RESTORE_LABEL]: 'done' } } });
    }
  }

  async #restoreJob(claim: string, ordinal: number, req: CreateRequest): Promise<void> {
    const job = this.#o.volumes.job!;
    const snapshot = req.launch.snapshot!;
    const name = `${this.#o.statefulSet}-${ordinal}-restore`;
    const path = kubePath('batch', 'v1', 'jobs', this.#o.namespace);
    if (!(await this.#c.find(`${path}/${name}`)))
      await this.#c.create(path, {
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: {
          name,
          labels: this.#labels({ 'rampart.dev/node': req.nodeId, 'rampart.dev/action': req.actionId }),
        },
        spec: {
          backoffLimit: 2,
          template: {
            metadata: { labels: this.#labels({ 'rampart.dev/restore': 'true' }) },
            spec: {
              restartPolicy: 'Never',
              ...(job.serviceAccount ? { serviceAccountName: job.serviceAccount } : {}),
              containers: [
                {
                  name: 'restore',
                  image: job.image,
                  command: job.command,
                  env: [
                    { name: 'RAMPART_SNAPSHOT_URL', value: snapshot.url ?? '' },
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
    const done = await this.#until(`restore Job ${this.#o.namespace}/${name}`, async () => {
      const j = await this.#c.get<Job>(`${path}/${name}`);
      const failed = j.status?.conditions?.find((c) => c.type === 'Failed' && c.status === 'True');
      if (failed)
        throw new Error(`restore Job ${this.#o.namespace}/${name} failed: ${failed.message ?? 'no message'}`);
      return j.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True');
    });
    if (done) await this.#c.delete(`${path}/${name}`, { propagationPolicy: 'Background' });
  }

  /** Before a replica goes: a ready snapshot of its claim when the mode asks for one. Throws, changing nothing else, when it cannot. */
  async beforeRemoval(ordinal: number, nodeId: string): Promise<void> {
    if (scaleDownMode(this.#o.volumes) !== 'snapshot') return;
    const claim = this.claimName(ordinal);
    if (!(await this.#c.find(this.#claimPath(claim)))) return;
    const name = `${claim}-${nodeId}`.slice(0, 253);
    if (!(await this.#c.find(this.#snapshotPath(name))))
      await this.#c.create(this.#snapshotPath(), {
        apiVersion: `${SNAPSHOT_GROUP}/v1`,
        kind: 'VolumeSnapshot',
        metadata: { name, labels: this.#labels({ 'rampart.dev/node': nodeId }) },
        spec: {
          ...(this.#o.volumes.snapshotClass
            ? { volumeSnapshotClassName: this.#o.volumes.snapshotClass }
            : {}),
          source: { persistentVolumeClaimName: claim },
        },
      });
    await this.#until(
      `VolumeSnapshot ${this.#o.namespace}/${name} of ${claim}`,
      async () => {
        const s = await this.#c.get<VolumeSnapshot>(this.#snapshotPath(name));
        if (s.status?.error?.message && !s.status.readyToUse)
          throw new Error(
            `VolumeSnapshot ${this.#o.namespace}/${name} of ${claim} failed: ${s.status.error.message}; the replica and its volume are kept`,
          );
        return s.status?.readyToUse === true;
      },
      '; the replica and its volume are kept, nothing was removed',
    );
  }

  /** After a replica went: its claim is deleted in the snapshot (once one is ready) and delete modes. */
  async afterRemoval(ordinal: number, nodeId: string): Promise<void> {
    const mode = scaleDownMode(this.#o.volumes);
    if (mode === 'retain') return;
    const claim = this.claimName(ordinal);
    if (mode === 'snapshot') {
      const s = await this.#c.find<VolumeSnapshot>(this.#snapshotPath(`${claim}-${nodeId}`.slice(0, 253)));
      if (s?.status?.readyToUse !== true) {
        this.#o.log?.warn({ claim }, 'no ready snapshot of this claim: kept');
        return;
      }
    }
    if (await this.#c.delete(this.#claimPath(claim))) {
      await this.#gone(this.#claimPath(claim), `volume claim ${this.#o.namespace}/${claim}`);
      this.#o.log?.info({ claim, mode }, 'volume claim of the removed replica deleted');
    }
  }

  async #gone(path: string, what: string): Promise<void> {
    await this.#until(`${what} to be deleted`, async () => (await this.#c.find(path)) === undefined);
  }

  async #until(what: string, check: () => Promise<boolean | undefined>, consequence = ''): Promise<boolean> {
    const timeout = this.#o.volumes.timeout;
    const deadline = Date.now() + timeout;
    for (;;) {
      if (await check()) return true;
      if (Date.now() >= deadline)
        throw new Error(
          `${what}: not done within ${Math.round(timeout / 1000)} s (volumes.timeout)${consequence}`,
        );
      await new Promise((r) => setTimeout(r, this.#o.pollMs ?? 1000));
    }
  }
}
