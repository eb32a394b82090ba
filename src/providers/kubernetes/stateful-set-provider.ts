// Kubernetes workload pools: Rampart scales one StatefulSet (sentries, MPC nodes) a replica
// at a time. Which ordinals are Rampart's is recorded on the StatefulSet itself, changed in
// the same conditional patch as spec.replicas, so a crash never separates the two; replicas
// the operator had before are never listed or removed. A replica below the highest ordinal
// can only be replaced in place: its ordinal is vacated, and the next node added fills it.

import type { Logger } from 'pino';
import {
  type KubeClient,
  KubeError,
  type KubeObject,
  kubePath,
  readyCondition,
} from '../../kube/kube-client.ts';
import type { CreateRequest, ImageBaking, Instance, PlatformStatus, Provider, Removal } from '../provider.ts';
import type { KubeVolumesConfig } from './config.ts';
import { NodeConfigMap, nodeKey } from './node-config-map.ts';
import {
  type AddressMode,
  type AddressService,
  type NamedPort,
  namedPorts,
  replicaAddress,
} from './pod-address.ts';
import { ReplicaVolumes, type VolumeTemplateSource } from './replica-volumes.ts';

/** How many times a replacement's restored claim may lose the race to the StatefulSet controller's empty one. */
const FILL_ROUNDS = 5;

/** Annotation on the StatefulSet: Rampart's replicas by ordinal (JSON `{ "<ordinal>": ReplicaRecord }`). */
export const REPLICAS_ANNOTATION = 'rampart.dev/replicas';

/** What Rampart records of one replica it added. */
export interface ReplicaRecord {
  readonly nodeId: string;
  readonly actionId: string;
  readonly pool: string;
  /** ms since the epoch. */
  readonly createdAt: number;
  /**
   * ms since the epoch: the replica was removed below the highest ordinal (a replacement); its
   * ordinal waits for the next node added, its pod and claim gone or held. Not listed.
   */
  readonly vacated?: number | undefined;
}

export interface StatefulSetProviderOptions {
  readonly name: string;
  readonly client: KubeClient;
  readonly namespace: string;
  readonly statefulSet: string;
  /** The replicas' data volumes: how a new one is filled, what scale-down does with one. Default: left to the StatefulSet. */
  readonly volumes?: KubeVolumesConfig | undefined;
  /** The pool the StatefulSet serves (labels on the snapshots, claims and Jobs Rampart makes). Default the StatefulSet's name. */
  readonly pool?: string | undefined;
  readonly log?: Logger | undefined;
  /** Longest wait for a removed replica's pod to go, ms. Default 5 minutes. */
  readonly podGoneTimeoutMs?: number | undefined;
  /** Time between two looks at a pod, snapshot, Job or claim being waited for, ms. Default 1000. */
  readonly pollMs?: number | undefined;
  /** Where a replica is reached (pod IP, host port, its own Service). Default pod-ip. */
  readonly address?: AddressMode | undefined;
  /** address: service — each replica's Service type. Default LoadBalancer. */
  readonly serviceType?: 'LoadBalancer' | 'NodePort' | 'ClusterIP' | undefined;
  /** The ConfigMap Rampart owns: the replicas' node ids and the node kind's pod settings. Default none. */
  readonly configMap?: string | undefined;
}

/** On the Services Rampart makes (address: service): the StatefulSet they belong to. */
const STATEFULSET_LABEL = 'rampart.dev/statefulset';
/** The label the StatefulSet controller puts on each of its pods: its name. */
const POD_NAME_LABEL = 'statefulset.kubernetes.io/pod-name';

interface Service extends KubeObject, AddressService {}

export interface StatefulSet extends VolumeTemplateSource {
  readonly spec: VolumeTemplateSource['spec'] & {
    readonly replicas?: number;
    readonly serviceName?: string;
    readonly persistentVolumeClaimRetentionPolicy?: { readonly whenScaled?: string };
    readonly template?: NonNullable<VolumeTemplateSource['spec']['template']> & {
      readonly spec?: { readonly containers?: readonly { readonly ports?: readonly NamedPort[] }[] };
    };
  };
}

interface Pod extends KubeObject {
  readonly status?: {
    readonly phase?: string;
    readonly podIP?: string;
    readonly reason?: string;
    readonly message?: string;
    readonly conditions?: readonly { type: string; status: string; reason?: string; message?: string }[];
    readonly containerStatuses?: readonly { state?: { waiting?: { reason?: string; message?: string } } }[];
  };
}

/** The record on a StatefulSet; an unreadable one is an error, never an empty record (that would orphan nodes). */
export function readRecord(sts: StatefulSet): Record<string, ReplicaRecord> {
  const text = sts.metadata.annotations?.[REPLICAS_ANNOTATION];
  if (text === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const valid =
    typeof parsed === 'object' &&
    parsed !== null &&
    !Array.isArray(parsed) &&
    Object.entries(parsed).every(
      ([k, v]) =>
        /^\d+$/.test(k) &&
        typeof v === 'object' &&
        v !== null &&
        typeof (v as ReplicaRecord).nodeId === 'string' &&
        typeof (v as ReplicaRecord).actionId === 'string',
    );
  if (!valid)
    throw new Error(
      `StatefulSet ${sts.metadata.namespace}/${sts.metadata.name}: annotation ${REPLICAS_ANNOTATION} is not a record of Rampart's replicas ({"<ordinal>": {"nodeId", "actionId", "pool", "createdAt"}}); Rampart will not guess which replicas are its own: fix or remove the annotation`,
    );
  return parsed as Record<string, ReplicaRecord>;
}

/** What a replica's pod says of it; only a Failed pod is unhealthy (the StatefulSet does not replace those). */
export function podStatus(pod: Pod | undefined): PlatformStatus {
  if (!pod) return { ready: false, healthy: true, detail: 'pod not created yet' };
  if (pod.metadata.deletionTimestamp) return { ready: false, healthy: true, detail: 'pod terminating' };
  const phase = pod.status?.phase ?? 'Pending';
  if (phase === 'Failed')
    return {
      ready: false,
      healthy: false,
      detail: `pod Failed${pod.status?.reason ? `: ${pod.status.reason}` : ''}${pod.status?.message ? ` ${pod.status.message}` : ''}`,
    };
  if (phase === 'Pending') {
    const unscheduled = pod.status?.conditions?.find(
      (c) => c.type === 'PodScheduled' && c.status === 'False',
    );
    const waiting = pod.status?.containerStatuses?.find((c) => c.state?.waiting?.reason)?.state?.waiting;
    const why = unscheduled
      ? `${unscheduled.reason ?? 'not scheduled'}${unscheduled.message ? ` ${unscheduled.message}` : ''}`
      : waiting
        ? `${waiting.reason}${waiting.message ? ` ${waiting.message}` : ''}`
        : undefined;
    return { ready: false, healthy: true, detail: `pod Pending${why ? `: ${why}` : ''}` };
  }
  const r = readyCondition(pod);
  return { ready: r.ready, healthy: true, detail: r.ready ? 'pod Ready' : `pod ${r.detail}` };
}

/** A conditional patch lost to another writer: read again and retry, this many times. */
const CONFLICT_RETRIES = 5;

export class StatefulSetProvider implements Provider {
  readonly kind = 'kubernetes';
  /** The record is the StatefulSet's annotation, which every Rampart replica reads. */
  readonly sharedRecord = true;
  readonly name: string;
  readonly options: StatefulSetProviderOptions;
  readonly #client: KubeClient;
  readonly #path: string;
  readonly #volumes: ReplicaVolumes | undefined;
  readonly #configMap: NodeConfigMap | undefined;

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
          pollMs: options.pollMs,
        })
      : undefined;
    this.#configMap = options.configMap
      ? new NodeConfigMap(options.client, options.namespace, options.configMap, {
          'rampart.dev/pool': options.pool ?? options.statefulSet,
          [STATEFULSET_LABEL]: options.statefulSet,
        })
      : undefined;
  }

  /**
   * VolumeSnapshots of a serving replica's claim, as the controller's image rotation: on
   * `volumes.snapshotEvery` and when asked. New replicas restore the newest (restore:
   * volume-snapshot). Absent without CSI snapshots (restore other than volume-snapshot).
   */
  get images(): ImageBaking | undefined {
    const v = this.options.volumes;
    const volumes = this.#volumes;
    if (!volumes || v?.restore !== 'volume-snapshot') return undefined;
    return {
      everyMs: v.snapshotEvery,
      keep: v.keepSnapshots,
      live: true,
      list: () => volumes.snapshots(),
      bake: async (instance, id) => {
        const ordinal = this.#ordinalOf(instance);
        if (ordinal === undefined)
          throw new Error(`${this.#where}: ${instance.id} is not one of its replicas: no claim to snapshot`);
        return await volumes.snapshotLive(ordinal, { nodeId: instance.nodeId, actionId: id });
      },
    };
  }

  get #mode(): AddressMode {
    return this.options.address ?? 'pod-ip';
  }

  get #where(): string {
    return `StatefulSet ${this.options.namespace}/${this.options.statefulSet}`;
  }

  #podName(ordinal: number): string {
    return `${this.options.statefulSet}-${ordinal}`;
  }

  async #statefulSet(): Promise<StatefulSet> {
    const sts = await this.#client.find<StatefulSet>(this.#path);
    if (!sts)
      throw new Error(`${this.#where} does not exist: create it (Rampart scales it, it does not define it)`);
    return sts;
  }

  /** Replicas and record in one conditional merge patch: both change, or neither. */
  async #write(sts: StatefulSet, record: Record<string, ReplicaRecord>, replicas?: number) {
    return await this.#client.mergePatch<StatefulSet>(this.#path, {
      metadata: {
        resourceVersion: sts.metadata.resourceVersion,
        annotations: { [REPLICAS_ANNOTATION]: JSON.stringify(record) },
      },
      ...(replicas === undefined ? {} : { spec: { replicas } }),
    });
  }

  #instance(
    sts: StatefulSet,
    ordinal: number,
    r: ReplicaRecord,
    pod: Pod | undefined,
    service?: Service,
  ): Instance {
    const podName = this.#podName(ordinal);
    const ns = this.options.namespace;
    const address = replicaAddress(this.#mode, namedPorts(sts.spec.template?.spec?.containers), pod, service);
    // Until the platform gives an address (pod not scheduled, no load balancer yet), its DNS name.
    const dns =
      this.#mode === 'service'
        ? `${podName}.${ns}.svc`
        : `${podName}.${sts.spec.serviceName ?? this.options.statefulSet}.${ns}.svc`;
    return {
      id: `${ns}/${podName}`,
      nodeId: r.nodeId,
      pool: r.pool,
      actionId: r.actionId,
      host: address.host ?? dns,
      ports: address.ports,
      running: true,
      createdAt: r.createdAt,
      status: podStatus(pod),
      // Both: metric sources match pod series by `namespace/pod` first, then by the bare name.
      names: [podName, `${ns}/${podName}`],
    };
  }

  async #pods(sts: StatefulSet): Promise<Map<string, Pod>> {
    const selector = Object.entries(sts.spec.selector?.matchLabels ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    const pods = await this.#client.list<Pod>(kubePath('', 'v1', 'pods', this.options.namespace), {
      labelSelector: selector || undefined,
    });
    return new Map(pods.map((p) => [p.metadata.name, p]));
  }

  /**
   * Rampart's replicas below spec.replicas. One GET of the StatefulSet and one list of its
   * pods, whatever the number of replicas. Recorded ordinals at or above spec.replicas (the
   * StatefulSet was scaled down by hand) are dropped from the record, by a conditional patch
   * of the annotation alone, read again and retried when the StatefulSet changed in between
   * (its controller writes status all the time); a race lost three times leaves that to the
   * next call.
   */
  async list(): Promise<Instance[]> {
    let sts = await this.#statefulSet();
    let record = readRecord(sts);
    let replicas = sts.spec.replicas ?? 1;
    let ordinals = Object.keys(record)
      .map(Number)
      .sort((a, b) => a - b);
    let live = ordinals.filter((o) => o < replicas);
    for (let attempt = 0; live.length < ordinals.length && attempt < 3; attempt++) {
      if (await this.#dropScaledDown(sts, record, replicas)) break;
      sts = await this.#statefulSet();
      record = readRecord(sts);
      replicas = sts.spec.replicas ?? 1;
      ordinals = Object.keys(record)
        .map(Number)
        .sort((a, b) => a - b);
      live = ordinals.filter((o) => o < replicas);
    }
    live = live.filter((o) => record[String(o)]!.vacated === undefined);
    if (live.length === 0) return [];
    const [pods, services] = await Promise.all([this.#pods(sts), this.#services()]);
    return live.map((o) =>
      this.#instance(sts, o, record[String(o)]!, pods.get(this.#podName(o)), services.get(this.#podName(o))),
    );
  }

  /** The replicas' own Services (address: service), by name (the pod's). */
  async #services(): Promise<Map<string, Service>> {
    if (this.#mode !== 'service') return new Map();
    const list = await this.#client.list<Service>(kubePath('', 'v1', 'services', this.options.namespace), {
      labelSelector: `${STATEFULSET_LABEL}=${this.options.statefulSet}`,
    });
    return new Map(list.map((s) => [s.metadata.name, s]));
  }

  /** The Service of a replica (address: service), made before its pod so its address is known early. Idempotent. */
  async #ensureService(sts: StatefulSet, ordinal: number, req: CreateRequest): Promise<void> {
    const name = this.#podName(ordinal);
    const ports = namedPorts(sts.spec.template?.spec?.containers);
    try {
      await this.#client.create(kubePath('', 'v1', 'services', this.options.namespace), {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: {
          name,
          labels: { [STATEFULSET_LABEL]: this.options.statefulSet, 'rampart.dev/pool': req.pool },
          annotations: { 'rampart.dev/node': req.nodeId },
        },
        spec: {
          type: this.options.serviceType ?? 'LoadBalancer',
          selector: { [POD_NAME_LABEL]: name },
          // A syncing node is dialed too: readiness is Rampart's to judge, not the Service's.
          publishNotReadyAddresses: true,
          ports: ports.map((p) => ({ name: p.name, port: p.containerPort, targetPort: p.name })),
        },
      });
    } catch (e) {
      if (!(e instanceof KubeError && e.status === 409)) throw e;
    }
  }

  async #deleteService(ordinal: number): Promise<void> {
    if (this.#mode !== 'service') return;
    await this.#client.delete(kubePath('', 'v1', 'services', this.options.namespace, this.#podName(ordinal)));
  }

  /** Replaces the node kind's settings in the ConfigMap the pods read (a promotion's new validator). */
  async publishNodeConfig(files: Readonly<Record<string, string>>): Promise<void> {
    if (!this.#configMap)
      throw new Error(`${this.#where}: no workload.configMap to publish the pods' settings to`);
    await this.#configMap.write(files);
    this.options.log?.info(
      { configMap: this.options.configMap, keys: Object.keys(files) },
      "pods' settings rewritten in the ConfigMap",
    );
  }

  /** False when the StatefulSet changed since it was read (409): nothing was written. */
  async #dropScaledDown(
    sts: StatefulSet,
    record: Record<string, ReplicaRecord>,
    replicas: number,
  ): Promise<boolean> {
    const kept: Record<string, ReplicaRecord> = {};
    const dropped: string[] = [];
    for (const [k, v] of Object.entries(record))
      if (Number(k) < replicas) kept[k] = v;
      else dropped.push(`${this.#podName(Number(k))} (node ${v.nodeId})`);
    try {
      await this.#write(sts, kept);
    } catch (e) {
      if (e instanceof KubeError && e.status === 409) return false;
      throw e;
    }
    this.options.log?.warn(
      { statefulSet: this.options.statefulSet, replicas, dropped },
      `${this.#where} was scaled down to ${replicas} outside Rampart: ${dropped.join(', ')} dropped from its record (their volumes are left as the StatefulSet left them)`,
    );
    // A vacated ordinal scaled away: its claim, held for a replacement that will not come, goes.
    if (this.#claimsReplaced)
      for (const [k, v] of Object.entries(record))
        if (Number(k) >= replicas && v.vacated !== undefined) await this.#volumes!.release(Number(k));
    return true;
  }

  /**
   * Adds ordinal spec.replicas: its volume first (the StatefulSet controller adopts a claim
   * of the replica's name), then replicas+1 and the record in one conditional patch. A
   * retry of the same action (its answer lost) finds its replica recorded and adds none.
   */
  async create(req: CreateRequest): Promise<Instance> {
    for (let attempt = 0; ; attempt++) {
      const sts = await this.#statefulSet();
      const record = readRecord(sts);
      const replicas = sts.spec.replicas ?? 1;
      const done = Object.entries(record).find(
        ([k, r]) =>
          Number(k) < replicas &&
          r.actionId === req.actionId &&
          r.nodeId === req.nodeId &&
          r.vacated === undefined,
      );
      if (done) {
        const pods = await this.#pods(sts);
        return this.#instance(sts, Number(done[0]), done[1], pods.get(this.#podName(Number(done[0]))));
      }
      const vacancy = Object.entries(record)
        .filter(([k, r]) => r.vacated !== undefined && Number(k) < replicas)
        .map(([k]) => Number(k))
        .sort((a, b) => a - b)[0];
      if (vacancy !== undefined) return await this.#fill(sts, vacancy, req);
      const ordinal = replicas;
      // What the new pod reads when it starts, before it exists: its node id, its kind's settings.
      if (this.#configMap) {
        const settings = (await req.kind.podConfig?.(req.launch)) ?? {};
        await this.#configMap.write({ ...settings, [nodeKey(ordinal)]: req.nodeId });
      }
      if (this.#mode === 'service') await this.#ensureService(sts, ordinal, req);
      await this.#volumes?.prepare(sts, ordinal, req);
      const entry: ReplicaRecord = {
        nodeId: req.nodeId,
        actionId: req.actionId,
        pool: req.pool,
        createdAt: Date.now(),
      };
      // Entries at or above the new ordinal were left by a scale-down by hand: that ordinal is this node's now.
      const next: Record<string, ReplicaRecord> = {};
      for (const [k, v] of Object.entries(record)) if (Number(k) < ordinal) next[k] = v;
      next[String(ordinal)] = entry;
      let updated: StatefulSet;
      try {
        updated = await this.#write(sts, next, ordinal + 1);
      } catch (e) {
        // Someone else changed it between our read and write: read again (the volume is kept and reused).
        if (e instanceof KubeError && e.status === 409 && attempt < CONFLICT_RETRIES) continue;
        throw e;
      }
      this.options.log?.info(
        { statefulSet: this.options.statefulSet, ordinal, node: req.nodeId, action: req.actionId },
        'StatefulSet scaled up',
      );
      return this.#instance(updated, ordinal, entry, undefined);
    }
  }

  /**
   * Fills a vacated ordinal with a new node: its id and settings in the ConfigMap first, then
   * (claims replaced) the held claim let go and the restored one made before the StatefulSet
   * controller recreates the pod — if the controller's empty claim came first, the pod and
   * that claim go again and it is retried — else the pod the StatefulSet brought back
   * restarted to read the new id; then the record. A retry of the same action finds its claim.
   */
  async #fill(sts: StatefulSet, ordinal: number, req: CreateRequest): Promise<Instance> {
    const podName = this.#podName(ordinal);
    if (this.#configMap) {
      const settings = (await req.kind.podConfig?.(req.launch)) ?? {};
      await this.#configMap.write({ ...settings, [nodeKey(ordinal)]: req.nodeId });
    }
    if (this.#mode === 'service') await this.#ensureService(sts, ordinal, req);
    const volumes = this.#claimsReplaced ? this.#volumes! : undefined;
    if (volumes) {
      for (let round = 1; ; round++) {
        if (await volumes.replaceHeld(sts, ordinal, req)) break;
        if (round >= FILL_ROUNDS)
          throw new Error(
            `${this.#where}: the StatefulSet controller recreated ${podName} with an empty volume claim before the restored one ${FILL_ROUNDS} times; the ordinal stays vacant (the next attempt tries again)`,
          );
        this.options.log?.warn(
          { pod: podName, node: req.nodeId, round },
          'the StatefulSet controller made an empty claim before the restored one: replacing it again',
        );
        await volumes.hold(ordinal);
        await this.#deletePod(podName);
      }
      // A restore Job fills the claim (a retry after a crash finds it and goes on).
      await volumes.prepare(sts, ordinal, req);
    } else {
      // The pod the StatefulSet brought back started without this node's id: it starts again reading it.
      await this.#deletePod(podName, false);
    }
    for (let attempt = 0; ; attempt++) {
      const current = attempt === 0 ? sts : await this.#statefulSet();
      const record = readRecord(current);
      const entry: ReplicaRecord = {
        nodeId: req.nodeId,
        actionId: req.actionId,
        pool: req.pool,
        createdAt: Date.now(),
      };
      try {
        const updated = await this.#write(current, { ...record, [String(ordinal)]: entry });
        this.options.log?.info(
          { statefulSet: this.options.statefulSet, ordinal, node: req.nodeId, action: req.actionId },
          'vacated ordinal filled in place',
        );
        return this.#instance(updated, ordinal, entry, undefined);
      } catch (e) {
        if (e instanceof KubeError && e.status === 409 && attempt < CONFLICT_RETRIES) continue;
        throw e;
      }
    }
  }

  /** Whether a replacement restores the claim (restore from snapshots) rather than keeping it. */
  get #claimsReplaced(): boolean {
    return this.#volumes !== undefined && (this.options.volumes?.restore ?? 'none') !== 'none';
  }

  /** Deletes a pod and (`wait`) waits until that pod — its uid, not the ordinal's next one — is gone. */
  async #deletePod(podName: string, wait = true): Promise<void> {
    const path = kubePath('', 'v1', 'pods', this.options.namespace, podName);
    const pod = await this.#client.find<Pod>(path);
    if (!pod) return;
    await this.#client.delete(path, { preconditions: { uid: pod.metadata.uid } }).catch((e: unknown) => {
      // Another pod of the name already (409 on the uid precondition): the one meant is gone.
      if (!(e instanceof KubeError && e.status === 409)) throw e;
    });
    if (!wait) return;
    const timeout = this.options.podGoneTimeoutMs ?? 300_000;
    const deadline = Date.now() + timeout;
    for (;;) {
      const now = await this.#client.find<Pod>(path);
      if (now?.metadata.uid !== pod.metadata.uid) return;
      if (Date.now() >= deadline)
        throw new Error(
          `${this.#where}: pod ${podName} still exists ${Math.round(timeout / 1000)} s after its deletion`,
        );
      await new Promise((r) => setTimeout(r, this.options.pollMs ?? 1000));
    }
  }

  /**
   * Replaces in place the replica at `ordinal`, below the highest (a StatefulSet cannot remove
   * it): its claim held (when claims are restored), the ordinal recorded as vacated, its pod
   * deleted and waited out, its node id dropped from the ConfigMap. Its Service stays for the
   * node that fills the ordinal. Idempotent.
   */
  async #vacate(
    sts: StatefulSet,
    ordinal: number,
    entry: ReplicaRecord,
    instance: Instance,
  ): Promise<boolean> {
    const podName = this.#podName(ordinal);
    if (entry.vacated === undefined) {
      if (this.#claimsReplaced) await this.#volumes!.hold(ordinal);
      const record = readRecord(sts);
      try {
        await this.#write(sts, { ...record, [String(ordinal)]: { ...entry, vacated: Date.now() } });
      } catch (e) {
        if (e instanceof KubeError && e.status === 409) return false;
        throw e;
      }
      this.options.log?.info(
        { statefulSet: this.options.statefulSet, ordinal, node: instance.nodeId },
        'replica below the highest ordinal vacated: replaced in place by the next node added',
      );
    }
    await this.#deletePod(podName, this.#claimsReplaced);
    if (this.#configMap && (await this.#configMap.read())[nodeKey(ordinal)] === instance.nodeId)
      await this.#configMap.write({ [nodeKey(ordinal)]: null });
    return true;
  }

  /** The ordinal of an instance id `<namespace>/<statefulset>-<ordinal>`; undefined for another StatefulSet's. */
  #ordinalOf(instance: Instance): number | undefined {
    const prefix = `${this.options.namespace}/${this.options.statefulSet}-`;
    if (!instance.id.startsWith(prefix)) return undefined;
    const rest = instance.id.slice(prefix.length);
    return /^\d+$/.test(rest) ? Number(rest) : undefined;
  }

  /**
   * Highest ordinal first: a StatefulSet removes only its highest. Instances of another
   * StatefulSet (which destroy leaves alone) come last.
   */
  removalOrder(instances: readonly Instance[]): Instance[] {
    const rank = (i: Instance) => this.#ordinalOf(i) ?? -1;
    return [...instances].sort((a, b) => rank(b) - rank(a));
  }

  /**
   * Removes the replica of `instance`: the highest ordinal by scaling down, one below it by
   * replacing it in place (#vacate). For the highest, its volume is
   * made safe first (a ready VolumeSnapshot, per volumes.onScaleDown); a failure there
   * leaves everything as it was. Then replicas−1 and the record in one conditional patch,
   * the pod waited out, the claim deleted (snapshot and delete modes). Idempotent: a
   * replica already gone only has its volume settled.
   */
  async destroy(instance: Instance, removal?: Removal): Promise<void> {
    const ordinal = this.#ordinalOf(instance);
    if (ordinal === undefined) {
      this.options.log?.debug(
        { instance: instance.id },
        `not a replica of ${this.#where}: nothing to remove`,
      );
      return;
    }
    const podName = this.#podName(ordinal);
    for (let attempt = 0; ; attempt++) {
      const sts = await this.#statefulSet();
      const record = readRecord(sts);
      const replicas = sts.spec.replicas ?? 1;
      const entry = record[String(ordinal)];
      if (ordinal >= replicas) {
        // Already gone (a retried removal, or a scale-down by hand): only the volume may be left to settle.
        await this.#podGone(podName);
        await this.#afterPodGone(ordinal, instance.nodeId);
        return;
      }
      if (entry?.nodeId === instance.nodeId && entry.vacated !== undefined) {
        // A replacement's removal retried: its pod may still be going.
        if (await this.#vacate(sts, ordinal, entry, instance)) return;
        continue;
      }
      if (entry?.nodeId !== instance.nodeId) {
        // The ordinal is another node's now (or the operator's): this node's replica is long gone.
        this.options.log?.info(
          { instance: instance.id, node: instance.nodeId, holder: entry?.nodeId ?? 'the operator' },
          'replica already removed; its ordinal is held by another: nothing to do',
        );
        return;
      }
      // Vacated ordinals at the top (replacements not filled yet) are not in the way of a scale-down.
      let top = replicas - 1;
      while (top > ordinal && record[String(top)]?.vacated !== undefined) top--;
      if (ordinal !== top) {
        // Below the highest: a StatefulSet cannot remove it, so it is replaced in place.
        if (await this.#vacate(sts, ordinal, entry, instance)) return;
        if (attempt < CONFLICT_RETRIES) continue;
        throw new Error(
          `${this.#where}: replacing ${podName} in place lost ${CONFLICT_RETRIES} races to other writers`,
        );
      }
      const vacatedAbove = Object.entries(record)
        .filter(([k, r]) => Number(k) > ordinal && r.vacated !== undefined)
        .map(([k]) => Number(k));
      if (
        this.#volumes?.mode === 'retain' &&
        sts.spec.persistentVolumeClaimRetentionPolicy?.whenScaled === 'Delete'
      )
        this.options.log?.warn(
          { statefulSet: this.options.statefulSet },
          `${this.#where} has persistentVolumeClaimRetentionPolicy.whenScaled: Delete: Kubernetes deletes the claim Rampart was told to retain`,
        );
      await this.#volumes?.beforeRemoval(ordinal, instance, removal?.serving === true);
      const next = { ...record };
      delete next[String(ordinal)];
      for (const k of Object.keys(next)) if (Number(k) >= ordinal) delete next[k];
      try {
        await this.#write(sts, next, ordinal);
      } catch (e) {
        if (e instanceof KubeError && e.status === 409 && attempt < CONFLICT_RETRIES) continue;
        throw e;
      }
      this.options.log?.info(
        { statefulSet: this.options.statefulSet, ordinal, node: instance.nodeId },
        'StatefulSet scaled down',
      );
      // Vacated ordinals above went with it: their held claims are let go.
      if (this.#claimsReplaced) for (const o of vacatedAbove) await this.#volumes!.release(o);
      await this.#podGone(podName);
      await this.#afterPodGone(ordinal, instance.nodeId);
      return;
    }
  }

  /** What a removed replica leaves: its volume settled, its Service and its node id gone. */
  async #afterPodGone(ordinal: number, nodeId: string): Promise<void> {
    await this.#volumes?.afterRemoval(ordinal, nodeId);
    await this.#deleteService(ordinal);
    // Only this node's id: a later replica of the ordinal has written its own.
    if (this.#configMap && (await this.#configMap.read())[nodeKey(ordinal)] === nodeId)
      await this.#configMap.write({ [nodeKey(ordinal)]: null });
  }

  async #podGone(podName: string): Promise<void> {
    const path = kubePath('', 'v1', 'pods', this.options.namespace, podName);
    const timeout = this.options.podGoneTimeoutMs ?? 300_000;
    const deadline = Date.now() + timeout;
    for (;;) {
      if (!(await this.#client.find(path))) return;
      if (Date.now() >= deadline)
        throw new Error(
          `${this.#where}: pod ${podName} still exists ${Math.round(timeout / 1000)} s after the scale-down; its volume was kept (the next attempt settles it)`,
        );
      await new Promise((r) => setTimeout(r, this.options.pollMs ?? 1000));
    }
  }
}
