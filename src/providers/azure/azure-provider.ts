// The `azure` provider: a pool is a virtual machine scale set, owned by Rampart. The scale
// set's listing is the source of truth: every VM Rampart creates carries its node id, pool,
// creating action and term as tags from its first moment, so a restarted controller finds
// exactly what runs, whoever created it.
//
// Scale-up (Flexible orchestration) creates ONE virtual machine per create request with
// virtualMachines.createOrUpdate, named after the node and referencing the scale set, built
// from the scale set's own VM profile. The name makes the create idempotent: a try that timed
// out, or a controller restarted mid-create, finds the VM by name (adopted when its action
// tag is the request's) instead of making a second. Rejected: raising the scale set's
// capacity, which lets Azure pick and name the new instance (which answers which request is
// then a guess, and a controller killed before tagging leaves an instance no intent names).
// A Uniform scale set has no way to add a chosen instance: it is listed and scaled in, and a
// create on it is refused with the reason.
//
// Scale-in deletes exactly the chosen instance with virtualMachineScaleSets.deleteInstances
// and its id, never one Azure picks. Long-running operations are followed through their
// Azure-AsyncOperation or Location header to their end; one that fails leaves nothing
// behind (a VM whose creation failed is deleted). The scale set's own autoscale (a
// Microsoft.Insights autoscale setting) must be off: checked before each scale-up.
//
// stop deallocates an instance (its disks and identity kept), start starts it again.
//
// A VM in the scale set without Rampart's tags (someone added it) is listed as
// `unmanaged-<name>` of the pool, with no node record, so the controller's orphan cleanup
// deletes it.
//
// Images (providers[].images): `bakeImage` copies a deallocated VM's OS disk into a managed
// snapshot and makes a managed image of the snapshot, both named `<family>-<action id>` and
// tagged with the family, the provider and the action, so a retried bake finds its own work;
// new VMs boot the family's newest image. Images beyond `keep` go with their snapshots, never
// one a VM of the resource group boots from or a create in flight was given.

import { createHash } from 'node:crypto';
import {
  ComputeManagementClient,
  type Image,
  type Snapshot,
  type VirtualMachine,
  type VirtualMachineNetworkInterfaceConfiguration,
  type VirtualMachineScaleSet,
  type VirtualMachineScaleSetVM,
} from '@azure/arm-compute';
import type { TokenCredential } from '@azure/identity';
import type { Logger } from 'pino';
import { renderBootScript } from '../boot-script.ts';
import type { CreateRequest, ImageBaking, Instance, Provider } from '../provider.ts';
import { checkAutoscaleOff } from './autoscale-check.ts';
import {
  type AzureRetryPolicy,
  callAzure,
  classifyAzureError,
  DEFAULT_AZURE_RETRY,
  named,
  retryReporter,
} from './azure-call.ts';
import { type AzureBakedImage, azureImagesToRetire } from './image-retirement.ts';

/** Tags Rampart puts on every VM it creates. */
export const TAGS = {
  node: 'rampart:node',
  pool: 'rampart:pool',
  action: 'rampart:action',
  term: 'rampart:term',
  /** The scale set: scopes a provider's listing to its own set. */
  scaleSet: 'rampart:scale-set',
  /** ms since the epoch, when Rampart asked for it. */
  createdAt: 'rampart:created-at',
} as const;

/** Tags on the snapshots and images Rampart bakes (besides TAGS.action, TAGS.node, TAGS.createdAt). */
export const IMAGE_TAGS = {
  family: 'rampart:family',
  /** The provider's name: a family's listing is this provider's own. */
  provider: 'rampart:provider',
  /** On an image: the snapshot it was made from (deleted with it). */
  snapshot: 'rampart:snapshot',
} as const;

export interface AzureImagesOptions {
  readonly family: string;
  /** Bake on this schedule, ms. Absent: only when asked. */
  readonly every?: number | undefined;
  readonly keep: number;
  /** Longest wait for the snapshot and for the image, each, ms. */
  readonly timeout: number;
}

/** The snapshot's and the image's name of a bake: Azure allows 80 of letters, digits, -, _ and . */
export function imageNameFor(family: string, bakeId: string): string {
  return `${family}-${bakeId}`
    .replace(/[^A-Za-z0-9_.-]/g, '-')
    .slice(0, 80)
    .replace(/[.-]+$/, '');
}

export type AzureAddressSource = 'computer-name' | { readonly tag: string };

export interface AzureProviderOptions {
  readonly name: string;
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  readonly scaleSet: string;
  readonly credential: TokenCredential;
  /** Values never to print (the client secret, where known). */
  readonly secrets?: readonly string[] | undefined;
  /** Resource Manager's URL. Default https://management.azure.com. */
  readonly endpoint?: string | undefined;
  /** PEM of the CAs Resource Manager presents. Default: the public ones. */
  readonly ca?: string | undefined;
  readonly address?: AzureAddressSource | undefined;
  readonly ports: Readonly<Record<string, number>>;
  readonly retry?: AzureRetryPolicy | undefined;
  /** Boot script settings; absent: no custom data (the scale set's own is not readable back). */
  readonly customData?: { readonly dataDir: string; readonly command?: string | undefined } | undefined;
  /** Managed images baked from the pool's nodes; new VMs boot the newest. Absent: none. */
  readonly images?: AzureImagesOptions | undefined;
  /** The pool this scale set serves (a VM added by someone else is listed under it). */
  readonly pool?: string | undefined;
  readonly log?: Logger | undefined;
}

type Mode = 'Flexible' | 'Uniform';
type Machine = VirtualMachine | VirtualMachineScaleSetVM;

const RUNNING_POWER = new Set(['running', 'starting']);
const GONE_PROVISIONING = new Set(['deleting', 'failed']);

/** A VM name from a node id: Azure allows letters, digits, - and _ (64 for Linux); computer names likewise. */
export function vmNameFor(nodeId: string): string {
  const clean = nodeId
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .replace(/^-+|-+$/g, '');
  if (clean !== '' && clean.length <= 63 && clean === nodeId) return clean;
  // Not a name Azure accepts as is: a readable prefix and a hash keep it unique and stable.
  const hash = createHash('sha256').update(nodeId).digest('hex').slice(0, 10);
  return `${clean.slice(0, 50) || 'rampart'}-${hash}`;
}

function powerState(m: Machine): string | undefined {
  const statuses = m.instanceView?.statuses ?? [];
  return statuses.find((s) => s.code?.startsWith('PowerState/'))?.code?.slice('PowerState/'.length);
}

/** An earlier try's created-at tag, kept by the PUT that follows it (its age counts from the first). */
function keptCreatedAt(tags: Record<string, string> | undefined): Record<string, string> {
  const at = tags?.[TAGS.createdAt];
  return at ? { [TAGS.createdAt]: at } : {};
}

/** 404 on a read: the resource does not exist (any more). */
function notFound(e: unknown): boolean {
  return (e as { statusCode?: number }).statusCode === 404;
}

export class AzureProvider implements Provider {
  readonly kind = 'azure';
  readonly name: string;
  readonly scaleSet: string;
  readonly #opts: AzureProviderOptions;
  readonly #client: ComputeManagementClient;
  readonly #policy: AzureRetryPolicy;
  readonly #address: AzureAddressSource;
  readonly #scaleSetId: string;
  #mode: Mode | undefined;
  readonly images: ImageBaking | undefined;
  /** Image ids (lower case) creates in flight were given: never retired under them. */
  readonly #booting = new Map<string, number>();

  constructor(opts: AzureProviderOptions) {
    this.#opts = opts;
    this.name = opts.name;
    this.scaleSet = opts.scaleSet;
    this.#policy = opts.retry ?? DEFAULT_AZURE_RETRY;
    this.#address = opts.address ?? 'computer-name';
    this.#scaleSetId = `/subscriptions/${opts.subscriptionId}/resourceGroups/${opts.resourceGroup}/providers/Microsoft.Compute/virtualMachineScaleSets/${opts.scaleSet}`;
    this.#client = new ComputeManagementClient(opts.credential, opts.subscriptionId, {
      ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
      ...(opts.ca ? { tlsOptions: { ca: opts.ca } } : {}),
      retryOptions: {
        maxRetries: this.#policy.attempts - 1,
        retryDelayInMs: this.#policy.baseDelayMs,
        maxRetryDelayInMs: this.#policy.maxDelayMs,
      },
      additionalPolicies: [
        { policy: retryReporter(opts.log, opts.name, opts.scaleSet), position: 'perRetry' },
      ],
    });
    const images = opts.images;
    this.images = images
      ? {
          everyMs: images.every,
          keep: images.keep,
          list: async () =>
            (await this.listImages())
              .filter((i) => i.state === 'Succeeded')
              .map((i) => ({ name: i.name, createdAt: i.createdAt, id: i.id })),
          bake: (instance, id) => this.bakeImage(instance, id),
        }
      : undefined;
  }

  get #rg(): string {
    return this.#opts.resourceGroup;
  }

  /** Options of each request: its timeout. */
  get #req() {
    return { requestOptions: { timeout: this.#policy.callTimeoutMs } };
  }

  /** Options of each long-running operation: its poll interval and its whole length. */
  #lro() {
    return {
      ...this.#req,
      updateIntervalInMs: this.#policy.pollIntervalMs,
      abortSignal: AbortSignal.timeout(this.#policy.operationTimeoutMs),
    };
  }

  async #run<T>(call: string, subject: string | undefined, attempt: () => Promise<T>): Promise<T> {
    try {
      return await callAzure(
        { call, scaleSet: this.scaleSet, subject },
        {
          policy: this.#policy,
          secrets: () => this.#opts.secrets ?? [],
          log: this.#opts.log,
          provider: this.name,
        },
        attempt,
      );
    } catch (e) {
      throw new Error(`azure provider ${this.name}: ${(e as Error).message}`, { cause: e });
    }
  }

  async #step<T>(call: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (e) {
      throw named(call, e);
    }
  }

  // ---- reads

  async #getScaleSet(): Promise<VirtualMachineScaleSet> {
    const set = await this.#step('virtualMachineScaleSets.get', () =>
      this.#client.virtualMachineScaleSets.get(this.#rg, this.scaleSet, this.#req),
    );
    this.#mode = set.orchestrationMode === 'Flexible' ? 'Flexible' : 'Uniform';
    return set;
  }

  async #modeOf(): Promise<Mode> {
    if (this.#mode === undefined) await this.#getScaleSet();
    return this.#mode!;
  }

  /** The scale set's machines: its VMs (Flexible) or its instances (Uniform), with their power state. */
  async #machines(): Promise<Machine[]> {
    const out: Machine[] = [];
    if ((await this.#modeOf()) === 'Flexible') {
      const pages = this.#client.virtualMachines.list(this.#rg, {
        ...this.#req,
        filter: `virtualMachineScaleSet/id eq '${this.#scaleSetId}'`,
        expand: 'instanceView',
      });
      await this.#step('virtualMachines.list', async () => {
        for await (const vm of pages)
          if (vm.virtualMachineScaleSet?.id?.toLowerCase() === this.#scaleSetId.toLowerCase()) out.push(vm);
      });
    } else {
      const pages = this.#client.virtualMachineScaleSetVMs.list(this.#rg, this.scaleSet, {
        ...this.#req,
        expand: 'instanceView',
      });
      await this.#step('virtualMachineScaleSetVMs.list', async () => {
        for await (const vm of pages) out.push(vm);
      });
    }
    return out;
  }

  /** One Flexible VM by name, with its power state; undefined when Azure no longer knows it. */
  async #getVm(name: string): Promise<VirtualMachine | undefined> {
    try {
      return await this.#step('virtualMachines.get', () =>
        this.#client.virtualMachines.get(this.#rg, name, { ...this.#req, expand: 'instanceView' }),
      );
    } catch (e) {
      if (notFound(e)) return undefined;
      throw e;
    }
  }

  /** One Uniform instance by its instance id; undefined when gone. */
  async #getInstance(instanceId: string): Promise<VirtualMachineScaleSetVM | undefined> {
    try {
      return await this.#step('virtualMachineScaleSetVMs.get', () =>
        this.#client.virtualMachineScaleSetVMs.get(this.#rg, this.scaleSet, instanceId, {
          ...this.#req,
          expand: 'instanceView',
        }),
      );
    } catch (e) {
      if (notFound(e)) return undefined;
      throw e;
    }
  }

  #toInstance(m: Machine): Instance {
    const tags = m.tags ?? {};
    const managed = tags[TAGS.node] !== undefined && tags[TAGS.action] !== undefined;
    const provisioning = (m.provisioningState ?? '').toLowerCase();
    const power = powerState(m);
    const running =
      !GONE_PROVISIONING.has(provisioning) &&
      (power === undefined ? provisioning !== '' : RUNNING_POWER.has(power));
    const host =
      this.#address === 'computer-name'
        ? (m.osProfile?.computerName ?? '')
        : (tags[this.#address.tag]?.trim() ?? '');
    const created = Number(tags[TAGS.createdAt]) || m.timeCreated?.getTime() || 0;
    return {
      id: m.name!,
      nodeId: managed ? tags[TAGS.node]! : `unmanaged-${m.name}`,
      pool: managed ? (tags[TAGS.pool] ?? '') : (this.#opts.pool ?? ''),
      actionId: managed ? tags[TAGS.action]! : '',
      term: managed ? Number(tags[TAGS.term]) || undefined : undefined,
      host,
      ports: { ...this.#opts.ports },
      running,
      createdAt: created,
    };
  }

  async list(): Promise<Instance[]> {
    return this.#run('virtualMachines.list', undefined, async () => {
      const machines = await this.#machines();
      return machines
        .filter((m) => {
          const tags = m.tags ?? {};
          // Rampart's own VMs; a VM without Rampart's tags only when the pool is known (orphan cleanup).
          if (tags[TAGS.node] !== undefined) return (tags[TAGS.scaleSet] ?? this.scaleSet) === this.scaleSet;
          return this.#opts.pool !== undefined;
        })
        .map((m) => this.#toInstance(m));
    });
  }

  // ---- create

  async create(req: CreateRequest): Promise<Instance> {
    const missing = req.kind.portNames.filter((p) => this.#opts.ports[p] === undefined);
    if (missing.length > 0)
      throw new Error(
        `azure provider ${this.name}: node kind ${req.kind.kind} needs port(s) ${missing.join(', ')}; set them in providers[].ports`,
      );
    if (req.launch.snapshot)
      throw new Error(
        `azure provider ${this.name}: node ${req.nodeId} should restore snapshot ${req.launch.snapshot.id}; restoring snapshots on Azure instances is not supported yet (docs/azure.md)`,
      );
    const vmName = vmNameFor(req.nodeId);
    const subject = `node ${req.nodeId}, VM ${vmName}`;
    const customData = this.#customData(req);
    try {
      return await this.#run('virtualMachines.createOrUpdate', subject, () =>
        this.#createOnce(req, vmName, customData),
      );
    } catch (e) {
      // Nothing left behind: a VM this request made (one whose allocation failed) is deleted.
      const cleanup = await this.#removeFailed(vmName, req.actionId, subject);
      if (cleanup === undefined) throw e;
      throw new Error(`${(e as Error).message}; ${cleanup}`, { cause: e });
    }
  }

  async #createOnce(req: CreateRequest, vmName: string, customData: string | undefined): Promise<Instance> {
    const set = await this.#getScaleSet();
    if (this.#mode !== 'Flexible')
      throw Object.assign(
        new Error(
          `scale set ${this.scaleSet} has Uniform orchestration: Azure adds instances to it only by raising its capacity and picks them itself; Rampart adds chosen VMs to Flexible scale sets only (docs/azure.md)`,
        ),
        { code: 'UniformScaleSet' },
      );
    await checkAutoscaleOff({
      credential: this.#opts.credential,
      endpoint: this.#opts.endpoint ?? 'https://management.azure.com',
      ca: this.#opts.ca,
      resourceGroupId: `/subscriptions/${this.#opts.subscriptionId}/resourceGroups/${this.#rg}`,
      scaleSetId: this.#scaleSetId,
      timeoutMs: this.#policy.callTimeoutMs,
      attempts: this.#policy.attempts,
    }).catch((e) => {
      throw named('autoscaleSettings.listByResourceGroup', e);
    });
    const earlier = await this.#getVm(vmName);
    if (earlier) {
      const action = earlier.tags?.[TAGS.action];
      if (action !== req.actionId)
        throw Object.assign(
          new Error(
            `a VM named ${vmName} already exists${action ? ` for action ${action}` : ' without Rampart tags'}`,
          ),
          { code: 'VmNameTaken' },
        );
      const state = (earlier.provisioningState ?? '').toLowerCase();
      if (state === 'succeeded') return this.#toInstance(earlier);
      if (state === 'failed')
        throw Object.assign(new Error(`VM ${vmName} of this request is in the Failed state`), {
          code: 'VmFailed',
        });
      // Still being created by an earlier try: the same PUT again follows it to its end.
    }
    // The family's newest baked image, when there is one: the new VM starts from its data.
    const image = this.#opts.images
      ? (await this.#step('images.listByResourceGroup', () => this.#familyImages())).find(
          (i) => i.state === 'Succeeded',
        )
      : undefined;
    // Held from its choice on: a retirement running meanwhile leaves it.
    const held = image?.id.toLowerCase();
    if (held) this.#booting.set(held, (this.#booting.get(held) ?? 0) + 1);
    try {
      const body = this.#vmBody(set, req, vmName, customData, await this.#zoneFor(set), image?.id);
      const made = await this.#step('virtualMachines.createOrUpdate', async () => {
        const poller = this.#client.virtualMachines.createOrUpdate(this.#rg, vmName, body, this.#lro());
        // Fault injection for the crash-safety tests: dies once Azure accepted the VM, mid-creation.
        if (process.env.RAMPART_CRASH_AT === 'create:after-vm-accepted') {
          await poller.submitted();
          process.kill(process.pid, 'SIGKILL');
        }
        return await poller;
      });
      // The PUT's final answer has no instance view: read the VM once more for its power state.
      const now = (await this.#getVm(vmName)) ?? made;
      return this.#toInstance(now);
    } finally {
      if (held) {
        const n = (this.#booting.get(held) ?? 1) - 1;
        if (n > 0) this.#booting.set(held, n);
        else this.#booting.delete(held);
      }
    }
  }

  /** The zone of the scale set holding the fewest of its VMs: what the scale set itself would pick. */
  async #zoneFor(set: VirtualMachineScaleSet): Promise<string | undefined> {
    const zones = set.zones ?? [];
    if (zones.length === 0) return undefined;
    const count = new Map(zones.map((z) => [z, 0]));
    for (const m of await this.#machines())
      for (const z of m.zones ?? []) if (count.has(z)) count.set(z, count.get(z)! + 1);
    return zones.reduce((a, b) => (count.get(b)! < count.get(a)! ? b : a));
  }

  #vmBody(
    set: VirtualMachineScaleSet,
    req: CreateRequest,
    vmName: string,
    customData: string | undefined,
    zone: string | undefined,
    /** A baked image's id: booted instead of the profile's image. */
    imageId: string | undefined,
  ): VirtualMachine {
    const p = set.virtualMachineProfile;
    if (!p?.storageProfile || !p.osProfile || !p.networkProfile?.networkInterfaceConfigurations?.length)
      throw Object.assign(
        new Error(
          `scale set ${this.scaleSet} has no VM profile (storage, OS and network profiles): a Flexible scale set Rampart scales needs one to build its VMs from`,
        ),
        { code: 'NoVmProfile' },
      );
    const nics: VirtualMachineNetworkInterfaceConfiguration[] =
      p.networkProfile.networkInterfaceConfigurations.map((n) => ({
        name: n.name,
        primary: n.primary,
        enableAcceleratedNetworking: n.enableAcceleratedNetworking,
        enableIPForwarding: n.enableIPForwarding,
        networkSecurityGroup: n.networkSecurityGroup,
        deleteOption: 'Delete',
        ipConfigurations: (n.ipConfigurations ?? []).map((ip) => ({
          name: ip.name,
          subnet: ip.subnet?.id ? { id: ip.subnet.id } : undefined,
          primary: ip.primary,
          privateIPAddressVersion: ip.privateIPAddressVersion,
          applicationSecurityGroups: ip.applicationSecurityGroups,
          applicationGatewayBackendAddressPools: ip.applicationGatewayBackendAddressPools,
          loadBalancerBackendAddressPools: ip.loadBalancerBackendAddressPools,
        })),
      }));
    const os = p.osProfile;
    return {
      location: set.location,
      ...(zone ? { zones: [zone] } : {}),
      tags: {
        [TAGS.node]: req.nodeId,
        [TAGS.pool]: req.pool,
        [TAGS.action]: req.actionId,
        [TAGS.term]: String(req.term),
        [TAGS.scaleSet]: this.scaleSet,
        [TAGS.createdAt]: String(Date.now()),
      },
      virtualMachineScaleSet: { id: set.id ?? this.#scaleSetId },
      hardwareProfile: { vmSize: set.sku?.name },
      storageProfile: {
        imageReference: imageId ? { id: imageId } : p.storageProfile.imageReference,
        osDisk: {
          createOption: 'FromImage',
          caching: p.storageProfile.osDisk?.caching,
          diskSizeGB: p.storageProfile.osDisk?.diskSizeGB,
          managedDisk: p.storageProfile.osDisk?.managedDisk,
          deleteOption: 'Delete',
        },
        dataDisks: (p.storageProfile.dataDisks ?? []).map((d) => ({
          lun: d.lun,
          createOption: d.createOption,
          caching: d.caching,
          diskSizeGB: d.diskSizeGB,
          managedDisk: d.managedDisk,
          deleteOption: 'Delete',
        })),
      },
      osProfile: {
        computerName: vmName,
        adminUsername: os.adminUsername,
        linuxConfiguration: os.linuxConfiguration,
        windowsConfiguration: os.windowsConfiguration,
        ...(customData ? { customData: Buffer.from(customData).toString('base64') } : {}),
      },
      networkProfile: {
        networkApiVersion: p.networkProfile.networkApiVersion ?? '2020-11-01',
        networkInterfaceConfigurations: nics,
      },
      securityProfile: p.securityProfile,
      diagnosticsProfile: p.diagnosticsProfile,
      priority: p.priority,
      evictionPolicy: p.evictionPolicy,
      billingProfile: p.billingProfile,
      licenseType: p.licenseType,
    };
  }

  #customData(req: CreateRequest): string | undefined {
    const settings = this.#opts.customData;
    if (!settings) return undefined;
    return renderBootScript({
      nodeId: req.nodeId,
      pool: req.pool,
      actionId: req.actionId,
      dataDir: settings.dataDir,
      command: settings.command,
      // A baked image is a copy of another node's whole disk: its keys go before first start.
      purgeCopiedKeys: this.#opts.images !== undefined,
    });
  }

  /**
   * After a failed create: the VM of this request, if Azure made it (an allocation that
   * failed leaves it in the Failed state), is deleted. Answers what was done, or undefined
   * when there was nothing to remove.
   */
  async #removeFailed(vmName: string, actionId: string, subject: string): Promise<string | undefined> {
    let vm: VirtualMachine | undefined;
    try {
      vm = await this.#run('virtualMachines.get', subject, () => this.#getVm(vmName));
    } catch (e) {
      return `could not look for VM ${vmName} (${(e as Error).message}): the orphan cleanup removes it if it exists`;
    }
    if (!vm || vm.tags?.[TAGS.action] !== actionId) return undefined;
    try {
      await this.#deleteInstances([vmName], subject);
      return `deleted VM ${vmName}, which it had made, so nothing is left behind`;
    } catch (e) {
      return `could not delete VM ${vmName} either (${(e as Error).message}): the orphan cleanup will`;
    }
  }

  // ---- images

  #imagesConfig(): AzureImagesOptions {
    const images = this.#opts.images;
    if (!images)
      throw new Error(
        `azure provider ${this.name}: baking images needs providers[].images (the family Rampart tags them with)`,
      );
    return images;
  }

  /** Where a bake's failure is about: the pool, the node, the VM, the image and the config field. */
  #bakeSubject(instance: Instance, name: string): string {
    return `pool ${instance.pool}, node ${instance.nodeId}, VM ${instance.id}, image ${name}; providers[].images`;
  }

  /** Options of a bake's long-running operation: its poll interval and images.timeout. */
  #bakeLro(timeoutMs: number) {
    return {
      ...this.#req,
      updateIntervalInMs: this.#policy.pollIntervalMs,
      abortSignal: AbortSignal.timeout(timeoutMs),
    };
  }

  /** A bake's operation awaited to its end; one still running after images.timeout fails for good (no retry of a half-hour wait). */
  async #bakeStep<T>(call: string, timeoutMs: number, send: () => Promise<T>): Promise<T> {
    return this.#step(call, async () => {
      try {
        return await send();
      } catch (e) {
        if ((e as Error).name !== 'AbortError') throw e;
        throw Object.assign(
          new Error(`not finished ${timeoutMs / 1000} s after it was sent (providers[].images.timeout)`),
          { code: 'NotFinishedInTime' },
        );
      }
    });
  }

  /** The family's images of this provider, in any state, newest first. */
  async #familyImages(): Promise<AzureBakedImage[]> {
    const { family } = this.#imagesConfig();
    const out: AzureBakedImage[] = [];
    for await (const i of this.#client.images.listByResourceGroup(this.#rg, this.#req)) {
      const tags = i.tags ?? {};
      if (tags[IMAGE_TAGS.family] !== family || tags[IMAGE_TAGS.provider] !== this.name) continue;
      out.push({
        id: i.id!,
        name: i.name!,
        createdAt: Number(tags[TAGS.createdAt]) || 0,
        state: i.provisioningState ?? 'Unknown',
        snapshot: tags[IMAGE_TAGS.snapshot] || undefined,
      });
    }
    return out.sort((a, b) => b.createdAt - a.createdAt || b.name.localeCompare(a.name));
  }

  /** Images this provider baked into its family, in any state, newest first. */
  async listImages(): Promise<AzureBakedImage[]> {
    const { family } = this.#imagesConfig();
    return this.#run('images.listByResourceGroup', `family ${family}; providers[].images`, () =>
      this.#step('images.listByResourceGroup', () => this.#familyImages()),
    );
  }

  async #getSnapshot(name: string): Promise<Snapshot | undefined> {
    try {
      return await this.#step('snapshots.get', () => this.#client.snapshots.get(this.#rg, name, this.#req));
    } catch (e) {
      if (notFound(e)) return undefined;
      throw e;
    }
  }

  async #getImage(name: string): Promise<Image | undefined> {
    try {
      return await this.#step('images.get', () => this.#client.images.get(this.#rg, name, this.#req));
    } catch (e) {
      if (notFound(e)) return undefined;
      throw e;
    }
  }

  /** A snapshot or image of this name that another bake (or someone else) made: never taken over. */
  #notMine(kind: string, name: string, tags: Record<string, string> | undefined, bakeId: string): Error {
    const action = tags?.[TAGS.action];
    return Object.assign(
      new Error(
        `a ${kind} named ${name} already exists${action ? ` for action ${action}` : ' without Rampart tags'}, not bake ${bakeId}'s`,
      ),
      { code: `${kind === 'snapshot' ? 'Snapshot' : 'Image'}NameTaken` },
    );
  }

  /**
   * Bakes a managed image of `instance`'s OS disk (the caller deallocated the VM): a managed
   * snapshot of the disk, then an image of the snapshot; then images beyond `keep` go. Both
   * are named after `bakeId` and tagged with it: a retried bake finds and finishes its own
   * snapshot and image instead of making second ones.
   */
  async bakeImage(instance: Instance, bakeId: string): Promise<{ image: string; retired: string[] }> {
    const { family, timeout } = this.#imagesConfig();
    const name = imageNameFor(family, bakeId);
    const subject = this.#bakeSubject(instance, name);
    const tags = {
      [IMAGE_TAGS.family]: family,
      [IMAGE_TAGS.provider]: this.name,
      [TAGS.action]: bakeId,
      [TAGS.node]: instance.nodeId,
      [TAGS.pool]: instance.pool,
      [TAGS.scaleSet]: this.scaleSet,
      [TAGS.createdAt]: String(Date.now()),
    };
    const done = await this.#run('images.get', subject, () => this.#getImage(name));
    if (done?.tags?.[TAGS.action] === bakeId && done.provisioningState === 'Succeeded')
      return { image: name, retired: await this.retireImages() };

    // The source: the VM's OS disk, read once unless this bake's snapshot is already made.
    const made = await this.#run('snapshots.get', subject, () => this.#getSnapshot(name));
    let source: { diskId: string; location: string; osType: 'Linux' | 'Windows' } | undefined;
    if (made?.provisioningState !== 'Succeeded') {
      const mode = await this.#run('virtualMachineScaleSets.get', subject, () => this.#modeOf());
      if (mode !== 'Flexible')
        throw new Error(
          `azure provider ${this.name}: scale set ${this.scaleSet} has Uniform orchestration: Rampart creates no VMs in it, so a baked image would boot nothing (${subject})`,
        );
      const vm = await this.#run('virtualMachines.get', subject, () => this.#getVm(instance.id));
      const diskId = vm?.storageProfile?.osDisk?.managedDisk?.id;
      if (!vm || !diskId)
        throw new Error(
          `azure provider ${this.name}: virtualMachines.get: ${vm ? `VM ${instance.id} has no managed OS disk to snapshot` : `VM ${instance.id} is gone`} (${subject})`,
        );
      source = {
        diskId,
        location: vm.location,
        osType: vm.storageProfile?.osDisk?.osType === 'Windows' ? 'Windows' : 'Linux',
      };
    }
    const snapshot = await this.#run('snapshots.createOrUpdate', subject, async () => {
      const found = await this.#getSnapshot(name);
      if (found && found.tags?.[TAGS.action] !== bakeId)
        throw this.#notMine('snapshot', name, found.tags, bakeId);
      if (found?.provisioningState === 'Succeeded') return found;
      if (found?.provisioningState === 'Failed')
        throw Object.assign(new Error(`snapshot ${name} of this bake is in the Failed state`), {
          code: 'SnapshotFailed',
        });
      if (!source) throw new Error(`snapshot ${name} vanished mid-bake`);
      // Absent, or still being made by an earlier try: the same PUT follows it to its end.
      return this.#bakeStep('snapshots.createOrUpdate', timeout, async () =>
        this.#client.snapshots.createOrUpdate(
          this.#rg,
          name,
          {
            location: source.location,
            tags: { ...tags, ...keptCreatedAt(found?.tags) },
            osType: source.osType,
            incremental: false,
            creationData: { createOption: 'Copy', sourceResourceId: source.diskId },
          },
          this.#bakeLro(timeout),
        ),
      );
    });
    // Fault injection for the crash-safety tests: dies between the snapshot and the image.
    if (process.env.RAMPART_CRASH_AT === 'image:after-disk-snapshot') process.kill(process.pid, 'SIGKILL');
    await this.#run('images.createOrUpdate', subject, async () => {
      const found = await this.#getImage(name);
      if (found && found.tags?.[TAGS.action] !== bakeId)
        throw this.#notMine('image', name, found.tags, bakeId);
      if (found?.provisioningState === 'Succeeded') return;
      if (found?.provisioningState === 'Failed')
        throw Object.assign(new Error(`image ${name} of this bake is in the Failed state`), {
          code: 'ImageFailed',
        });
      await this.#bakeStep('images.createOrUpdate', timeout, async () =>
        this.#client.images.createOrUpdate(
          this.#rg,
          name,
          {
            location: snapshot.location,
            tags: { ...tags, ...keptCreatedAt(found?.tags), [IMAGE_TAGS.snapshot]: name },
            hyperVGeneration: snapshot.hyperVGeneration,
            storageProfile: {
              osDisk: {
                osType: snapshot.osType ?? source?.osType ?? 'Linux',
                // A managed image must be Generalized to create VMs from; Linux VMs from a
                // disk not deprovisioned still boot (cloud-init runs per instance): docs/azure.md.
                osState: 'Generalized',
                snapshot: { id: snapshot.id! },
              },
            },
          },
          this.#bakeLro(timeout),
        ),
      );
    });
    return { image: name, retired: await this.retireImages() };
  }

  /**
   * Deletes the family's images beyond the newest `keep` (and those a bake gave up on) with
   * their snapshots, never one a VM of the resource group boots from or a create in flight
   * was given; then snapshots of the family no image was made from, left by a bake that died
   * between the two (older than images.timeout: a bake in flight is never swept).
   */
  async retireImages(): Promise<string[]> {
    const { family, keep, timeout } = this.#imagesConfig();
    const subject = `family ${family}; providers[].images`;
    const images = await this.listImages();
    const inUse = new Set(this.#booting.keys());
    await this.#run('virtualMachines.list', subject, () =>
      this.#step('virtualMachines.list', async () => {
        for await (const vm of this.#client.virtualMachines.list(this.#rg, this.#req)) {
          const id = vm.storageProfile?.imageReference?.id;
          if (id) inUse.add(id.toLowerCase());
        }
      }),
    );
    const now = Date.now();
    const out: string[] = [];
    for (const image of azureImagesToRetire(images, keep, inUse, { now, afterMs: 2 * timeout })) {
      await this.#delete('images.delete', `image ${image.name}; ${subject}`, () =>
        this.#client.images.delete(this.#rg, image.name, this.#lro()),
      );
      if (image.snapshot)
        await this.#delete('snapshots.delete', `snapshot ${image.snapshot}; ${subject}`, () =>
          this.#client.snapshots.delete(this.#rg, image.snapshot!, this.#lro()),
        );
      out.push(image.name);
    }
    // Snapshots no image was made from (its bake died or gave up between the two).
    const used = new Set(images.map((i) => i.snapshot?.toLowerCase()));
    const orphans = await this.#run('snapshots.listByResourceGroup', subject, () =>
      this.#step('snapshots.listByResourceGroup', async () => {
        const found: string[] = [];
        for await (const s of this.#client.snapshots.listByResourceGroup(this.#rg, this.#req)) {
          const tags = s.tags ?? {};
          if (tags[IMAGE_TAGS.family] !== family || tags[IMAGE_TAGS.provider] !== this.name) continue;
          if (used.has(s.name!.toLowerCase())) continue;
          if (now - (Number(tags[TAGS.createdAt]) || 0) <= timeout) continue;
          found.push(s.name!);
        }
        return found;
      }),
    );
    for (const name of orphans)
      await this.#delete('snapshots.delete', `snapshot ${name}; ${subject}`, () =>
        this.#client.snapshots.delete(this.#rg, name, this.#lro()),
      );
    return out;
  }

  /** A delete followed to its end; already gone counts as done. */
  async #delete(call: string, subject: string, send: () => PromiseLike<unknown>): Promise<void> {
    await this.#run(call, subject, () =>
      this.#step(call, async () => {
        try {
          await send();
        } catch (e) {
          if (!notFound(e)) throw e;
        }
      }),
    );
  }

  // ---- destroy

  async #deleteInstances(ids: string[], subject: string): Promise<void> {
    await this.#run('virtualMachineScaleSets.deleteInstances', subject, async () => {
      try {
        await this.#step('virtualMachineScaleSets.deleteInstances', async () => {
          const poller = this.#client.virtualMachineScaleSets.deleteInstances(
            this.#rg,
            this.scaleSet,
            { instanceIds: ids },
            this.#lro(),
          );
          await poller;
        });
      } catch (e) {
        // Already gone between the look and the delete (another replica, a second try): done.
        const c = classifyAzureError(e);
        if (c.status === 400 && /not an active/i.test(c.message)) return;
        throw e;
      }
    });
  }

  /** The machine of an instance (a Flexible VM or a Uniform instance), undefined when gone. */
  async #machineOf(instance: Instance, subject: string): Promise<Machine | undefined> {
    const mode = await this.#run('virtualMachineScaleSets.get', subject, () => this.#modeOf());
    if (mode === 'Flexible') return this.#run('virtualMachines.get', subject, () => this.#getVm(instance.id));
    if (!instance.id.toLowerCase().startsWith(`${this.scaleSet.toLowerCase()}_`)) return undefined;
    return this.#run('virtualMachineScaleSetVMs.get', subject, () =>
      this.#getInstance(this.#instanceIdOf(instance.id)),
    );
  }

  /** A Uniform instance's id: its name is `<scale set>_<instance id>`. */
  #instanceIdOf(name: string): string {
    return name.slice(name.lastIndexOf('_') + 1);
  }

  /**
   * Stops an instance, keeping its disks: deallocated (no compute billed, the same VM, name,
   * tags and disks when started again). Idempotent.
   */
  async stop(instance: Instance): Promise<void> {
    const subject = `node ${instance.nodeId}, instance ${instance.id}`;
    const m = await this.#machineOf(instance, subject);
    const power = m && powerState(m);
    if (!m || power === 'deallocated' || power === 'deallocating' || power === 'stopped') return;
    if (this.#mode === 'Flexible')
      await this.#run('virtualMachines.deallocate', subject, () =>
        this.#step('virtualMachines.deallocate', async () => {
          await this.#client.virtualMachines.deallocate(this.#rg, m.name!, this.#lro());
        }),
      );
    else
      await this.#run('virtualMachineScaleSetVMs.deallocate', subject, () =>
        this.#step('virtualMachineScaleSetVMs.deallocate', async () => {
          await this.#client.virtualMachineScaleSetVMs.deallocate(
            this.#rg,
            this.scaleSet,
            this.#instanceIdOf(m.name!),
            this.#lro(),
          );
        }),
      );
  }

  /** Starts a stopped instance again, with the same identity and disks. */
  async start(instance: Instance): Promise<Instance> {
    const subject = `node ${instance.nodeId}, instance ${instance.id}`;
    const m = await this.#machineOf(instance, subject);
    if (!m)
      throw new Error(
        `azure provider ${this.name}: instance ${instance.id} of node ${instance.nodeId} is gone: it cannot be started again`,
      );
    if (!RUNNING_POWER.has(powerState(m) ?? ''))
      if (this.#mode === 'Flexible')
        await this.#run('virtualMachines.start', subject, () =>
          this.#step('virtualMachines.start', async () => {
            await this.#client.virtualMachines.start(this.#rg, m.name!, this.#lro());
          }),
        );
      else
        await this.#run('virtualMachineScaleSetVMs.start', subject, () =>
          this.#step('virtualMachineScaleSetVMs.start', async () => {
            await this.#client.virtualMachineScaleSetVMs.start(
              this.#rg,
              this.scaleSet,
              this.#instanceIdOf(m.name!),
              this.#lro(),
            );
          }),
        );
    const now = await this.#machineOf(instance, subject);
    return this.#toInstance(now ?? m);
  }

  async destroy(instance: Instance): Promise<void> {
    const subject = `node ${instance.nodeId}, instance ${instance.id}`;
    const mode = await this.#run('virtualMachineScaleSets.get', subject, () => this.#modeOf());
    if (mode === 'Flexible') {
      const vm = await this.#run('virtualMachines.get', subject, () => this.#getVm(instance.id));
      if (!vm) return;
      if (vm.virtualMachineScaleSet?.id?.toLowerCase() === this.#scaleSetId.toLowerCase()) {
        await this.#deleteInstances([vm.name!], subject);
        return;
      }
      // Not in the scale set: not Rampart's to delete (its tags name another set, or none).
      if (vm.tags?.[TAGS.scaleSet] !== this.scaleSet) return;
      await this.#run('virtualMachines.delete', subject, () =>
        this.#step('virtualMachines.delete', async () => {
          await this.#client.virtualMachines.delete(this.#rg, vm.name!, this.#lro());
        }),
      );
      return;
    }
    // Uniform: the instance's name is `<scale set>_<instance id>`.
    const instanceId = instance.id.slice(instance.id.lastIndexOf('_') + 1);
    if (!instance.id.toLowerCase().startsWith(`${this.scaleSet.toLowerCase()}_`)) return;
    const vm = await this.#run('virtualMachineScaleSetVMs.get', subject, () => this.#getInstance(instanceId));
    if (!vm) return;
    await this.#deleteInstances([instanceId], subject);
  }
}
