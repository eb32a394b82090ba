// The `gce` provider: a pool is a Compute Engine managed instance group (zonal or regional)
// with an instance template, owned by Rampart, through the official @google-cloud/compute
// client. The group's listing is the source of truth: every instance Rampart creates is a
// per-instance config of the group carrying the node id, pool, creating action and term as
// stateful metadata, so a restarted controller finds exactly what runs, whoever created it.
//
// Scale-up creates ONE named instance per request with the group's createInstances (the name
// is the node id, so a second try of the same request finds the first instead of making
// another; a requestId derived from the action makes GCE itself drop a repeated call). The
// instance is born inside the group with its identity: there is no window in which something
// untagged, or outside the group, runs. Rejected: raising the target size with resize (the
// group names the instance, so which new one answers which request is a guess, and a restart
// between resize and tagging leaves an instance no intent names). The call's operation is
// followed to DONE, then the member until its VM is RUNNING; a member the group cannot create
// (lastAttempt errors, e.g. QUOTA_EXCEEDED, which the group itself would retry forever) is
// deleted again, so nothing is left behind, and the error says why.
//
// Scale-in deletes exactly the instance Rampart chose, after the node kind's drain, with
// deleteInstances (the target size goes down by one; the group neither replaces it nor picks
// a victim). An instance the group made by itself (someone resized it) has no node metadata:
// it is listed as `unmanaged-<name>` of the group's pool, with no live node record, so the
// controller's orphan cleanup deletes it (unless it predates the controller's first tick of the pool). The group's own autoscaler must be off: two
// autoscalers on one group fight (checked before every scale-up, with a clear error).
//
// Images: `bakeImage` snapshots a stopped node's boot disk and makes an image of it in the
// configured family (the template boots the family, so the next instance takes the newest);
// images beyond `keep` are deleted (with their snapshots) or deprecated.

import { createHash } from 'node:crypto';
import {
  AutoscalersClient,
  DisksClient,
  GlobalOperationsClient,
  ImagesClient,
  InstanceGroupManagersClient,
  InstancesClient,
  InstanceTemplatesClient,
  type protos,
  RegionAutoscalersClient,
  RegionInstanceGroupManagersClient,
  RegionOperationsClient,
  SnapshotsClient,
  ZoneOperationsClient,
} from '@google-cloud/compute';
import type { Logger } from 'pino';
import type { CreateRequest, ImageBaking, Instance, Provider } from '../provider.ts';
import { callGce, DEFAULT_GCE_RETRY, type GceCallOptions, type GceRetryPolicy, named } from './gce-call.ts';
import { type BakedImage, imagesToRetire } from './image-retirement.ts';
import { renderStartupScript } from './startup-script.ts';

type IOperation = protos.google.cloud.compute.v1.IOperation;
type IManagedInstance = protos.google.cloud.compute.v1.IManagedInstance;
type IInstance = protos.google.cloud.compute.v1.IInstance;

/** Metadata keys Rampart puts on every instance it creates (stateful: they survive a repair). */
export const METADATA = {
  node: 'rampart-node',
  pool: 'rampart-pool',
  action: 'rampart-action',
  term: 'rampart-term',
  /** The group: scopes the identity to one provider. */
  group: 'rampart-group',
  /** ms since the epoch, when Rampart asked for it. */
  createdAt: 'rampart-created-at',
} as const;

/** Labels on the snapshots and images Rampart bakes. */
export const IMAGE_LABELS = { family: 'rampart-family', node: 'rampart-node', pool: 'rampart-pool' } as const;

export interface GceProviderOptions {
  readonly name: string;
  readonly project: string;
  /** Exactly one of zone (a zonal group) or region (a regional group). */
  readonly zone?: string | undefined;
  readonly region?: string | undefined;
  readonly group: string;
  readonly address?: 'internal' | 'external' | undefined;
  readonly ports: Readonly<Record<string, number>>;
  /** A Compute Engine API stand-in's URL (fake-gce). Default: Google's endpoint. */
  readonly endpoint?: string | undefined;
  readonly retry?: GceRetryPolicy | undefined;
  readonly startupScript?: { readonly dataDir: string; readonly command?: string | undefined } | undefined;
  readonly images?:
    | {
        readonly family: string;
        /** Bake on this schedule (ms); absent: only when asked. */
        readonly every?: number | undefined;
        /** Images kept. Default 3. */
        readonly keep?: number | undefined;
        readonly retire: 'delete' | 'deprecate';
        readonly storageLocation?: string | undefined;
      }
    | undefined;
  /** The pool this group serves (an instance the group made by itself is listed under it). */
  readonly pool?: string | undefined;
  readonly log?: Logger | undefined;
}

/** A GCE name for a node id: the node id itself when it is one, else a stable hash of it. */
export function instanceNameFor(nodeId: string): string {
  if (/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/.test(nodeId)) return nodeId;
  return `r-${createHash('sha256').update(nodeId).digest('hex').slice(0, 20)}`;
}

/** A UUID-shaped request id derived from `parts`: GCE drops a repeated call with the same one. */
function requestId(...parts: string[]): string {
  const h = createHash('sha256').update(parts.join('/')).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const last = (url: string | null | undefined) => (url ?? '').split('/').pop() ?? '';
const zoneOfUrl = (url: string | null | undefined) => /\/zones\/([^/]+)/.exec(url ?? '')?.[1];

function metadataOf(vm: IInstance | undefined, m: IManagedInstance | undefined): Record<string, string> {
  const out: Record<string, string> = { ...(m?.preservedStateFromConfig?.metadata ?? {}) };
  for (const item of vm?.metadata?.items ?? []) if (item.key) out[item.key] = item.value ?? '';
  return out;
}

/** An error of GCE's own, shaped like google-gax's so the retry classifies it. */
function gceError(message: string, status: number, reason: string): Error {
  return Object.assign(new Error(message), { httpStatusCode: status, gceReason: reason });
}

/** Where the clients connect: Google's endpoint (empty), or a stand-in's host, port and protocol. */
type ClientOpts = { apiEndpoint?: string; port?: number; protocol?: string };

/** Clients by endpoint and kind, shared by every provider object of the process. */
const CLIENTS = new Map<string, unknown>();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class GceProvider implements Provider {
  readonly kind = 'gce';
  readonly name: string;
  readonly group: string;
  readonly #o: GceProviderOptions;
  readonly #policy: GceRetryPolicy;
  readonly #call: GceCallOptions;
  readonly #zonal: boolean;
  readonly #clientOpts: ClientOpts;
  readonly images: ImageBaking | undefined;
  #autoscalerCheckedAt = 0;
  #secrets: string[] = [];

  constructor(o: GceProviderOptions) {
    if ((o.zone === undefined) === (o.region === undefined))
      throw new Error(`gce provider ${o.name}: give exactly one of zone or region`);
    this.name = o.name;
    this.group = o.group;
    this.#o = o;
    this.#zonal = o.zone !== undefined;
    this.#policy = o.retry ?? DEFAULT_GCE_RETRY;
    // Credentials: Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud's
    // file, the metadata server / workload identity). Retries are ours (gax's are off per call).
    const endpoint = o.endpoint ? new URL(o.endpoint) : undefined;
    const opts = endpoint
      ? {
          apiEndpoint: endpoint.hostname,
          port: Number(endpoint.port) || (endpoint.protocol === 'http:' ? 80 : 443),
          protocol: endpoint.protocol.replace(':', ''),
        }
      : {};
    this.#clientOpts = opts;
    const images = o.images;
    this.images = images
      ? {
          everyMs: images.every,
          keep: images.keep ?? 3,
          list: () => this.listImages(),
          bake: (instance, id) => this.bakeImage(instance, id, images.keep ?? 3),
        }
      : undefined;
    const log = o.log;
    this.#call = {
      policy: this.#policy,
      secrets: () => this.#secrets,
      onRetry: (e) =>
        log?.warn(
          { provider: this.name, ...e },
          `gce ${e.call} on group ${e.group}${e.subject ? ` (${e.subject})` : ''}: ${e.code}${e.status ? ` (HTTP ${e.status})` : ''}, try ${e.attempt} of ${e.of}; retrying in ${e.delayMs} ms`,
        ),
    };
  }

  /**
   * One client of each kind per endpoint and process, made on first use: each loads the
   * whole Compute Engine description (seconds), and a controller makes provider objects often.
   */
  #client<T>(kind: string, make: (opts: ClientOpts) => T): T {
    const key = `${JSON.stringify(this.#clientOpts)}|${kind}`;
    let c = CLIENTS.get(key) as T | undefined;
    if (!c) {
      c = make({ ...this.#clientOpts });
      CLIENTS.set(key, c);
    }
    return c;
  }
  get #igm(): InstanceGroupManagersClient | RegionInstanceGroupManagersClient {
    return this.#zonal
      ? this.#client('igm', (o) => new InstanceGroupManagersClient(o))
      : this.#client('region-igm', (o) => new RegionInstanceGroupManagersClient(o));
  }
  get #autoscalers(): AutoscalersClient | RegionAutoscalersClient {
    return this.#zonal
      ? this.#client('autoscalers', (o) => new AutoscalersClient(o))
      : this.#client('region-autoscalers', (o) => new RegionAutoscalersClient(o));
  }
  get #instances() {
    return this.#client('instances', (o) => new InstancesClient(o));
  }
  get #zoneOps() {
    return this.#client('zone-ops', (o) => new ZoneOperationsClient(o));
  }
  get #regionOps() {
    return this.#client('region-ops', (o) => new RegionOperationsClient(o));
  }
  get #globalOps() {
    return this.#client('global-ops', (o) => new GlobalOperationsClient(o));
  }
  get #templates() {
    return this.#client('templates', (o) => new InstanceTemplatesClient(o));
  }
  get #disks() {
    return this.#client('disks', (o) => new DisksClient(o));
  }
  get #snapshots() {
    return this.#client('snapshots', (o) => new SnapshotsClient(o));
  }
  get #images() {
    return this.#client('images', (o) => new ImagesClient(o));
  }

  /** Per-call options: our timeout, gax's own retries off (ours are counted and logged). */
  get #opts() {
    return { timeout: this.#policy.callTimeoutMs, retry: null };
  }

  get #where(): { project: string; zone: string } | { project: string; region: string } {
    return this.#zonal
      ? { project: this.#o.project, zone: this.#o.zone! }
      : { project: this.#o.project, region: this.#o.region! };
  }

  /** Learns the access token, so no message can ever carry it (none should). */
  async #learnSecrets(): Promise<void> {
    try {
      const token = await this.#instances.auth.getAccessToken();
      if (token && !this.#secrets.includes(token)) this.#secrets = [...this.#secrets, token].slice(-4);
    } catch {
      // No credentials: the call itself will say so, without any secret in it.
    }
  }

  async #run<T>(call: string, subject: string | undefined, attempt: () => Promise<T>): Promise<T> {
    await this.#learnSecrets();
    try {
      return await callGce({ call, group: this.group, subject }, this.#call, attempt);
    } catch (e) {
      throw new Error(`gce provider ${this.name}: ${(e as Error).message}`, { cause: e });
    }
  }

  async #send<T>(call: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (e) {
      throw named(call, e);
    }
  }

  /**
   * Follows an operation to DONE (zone, region or global, by where it lives); an error inside
   * it is thrown with GCE's code and status, so the retry judges it like any other.
   */
  async #follow(call: string, first: IOperation | null | undefined): Promise<void> {
    let op = first;
    const deadline = Date.now() + this.#policy.operationTimeoutMs;
    while (op && op.status !== 'DONE') {
      if (Date.now() > deadline)
        throw gceError(
          `operation ${op.name} of ${call} not DONE after ${this.#policy.operationTimeoutMs} ms (${op.status})`,
          504,
          'operationTimeout',
        );
      const name = op.name!;
      const zone = last(op.zone);
      const region = last(op.region);
      op = await this.#send(`${call} (waiting for operation ${name})`, async () => {
        if (zone)
          return (
            await this.#zoneOps.wait({ project: this.#o.project, zone, operation: name }, this.#opts)
          )[0];
        if (region)
          return (
            await this.#regionOps.wait({ project: this.#o.project, region, operation: name }, this.#opts)
          )[0];
        return (await this.#globalOps.wait({ project: this.#o.project, operation: name }, this.#opts))[0];
      });
    }
    const errors = op?.error?.errors ?? [];
    if (errors.length > 0) {
      const text = errors.map((e) => `${e.code}: ${e.message}`).join('; ');
      throw named(
        call,
        gceError(
          `operation ${op!.name} failed: ${text}`,
          op!.httpErrorStatusCode ?? 400,
          errors[0]!.code ?? 'ERROR',
        ),
      );
    }
  }

  // ---- reads

  async #members(): Promise<IManagedInstance[]> {
    return this.#send('listManagedInstances', async () => {
      const req = { ...this.#where, instanceGroupManager: this.group };
      const [out] = this.#zonal
        ? await (this.#igm as InstanceGroupManagersClient).listManagedInstances(req as never, this.#opts)
        : await (this.#igm as RegionInstanceGroupManagersClient).listManagedInstances(
            req as never,
            this.#opts,
          );
      return out;
    });
  }

  /** The group's VMs, by name (one instances.list per zone its members are in). */
  async #vms(members: readonly IManagedInstance[]): Promise<Map<string, IInstance>> {
    const zones = new Set(members.map((m) => zoneOfUrl(m.instance)).filter((z): z is string => !!z));
    const out = new Map<string, IInstance>();
    for (const zone of zones) {
      const [vms] = await this.#send('instances.list', () =>
        this.#instances.list({ project: this.#o.project, zone }, this.#opts),
      );
      for (const vm of vms) out.set(vm.name!, vm);
    }
    return out;
  }

  async #vm(m: IManagedInstance): Promise<IInstance | undefined> {
    const zone = zoneOfUrl(m.instance);
    if (!zone) return undefined;
    try {
      const [vm] = await this.#send('instances.get', () =>
        this.#instances.get({ project: this.#o.project, zone, instance: m.name! }, this.#opts),
      );
      return vm;
    } catch (e) {
      if ((e as { httpStatusCode?: number }).httpStatusCode === 404) return undefined;
      throw e;
    }
  }

  #address(vm: IInstance | undefined): string {
    const nic = vm?.networkInterfaces?.[0];
    if (this.#o.address === 'external') return nic?.accessConfigs?.[0]?.natIP ?? '';
    return nic?.networkIP ?? '';
  }

  #toInstance(m: IManagedInstance, vm: IInstance | undefined): Instance {
    const md = metadataOf(vm, m);
    const unmanaged = !md[METADATA.node] || !md[METADATA.action];
    return {
      id: m.name!,
      nodeId: unmanaged ? `unmanaged-${m.name}` : md[METADATA.node]!,
      pool: unmanaged ? (this.#o.pool ?? '') : (md[METADATA.pool] ?? ''),
      actionId: unmanaged ? '' : md[METADATA.action]!,
      term: unmanaged ? undefined : Number(md[METADATA.term]) || undefined,
      host: this.#address(vm),
      ports: { ...this.#o.ports },
      running:
        vm?.status === 'RUNNING' &&
        (m.currentAction === 'NONE' || m.currentAction === 'VERIFYING') &&
        m.targetStatus !== 'STOPPED',
      createdAt: Number(md[METADATA.createdAt]) || Date.parse(vm?.creationTimestamp ?? '') || 0,
      names: vm?.id ? [String(vm.id)] : undefined,
    };
  }

  async list(): Promise<Instance[]> {
    return this.#run('listManagedInstances', undefined, async () => {
      const members = await this.#members();
      const vms = await this.#vms(members);
      return members
        .filter((m) => m.currentAction !== 'DELETING' && m.currentAction !== 'ABANDONING')
        .map((m) => this.#toInstance(m, vms.get(m.name!)))
        .filter((i) => !i.nodeId.startsWith('unmanaged-') || this.#o.pool !== undefined);
    });
  }

  // ---- create

  /** The group's autoscaler must be off (or absent): two autoscalers on one group fight. */
  async #checkAutoscaler(): Promise<void> {
    if (Date.now() - this.#autoscalerCheckedAt < 60_000) return;
    await this.#run('instanceGroupManagers.get', 'its autoscaler', async () => {
      const [group] = await this.#send('instanceGroupManagers.get', async () =>
        this.#zonal
          ? (this.#igm as InstanceGroupManagersClient).get(
              { ...this.#where, instanceGroupManager: this.group } as never,
              this.#opts,
            )
          : (this.#igm as RegionInstanceGroupManagersClient).get(
              { ...this.#where, instanceGroupManager: this.group } as never,
              this.#opts,
            ),
      );
      const url = group.status?.autoscaler;
      if (!url) return;
      const [as] = await this.#send('autoscalers.get', async () =>
        this.#zonal
          ? (this.#autoscalers as AutoscalersClient).get(
              { ...this.#where, autoscaler: last(url) } as never,
              this.#opts,
            )
          : (this.#autoscalers as RegionAutoscalersClient).get(
              { ...this.#where, autoscaler: last(url) } as never,
              this.#opts,
            ),
      );
      const mode = as.autoscalingPolicy?.mode ?? 'ON';
      if (mode !== 'OFF')
        throw gceError(
          `group ${this.group} has autoscaler ${last(url)} in mode ${mode}: Rampart scales this group itself; set the autoscaler's mode to OFF (gcloud compute instance-groups managed set-autoscaling --mode=off) or delete it`,
          412,
          'autoscalerOn',
        );
    });
    this.#autoscalerCheckedAt = Date.now();
  }

  async create(req: CreateRequest): Promise<Instance> {
    const missing = req.kind.portNames.filter((p) => this.#o.ports[p] === undefined);
    if (missing.length > 0)
      throw new Error(
        `gce provider ${this.name}: node kind ${req.kind.kind} needs port(s) ${missing.join(', ')}; set them in providers[].ports`,
      );
    await this.#checkAutoscaler();
    const name = instanceNameFor(req.nodeId);
    const subject = `node ${req.nodeId}, instance ${name}`;
    const metadata: Record<string, string> = {
      [METADATA.node]: req.nodeId,
      [METADATA.pool]: req.pool,
      [METADATA.action]: req.actionId,
      [METADATA.term]: String(req.term),
      [METADATA.group]: this.group,
      [METADATA.createdAt]: String(Date.now()),
    };
    if (this.#o.startupScript)
      metadata['startup-script'] = renderStartupScript({
        nodeId: req.nodeId,
        pool: req.pool,
        actionId: req.actionId,
        dataDir: this.#o.startupScript.dataDir,
        command: this.#o.startupScript.command,
      });
    // GCE answers a repeated requestId with the first call's operation, even a failed one: a
    // try after a failed operation is a new request, one after a lost answer the same.
    let generation = 0;
    await this.#run('createInstances', subject, async () => {
      const earlier = (await this.#members()).find((m) => m.name === name);
      if (earlier) {
        const action = earlier.preservedStateFromConfig?.metadata?.[METADATA.action];
        if (action === req.actionId && earlier.currentAction !== 'DELETING') return; // a try that already did
        throw gceError(
          `the group already holds an instance named ${name} (action ${action ?? 'none'}, ${earlier.currentAction})`,
          409,
          'alreadyExists',
        );
      }
      const body = { instances: [{ name, preservedState: { metadata } }] };
      const request = {
        ...this.#where,
        instanceGroupManager: this.group,
        requestId: requestId(this.group, req.actionId, name, String(generation)),
        ...(this.#zonal
          ? { instanceGroupManagersCreateInstancesRequestResource: body }
          : { regionInstanceGroupManagersCreateInstancesRequestResource: body }),
      };
      let op: IOperation;
      try {
        op = (
          await this.#send('createInstances', () =>
            this.#zonal
              ? (this.#igm as InstanceGroupManagersClient).createInstances(request as never, this.#opts)
              : (this.#igm as RegionInstanceGroupManagersClient).createInstances(
                  request as never,
                  this.#opts,
                ),
          )
        )[0].latestResponse as IOperation;
      } catch (e) {
        // An earlier try whose answer was lost may have got there first: then it is ours.
        if ((e as { httpStatusCode?: number }).httpStatusCode !== 409) throw e;
        const now = (await this.#members()).find((m) => m.name === name);
        if (now?.preservedStateFromConfig?.metadata?.[METADATA.action] === req.actionId) return;
        throw e;
      }
      try {
        await this.#follow('createInstances', op);
      } catch (e) {
        if ((e as { gceReason?: string }).gceReason !== undefined) generation++;
        throw e;
      }
    });
    // Fault injection for the crash-safety tests: dies once the group holds the instance.
    if (process.env.RAMPART_CRASH_AT === 'create:after-create-instances')
      process.kill(process.pid, 'SIGKILL');
    try {
      return await this.#untilRunning(name, subject);
    } catch (e) {
      const cleanup = await this.#deleteMember(name, `${subject} (cleanup)`).then(
        () => `deleted ${name} from the group again, so nothing is left behind`,
        (c) => `could not delete ${name} either (${(c as Error).message}): the orphan cleanup will`,
      );
      throw new Error(`${(e as Error).message}; ${cleanup}`, { cause: e });
    }
  }

  /** Waits until the member's VM runs; a member the group cannot create (lastAttempt errors) fails it. */
  async #untilRunning(name: string, subject: string): Promise<Instance> {
    const deadline = Date.now() + this.#policy.bootTimeoutMs;
    for (let pause = 100; ; pause = Math.min(pause * 2, 2000)) {
      type State =
        | { readonly instance: Instance }
        | { readonly gone: true }
        | { readonly failed: { code?: string | null; message?: string | null }[] }
        | { readonly waiting: string };
      const state = await this.#run('listManagedInstances', subject, async (): Promise<State> => {
        const m = (await this.#members()).find((x) => x.name === name);
        if (!m) return { gone: true };
        const errors = m.lastAttempt?.errors?.errors ?? [];
        if (errors.length > 0 && m.currentAction !== 'NONE') return { failed: errors };
        if (m.instanceStatus === 'RUNNING' && m.currentAction === 'NONE') {
          const vm = await this.#vm(m);
          if (vm?.status === 'RUNNING') return { instance: this.#toInstance(m, vm) };
        }
        return { waiting: `${m.currentAction}, ${m.instanceStatus ?? 'no VM yet'}` };
      });
      if ('instance' in state) return state.instance;
      if ('gone' in state)
        throw new Error(`gce provider ${this.name}: ${subject} left the group while it was being created`);
      if ('failed' in state) {
        const text = state.failed.map((e) => `${e.code}: ${e.message}`).join('; ');
        throw new Error(
          `gce provider ${this.name}: createInstances on managed instance group ${this.group} (${subject}): the group cannot create it: ${text}`,
        );
      }
      if (Date.now() > deadline)
        throw new Error(
          `gce provider ${this.name}: ${subject} not RUNNING after ${this.#policy.bootTimeoutMs} ms (${state.waiting})`,
        );
      await sleep(pause);
    }
  }

  // ---- destroy, stop, start

  async destroy(instance: Instance): Promise<void> {
    await this.#deleteMember(instance.id, `node ${instance.nodeId}, instance ${instance.id}`);
  }

  /** Deletes the member (target size down by one) and waits until the group no longer holds it. */
  async #deleteMember(name: string, subject: string): Promise<void> {
    const deadline = Date.now() + this.#policy.bootTimeoutMs;
    let generation = 0; // a new requestId after a failed operation (see create)
    for (;;) {
      const left = await this.#run('deleteInstances', subject, async () => {
        const m = (await this.#members()).find((x) => x.name === name);
        if (!m) return false;
        if (m.currentAction === 'DELETING') return true;
        const body = { instances: [m.instance!], skipInstancesOnValidationError: true };
        const request = {
          ...this.#where,
          instanceGroupManager: this.group,
          requestId: requestId(this.group, 'delete', name, String(m.id ?? ''), String(generation)),
          ...(this.#zonal
            ? { instanceGroupManagersDeleteInstancesRequestResource: body }
            : { regionInstanceGroupManagersDeleteInstancesRequestResource: body }),
        };
        const [op] = await this.#send('deleteInstances', () =>
          this.#zonal
            ? (this.#igm as InstanceGroupManagersClient).deleteInstances(request as never, this.#opts)
            : (this.#igm as RegionInstanceGroupManagersClient).deleteInstances(request as never, this.#opts),
        );
        await this.#follow('deleteInstances', op.latestResponse as IOperation).catch((e) => {
          generation++;
          throw e;
        });
        return true;
      });
      if (!left) return;
      if (Date.now() > deadline)
        throw new Error(
          `gce provider ${this.name}: ${subject} still in the group ${this.#policy.bootTimeoutMs} ms after its deletion`,
        );
      await sleep(200);
    }
  }

  async #memberAction(
    call: 'stopInstances' | 'startInstances',
    instance: Instance,
  ): Promise<IManagedInstance | undefined> {
    const subject = `node ${instance.nodeId}, instance ${instance.id}`;
    return this.#run(call, subject, async () => {
      const m = (await this.#members()).find((x) => x.name === instance.id);
      if (!m || m.currentAction === 'DELETING') return undefined;
      const stopping = call === 'stopInstances';
      if (stopping && m.targetStatus === 'STOPPED') return m;
      if (!stopping && m.targetStatus !== 'STOPPED' && m.instanceStatus === 'RUNNING') return m;
      const body = { instances: [m.instance!] };
      const field = `${this.#zonal ? 'instanceGroupManagers' : 'regionInstanceGroupManagers'}${stopping ? 'Stop' : 'Start'}InstancesRequestResource`;
      const request = { ...this.#where, instanceGroupManager: this.group, [field]: body };
      const igm = this.#igm as InstanceGroupManagersClient;
      const [op] = await this.#send(call, () =>
        stopping
          ? igm.stopInstances(request as never, this.#opts)
          : igm.startInstances(request as never, this.#opts),
      );
      await this.#follow(call, op.latestResponse as IOperation);
      return m;
    });
  }

  /** Stops the VM through its group (the group keeps it, stopped, and does not replace it). Idempotent. */
  async stop(instance: Instance): Promise<void> {
    const m = await this.#memberAction('stopInstances', instance);
    if (!m) return;
    const deadline = Date.now() + this.#policy.bootTimeoutMs;
    for (;;) {
      const now = (
        await this.#run('listManagedInstances', `instance ${instance.id}`, () => this.#members())
      ).find((x) => x.name === instance.id);
      if (!now || (now.instanceStatus === 'TERMINATED' && now.currentAction === 'NONE')) return;
      if (Date.now() > deadline)
        throw new Error(`gce provider ${this.name}: ${instance.id} did not stop in time`);
      await sleep(200);
    }
  }

  /** Starts a stopped VM again (same name, metadata and disk) and waits until it runs. */
  async start(instance: Instance): Promise<Instance> {
    const m = await this.#memberAction('startInstances', instance);
    if (!m)
      throw new Error(
        `gce provider ${this.name}: instance ${instance.id} is not in group ${this.group}: it cannot be started`,
      );
    return this.#untilRunning(instance.id, `node ${instance.nodeId}, instance ${instance.id}`);
  }

  // ---- images

  /** Images this provider baked into its family, newest first. */
  async listImages(): Promise<BakedImage[]> {
    const family = this.#imagesConfig().family;
    return this.#run('images.list', `family ${family}`, async () => {
      const [all] = await this.#send('images.list', () =>
        this.#images.list(
          { project: this.#o.project, filter: `labels.${IMAGE_LABELS.family} = "${family}"` },
          this.#opts,
        ),
      );
      return all
        .filter((i) => i.family === family && i.labels?.[IMAGE_LABELS.family] === family)
        .map((i) => ({
          name: i.name!,
          createdAt: Date.parse(i.creationTimestamp ?? '') || 0,
          snapshot: last(i.sourceSnapshot) || undefined,
          deprecated: i.deprecated?.state !== undefined && i.deprecated.state !== 'ACTIVE',
          ready: i.status === 'READY',
        }))
        .sort((a, b) => b.createdAt - a.createdAt || b.name.localeCompare(a.name));
    });
  }

  #imagesConfig() {
    const images = this.#o.images;
    if (!images)
      throw new Error(
        `gce provider ${this.name}: baking images needs providers[].images (the family the template boots)`,
      );
    return images;
  }

  /** The template the group creates from must boot the family, or a new image changes nothing. */
  async #checkTemplateBootsFamily(family: string): Promise<void> {
    await this.#run('instanceTemplates.get', `family ${family}`, async () => {
      const [group] = await this.#send('instanceGroupManagers.get', async () =>
        this.#zonal
          ? (this.#igm as InstanceGroupManagersClient).get(
              { ...this.#where, instanceGroupManager: this.group } as never,
              this.#opts,
            )
          : (this.#igm as RegionInstanceGroupManagersClient).get(
              { ...this.#where, instanceGroupManager: this.group } as never,
              this.#opts,
            ),
      );
      const [template] = await this.#send('instanceTemplates.get', () =>
        this.#templates.get(
          { project: this.#o.project, instanceTemplate: last(group.instanceTemplate) },
          this.#opts,
        ),
      );
      const boot = template.properties?.disks?.find((d) => d.boot)?.initializeParams?.sourceImage ?? '';
      if (!boot.endsWith(`/global/images/family/${family}`))
        throw gceError(
          `template ${template.name} boots ${boot || 'no image'}, not image family ${family}: new instances would not take the baked images`,
          412,
          'templateNotOnFamily',
        );
    });
  }

  /**
   * Bakes an image from `instance`'s boot disk (the caller stopped it): a disk snapshot, then an
   * image in the family; then images beyond `keep` go (deleted with their snapshots, or
   * deprecated). Names derive from `bakeId`, so a retried or resumed bake finds its own work.
   */
  async bakeImage(
    instance: Instance,
    bakeId: string,
    keep: number,
  ): Promise<{ image: string; retired: string[] }> {
    const { family, retire, storageLocation } = this.#imagesConfig();
    await this.#checkTemplateBootsFamily(family);
    const subject = `node ${instance.nodeId}, instance ${instance.id}, family ${family}`;
    const base = `${family}-${bakeId}`.slice(0, 63).replace(/-+$/, '');
    const labels = {
      [IMAGE_LABELS.family]: family,
      [IMAGE_LABELS.node]: instanceNameFor(instance.nodeId),
      [IMAGE_LABELS.pool]: instanceNameFor(instance.pool),
    };
    const locations = storageLocation ? { storageLocations: [storageLocation] } : {};
    let generation = 0; // a new requestId after a failed operation (see create)
    const failed = (e: unknown) => {
      generation++;
      throw e;
    };
    const snapshot = await this.#run('disks.createSnapshot', subject, async () => {
      const found = await this.#getOrUndefined(() =>
        this.#snapshots.get({ project: this.#o.project, snapshot: base }, this.#opts),
      );
      if (found?.status === 'READY') return base;
      if (!found) {
        const m = (await this.#members()).find((x) => x.name === instance.id);
        const vm = m ? await this.#vm(m) : undefined;
        const disk = vm?.disks?.find((d) => d.boot)?.source;
        if (!vm || !disk)
          throw gceError(`instance ${instance.id} has no boot disk to snapshot`, 404, 'notFound');
        const [op] = await this.#send('disks.createSnapshot', () =>
          this.#disks.createSnapshot(
            {
              project: this.#o.project,
              zone: zoneOfUrl(disk) ?? '',
              disk: last(disk),
              requestId: requestId('snapshot', base, String(generation)),
              snapshotResource: { name: base, labels, ...locations },
            },
            this.#opts,
          ),
        );
        await this.#follow('disks.createSnapshot', op.latestResponse as IOperation).catch(failed);
      } else {
        throw gceError(`snapshot ${base} is ${found.status}`, 503, 'resourceNotReady');
      }
      return base;
    });
    // Fault injection for the crash-safety tests: dies between the snapshot and the image.
    if (process.env.RAMPART_CRASH_AT === 'image:after-disk-snapshot') process.kill(process.pid, 'SIGKILL');
    await this.#run('images.insert', subject, async () => {
      const found = await this.#getOrUndefined(() =>
        this.#images.get({ project: this.#o.project, image: base }, this.#opts),
      );
      if (found?.status === 'READY') return;
      if (found) throw gceError(`image ${base} is ${found.status}`, 503, 'resourceNotReady');
      const [op] = await this.#send('images.insert', () =>
        this.#images.insert(
          {
            project: this.#o.project,
            requestId: requestId('image', base, String(generation)),
            imageResource: {
              name: base,
              family,
              sourceSnapshot: `projects/${this.#o.project}/global/snapshots/${snapshot}`,
              labels,
              ...locations,
            },
          },
          this.#opts,
        ),
      );
      await this.#follow('images.insert', op.latestResponse as IOperation).catch(failed);
    });
    const retired = await this.retireImages(keep, retire);
    return { image: base, retired };
  }

  /** Retires the family's images beyond the newest `keep` (and snapshots no image uses any more). */
  async retireImages(
    keep: number,
    retire: 'delete' | 'deprecate' = this.#imagesConfig().retire,
  ): Promise<string[]> {
    const images = await this.listImages();
    const newest = images.find((i) => i.ready && !i.deprecated);
    const out: string[] = [];
    for (const image of imagesToRetire(images, keep, retire)) {
      await this.#run(
        retire === 'delete' ? 'images.delete' : 'images.deprecate',
        `image ${image.name}`,
        async () => {
          const [op] = await this.#send(`images.${retire}`, () =>
            retire === 'delete'
              ? this.#images.delete({ project: this.#o.project, image: image.name }, this.#opts)
              : this.#images.deprecate(
                  {
                    project: this.#o.project,
                    image: image.name,
                    deprecationStatusResource: {
                      state: 'DEPRECATED',
                      ...(newest
                        ? { replacement: `projects/${this.#o.project}/global/images/${newest.name}` }
                        : {}),
                    },
                  },
                  this.#opts,
                ),
          ).catch((e) => {
            if ((e as { httpStatusCode?: number }).httpStatusCode === 404) return [undefined];
            throw e;
          });
          if (op) await this.#follow(`images.${retire}`, op.latestResponse as IOperation);
        },
      );
      if (retire === 'delete' && image.snapshot) await this.#deleteSnapshot(image.snapshot);
      out.push(image.name);
    }
    await this.#sweepSnapshots();
    return out;
  }

  /**
   * Deletes the family's snapshots no image was made from: left by a bake that died between
   * the snapshot and the image (a controller killed mid-bake). A bake in flight is never
   * swept: only one bakes per provider at a time, and its image exists before this runs.
   */
  async #sweepSnapshots(): Promise<void> {
    const family = this.#imagesConfig().family;
    const used = new Set((await this.listImages()).map((i) => i.snapshot));
    const [all] = await this.#run('snapshots.list', `family ${family}`, () =>
      this.#send('snapshots.list', () =>
        this.#snapshots.list(
          { project: this.#o.project, filter: `labels.${IMAGE_LABELS.family} = "${family}"` },
          this.#opts,
        ),
      ),
    );
    for (const snap of all)
      if (snap.labels?.[IMAGE_LABELS.family] === family && snap.status === 'READY' && !used.has(snap.name!))
        await this.#deleteSnapshot(snap.name!);
  }

  async #deleteSnapshot(name: string): Promise<void> {
    await this.#run('snapshots.delete', `snapshot ${name}`, async () => {
      const [op] = await this.#send('snapshots.delete', () =>
        this.#snapshots.delete({ project: this.#o.project, snapshot: name }, this.#opts),
      ).catch((e) => {
        if ((e as { httpStatusCode?: number }).httpStatusCode === 404) return [undefined];
        throw e;
      });
      if (op) await this.#follow('snapshots.delete', op.latestResponse as IOperation);
    });
  }

  async #getOrUndefined<T>(get: () => Promise<[T, ...unknown[]]>): Promise<T | undefined> {
    try {
      return (await get())[0];
    } catch (e) {
      if ((e as { httpStatusCode?: number }).httpStatusCode === 404) return undefined;
      throw e;
    }
  }
}
