// Kubernetes workload pools: Rampart scales one StatefulSet (sentries, MPC nodes) a replica
// at a time. Which ordinals are Rampart's is recorded on the StatefulSet itself, changed in
// the same conditional patch as spec.replicas, so a crash never separates the two; replicas
// the operator had before are never listed or removed.

import type { Logger } from 'pino';
import type { KubeVolumesConfig } from '../../config/schema.ts';
import {
  type KubeClient,
  KubeError,
  type KubeObject,
  kubePath,
  readyCondition,
} from '../../kube/kube-client.ts';
import type { CreateRequest, Instance, PlatformStatus, Provider } from '../provider.ts';
import { ReplicaVolumes } from './replica-volumes.ts';

/** Annotation on the StatefulSet: Rampart's replicas by ordinal. */
export const REPLICAS_ANNOTATION = 'rampart.dev/replicas';

export interface ReplicaRecord {
  readonly nodeId: string;
  readonly actionId: string;
  readonly pool: string;
  /** ms since the epoch. */
  readonly createdAt: number;
}

export interface StatefulSetProviderOptions {
  readonly name: string;
  readonly client: KubeClient;
  readonly namespace: string;
  readonly statefulSet: string;
  readonly volumes?: KubeVolumesConfig | undefined;
  /** The pool the StatefulSet serves (labels on the objects Rampart creates). */
  readonly pool?: string | undefined;
  readonly log?: Logger | undefined;
  /** Longest wait for a removed replica's pod to go, ms. Default 5 minutes. */
  readonly podGoneTimeoutMs?: number | undefined;
}

export interface StatefulSet extends KubeObject {
  readonly spec: {
    readonly replicas?: number;
    readonly serviceName?: string;
    readonly selector?: { readonly matchLabels?: Record<string, string> };
    readonly volumeClaimTemplates?: readonly {
      readonly metadata: { readonly name: string };
      readonly spec: Record<string, unknown>;
    }[];
  };
}

interface Pod extends KubeObject {
  readonly status?: {
    readonly phase?: string;
    readonly podIP?: string;
    readonly reason?: string;
    readonly message?: string;
    readonly conditions?: readonly { type: string; status: string; reason?: string; message?: string }[];
  };
}

/** The record on a StatefulSet; an unreadable one is an error, never an empty record (that would orphan nodes). */
export function readRecord(sts: StatefulSet): Record<string, ReplicaRecord> {
  const text = sts.metadata.annotations?.[REPLICAS_ANNOTATION];
  if (text === undefined) return {};
  try {
    return JSON.parse(text) as Record<string, ReplicaRecord>;
  } catch {
    throw new Error(
      `StatefulSet ${sts.metadata.namespace}/${sts.metadata.name}: annotation ${REPLICAS_ANNOTATION} is not JSON; Rampart will not guess which replicas are its own`,
    );
  }
}

function podStatus(pod: Pod | undefined): PlatformStatus {
  if (!pod) return { ready: false, healthy: true, detail: 'pod not created yet' };
  if (pod.metadata.deletionTimestamp) return { ready: false, healthy: true, detail: 'pod terminating' };
  const phase = pod.status?.phase ?? 'Pending';
  if (phase === 'Failed')
    return {
      ready: false,
      healthy: false,
      detail: `pod Failed${pod.status?.reason ? `: ${pod.status.reason}` : ''}`,
    };
  if (phase === 'Pending') {
    const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
    return {
      ready: false,
      healthy: true,
      detail: `pod Pending${scheduled ? `: ${scheduled.reason ?? ''} ${scheduled.message ?? ''}`.trimEnd() : ''}`,
    };
  }
  const r = readyCondition(pod);
  return { ready: r.ready, healthy: true, detail: r.ready ? 'pod Ready' : `pod ${r.detail}` };
}

export class StatefulSetProvider implements Provider {
  readonly kind = 'kubernetes';
  /** The record is the StatefulSet's annotation, which every Rampart replica reads. */
  readonly sharedRecord = true;
  readonly name: string;
  readonly options: StatefulSetProviderOptions;
  readonly #client: KubeClient;
  readonly #path: string;
  readonly #volumes: ReplicaVolumes | undefined;

  constructor(options: StatefulSetProviderOptions) {
    this.options = options;
    this.name = options.name;
    this.#client = options.client;
    this.#path = kubePath('apps', 'v1', 'statefulsets', options.namespace, options.statefulSet);
    this.#volumes = options.volumes
      ? new ReplicaVolumes({
          client: options.client,
          namespace: options.namespace,
          statefulSet: options.statefulSet,
          pool: options.pool ?? options.statefulSet,
          volumes: options.volumes,
          log: options.log,
        })
      : undefined;
  }

  get #where(): string {
    return `StatefulSet ${this.options.namespace}/${this.options.statefulSet}`;
  }

  async #statefulSet(): Promise<StatefulSet> {
    const sts = await this.#client.find<StatefulSet>(this.#path);
    if (!sts)
      throw new Error(`${this.#where} does not exist: create it (Rampart scales it, it does not define it)`);
    return sts;
  }

  #instance(sts: StatefulSet, ordinal: number, r: ReplicaRecord, pod: Pod | undefined): Instance {
    const podName = `${this.options.statefulSet}-${ordinal}`;
    const ns = this.options.namespace;
    return {
      id: `${ns}/${podName}`,
      nodeId: r.nodeId,
      pool: r.pool,
      actionId: r.actionId,
      host: pod?.status?.podIP ?? `${podName}.${sts.spec.serviceName ?? this.options.statefulSet}.${ns}.svc`,
      ports: {},
      running: true,
      createdAt: r.createdAt,
      status: podStatus(pod),
      names: [podName, `${ns}/${podName}`],
    };
  }

  /** One GET of the StatefulSet and one list of its pods, whatever the number of replicas. */
  async list(): Promise<Instance[]> {
    const sts = await this.#statefulSet();
    const record = readRecord(sts);
    const replicas = sts.spec.replicas ?? 1;
    const ordinals = Object.keys(record)
      .map(Number)
      .filter((o) => o < replicas);
    if (ordinals.length < Object.keys(record).length)
      this.options.log?.warn(
        { statefulSet: this.options.statefulSet, replicas },
        'recorded replicas above spec.replicas (scaled down by hand?): no longer counted',
      );
    if (ordinals.length === 0) return [];
    const selector = Object.entries(sts.spec.selector?.matchLabels ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    const pods = await this.#client.list<Pod>(kubePath('', 'v1', 'pods', this.options.namespace), {
      labelSelector: selector || undefined,
    });
    const byName = new Map(pods.map((p) => [p.metadata.name, p]));
    return ordinals
      .sort((a, b) => a - b)
      .map((o) => this.#instance(sts, o, record[String(o)]!, byName.get(`${this.options.statefulSet}-${o}`)));
  }

  async create(req: CreateRequest): Promise<Instance> {
    for (let attempt = 0; ; attempt++) {
      const sts = await this.#statefulSet();
      const record = readRecord(sts);
      const ordinal = sts.spec.replicas ?? 1;
      // Volume first: the StatefulSet controller adopts a claim of the replica's name.
      await this.#volumes?.prepare(sts, ordinal, req);
      const entry: ReplicaRecord = {
        nodeId: req.nodeId,
        actionId: req.actionId,
        pool: req.pool,
        createdAt: Date.now(),
      };
      // Drop entries at or above the new ordinal (left by a hand scale-down): that ordinal is this node's now.
      const next: Record<string, ReplicaRecord> = {};
      for (const [k, v] of Object.entries(record)) if (Number(k) < ordinal) next[k] = v;
      next[String(ordinal)] = entry;
      try {
        const updated = await this.#client.mergePatch<StatefulSet>(this.#path, {
          metadata: {
            resourceVersion: sts.metadata.resourceVersion,
            annotations: { [REPLICAS_ANNOTATION]: JSON.stringify(next) },
          },
          spec: { replicas: ordinal + 1 },
        });
        this.options.log?.info(
          { statefulSet: this.options.statefulSet, ordinal, node: req.nodeId },
          'StatefulSet scaled up',
        );
        return this.#instance(updated, ordinal, entry, undefined);
      } catch (e) {
        // Someone else changed it between our read and write: read again.
        if (e instanceof KubeError && e.status === 409 && attempt < 5) continue;
        throw e;
      }
    }
  }

  async destroy(instance: Instance): Promise<void> {
    const podName = instance.id.slice(instance.id.indexOf('/') + 1);
    const ordinal = Number(podName.slice(this.options.statefulSet.length + 1));
    for (let attempt = 0; ; attempt++) {
      const sts = await this.#statefulSet();
      const record = readRecord(sts);
      const replicas = sts.spec.replicas ?? 1;
      const entry = record[String(ordinal)];
      if (entry === undefined || entry.nodeId !== instance.nodeId || ordinal >= replicas) {
        // Already gone (a retried removal): only the volume may be left to settle.
        await this.#volumes?.afterRemoval(ordinal, instance.nodeId);
        return;
      }
      if (ordinal !== replicas - 1)
        throw new Error(
          `${this.#where} removes only its highest ordinal (${this.options.statefulSet}-${replicas - 1}); refusing to remove ${podName} (node ${instance.nodeId}): remove the newer replicas first`,
        );
      // The volume is made safe (snapshot taken and ready) before the replica goes.
      await this.#volumes?.beforeRemoval(ordinal, instance.nodeId);
      const next = { ...record };
      delete next[String(ordinal)];
      try {
        await this.#client.mergePatch(this.#path, {
          metadata: {
            resourceVersion: sts.metadata.resourceVersion,
            annotations: { [REPLICAS_ANNOTATION]: JSON.stringify(next) },
          },
          spec: { replicas: ordinal },
        });
      } catch (e) {
        if (e instanceof KubeError && e.status === 409 && attempt < 5) continue;
        throw e;
      }
      this.options.log?.info(
        { statefulSet: this.options.statefulSet, ordinal, node: instance.nodeId },
        'StatefulSet scaled down',
      );
      await this.#podGone(podName);
      await this.#volumes?.afterRemoval(ordinal, instance.nodeId);
      return;
    }
  }

  async #podGone(podName: string): Promise<void> {
    const path = kubePath('', 'v1', 'pods', this.options.namespace, podName);
    const deadline = Date.now() + (this.options.podGoneTimeoutMs ?? 300_000);
    while (Date.now() < deadline) {
      if (!(await this.#client.find(path))) return;
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(
      `${this.#where}: pod ${podName} still exists ${Math.round((this.options.podGoneTimeoutMs ?? 300_000) / 1000)} s after the scale-down; its volume was kept`,
    );
  }
}
