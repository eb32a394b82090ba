// A FAKE of Azure Resource Manager's Microsoft.Compute, for tests: no Azure compute emulator
// exists. Its routes, verbs, api-version and answer statuses are read at start from the
// operation specs the official client ships (node_modules/@azure/arm-compute/dist/esm/api/*/
// operations.js, generated from Microsoft's REST specification), and request bodies are read
// with the client's own deserializers. It answers the operations it models (scale set get and
// deleteInstances, scale set VMs list/get/delete, virtual machines createOrUpdate/get/list/
// delete with the scale set reference, deallocate/start of VMs and instances; managed
// snapshots createOrUpdate (a Copy of a VM's OS disk)/get/listByResourceGroup/delete;
// managed images createOrUpdate (from a snapshot)/get/listByResourceGroup/delete; one
// Microsoft.Insights autoscale listing) and refuses every other operation with a 501 naming
// it. Long-running operations answer 201/202 with Azure-AsyncOperation or Location and finish
// after some polls or some time; 429 with Retry-After, 5xx and quota/SKU/allocation errors can
// be injected. Disks are folders: each VM's OS disk is one (empty, or a copy of the image it
// boots), a snapshot copies its disk when asked, an image its snapshot. It also serves the
// Microsoft Entra token endpoint a service principal's credential flow uses. HTTPS with a
// throwaway self-signed certificate: the client refuses bearer tokens over plain HTTP.
// What it cannot prove about real Azure: docs/azure.md.

import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  imageDeserializer,
  virtualMachineDeserializer,
} from '../../node_modules/@azure/arm-compute/dist/esm/models/compute/models.js';
import { snapshotDeserializer } from '../../node_modules/@azure/arm-compute/dist/esm/models/computeDisk/models.js';

const SDK_API = fileURLToPath(
  new URL('../../node_modules/@azure/arm-compute/dist/esm/api/', import.meta.url),
);

/** One operation of the client's description: `virtualMachines.createOrUpdate`, its verb, path and statuses. */
export interface SdkOperation {
  readonly name: string;
  readonly method: string;
  /** The path template, e.g. /subscriptions/{subscriptionId}/…/virtualMachines/{vmName}. */
  readonly template: string;
  readonly apiVersion: string | undefined;
  /** Statuses the client accepts for this operation's first answer. */
  readonly statuses: readonly number[];
  readonly pattern: RegExp;
  readonly params: readonly string[];
  /** Literal segments: the most specific template wins when several match. */
  readonly literals: number;
}

/** Every operation in the client's generated operation specs, parsed from their source. */
export function sdkOperations(): SdkOperation[] {
  const out: SdkOperation[] = [];
  for (const group of readdirSync(SDK_API, { withFileTypes: true })) {
    if (!group.isDirectory()) continue;
    let text: string;
    try {
      text = readFileSync(path.join(SDK_API, group.name, 'operations.js'), 'utf8');
    } catch {
      continue;
    }
    const statuses = new Map<string, number[]>();
    for (const m of text.matchAll(
      /export async function _(\$?\w+)Deserialize\(result\) \{\s*const expectedStatuses = \[([^\]]*)\]/g,
    ))
      statuses.set(
        m[1]!.replace('$', ''),
        [...m[2]!.matchAll(/"(\d+)"/g)].map((s) => Number(s[1])),
      );
    for (const m of text.matchAll(
      /export function _(\$?\w+)Send\([\s\S]*?expandUrlTemplate\("([^"]+)"([\s\S]*?)context\s*\.path\(path\)\s*\.(get|put|post|patch|delete)\(/g,
    )) {
      const [, generated, full, between, method] = m;
      // `delete` is a reserved word: the client names its functions `$delete`.
      const op = generated!.replace('$', '');
      const template = full!.split('{?')[0]!;
      const params: string[] = [];
      const source = template
        .split('/')
        .map((seg) => {
          const p = /^\{(\w+)\}$/.exec(seg);
          if (p) {
            params.push(p[1]!);
            return '([^/]+)';
          }
          return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        })
        .join('/');
      out.push({
        name: `${group.name}.${op}`,
        method: method!.toUpperCase(),
        template,
        apiVersion: /"api%2Dversion": "([^"]+)"/.exec(between!)?.[1],
        statuses: statuses.get(op) ?? [],
        pattern: new RegExp(`^${source}$`, 'i'),
        params,
        literals: template.split('/').filter((s) => s && !s.startsWith('{')).length,
      });
    }
  }
  return out;
}

/** Wire JSON of a resource, as ARM answers it. */
export type Wire = Record<string, unknown> & {
  id: string;
  name: string;
  tags?: Record<string, string>;
  properties: Record<string, unknown>;
};

export interface ScaleSetSpec {
  readonly resourceGroup: string;
  readonly name: string;
  readonly orchestrationMode: 'Flexible' | 'Uniform';
  readonly location?: string;
  readonly zones?: readonly string[];
  readonly vmSize?: string;
  /** Uniform: instances the set starts with (untagged, as the set itself made them). */
  readonly capacity?: number;
}

/** An error the fake answers instead of doing the operation. */
export interface Fault {
  /** Operation name (`virtualMachines.createOrUpdate`) or `poll` (an LRO status poll). */
  readonly operation: string;
  readonly status: number;
  readonly code: string;
  readonly message?: string;
  /** Seconds, sent as Retry-After. */
  readonly retryAfter?: number;
  /** How many requests it hits. Default 1. */
  readonly times?: number;
  /**
   * For long-running operations: accept the request (201/202), then fail the operation
   * itself with this code (AllocationFailed): the resource is left in the Failed state.
   */
  readonly async?: boolean;
}

export interface CallRecord {
  readonly operation: string;
  readonly method: string;
  readonly path: string;
  readonly status: number;
}

export interface FakeAzureCompute {
  /** https://127.0.0.1:PORT: ARM's endpoint and the token authority host both. */
  readonly url: string;
  /** PEM of the self-signed certificate the server presents. */
  readonly ca: string;
  readonly caFile: string;
  readonly subscriptionId: string;
  readonly tenantId: string;
  /** A bearer token the fake accepts, for a test's own TokenCredential. */
  readonly staticToken: string;
  /** A service principal the token endpoint knows (dummy values). */
  readonly servicePrincipal: { readonly clientId: string; readonly clientSecret: string };
  readonly operations: readonly SdkOperation[];
  /** Every request so far (health polls of the async operation endpoint included). */
  readonly calls: CallRecord[];
  addScaleSet(spec: ScaleSetSpec): Wire;
  /** An autoscale setting (Microsoft.Insights) on a scale set. */
  addAutoscaleSetting(resourceGroup: string, scaleSet: string, enabled: boolean): void;
  inject(fault: Fault): void;
  /** Drops every injected fault not yet used. */
  clearFaults(): void;
  /**
   * Runs `hook` before the fake answers a modelled operation (its request held meanwhile):
   * a test looks at the world as it is when the call arrives. Replaces an earlier hook.
   */
  beforeOperation(
    operation: string,
    hook: (params: Record<string, string>, body: unknown) => Promise<void>,
  ): void;
  /** Errors the hooks threw. */
  readonly hookErrors: readonly unknown[];
  /** Virtual machines of a scale set (Flexible: its VMs; Uniform: its instances), as stored. */
  machines(resourceGroup: string, scaleSet: string): Wire[];
  /** Sets a tag as the machine itself would at boot (its address). */
  setTag(resourceGroup: string, scaleSet: string, name: string, key: string, value: string): void;
  /** Replaces a machine's tags (someone else's VM in the set). */
  replaceTags(resourceGroup: string, scaleSet: string, name: string, tags: Record<string, string>): void;
  /** Uniform only: the set adds `count` instances by itself (untagged). */
  grow(resourceGroup: string, scaleSet: string, count: number): void;
  /** A Flexible VM's OS disk: a folder, what its machine's data lives on. Undefined when gone. */
  diskDir(resourceGroup: string, vmName: string): string | undefined;
  /** Managed snapshots of a resource group, as stored, each with the folder it copied. */
  snapshots(resourceGroup: string): Stored[];
  /** Managed images of a resource group, as stored, each with the folder it holds. */
  images(resourceGroup: string): Stored[];
  stop(): Promise<void>;
}

/** A snapshot or image as stored, and its data (a folder). */
export interface Stored {
  readonly wire: Wire;
  readonly dir: string;
}

export interface FakeAzureOptions {
  /** Polls of an operation's status before it finishes. Default 2. */
  readonly pollsToFinish?: number;
  /** Or this much time, ms, whichever comes first. Default 600. */
  readonly finishAfterMs?: number;
}

interface Operation {
  readonly started: number;
  polls: number;
  done: boolean;
  readonly failure?: { code: string; message: string } | undefined;
  readonly finish: () => void;
}

interface ScaleSetState {
  readonly wire: Wire;
  readonly resourceGroup: string;
  readonly mode: 'Flexible' | 'Uniform';
  /** Machines by lower-case name (Flexible) or instance id (Uniform). */
  readonly machines: Map<string, Wire>;
  nextInstance: number;
}

class ArmError extends Error {
  readonly status: number;
  readonly code: string;
  readonly retryAfter?: number | undefined;
  constructor(status: number, code: string, message: string, retryAfter?: number) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

function selfSigned(dir: string): { key: string; cert: string; certFile: string } {
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      'key.pem',
      '-out',
      'cert.pem',
      '-days',
      '2',
      '-subj',
      '/CN=fake-azure-compute',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { cwd: dir, stdio: 'pipe' },
  );
  return {
    key: readFileSync(path.join(dir, 'key.pem'), 'utf8'),
    cert: readFileSync(path.join(dir, 'cert.pem'), 'utf8'),
    certFile: path.join(dir, 'cert.pem'),
  };
}

const POWER = (state: string) => ({
  code: `PowerState/${state}`,
  level: 'Info',
  displayStatus: `VM ${state}`,
});

export async function startFakeAzureCompute(options: FakeAzureOptions = {}): Promise<FakeAzureCompute> {
  const dir = mkdtempSync(path.join(tmpdir(), 'rampart-fake-azure-'));
  const tls = selfSigned(dir);
  const operations = sdkOperations();
  const subscriptionId = randomUUID();
  const tenantId = randomUUID();
  const staticToken = `fake-token-${randomUUID()}`;
  const servicePrincipal = { clientId: randomUUID(), clientSecret: `fake-secret-${randomUUID()}` };
  const issued = new Set<string>([staticToken]);
  const scaleSets = new Map<string, ScaleSetState>();
  const autoscale: Wire[] = [];
  const faults: (Fault & { left: number })[] = [];
  const hooks = new Map<string, (params: Record<string, string>, body: unknown) => Promise<void>>();
  const hookErrors: unknown[] = [];
  const ops = new Map<string, Operation>();
  const calls: CallRecord[] = [];
  /** OS disks by lower-case VM id; snapshots and images by lower-case resource id. */
  const disks = new Map<string, { readonly id: string; readonly dir: string }>();
  const snapshots = new Map<string, Stored>();
  const images = new Map<string, Stored>();
  let nextDisk = 0;
  const pollsToFinish = options.pollsToFinish ?? 2;
  const finishAfterMs = options.finishAfterMs ?? 600;
  let base = '';

  const rgPrefix = (rg: string) =>
    `/subscriptions/${subscriptionId}/resourceGroups/${rg}/providers/Microsoft.Compute`;
  const key = (rg: string, name: string) => `${rg}/${name}`.toLowerCase();
  const resourceId = (rg: string, type: 'snapshots' | 'images', name: string) =>
    `${rgPrefix(rg)}/${type}/${name}`;
  const notFound = (rg: string, type: string, name: string) =>
    new ArmError(
      404,
      type === 'snapshots' ? 'ResourceNotFound' : 'NotFound',
      `The Resource 'Microsoft.Compute/${type}/${name}' under resource group '${rg}' was not found.`,
    );
  const scaleSetOf = (rg: string, name: string) => {
    const s = scaleSets.get(key(rg, name));
    if (!s)
      throw new ArmError(
        404,
        'ResourceNotFound',
        `The Resource 'Microsoft.Compute/virtualMachineScaleSets/${name}' under resource group '${rg}' was not found.`,
      );
    return s;
  };

  /** Finishes operations whose time is up (also between polls: a killed client's operation still ends). */
  const settle = () => {
    for (const op of ops.values())
      if (!op.done && (op.polls >= pollsToFinish || Date.now() - op.started >= finishAfterMs)) {
        op.done = true;
        op.finish();
      }
  };
  const ticker = setInterval(settle, 50);

  const startOperation = (finish: () => void, failure?: { code: string; message: string }) => {
    const id = randomUUID();
    ops.set(id, { started: Date.now(), polls: 0, done: false, failure, finish });
    return id;
  };
  const asyncHeaders = (id: string, kind: 'async' | 'location'): Record<string, string> =>
    kind === 'async'
      ? {
          'azure-asyncoperation': `${base}/subscriptions/${subscriptionId}/providers/Microsoft.Compute/locations/fake/operations/${id}?api-version=fake`,
        }
      : {
          location: `${base}/subscriptions/${subscriptionId}/providers/Microsoft.Compute/locations/fake/operationResults/${id}?api-version=fake`,
        };

  const takeFault = (operation: string): Fault | undefined => {
    const i = faults.findIndex((f) => f.operation === operation && f.left > 0);
    if (i < 0) return undefined;
    const f = faults[i]!;
    f.left--;
    return f;
  };

  // ---- machines

  const allFlexibleVms = () => {
    const out: { set: ScaleSetState; vm: Wire }[] = [];
    for (const set of scaleSets.values())
      if (set.mode === 'Flexible') for (const vm of set.machines.values()) out.push({ set, vm });
    return out;
  };
  const findVm = (rg: string, name: string) =>
    allFlexibleVms().find(
      (x) =>
        x.set.resourceGroup.toLowerCase() === rg.toLowerCase() &&
        x.vm.name.toLowerCase() === name.toLowerCase(),
    );

  const withView = (vm: Wire, expand: boolean): Wire => {
    const { _power, ...rest } = vm as Wire & { _power?: string };
    if (!expand) return rest as Wire;
    return {
      ...rest,
      properties: {
        ...rest.properties,
        instanceView: {
          statuses: [
            {
              code: `ProvisioningState/${String(rest.properties.provisioningState).toLowerCase()}`,
              level: 'Info',
            },
            POWER(_power ?? 'stopped'),
          ],
        },
      },
    } as Wire;
  };

  const createVm = (rg: string, name: string, body: unknown): { status: number; vm: Wire; op?: string } => {
    const parsed = virtualMachineDeserializer(body);
    const ssId = parsed.virtualMachineScaleSet?.id;
    const missing = [
      ['location', parsed.location],
      ['properties.hardwareProfile.vmSize', parsed.hardwareProfile?.vmSize],
      ['properties.storageProfile', parsed.storageProfile],
      ['properties.osProfile.computerName', parsed.osProfile?.computerName],
      ['properties.networkProfile', parsed.networkProfile],
      ['properties.virtualMachineScaleSet.id', ssId],
    ].filter(([, v]) => v === undefined || v === '');
    if (missing.length > 0)
      throw new ArmError(
        400,
        'InvalidParameter',
        `fake-azure-compute models VMs in a Flexible scale set only: ${missing.map(([k]) => k).join(', ')} required`,
      );
    const ssName = /\/virtualMachineScaleSets\/([^/]+)$/i.exec(ssId!)?.[1];
    const set = scaleSetOf(rg, ssName ?? '');
    if (set.mode !== 'Flexible')
      throw new ArmError(
        400,
        'OperationNotAllowed',
        `Virtual machine scale set ${ssName} has orchestration mode Uniform: VMs cannot be added to it individually.`,
      );
    const existing = findVm(rg, name);
    if (existing) {
      if (existing.vm.properties.provisioningState === 'Deleting')
        throw new ArmError(409, 'OperationNotAllowed', `The VM ${name} is being deleted.`);
      existing.vm.tags = { ...(parsed.tags ?? {}) };
      return { status: 200, vm: existing.vm };
    }
    const fault = takeFault('virtualMachines.createOrUpdate');
    if (fault && !fault.async)
      throw new ArmError(fault.status, fault.code, fault.message ?? fault.code, fault.retryAfter);
    // A managed image booted: the new OS disk is a copy of it.
    const imageId = parsed.storageProfile?.imageReference?.id;
    const image = imageId ? images.get(imageId.toLowerCase()) : undefined;
    if (imageId && !image)
      throw new ArmError(
        404,
        'NotFound',
        `The Resource '${imageId.replace(/^.*\/providers\//i, '')}' under resource group '${rg}' was not found.`,
      );
    if (image && image.wire.properties.provisioningState !== 'Succeeded')
      throw new ArmError(
        400,
        'InvalidParameter',
        `Image ${image.wire.name} is ${String(image.wire.properties.provisioningState)}: a VM boots a succeeded image only.`,
      );
    const wireBody = body as { properties: Record<string, unknown>; tags?: Record<string, string> };
    const vmId = `${rgPrefix(set.resourceGroup)}/virtualMachines/${name}`;
    const diskName = `${name}_OsDisk_1_${(nextDisk++).toString(16).padStart(8, '0')}`;
    const disk = {
      id: `${rgPrefix(set.resourceGroup)}/disks/${diskName}`,
      dir: path.join(dir, 'disks', diskName),
    };
    if (image) cpSync(image.dir, disk.dir, { recursive: true });
    else mkdirSync(disk.dir, { recursive: true });
    disks.set(vmId.toLowerCase(), disk);
    const storage = (wireBody.properties.storageProfile ?? {}) as { osDisk?: Record<string, unknown> };
    const vm = {
      id: vmId,
      name,
      type: 'Microsoft.Compute/virtualMachines',
      location: parsed.location,
      tags: { ...(wireBody.tags ?? {}) },
      ...(parsed.zones ? { zones: parsed.zones } : {}),
      properties: {
        ...wireBody.properties,
        storageProfile: {
          ...storage,
          osDisk: {
            ...storage.osDisk,
            osType: 'Linux',
            name: diskName,
            managedDisk: { ...(storage.osDisk?.managedDisk as object | undefined), id: disk.id },
          },
        },
        provisioningState: 'Creating',
        vmId: randomUUID(),
        timeCreated: new Date().toISOString(),
      },
      _power: 'starting',
    } as Wire;
    set.machines.set(name.toLowerCase(), vm);
    const failure = fault?.async ? { code: fault.code, message: fault.message ?? fault.code } : undefined;
    const op = startOperation(() => {
      vm.properties.provisioningState = failure ? 'Failed' : 'Succeeded';
      (vm as { _power?: string })._power = failure ? 'stopped' : 'running';
    }, failure);
    return { status: 201, vm, op };
  };

  const removeLater = (set: ScaleSetState, keys: string[]) => {
    for (const k of keys) {
      const vm = set.machines.get(k)!;
      vm.properties.provisioningState = 'Deleting';
      (vm as { _power?: string })._power = 'stopping';
    }
    return startOperation(() => {
      for (const k of keys) {
        const vm = set.machines.get(k);
        set.machines.delete(k);
        // Its OS disk goes with it (deleteOption Delete).
        const disk = vm && disks.get(vm.id.toLowerCase());
        if (disk) {
          disks.delete(vm.id.toLowerCase());
          rmSync(disk.dir, { recursive: true, force: true });
        }
      }
    });
  };

  /** A power operation: `via` while it runs, `to` once done; a VM being created or deleted refuses it. */
  const power = (vm: Wire, via: string, to: string): Answer => {
    const state = String(vm.properties.provisioningState);
    if (state !== 'Succeeded')
      throw new ArmError(
        409,
        'OperationNotAllowed',
        `The VM ${vm.name} is ${state.toLowerCase()}: try again once it succeeded.`,
      );
    (vm as { _power?: string })._power = via;
    const op = startOperation(() => {
      (vm as { _power?: string })._power = to;
    });
    return { status: 202, headers: asyncHeaders(op, 'location') };
  };
  const flexibleVm = (p: Record<string, string>) => {
    const found = findVm(p.resourceGroupName!, p.vmName!);
    if (!found)
      throw new ArmError(
        404,
        'ResourceNotFound',
        `The Resource 'Microsoft.Compute/virtualMachines/${p.vmName}' was not found.`,
      );
    return found.vm;
  };
  const uniformInstance = (p: Record<string, string>) => {
    const set = scaleSetOf(p.resourceGroupName!, p.vmScaleSetName!);
    const vm = set.machines.get(p.instanceId!);
    if (set.mode !== 'Uniform' || !vm)
      throw new ArmError(404, 'NotFound', 'The entity was not found in this Azure location.');
    return vm;
  };

  // ---- handlers of modelled operations

  type Params = Record<string, string>;
  type Answer = { status: number; body?: unknown; headers?: Record<string, string> };
  const handlers: Record<string, (p: Params, q: URLSearchParams, body: unknown) => Answer> = {
    'virtualMachineScaleSets.get': (p) => {
      const set = scaleSetOf(p.resourceGroupName!, p.vmScaleSetName!);
      if (set.mode === 'Flexible')
        (set.wire as unknown as { sku: { capacity: number } }).sku.capacity = [
          ...set.machines.values(),
        ].filter((v) => v.properties.provisioningState !== 'Deleting').length;
      return { status: 200, body: set.wire };
    },
    'virtualMachineScaleSets.deleteInstances': (p, q, body) => {
      const set = scaleSetOf(p.resourceGroupName!, p.vmScaleSetName!);
      const ids = (body as { instanceIds?: unknown }).instanceIds;
      if (!Array.isArray(ids) || ids.length === 0 || !ids.every((i) => typeof i === 'string'))
        throw new ArmError(
          400,
          'InvalidParameter',
          'instanceIds: a non-empty list of instance ids is required',
        );
      const keys = (ids as string[]).map((i) => i.toLowerCase());
      for (const [i, k] of keys.entries())
        if (!set.machines.has(k))
          throw new ArmError(
            400,
            'InvalidParameter',
            `The provided instanceId ${ids[i]} is not an active Virtual Machine Scale Set VM instanceId.`,
          );
      void q;
      return { status: 202, headers: asyncHeaders(removeLater(set, keys), 'location') };
    },
    'virtualMachineScaleSetVMs.list': (p, q) => {
      const set = scaleSetOf(p.resourceGroupName!, p.virtualMachineScaleSetName!);
      if (set.mode !== 'Uniform')
        throw new ArmError(
          400,
          'OperationNotAllowed',
          'Listing VMs of a Flexible scale set through virtualMachineScaleSetVMs is not supported; list virtualMachines',
        );
      if (q.get('$filter'))
        throw new ArmError(501, 'NotModelled', 'fake-azure-compute models no $filter on scale set VMs');
      const expand = q.get('$expand') === 'instanceView';
      return { status: 200, body: { value: [...set.machines.values()].map((v) => withView(v, expand)) } };
    },
    'virtualMachineScaleSetVMs.get': (p, q) => {
      const set = scaleSetOf(p.resourceGroupName!, p.vmScaleSetName!);
      const vm = set.machines.get(p.instanceId!);
      if (set.mode !== 'Uniform' || !vm)
        throw new ArmError(404, 'NotFound', `The entity was not found in this Azure location.`);
      return { status: 200, body: withView(vm, q.get('$expand') === 'instanceView') };
    },
    'virtualMachineScaleSetVMs.delete': (p) => {
      const set = scaleSetOf(p.resourceGroupName!, p.vmScaleSetName!);
      if (!set.machines.has(p.instanceId!)) return { status: 204 };
      return { status: 202, headers: asyncHeaders(removeLater(set, [p.instanceId!]), 'location') };
    },
    'virtualMachines.deallocate': (p) => power(flexibleVm(p), 'deallocating', 'deallocated'),
    'virtualMachines.start': (p) => power(flexibleVm(p), 'starting', 'running'),
    'virtualMachineScaleSetVMs.deallocate': (p) => power(uniformInstance(p), 'deallocating', 'deallocated'),
    'virtualMachineScaleSetVMs.start': (p) => power(uniformInstance(p), 'starting', 'running'),
    'virtualMachines.get': (p, q) => {
      const found = findVm(p.resourceGroupName!, p.vmName!);
      if (!found)
        throw new ArmError(
          404,
          'ResourceNotFound',
          `The Resource 'Microsoft.Compute/virtualMachines/${p.vmName}' under resource group '${p.resourceGroupName}' was not found.`,
        );
      return { status: 200, body: withView(found.vm, q.get('$expand') === 'instanceView') };
    },
    'virtualMachines.list': (p, q) => {
      const filter = q.get('$filter');
      let scaleSetId: string | undefined;
      if (filter) {
        const m = /^\s*'?virtualMachineScaleSet\/id'?\s+eq\s+'([^']+)'\s*$/i.exec(filter);
        if (!m)
          throw new ArmError(
            501,
            'NotModelled',
            `fake-azure-compute models only $filter=virtualMachineScaleSet/id eq '…', not ${filter}`,
          );
        scaleSetId = m[1]!.toLowerCase();
      }
      const expand = q.get('$expand') === 'instanceView';
      const value = allFlexibleVms()
        .filter((x) => x.set.resourceGroup.toLowerCase() === p.resourceGroupName!.toLowerCase())
        .filter((x) => !scaleSetId || x.set.wire.id.toLowerCase() === scaleSetId)
        .map((x) => withView(x.vm, expand));
      return { status: 200, body: { value } };
    },
    'virtualMachines.createOrUpdate': (p, _q, body) => {
      const made = createVm(p.resourceGroupName!, p.vmName!, body);
      return {
        status: made.status,
        body: withView(made.vm, false),
        headers: made.op ? asyncHeaders(made.op, 'async') : {},
      };
    },
    'virtualMachines.delete': (p) => {
      const found = findVm(p.resourceGroupName!, p.vmName!);
      if (!found) return { status: 204 };
      const k = found.vm.name.toLowerCase();
      return { status: 202, headers: asyncHeaders(removeLater(found.set, [k]), 'location') };
    },
    'snapshots.createOrUpdate': (p, _q, body) => {
      const rg = p.resourceGroupName!;
      const name = p.snapshotName!;
      const id = resourceId(rg, 'snapshots', name);
      const parsed = snapshotDeserializer(body);
      const existing = snapshots.get(id.toLowerCase());
      if (existing) {
        // The same PUT again: what is there, still being made or made (core-lro polls its state).
        if (parsed.tags) existing.wire.tags = { ...parsed.tags };
        return { status: 200, body: existing.wire };
      }
      const creation = parsed.creationData;
      if (!parsed.location || !creation)
        throw new ArmError(400, 'InvalidParameter', 'location and properties.creationData are required');
      if (creation.createOption !== 'Copy' || !creation.sourceResourceId)
        throw new ArmError(
          501,
          'NotModelled',
          `fake-azure-compute models snapshots that Copy a VM's OS disk only, not ${creation.createOption}`,
        );
      const disk = [...disks.values()].find(
        (d) => d.id.toLowerCase() === creation.sourceResourceId!.toLowerCase(),
      );
      if (!disk)
        throw new ArmError(
          404,
          'NotFound',
          `The Resource '${creation.sourceResourceId.replace(/^.*\/providers\//i, '')}' was not found.`,
        );
      // A managed snapshot is the disk as it is when asked (point in time).
      const data = path.join(dir, 'snapshots', name);
      cpSync(disk.dir, data, { recursive: true });
      const wire: Wire = {
        id,
        name,
        type: 'Microsoft.Compute/snapshots',
        location: parsed.location,
        tags: { ...(parsed.tags ?? {}) },
        sku: { name: 'Standard_LRS', tier: 'Standard' },
        properties: {
          osType: parsed.osType ?? 'Linux',
          hyperVGeneration: 'V2',
          creationData: { createOption: 'Copy', sourceResourceId: disk.id, sourceUniqueId: randomUUID() },
          diskSizeGB: 30,
          incremental: parsed.incremental ?? false,
          timeCreated: new Date().toISOString(),
          uniqueId: randomUUID(),
          diskState: 'Unattached',
          provisioningState: 'Creating',
        },
      };
      snapshots.set(id.toLowerCase(), { wire, dir: data });
      const op = startOperation(() => {
        wire.properties.provisioningState = 'Succeeded';
      });
      return { status: 202, body: wire, headers: asyncHeaders(op, 'async') };
    },
    'snapshots.get': (p) => {
      const s = snapshots.get(resourceId(p.resourceGroupName!, 'snapshots', p.snapshotName!).toLowerCase());
      if (!s) throw notFound(p.resourceGroupName!, 'snapshots', p.snapshotName!);
      return { status: 200, body: s.wire };
    },
    'snapshots.listByResourceGroup': (p) => ({
      status: 200,
      body: { value: inGroup(snapshots, p.resourceGroupName!).map((s) => s.wire) },
    }),
    'snapshots.delete': (p) => {
      const k = resourceId(p.resourceGroupName!, 'snapshots', p.snapshotName!).toLowerCase();
      const s = snapshots.get(k);
      if (!s) return { status: 204 };
      const op = startOperation(() => {
        snapshots.delete(k);
        rmSync(s.dir, { recursive: true, force: true });
      });
      return { status: 202, headers: asyncHeaders(op, 'location') };
    },
    'images.createOrUpdate': (p, _q, body) => {
      const rg = p.resourceGroupName!;
      const name = p.imageName!;
      const id = resourceId(rg, 'images', name);
      const parsed = imageDeserializer(body);
      const existing = images.get(id.toLowerCase());
      if (existing) {
        if (parsed.tags) existing.wire.tags = { ...parsed.tags };
        return { status: 200, body: existing.wire };
      }
      const os = parsed.storageProfile?.osDisk;
      if (!parsed.location || !os?.osType || !os.osState)
        throw new ArmError(
          400,
          'InvalidParameter',
          'location, properties.storageProfile.osDisk.osType and osState are required',
        );
      if (!os.snapshot?.id || parsed.sourceVirtualMachine || os.managedDisk || os.blobUri)
        throw new ArmError(
          501,
          'NotModelled',
          'fake-azure-compute models images made from a managed snapshot (storageProfile.osDisk.snapshot) only',
        );
      const snap = snapshots.get(os.snapshot.id.toLowerCase());
      if (!snap)
        throw new ArmError(
          404,
          'NotFound',
          `The Resource '${os.snapshot.id.replace(/^.*\/providers\//i, '')}' was not found.`,
        );
      if (snap.wire.properties.provisioningState !== 'Succeeded')
        throw new ArmError(409, 'Conflict', `Snapshot ${snap.wire.name} is not ready yet.`);
      // The image holds its own copy: deleting the snapshot later leaves it whole.
      const data = path.join(dir, 'images', name);
      cpSync(snap.dir, data, { recursive: true });
      const wire: Wire = {
        id,
        name,
        type: 'Microsoft.Compute/images',
        location: parsed.location,
        tags: { ...(parsed.tags ?? {}) },
        properties: {
          storageProfile: {
            osDisk: {
              osType: os.osType,
              osState: os.osState,
              snapshot: { id: snap.wire.id },
              caching: 'ReadWrite',
              storageAccountType: 'Standard_LRS',
            },
            dataDisks: [],
          },
          hyperVGeneration: parsed.hyperVGeneration ?? 'V1',
          provisioningState: 'Creating',
        },
      };
      images.set(id.toLowerCase(), { wire, dir: data });
      const op = startOperation(() => {
        wire.properties.provisioningState = 'Succeeded';
      });
      return { status: 201, body: wire, headers: asyncHeaders(op, 'async') };
    },
    'images.get': (p) => {
      const i = images.get(resourceId(p.resourceGroupName!, 'images', p.imageName!).toLowerCase());
      if (!i) throw notFound(p.resourceGroupName!, 'images', p.imageName!);
      return { status: 200, body: i.wire };
    },
    'images.listByResourceGroup': (p) => ({
      status: 200,
      body: { value: inGroup(images, p.resourceGroupName!).map((i) => i.wire) },
    }),
    'images.delete': (p) => {
      const k = resourceId(p.resourceGroupName!, 'images', p.imageName!).toLowerCase();
      const i = images.get(k);
      if (!i) return { status: 204 };
      // Azure deletes a managed image even while VMs made from it run (their disks are their own).
      i.wire.properties.provisioningState = 'Deleting';
      const op = startOperation(() => {
        images.delete(k);
        rmSync(i.dir, { recursive: true, force: true });
      });
      return { status: 202, headers: asyncHeaders(op, 'location') };
    },
  };
  const inGroup = (m: Map<string, Stored>, rg: string) =>
    [...m.values()].filter((x) => x.wire.id.toLowerCase().startsWith(`${rgPrefix(rg)}/`.toLowerCase()));

  // Not Microsoft.Compute: the autoscale settings of Microsoft.Insights, whose client is not
  // installed; shape from Microsoft's REST reference (AutoscaleSettingResource).
  const AUTOSCALE =
    /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/microsoft\.insights\/autoscalesettings$/i;
  const ASYNC =
    /^\/subscriptions\/[^/]+\/providers\/Microsoft\.Compute\/locations\/fake\/(operations|operationResults)\/([^/]+)$/;

  const answerOperationStatus = (kind: string, id: string): Answer => {
    const fault = takeFault('poll');
    if (fault) throw new ArmError(fault.status, fault.code, fault.message ?? fault.code, fault.retryAfter);
    const op = ops.get(id);
    if (!op) throw new ArmError(404, 'NotFound', `operation ${id} is not known`);
    op.polls++;
    settle();
    if (kind === 'operationResults')
      return { status: op.done ? 200 : 202, ...(op.done ? {} : { headers: {} }) };
    const status = !op.done ? 'InProgress' : op.failure ? 'Failed' : 'Succeeded';
    return {
      status: 200,
      body: {
        name: id,
        status,
        startTime: new Date(op.started).toISOString(),
        ...(op.done && op.failure ? { error: op.failure } : {}),
      },
    };
  };

  const tokenRoute = (pathname: string, method: string, body: string): Answer | undefined => {
    const m = /^\/([^/]+)\/(v2\.0\/\.well-known\/openid-configuration|oauth2\/v2\.0\/token)$/.exec(pathname);
    if (!m) return undefined;
    const tenant = m[1]!;
    if (tenant !== tenantId)
      return {
        status: 400,
        body: { error: 'invalid_tenant', error_description: `tenant ${tenant} is not known` },
      };
    if (m[2]!.startsWith('v2.0'))
      return {
        status: 200,
        body: {
          token_endpoint: `${base}/${tenant}/oauth2/v2.0/token`,
          authorization_endpoint: `${base}/${tenant}/oauth2/v2.0/authorize`,
          issuer: `${base}/${tenant}/v2.0`,
          jwks_uri: `${base}/${tenant}/discovery/v2.0/keys`,
          response_types_supported: ['code', 'token'],
          end_session_endpoint: `${base}/${tenant}/oauth2/v2.0/logout`,
        },
      };
    if (method !== 'POST') return { status: 405, body: { error: 'invalid_request' } };
    const form = new URLSearchParams(body);
    if (
      form.get('grant_type') !== 'client_credentials' ||
      form.get('client_id') !== servicePrincipal.clientId ||
      form.get('client_secret') !== servicePrincipal.clientSecret
    )
      return {
        status: 401,
        body: {
          error: 'invalid_client',
          error_description: 'AADSTS7000215: Invalid client secret provided.',
        },
      };
    const token = `fake-token-${randomUUID()}`;
    issued.add(token);
    return {
      status: 200,
      body: { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: token },
    };
  };

  const route = (method: string, pathname: string): { op: SdkOperation; params: Params } | undefined => {
    let best: { op: SdkOperation; params: Params } | undefined;
    for (const op of operations) {
      if (op.method !== method) continue;
      const m = op.pattern.exec(pathname);
      if (!m) continue;
      if (best && best.op.literals >= op.literals) continue;
      const params: Params = {};
      op.params.forEach((name, i) => {
        params[name] = decodeURIComponent(m[i + 1]!);
      });
      best = { op, params };
    }
    return best;
  };

  const handle = (req: IncomingMessage, raw: string): { answer: Answer; operation: string } => {
    const url = new URL(req.url ?? '/', base);
    const method = req.method ?? 'GET';
    const token = tokenRoute(url.pathname, method, raw);
    if (token) return { answer: token, operation: 'token' };
    const auth = req.headers.authorization ?? '';
    if (!issued.has(auth.replace(/^Bearer /, '')))
      throw Object.assign(
        new ArmError(401, 'AuthenticationFailed', 'Authentication failed: no valid bearer token.'),
        {
          operation: 'auth',
        },
      );
    if (!url.pathname.toLowerCase().startsWith(`/subscriptions/${subscriptionId}`))
      throw new ArmError(
        404,
        'SubscriptionNotFound',
        `The subscription in ${url.pathname} could not be found.`,
      );
    const async = ASYNC.exec(url.pathname);
    if (async && method === 'GET')
      return { answer: answerOperationStatus(async[1]!, async[2]!), operation: 'poll' };
    const insights = AUTOSCALE.exec(url.pathname);
    if (insights && method === 'GET') {
      const fault = takeFault('autoscaleSettings.listByResourceGroup');
      if (fault) throw new ArmError(fault.status, fault.code, fault.message ?? fault.code, fault.retryAfter);
      const rg = insights[2]!.toLowerCase();
      return {
        answer: {
          status: 200,
          body: { value: autoscale.filter((a) => a.id.toLowerCase().includes(`/resourcegroups/${rg}/`)) },
        },
        operation: 'autoscaleSettings.listByResourceGroup',
      };
    }
    const found = route(method, url.pathname);
    if (!found)
      throw Object.assign(
        new ArmError(
          501,
          'NotModelled',
          `fake-azure-compute: no Microsoft.Compute operation answers ${method} ${url.pathname}`,
        ),
        { operation: 'unknown' },
      );
    const { op, params } = found;
    const handler = handlers[op.name];
    if (!handler)
      throw Object.assign(
        new ArmError(
          501,
          'NotModelled',
          `fake-azure-compute does not model ${op.name} (${op.method} ${op.template})`,
        ),
        { operation: op.name },
      );
    const version = url.searchParams.get('api-version');
    if (op.apiVersion && version !== op.apiVersion)
      throw Object.assign(
        new ArmError(
          400,
          'InvalidApiVersionParameter',
          `The api-version '${version}' is invalid; the fake serves ${op.apiVersion}.`,
        ),
        { operation: op.name },
      );
    if (params.subscriptionId !== subscriptionId)
      throw new ArmError(
        404,
        'SubscriptionNotFound',
        `The subscription '${params.subscriptionId}' could not be found.`,
      );
    // Faults of a long-running create are taken where it knows whether the VM is new.
    if (op.name !== 'virtualMachines.createOrUpdate') {
      const fault = takeFault(op.name);
      if (fault)
        throw Object.assign(
          new ArmError(fault.status, fault.code, fault.message ?? fault.code, fault.retryAfter),
          { operation: op.name },
        );
    }
    let body: unknown = {};
    if (raw) {
      try {
        body = JSON.parse(raw);
      } catch {
        throw new ArmError(
          400,
          'InvalidRequestContent',
          'The request content was invalid and could not be deserialized.',
        );
      }
    }
    const answer = handler(params, url.searchParams, body);
    if (op.statuses.length > 0 && !op.statuses.includes(answer.status))
      throw new Error(
        `fake-azure-compute bug: ${op.name} answered ${answer.status}, the client expects ${op.statuses.join('/')}`,
      );
    return { answer, operation: op.name };
  };

  const server = createServer(
    { key: tls.key, cert: tls.cert },
    (req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        let answer: Answer;
        let operation = 'unknown';
        const found = route(req.method ?? 'GET', new URL(req.url ?? '/', base).pathname);
        const hook = found && hooks.get(found.op.name);
        if (found && hook) {
          let body: unknown;
          try {
            body = raw ? JSON.parse(raw) : undefined;
          } catch {
            body = undefined;
          }
          // A failing hook is the test's to report: it is kept, the request answered anyway.
          await hook(found.params, body).catch((e: unknown) => hookErrors.push(e));
        }
        try {
          ({ answer, operation } = handle(req, raw));
        } catch (e) {
          if (!(e instanceof ArmError)) {
            answer = { status: 500, body: { error: { code: 'FakeBug', message: (e as Error).message } } };
          } else {
            operation = (e as { operation?: string }).operation ?? operation;
            answer = {
              status: e.status,
              body: { error: { code: e.code, message: e.message } },
              headers: e.retryAfter !== undefined ? { 'retry-after': String(e.retryAfter) } : {},
            };
          }
        }
        const pathname = new URL(req.url ?? '/', base).pathname;
        calls.push({ operation, method: req.method ?? 'GET', path: pathname, status: answer.status });
        const headers: Record<string, string> = {
          'x-ms-request-id': randomUUID(),
          ...(answer.body !== undefined ? { 'content-type': 'application/json; charset=utf-8' } : {}),
          ...answer.headers,
        };
        res.writeHead(answer.status, headers);
        res.end(answer.body !== undefined ? JSON.stringify(answer.body) : undefined);
      });
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const uniformVm = (set: ScaleSetState, n: number): Wire => {
    const name = `${set.wire.name}_${n}`;
    return {
      id: `${set.wire.id}/virtualMachines/${n}`,
      name,
      type: 'Microsoft.Compute/virtualMachineScaleSets/virtualMachines',
      location: set.wire.location,
      instanceId: String(n),
      tags: {},
      properties: {
        provisioningState: 'Succeeded',
        vmId: randomUUID(),
        latestModelApplied: true,
        timeCreated: new Date().toISOString(),
        osProfile: {
          computerName: `${set.wire.name}${String(n).padStart(6, '0')}`,
          adminUsername: 'azureuser',
        },
      },
      _power: 'running',
    } as Wire;
  };

  const grow = (resourceGroup: string, scaleSet: string, count: number) => {
    const set = scaleSetOf(resourceGroup, scaleSet);
    if (set.mode !== 'Uniform') throw new Error('grow: Uniform scale sets only');
    for (let i = 0; i < count; i++) {
      const n = set.nextInstance++;
      set.machines.set(String(n), uniformVm(set, n));
    }
    (set.wire as unknown as { sku: { capacity: number } }).sku.capacity = set.machines.size;
  };

  return {
    url: base,
    ca: tls.cert,
    caFile: tls.certFile,
    subscriptionId,
    tenantId,
    staticToken,
    servicePrincipal,
    operations,
    calls,
    addScaleSet(spec) {
      const location = spec.location ?? 'westeurope';
      const wire: Wire = {
        id: `${rgPrefix(spec.resourceGroup)}/virtualMachineScaleSets/${spec.name}`,
        name: spec.name,
        type: 'Microsoft.Compute/virtualMachineScaleSets',
        location,
        ...(spec.zones ? { zones: [...spec.zones] } : {}),
        sku: { name: spec.vmSize ?? 'Standard_D2s_v5', tier: 'Standard', capacity: spec.capacity ?? 0 },
        properties: {
          orchestrationMode: spec.orchestrationMode,
          platformFaultDomainCount: 1,
          provisioningState: 'Succeeded',
          uniqueId: randomUUID(),
          timeCreated: new Date().toISOString(),
          virtualMachineProfile: {
            osProfile: {
              computerNamePrefix: spec.name.slice(0, 9),
              adminUsername: 'azureuser',
              linuxConfiguration: {
                disablePasswordAuthentication: true,
                ssh: {
                  publicKeys: [
                    { path: '/home/azureuser/.ssh/authorized_keys', keyData: 'ssh-ed25519 AAAAfake' },
                  ],
                },
              },
            },
            storageProfile: {
              imageReference: {
                publisher: 'Canonical',
                offer: 'ubuntu-24_04-lts',
                sku: 'server',
                version: 'latest',
              },
              osDisk: {
                createOption: 'FromImage',
                caching: 'ReadWrite',
                managedDisk: { storageAccountType: 'Premium_LRS' },
              },
            },
            networkProfile: {
              networkApiVersion: '2020-11-01',
              networkInterfaceConfigurations: [
                {
                  name: 'nic',
                  properties: {
                    primary: true,
                    ipConfigurations: [
                      {
                        name: 'ipconfig',
                        properties: {
                          primary: true,
                          subnet: {
                            id: `/subscriptions/${subscriptionId}/resourceGroups/${spec.resourceGroup}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/default`,
                          },
                        },
                      },
                    ],
                  },
                },
              ],
            },
          },
        },
      };
      const set: ScaleSetState = {
        wire,
        resourceGroup: spec.resourceGroup,
        mode: spec.orchestrationMode,
        machines: new Map(),
        nextInstance: 0,
      };
      scaleSets.set(key(spec.resourceGroup, spec.name), set);
      if (spec.orchestrationMode === 'Uniform') grow(spec.resourceGroup, spec.name, spec.capacity ?? 0);
      return wire;
    },
    addAutoscaleSetting(resourceGroup, scaleSet, enabled) {
      const set = scaleSetOf(resourceGroup, scaleSet);
      autoscale.push({
        id: `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/microsoft.insights/autoscalesettings/${scaleSet}-autoscale`,
        name: `${scaleSet}-autoscale`,
        type: 'Microsoft.Insights/autoscaleSettings',
        location: String(set.wire.location),
        properties: { enabled, targetResourceUri: set.wire.id, profiles: [] },
      });
    },
    inject(fault) {
      faults.push({ ...fault, left: fault.times ?? 1 });
    },
    clearFaults() {
      faults.length = 0;
    },
    hookErrors,
    beforeOperation(operation, hook) {
      hooks.set(operation, hook);
    },
    machines(resourceGroup, scaleSet) {
      settle();
      return [...scaleSetOf(resourceGroup, scaleSet).machines.values()].map((v) => withView(v, true));
    },
    setTag(resourceGroup, scaleSet, name, k, value) {
      const set = scaleSetOf(resourceGroup, scaleSet);
      const vm = [...set.machines.values()].find((v) => v.name.toLowerCase() === name.toLowerCase());
      if (vm) vm.tags = { ...vm.tags, [k]: value };
    },
    replaceTags(resourceGroup, scaleSet, name, tags) {
      const set = scaleSetOf(resourceGroup, scaleSet);
      const vm = [...set.machines.values()].find((v) => v.name.toLowerCase() === name.toLowerCase());
      if (vm) vm.tags = { ...tags };
    },
    grow,
    diskDir(resourceGroup, vmName) {
      const found = findVm(resourceGroup, vmName);
      return found && disks.get(found.vm.id.toLowerCase())?.dir;
    },
    snapshots(resourceGroup) {
      settle();
      return inGroup(snapshots, resourceGroup);
    },
    images(resourceGroup) {
      settle();
      return inGroup(images, resourceGroup);
    },
    async stop() {
      clearInterval(ticker);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
