// A FAKE of the Compute Engine API (there is no GCE emulator), for tests only. Its routes and
// message shapes come at start-up from the description Google ships with the official client
// (@google-cloud/compute's protos.json: each method's google.api.http route, request and
// response types): a request is matched against every route of compute.v1, and a method the
// fake does not model is refused with 501 naming it, never silently accepted. Request bodies
// are checked against their proto message (an unknown field is a 400, as GCE answers) and
// every answer against its response message (a field the API does not have is the fake's bug).
//
// Modelled: managed instance groups (zonal and regional: get, createInstances with stateful
// per-instance metadata, deleteInstances, listManagedInstances, resize, stopInstances,
// startInstances; a member whose VM vanishes is recreated, as a MIG repairs), instances
// (get, list, stop, start, delete), instance templates (insert, get), disks (get, list,
// createSnapshot), snapshots and images with families and deprecation, autoscalers (get),
// zone/region/global operations that go PENDING -> RUNNING -> DONE over time and carry
// errors inside, operations wait (returns before DONE, as GCE's does after a while), and the
// metadata server's token endpoint (Application Default Credentials on "GCE").
// Faults are injected per method: 429 rateLimitExceeded, 5xx, a quota error, an error inside
// the operation. Disks are folders: a snapshot or image copies its source, a new boot disk
// starts from its image's copy, so "new nodes start close to the tip" is observable.

import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

const require = createRequire(import.meta.url);

// ---- the vendor's description

interface ProtoField {
  readonly type: string;
  readonly rule?: string;
  readonly keyType?: string;
}
interface ProtoType {
  readonly fields?: Record<string, ProtoField>;
  readonly values?: Record<string, number>;
  readonly methods?: Record<string, ProtoMethod>;
}
interface ProtoMethod {
  readonly requestType: string;
  readonly responseType: string;
  readonly options?: Record<string, string>;
}

interface Route {
  /** `Service.Method`, e.g. InstanceGroupManagers.CreateInstances. */
  readonly method: string;
  readonly verb: string;
  readonly template: string;
  readonly pattern: RegExp;
  readonly params: string[];
  readonly bodyType?: string | undefined;
  readonly responseType: string;
}

const PROTOS_PATH = require.resolve('@google-cloud/compute/build/protos/protos.json');

function loadDescription(): { types: Record<string, ProtoType>; routes: Route[] } {
  const json = require(PROTOS_PATH) as {
    nested: {
      google: { nested: { cloud: { nested: { compute: { nested: { v1: { nested: unknown } } } } } } };
    };
  };
  const types = json.nested.google.nested.cloud.nested.compute.nested.v1.nested as Record<string, ProtoType>;
  const routes: Route[] = [];
  for (const [service, def] of Object.entries(types)) {
    for (const [name, m] of Object.entries(def.methods ?? {})) {
      const o = m.options ?? {};
      const verb = ['get', 'post', 'put', 'patch', 'delete'].find((v) => o[`(google.api.http).${v}`]);
      if (!verb) continue;
      const template = o[`(google.api.http).${verb}`]!;
      const params: string[] = [];
      const source = template.replace(/\{([a-z_]+)\}/g, (_, p: string) => {
        params.push(p);
        return '([^/]+)';
      });
      const bodyField = o['(google.api.http).body'];
      let bodyType: string | undefined;
      if (bodyField) {
        const camel = bodyField.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
        bodyType = types[m.requestType]?.fields?.[camel]?.type;
      }
      routes.push({
        method: `${service}.${name}`,
        verb: verb.toUpperCase(),
        template,
        pattern: new RegExp(`^${source}$`),
        params,
        bodyType,
        responseType: m.responseType,
      });
    }
  }
  return { types, routes };
}

const SCALARS = new Set([
  'string',
  'bool',
  'int32',
  'int64',
  'uint32',
  'uint64',
  'double',
  'float',
  'bytes',
  'sint32',
  'fixed64',
]);

/** Paths of fields in `value` that message `type` does not have (JSON names, as REST sends them). */
function unknownFields(types: Record<string, ProtoType>, type: string, value: unknown, at = ''): string[] {
  if (SCALARS.has(type) || value === null || typeof value !== 'object') return [];
  const def = types[type];
  if (!def?.fields) return []; // an enum, or a well-known type outside compute.v1
  const out: string[] = [];
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    const f = def.fields[key];
    const here = at ? `${at}.${key}` : key;
    if (!f) {
      out.push(here);
      continue;
    }
    if (f.keyType) {
      for (const [k, item] of Object.entries((v ?? {}) as Record<string, unknown>))
        out.push(...unknownFields(types, f.type, item, `${here}[${k}]`));
    } else if (f.rule === 'repeated' && Array.isArray(v)) {
      v.forEach((item, i) => {
        out.push(...unknownFields(types, f.type, item, `${here}[${i}]`));
      });
    } else out.push(...unknownFields(types, f.type, v, here));
  }
  return out;
}

// ---- errors

/** An error GCE would answer with: HTTP status, reason, message. */
export class GceFault extends Error {
  readonly status: number;
  readonly reason: string;
  constructor(status: number, reason: string, message: string) {
    super(message);
    this.status = status;
    this.reason = reason;
  }
}

const STATUS_NAMES: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ALREADY_EXISTS',
  412: 'FAILED_PRECONDITION',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  501: 'UNIMPLEMENTED',
  503: 'UNAVAILABLE',
};

function errorBody(f: GceFault) {
  return {
    error: {
      code: f.status,
      message: f.message,
      errors: [{ message: f.message, domain: f.status === 429 ? 'usageLimits' : 'global', reason: f.reason }],
      status: STATUS_NAMES[f.status] ?? 'UNKNOWN',
    },
  };
}

const notFound = (what: string) => new GceFault(404, 'notFound', `The resource '${what}' was not found`);

// ---- state

export type InstanceStatus = 'PROVISIONING' | 'STAGING' | 'RUNNING' | 'STOPPING' | 'TERMINATED';

export interface FakeInstance {
  readonly id: string;
  readonly name: string;
  readonly zone: string;
  status: InstanceStatus;
  metadata: Record<string, string>;
  labels: Record<string, string>;
  readonly networkIP: string;
  readonly natIP: string;
  readonly creationTimestamp: string;
  readonly bootDisk: string;
  /** Image the boot disk was made from (a URL), if any. */
  readonly sourceImage?: string | undefined;
  /** Group that manages it, if any. */
  group?: string | undefined;
}

export interface FakeDisk {
  readonly id: string;
  readonly name: string;
  readonly zone: string;
  readonly labels: Record<string, string>;
  readonly sourceImage?: string | undefined;
  readonly dir: string;
  users: string[];
}

export interface FakeSnapshot {
  readonly id: string;
  readonly name: string;
  readonly sourceDisk: string;
  readonly labels: Record<string, string>;
  readonly creationTimestamp: string;
  status: 'CREATING' | 'READY';
  readonly dir: string;
}

export interface FakeImage {
  readonly id: string;
  readonly name: string;
  readonly family?: string | undefined;
  readonly sourceSnapshot?: string | undefined;
  readonly labels: Record<string, string>;
  readonly creationTimestamp: string;
  status: 'PENDING' | 'READY';
  deprecated?: { state: string; replacement?: string } | undefined;
  readonly dir: string;
}

interface Member {
  readonly name: string;
  readonly zone: string;
  currentAction: 'CREATING' | 'NONE' | 'DELETING' | 'STOPPING' | 'STARTING' | 'RECREATING';
  /** Stateful per-instance metadata (from createInstances). */
  readonly metadata: Record<string, string>;
  lastAttemptError?: { code: string; message: string } | undefined;
  targetStatus: 'RUNNING' | 'STOPPED';
}

export interface FakeGroup {
  readonly name: string;
  /** `zones/us-central1-a` or `regions/us-central1`. */
  readonly scope: string;
  readonly zones: string[];
  readonly template: string;
  readonly baseInstanceName: string;
  readonly members: Map<string, Member>;
  autoscaler?: { name: string; mode: string } | undefined;
}

interface Operation {
  readonly id: string;
  readonly name: string;
  readonly scope: string;
  readonly operationType: string;
  readonly targetLink: string;
  readonly insertTime: string;
  readonly pendingUntil: number;
  readonly doneAt: number;
  status: 'PENDING' | 'RUNNING' | 'DONE';
  error?: { code: string; message: string } | undefined;
  httpErrorStatusCode?: number | undefined;
  httpErrorMessage?: string | undefined;
  /** Takes effect when the operation finishes; a GceFault becomes the operation's error. */
  effect?: (() => void) | undefined;
  startEffect?: (() => void) | undefined;
}

export type FaultKind =
  | 'rate-limit'
  | 'unavailable'
  | 'internal'
  | 'quota'
  | 'operation-error'
  | 'lost-answer';

export interface Fault {
  /** `Service.Method` as the protos name it, e.g. InstanceGroupManagers.CreateInstances. */
  readonly method: string;
  readonly kind: FaultKind;
  /** How many calls it hits. Default 1. */
  times?: number;
}

export interface FakeGceOptions {
  readonly project?: string;
  /** ms an operation stays PENDING, then RUNNING. Defaults 30 and 80. */
  readonly pendingMs?: number;
  readonly runningMs?: number;
  /** ms an instance takes from STAGING to RUNNING. Default 120. */
  readonly bootMs?: number;
  /** ms operations.wait blocks at most before answering a not-yet-DONE operation. Default 400. */
  readonly waitMs?: number;
}

export interface FakeGce {
  /** `http://127.0.0.1:PORT`, the API's (and the metadata server's) endpoint. */
  readonly url: string;
  readonly port: number;
  readonly project: string;
  /** `127.0.0.1:PORT`, for GCE_METADATA_HOST. */
  readonly metadataHost: string;
  /** The fake access token the metadata server hands out (not a secret of anyone's). */
  readonly token: string;
  readonly instances: Map<string, FakeInstance>;
  readonly groups: Map<string, FakeGroup>;
  readonly images: Map<string, FakeImage>;
  readonly snapshots: Map<string, FakeSnapshot>;
  readonly disks: Map<string, FakeDisk>;
  /** Every request, as `Service.Method` (refused ones too). */
  readonly calls: string[];
  /** Requests refused with 501, by method. */
  readonly unmodelled: string[];
  /** Authorization headers that were not `Bearer <token>`. */
  readonly unauthorized: string[];
  createTemplate(t: { name: string; sourceImage?: string; metadata?: Record<string, string> }): string;
  createGroup(g: {
    name: string;
    zone?: string;
    region?: string;
    template: string;
    autoscalerMode?: string;
  }): FakeGroup;
  /** A READY image (an empty disk) in `family`, as a project's first, hand-made image would be. */
  seedImage(name: string, family: string): void;
  inject(fault: Fault): void;
  /** Deletes a VM behind the group's back (a host failure): the group recreates it. */
  loseInstance(name: string): void;
  /** The folder holding an instance's boot disk. */
  diskDir(instanceName: string): string;
  close(): Promise<void>;
}

/** Starts the fake on a free loopback port. */
export async function startFakeGce(o: FakeGceOptions = {}): Promise<FakeGce> {
  const { types, routes } = loadDescription();
  const project = o.project ?? 'rampart-test';
  const pendingMs = o.pendingMs ?? 30;
  const runningMs = o.runningMs ?? 80;
  const bootMs = o.bootMs ?? 120;
  const waitMs = o.waitMs ?? 400;
  const token = `fake-gce-token-${Math.random().toString(36).slice(2)}`;
  const root = mkdtempSync(path.join(tmpdir(), 'rampart-fake-gce-'));
  const instances = new Map<string, FakeInstance>();
  const groups = new Map<string, FakeGroup>();
  const images = new Map<string, FakeImage>();
  const snapshots = new Map<string, FakeSnapshot>();
  const disks = new Map<string, FakeDisk>();
  const templates = new Map<
    string,
    { name: string; sourceImage?: string; metadata: Record<string, string> }
  >();
  const operations = new Map<string, Operation>();
  const faults: Fault[] = [];
  const byRequestId = new Map<string, Operation>();
  const calls: string[] = [];
  const unmodelled: string[] = [];
  const unauthorized: string[] = [];
  let seq = 1000;
  const nextId = () => String(++seq * 7919);
  // Loopback addresses of the instances: one /16 per fake so two fakes never share one.
  const net = 100 + Math.floor(Math.random() * 150);
  let host = 2;
  let base = '';

  const link = (p: string) => `${base}/compute/v1/projects/${project}/${p}`;
  const nameOf = (url: string) => url.split('/').pop()!;
  const now = () => new Date().toISOString();
  const scopeOf = (p: Record<string, string>) =>
    p.zone ? `zones/${p.zone}` : p.region ? `regions/${p.region}` : 'global';

  const takeFault = (method: string): FaultKind | undefined => {
    const f = faults.find((x) => x.method === method && (x.times ?? 1) > 0);
    if (!f) return undefined;
    f.times = (f.times ?? 1) - 1;
    return f.kind;
  };

  // ---- operations

  const operation = (
    scope: string,
    operationType: string,
    targetLink: string,
    effect?: () => void,
    startEffect?: () => void,
    failWith?: GceFault,
  ): Operation => {
    const t = Date.now();
    const op: Operation = {
      id: nextId(),
      name: `operation-${t}-${Math.random().toString(16).slice(2, 10)}`,
      scope,
      operationType,
      targetLink,
      insertTime: now(),
      pendingUntil: t + pendingMs,
      doneAt: t + pendingMs + runningMs,
      status: 'PENDING',
      effect: failWith
        ? () => {
            throw failWith;
          }
        : effect,
      startEffect,
    };
    operations.set(`${scope}/${op.name}`, op);
    return op;
  };

  const advance = (op: Operation) => {
    const t = Date.now();
    if (op.status === 'PENDING' && t >= op.pendingUntil) {
      op.status = 'RUNNING';
      op.startEffect?.();
    }
    if (op.status === 'RUNNING' && t >= op.doneAt) {
      op.status = 'DONE';
      try {
        op.effect?.();
      } catch (e) {
        const f = e instanceof GceFault ? e : new GceFault(500, 'internalError', String(e));
        op.error = { code: f.reason.toUpperCase(), message: f.message };
        op.httpErrorStatusCode = f.status;
        op.httpErrorMessage = STATUS_NAMES[f.status] ?? 'ERROR';
      }
    }
  };

  const opJson = (op: Operation) => ({
    kind: 'compute#operation',
    id: op.id,
    name: op.name,
    operationType: op.operationType,
    targetLink: op.targetLink,
    status: op.status,
    progress: op.status === 'DONE' ? 100 : op.status === 'RUNNING' ? 50 : 0,
    insertTime: op.insertTime,
    selfLink: link(`${op.scope}/operations/${op.name}`),
    ...(op.scope.startsWith('zones/') ? { zone: link(op.scope) } : {}),
    ...(op.scope.startsWith('regions/') ? { region: link(op.scope) } : {}),
    ...(op.error
      ? {
          error: { errors: [op.error] },
          httpErrorStatusCode: op.httpErrorStatusCode,
          httpErrorMessage: op.httpErrorMessage,
        }
      : {}),
  });

  // ---- instances, disks

  const instanceJson = (i: FakeInstance) => ({
    kind: 'compute#instance',
    id: i.id,
    name: i.name,
    zone: link(`zones/${i.zone}`),
    status: i.status,
    creationTimestamp: i.creationTimestamp,
    selfLink: link(`zones/${i.zone}/instances/${i.name}`),
    labels: i.labels,
    metadata: {
      kind: 'compute#metadata',
      fingerprint: Buffer.from(i.id).toString('base64'),
      items: Object.entries(i.metadata).map(([key, value]) => ({ key, value })),
    },
    networkInterfaces: [
      {
        name: 'nic0',
        network: link('global/networks/default'),
        networkIP: i.networkIP,
        accessConfigs: [{ name: 'External NAT', type: 'ONE_TO_ONE_NAT', natIP: i.natIP }],
      },
    ],
    disks: [
      {
        boot: true,
        autoDelete: true,
        deviceName: 'persistent-disk-0',
        source: link(`zones/${i.zone}/disks/${i.bootDisk}`),
        mode: 'READ_WRITE',
      },
    ],
  });

  const resolveImage = (source: string | undefined): FakeImage | undefined => {
    if (!source) return undefined;
    const family = /\/global\/images\/family\/([^/]+)$/.exec(source)?.[1];
    if (family) return newestOfFamily(family);
    return images.get(nameOf(source));
  };

  const newestOfFamily = (family: string): FakeImage | undefined =>
    [...images.values()]
      .filter((i) => i.family === family && i.status === 'READY' && !i.deprecated)
      .sort((a, b) => Number(b.id) - Number(a.id))[0];

  const bootInstance = (name: string, zone: string, template: string, metadata: Record<string, string>) => {
    const t = templates.get(nameOf(template));
    if (!t) throw new GceFault(400, 'invalid', `Invalid value for field 'instanceTemplate': '${template}'`);
    const image = resolveImage(t.sourceImage);
    if (t.sourceImage && !image)
      throw new GceFault(
        400,
        'resourceNotReady',
        `The resource '${t.sourceImage}' is not ready: the family has no image`,
      );
    const dir = path.join(root, 'disks', `${zone}-${name}-${nextId()}`);
    if (image) cpSync(image.dir, dir, { recursive: true });
    else mkdirSync(dir, { recursive: true });
    const disk: FakeDisk = {
      id: nextId(),
      name,
      zone,
      labels: {},
      sourceImage: image ? link(`global/images/${image.name}`) : undefined,
      dir,
      users: [link(`zones/${zone}/instances/${name}`)],
    };
    disks.set(`${zone}/${name}`, disk);
    const n = host++;
    const instance: FakeInstance = {
      id: nextId(),
      name,
      zone,
      status: 'STAGING',
      metadata: { ...t.metadata, ...metadata },
      labels: {},
      networkIP: `127.${net}.${Math.floor(n / 250)}.${(n % 250) + 2}`,
      natIP: `127.${net}.${200 + Math.floor(n / 250)}.${(n % 250) + 2}`,
      creationTimestamp: now(),
      bootDisk: name,
      sourceImage: disk.sourceImage,
    };
    instances.set(`${zone}/${name}`, instance);
    setTimeout(() => {
      if (instances.get(`${zone}/${name}`) === instance && instance.status === 'STAGING')
        instance.status = 'RUNNING';
    }, bootMs).unref();
    return instance;
  };

  const deleteInstance = (zone: string, name: string) => {
    const i = instances.get(`${zone}/${name}`);
    if (!i) return;
    i.status = 'STOPPING';
    instances.delete(`${zone}/${name}`);
    const d = disks.get(`${zone}/${i.bootDisk}`);
    if (d) {
      disks.delete(`${zone}/${i.bootDisk}`);
      rmSync(d.dir, { recursive: true, force: true });
    }
  };

  const instanceOf = (zone: string, name: string) => {
    const i = instances.get(`${zone}/${name}`);
    if (!i) throw notFound(`projects/${project}/zones/${zone}/instances/${name}`);
    return i;
  };

  // ---- groups

  const groupOf = (scope: string, name: string) => {
    const g = groups.get(`${scope}/${name}`);
    if (!g) throw notFound(`projects/${project}/${scope}/instanceGroupManagers/${name}`);
    return g;
  };

  const managedJson = (g: FakeGroup, m: Member) => {
    const i = instances.get(`${m.zone}/${m.name}`);
    return {
      name: m.name,
      instance: link(`zones/${m.zone}/instances/${m.name}`),
      ...(i ? { id: i.id, instanceStatus: i.status } : {}),
      currentAction: m.currentAction,
      targetStatus: m.targetStatus,
      ...(Object.keys(m.metadata).length > 0 ? { preservedStateFromConfig: { metadata: m.metadata } } : {}),
      ...(m.lastAttemptError ? { lastAttempt: { errors: { errors: [m.lastAttemptError] } } } : {}),
      version: { instanceTemplate: g.template },
    };
  };

  const groupJson = (g: FakeGroup) => {
    const live = [...g.members.values()].filter((m) => m.currentAction !== 'DELETING');
    const stable = [...g.members.values()].every((m) => m.currentAction === 'NONE');
    return {
      kind: 'compute#instanceGroupManager',
      id: String(g.name.length * 104729),
      name: g.name,
      baseInstanceName: g.baseInstanceName,
      instanceTemplate: g.template,
      targetSize: live.filter((m) => m.targetStatus === 'RUNNING').length,
      targetStoppedSize: live.filter((m) => m.targetStatus === 'STOPPED').length,
      selfLink: link(`${g.scope}/instanceGroupManagers/${g.name}`),
      ...(g.scope.startsWith('zones/') ? { zone: link(g.scope) } : { region: link(g.scope) }),
      status: {
        isStable: stable,
        ...(g.autoscaler ? { autoscaler: link(`${g.scope}/autoscalers/${g.autoscaler.name}`) } : {}),
      },
    };
  };

  /** The zone of a regional group holding the fewest members (as its distribution would pick). */
  const placeIn = (g: FakeGroup) =>
    g.zones.reduce((a, b) =>
      [...g.members.values()].filter((m) => m.zone === b).length <
      [...g.members.values()].filter((m) => m.zone === a).length
        ? b
        : a,
    );

  const addMember = (g: FakeGroup, name: string, metadata: Record<string, string>, quota: boolean) => {
    const zone = placeIn(g);
    const m: Member = { name, zone, currentAction: 'CREATING', metadata, targetStatus: 'RUNNING' };
    g.members.set(name, m);
    if (quota) {
      m.lastAttemptError = {
        code: 'QUOTA_EXCEEDED',
        message: `Quota 'CPUS' exceeded. Limit: 8.0 in region ${zone.replace(/-[a-z]$/, '')}.`,
      };
      return;
    }
    try {
      bootInstance(name, zone, g.template, metadata);
      m.currentAction = 'NONE';
      const i = instances.get(`${zone}/${name}`)!;
      i.group = g.name;
    } catch (e) {
      const f = e as GceFault;
      m.lastAttemptError = { code: f.reason?.toUpperCase() ?? 'ERROR', message: f.message };
    }
  };

  const membersByUrl = (g: FakeGroup, urls: string[], skip: boolean) => {
    const out: Member[] = [];
    for (const u of urls) {
      const m = g.members.get(nameOf(u));
      if (m) out.push(m);
      else if (!skip)
        throw new GceFault(
          400,
          'invalid',
          `Instance '${u}' is not a member of instance group manager '${g.name}'`,
        );
    }
    return out;
  };

  // A MIG repairs: a member whose VM is gone (not by the group's own hand) is recreated.
  const repair = setInterval(() => {
    for (const g of groups.values())
      for (const m of g.members.values())
        if (
          m.currentAction === 'NONE' &&
          m.targetStatus === 'RUNNING' &&
          !instances.has(`${m.zone}/${m.name}`)
        ) {
          m.currentAction = 'RECREATING';
          setTimeout(() => {
            if (g.members.get(m.name) !== m) return;
            try {
              bootInstance(m.name, m.zone, g.template, m.metadata).group = g.name;
              m.currentAction = 'NONE';
            } catch (e) {
              m.lastAttemptError = { code: 'ERROR', message: (e as Error).message };
            }
          }, runningMs).unref();
        }
    for (const op of operations.values()) if (op.status !== 'DONE') advance(op);
  }, 25);
  repair.unref();

  // ---- handlers: `Service.Method` -> what it does

  // biome-ignore lint/suspicious/noExplicitAny: JSON bodies of many shapes, checked against the protos first.
  type Handler = (p: Record<string, string>, body: any, query: URLSearchParams) => unknown;

  const groupHandlers = (svc: string): Record<string, Handler> => ({
    [`${svc}.Get`]: (p) => groupJson(groupOf(scopeOf(p), p.instance_group_manager!)),
    [`${svc}.ListManagedInstances`]: (p) => {
      const g = groupOf(scopeOf(p), p.instance_group_manager!);
      return { managedInstances: [...g.members.values()].map((m) => managedJson(g, m)) };
    },
    [`${svc}.CreateInstances`]: (p, body) => {
      const scope = scopeOf(p);
      const g = groupOf(scope, p.instance_group_manager!);
      const wanted = (body?.instances ?? []) as {
        name?: string;
        preservedState?: { metadata?: Record<string, string> };
      }[];
      for (const w of wanted) {
        if (!w.name || !/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/.test(w.name))
          throw new GceFault(400, 'invalid', `Invalid value for field 'name': '${w.name ?? ''}'`);
        if (g.members.has(w.name))
          throw new GceFault(409, 'alreadyExists', `Instance '${w.name}' already exists in '${g.name}'`);
      }
      const quota = takeFault(`${p.zone ? 'InstanceGroupManagers' : 'RegionInstanceGroupManagers'}.quota`);
      return operation(
        scope,
        'compute.instanceGroupManagers.createInstances',
        link(`${scope}/instanceGroupManagers/${g.name}`),
        undefined,
        () => {
          for (const w of wanted)
            addMember(g, w.name!, { ...(w.preservedState?.metadata ?? {}) }, quota === 'quota');
        },
      );
    },
    [`${svc}.DeleteInstances`]: (p, body) => {
      const scope = scopeOf(p);
      const g = groupOf(scope, p.instance_group_manager!);
      const ms = membersByUrl(g, body?.instances ?? [], body?.skipInstancesOnValidationError === true);
      for (const m of ms) m.currentAction = 'DELETING';
      return operation(
        scope,
        'compute.instanceGroupManagers.deleteInstances',
        link(`${scope}/instanceGroupManagers/${g.name}`),
        () => {
          for (const m of ms) {
            deleteInstance(m.zone, m.name);
            g.members.delete(m.name);
          }
        },
      );
    },
    [`${svc}.Resize`]: (p, _body, q) => {
      const scope = scopeOf(p);
      const g = groupOf(scope, p.instance_group_manager!);
      const size = Number(q.get('size'));
      return operation(
        scope,
        'compute.instanceGroupManagers.resize',
        link(`${scope}/instanceGroupManagers/${g.name}`),
        () => {
          const live = [...g.members.values()].filter((m) => m.currentAction !== 'DELETING');
          for (let i = live.length; i < size; i++)
            addMember(g, `${g.baseInstanceName}-${Math.random().toString(36).slice(2, 6)}`, {}, false);
          // Shrinking: the group picks its victims itself (the newest here).
          for (const m of live.slice(size).reverse()) {
            deleteInstance(m.zone, m.name);
            g.members.delete(m.name);
          }
        },
      );
    },
    [`${svc}.StopInstances`]: (p, body) => {
      const scope = scopeOf(p);
      const g = groupOf(scope, p.instance_group_manager!);
      const ms = membersByUrl(g, body?.instances ?? [], false);
      for (const m of ms) {
        m.targetStatus = 'STOPPED';
        m.currentAction = 'STOPPING';
      }
      return operation(
        scope,
        'compute.instanceGroupManagers.stopInstances',
        link(`${scope}/instanceGroupManagers/${g.name}`),
        () => {
          for (const m of ms) {
            const i = instances.get(`${m.zone}/${m.name}`);
            if (i) i.status = 'TERMINATED';
            m.currentAction = 'NONE';
          }
        },
      );
    },
    [`${svc}.StartInstances`]: (p, body) => {
      const scope = scopeOf(p);
      const g = groupOf(scope, p.instance_group_manager!);
      const ms = membersByUrl(g, body?.instances ?? [], false);
      for (const m of ms) {
        m.targetStatus = 'RUNNING';
        m.currentAction = 'STARTING';
      }
      return operation(
        scope,
        'compute.instanceGroupManagers.startInstances',
        link(`${scope}/instanceGroupManagers/${g.name}`),
        () => {
          for (const m of ms) {
            const i = instances.get(`${m.zone}/${m.name}`);
            if (i) {
              i.status = 'STAGING';
              setTimeout(() => {
                if (i.status === 'STAGING') i.status = 'RUNNING';
              }, bootMs).unref();
            }
            m.currentAction = 'NONE';
          }
        },
      );
    },
  });

  const opHandlers = (svc: string): Record<string, Handler> => ({
    [`${svc}.Get`]: (p) => {
      const op = operations.get(`${scopeOf(p)}/${p.operation}`);
      if (!op) throw notFound(`projects/${project}/${scopeOf(p)}/operations/${p.operation}`);
      advance(op);
      return opJson(op);
    },
    [`${svc}.Wait`]: async (p) => {
      const op = operations.get(`${scopeOf(p)}/${p.operation}`);
      if (!op) throw notFound(`projects/${project}/${scopeOf(p)}/operations/${p.operation}`);
      const until = Date.now() + waitMs;
      while (op.status !== 'DONE' && Date.now() < until) {
        advance(op);
        await new Promise((r) => setTimeout(r, 10));
      }
      advance(op);
      return opJson(op);
    },
  });

  const handlers: Record<string, Handler> = {
    ...groupHandlers('InstanceGroupManagers'),
    ...groupHandlers('RegionInstanceGroupManagers'),
    ...opHandlers('ZoneOperations'),
    ...opHandlers('RegionOperations'),
    ...opHandlers('GlobalOperations'),
    'Autoscalers.Get': (p) => autoscalerJson(`zones/${p.zone}`, p.autoscaler!),
    'RegionAutoscalers.Get': (p) => autoscalerJson(`regions/${p.region}`, p.autoscaler!),
    'Instances.Get': (p) => instanceJson(instanceOf(p.zone!, p.instance!)),
    'Instances.List': (p, _b, q) => {
      const filter = q.get('filter');
      const byName = filter ? /^name\s*(?:=|eq)\s*"?([^"\s]+)"?$/.exec(filter.trim())?.[1] : undefined;
      if (filter && !byName)
        throw new GceFault(
          501,
          'notImplemented',
          `fake-gce models only the filter name = "NAME", not: ${filter}`,
        );
      return {
        kind: 'compute#instanceList',
        items: [...instances.values()]
          .filter((i) => i.zone === p.zone && (!byName || i.name === byName))
          .map(instanceJson),
      };
    },
    'Instances.Delete': (p) => {
      instanceOf(p.zone!, p.instance!);
      return operation(`zones/${p.zone}`, 'delete', link(`zones/${p.zone}/instances/${p.instance}`), () =>
        deleteInstance(p.zone!, p.instance!),
      );
    },
    'Instances.Stop': (p) => {
      const i = instanceOf(p.zone!, p.instance!);
      return operation(`zones/${p.zone}`, 'stop', link(`zones/${p.zone}/instances/${p.instance}`), () => {
        i.status = 'TERMINATED';
      });
    },
    'Instances.Start': (p) => {
      const i = instanceOf(p.zone!, p.instance!);
      return operation(`zones/${p.zone}`, 'start', link(`zones/${p.zone}/instances/${p.instance}`), () => {
        i.status = 'RUNNING';
      });
    },
    'InstanceTemplates.Get': (p) => {
      const t = templates.get(p.instance_template!);
      if (!t) throw notFound(`projects/${project}/global/instanceTemplates/${p.instance_template}`);
      return templateJson(t);
    },
    'Disks.Get': (p) => {
      const d = disks.get(`${p.zone}/${p.disk}`);
      if (!d) throw notFound(`projects/${project}/zones/${p.zone}/disks/${p.disk}`);
      return diskJson(d);
    },
    'Disks.CreateSnapshot': (p, body) => {
      const d = disks.get(`${p.zone}/${p.disk}`);
      if (!d) throw notFound(`projects/${project}/zones/${p.zone}/disks/${p.disk}`);
      const name = body?.name as string;
      if (!name) throw new GceFault(400, 'required', "Required field 'name' not specified");
      if (snapshots.has(name))
        throw new GceFault(
          409,
          'alreadyExists',
          `The resource 'projects/${project}/global/snapshots/${name}' already exists`,
        );
      const dir = path.join(root, 'snapshots', name);
      const snap: FakeSnapshot = {
        id: nextId(),
        name,
        sourceDisk: link(`zones/${p.zone}/disks/${p.disk}`),
        labels: { ...(body?.labels ?? {}) },
        creationTimestamp: now(),
        status: 'CREATING',
        dir,
      };
      snapshots.set(name, snap);
      return operation(`zones/${p.zone}`, 'createSnapshot', link(`global/snapshots/${name}`), () => {
        cpSync(d.dir, dir, { recursive: true });
        snap.status = 'READY';
      });
    },
    'Snapshots.Get': (p) => {
      const s = snapshots.get(p.snapshot!);
      if (!s) throw notFound(`projects/${project}/global/snapshots/${p.snapshot}`);
      return snapshotJson(s);
    },
    'Snapshots.List': () => ({
      kind: 'compute#snapshotList',
      items: [...snapshots.values()].map(snapshotJson),
    }),
    'Snapshots.Delete': (p) => {
      const s = snapshots.get(p.snapshot!);
      if (!s) throw notFound(`projects/${project}/global/snapshots/${p.snapshot}`);
      return operation('global', 'delete', link(`global/snapshots/${s.name}`), () => {
        snapshots.delete(s.name);
        rmSync(s.dir, { recursive: true, force: true });
      });
    },
    'Images.Get': (p) => {
      const i = images.get(p.image!);
      if (!i) throw notFound(`projects/${project}/global/images/${p.image}`);
      return imageJson(i);
    },
    'Images.GetFromFamily': (p) => {
      const i = newestOfFamily(p.family!);
      if (!i) throw notFound(`projects/${project}/global/images/family/${p.family}`);
      return imageJson(i);
    },
    'Images.List': () => ({ kind: 'compute#imageList', items: [...images.values()].map(imageJson) }),
    'Images.Insert': (_p, body) => {
      const name = body?.name as string;
      if (!name) throw new GceFault(400, 'required', "Required field 'name' not specified");
      if (images.has(name))
        throw new GceFault(
          409,
          'alreadyExists',
          `The resource 'projects/${project}/global/images/${name}' already exists`,
        );
      const snap = body?.sourceSnapshot ? snapshots.get(nameOf(body.sourceSnapshot)) : undefined;
      if (!snap)
        throw new GceFault(
          400,
          'invalid',
          `Invalid value for field 'resource.sourceSnapshot': '${body?.sourceSnapshot ?? ''}'`,
        );
      const image: FakeImage = {
        id: nextId(),
        name,
        family: body?.family,
        sourceSnapshot: link(`global/snapshots/${snap.name}`),
        labels: { ...(body?.labels ?? {}) },
        creationTimestamp: now(),
        status: 'PENDING',
        dir: path.join(root, 'images', name),
      };
      images.set(name, image);
      return operation('global', 'insert', link(`global/images/${name}`), () => {
        if (snap.status !== 'READY')
          throw new GceFault(400, 'resourceNotReady', `The resource '${snap.name}' is not ready`);
        cpSync(snap.dir, image.dir, { recursive: true });
        image.status = 'READY';
      });
    },
    'Images.Deprecate': (p, body) => {
      const i = images.get(p.image!);
      if (!i) throw notFound(`projects/${project}/global/images/${p.image}`);
      return operation('global', 'deprecate', link(`global/images/${i.name}`), () => {
        i.deprecated =
          body?.state && body.state !== 'ACTIVE'
            ? { state: body.state, replacement: body.replacement }
            : undefined;
      });
    },
    'Images.Delete': (p) => {
      const i = images.get(p.image!);
      if (!i) throw notFound(`projects/${project}/global/images/${p.image}`);
      return operation('global', 'delete', link(`global/images/${i.name}`), () => {
        images.delete(i.name);
        rmSync(i.dir, { recursive: true, force: true });
      });
    },
  };

  const autoscalerJson = (scope: string, name: string) => {
    const g = [...groups.values()].find((x) => x.scope === scope && x.autoscaler?.name === name);
    if (!g) throw notFound(`projects/${project}/${scope}/autoscalers/${name}`);
    return {
      kind: 'compute#autoscaler',
      name,
      target: link(`${scope}/instanceGroupManagers/${g.name}`),
      autoscalingPolicy: { mode: g.autoscaler!.mode, minNumReplicas: 1, maxNumReplicas: 10 },
      status: 'ACTIVE',
    };
  };
  const templateJson = (t: { name: string; sourceImage?: string; metadata: Record<string, string> }) => ({
    kind: 'compute#instanceTemplate',
    name: t.name,
    selfLink: link(`global/instanceTemplates/${t.name}`),
    properties: {
      machineType: 'e2-small',
      disks: [
        {
          boot: true,
          autoDelete: true,
          initializeParams: t.sourceImage ? { sourceImage: t.sourceImage } : {},
        },
      ],
      metadata: { items: Object.entries(t.metadata).map(([key, value]) => ({ key, value })) },
      networkInterfaces: [{ network: link('global/networks/default') }],
    },
  });
  const diskJson = (d: FakeDisk) => ({
    kind: 'compute#disk',
    id: d.id,
    name: d.name,
    zone: link(`zones/${d.zone}`),
    labels: d.labels,
    status: 'READY',
    users: d.users,
    ...(d.sourceImage ? { sourceImage: d.sourceImage } : {}),
    selfLink: link(`zones/${d.zone}/disks/${d.name}`),
  });
  const snapshotJson = (s: FakeSnapshot) => ({
    kind: 'compute#snapshot',
    id: s.id,
    name: s.name,
    sourceDisk: s.sourceDisk,
    labels: s.labels,
    status: s.status,
    creationTimestamp: s.creationTimestamp,
    selfLink: link(`global/snapshots/${s.name}`),
  });
  const imageJson = (i: FakeImage) => ({
    kind: 'compute#image',
    id: i.id,
    name: i.name,
    ...(i.family ? { family: i.family } : {}),
    ...(i.sourceSnapshot ? { sourceSnapshot: i.sourceSnapshot } : {}),
    labels: i.labels,
    status: i.status,
    creationTimestamp: i.creationTimestamp,
    ...(i.deprecated ? { deprecated: i.deprecated } : {}),
    selfLink: link(`global/images/${i.name}`),
  });

  // ---- HTTP

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
    res.end(JSON.stringify(body));
  };

  const serve = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    // The metadata server (ADC on GCE): a token for the default service account.
    if (url.pathname.startsWith('/computeMetadata/v1')) {
      if (req.headers['metadata-flavor'] !== 'Google')
        return send(res, 403, { error: 'Missing Metadata-Flavor: Google' });
      res.setHeader('Metadata-Flavor', 'Google');
      if (url.pathname.endsWith('/service-accounts/default/token'))
        return send(res, 200, { access_token: token, expires_in: 3599, token_type: 'Bearer' });
      if (url.pathname.endsWith('/project/project-id')) {
        res.writeHead(200, { 'content-type': 'application/text', 'Metadata-Flavor': 'Google' });
        return res.end(project);
      }
      if (/^\/computeMetadata\/v1\/?(instance\/?)?$/.test(url.pathname)) {
        res.writeHead(200, { 'Metadata-Flavor': 'Google' });
        return res.end('attributes/\nservice-accounts/\n');
      }
      if (url.pathname.includes('/service-accounts/default/')) return send(res, 200, {});
      res.writeHead(404, { 'Metadata-Flavor': 'Google' });
      return res.end('not found');
    }
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString();
    const route = routes.find((r) => r.verb === req.method && r.pattern.test(url.pathname));
    if (!route)
      return send(
        res,
        404,
        errorBody(new GceFault(404, 'notFound', `No compute.v1 route ${req.method} ${url.pathname}`)),
      );
    calls.push(route.method);
    if (req.headers.authorization !== `Bearer ${token}`) {
      unauthorized.push(`${route.method}: ${req.headers.authorization ? 'wrong token' : 'none'}`);
      return send(res, 401, errorBody(new GceFault(401, 'authError', 'Invalid Credentials')));
    }
    const handler = handlers[route.method];
    if (!handler) {
      unmodelled.push(route.method);
      return send(
        res,
        501,
        errorBody(
          new GceFault(
            501,
            'notImplemented',
            `fake-gce does not model compute.v1 ${route.method} (${route.verb} ${route.template})`,
          ),
        ),
      );
    }
    const values = route.pattern.exec(url.pathname)!.slice(1);
    const params = Object.fromEntries(route.params.map((p, i) => [p, decodeURIComponent(values[i]!)]));
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      return send(res, 400, errorBody(new GceFault(400, 'parseError', 'Parse Error')));
    }
    if (route.bodyType && body !== undefined) {
      const unknown = unknownFields(types, route.bodyType, body);
      if (unknown.length > 0)
        return send(
          res,
          400,
          errorBody(
            new GceFault(400, 'invalid', `Invalid JSON payload received. Unknown name "${unknown[0]}"`),
          ),
        );
    }
    const fault = takeFault(route.method);
    if (fault === 'rate-limit')
      return send(
        res,
        429,
        errorBody(new GceFault(429, 'rateLimitExceeded', `Rate Limit Exceeded for ${route.method}`)),
      );
    if (fault === 'unavailable')
      return send(
        res,
        503,
        errorBody(new GceFault(503, 'backendError', 'The service is currently unavailable.')),
      );
    if (fault === 'internal')
      return send(
        res,
        500,
        errorBody(new GceFault(500, 'backendError', 'Internal error. Please try again.')),
      );
    if (fault === 'quota') {
      // A group's createInstances takes the call; the members then fail on quota, as GCE's do.
      if (route.method.endsWith('InstanceGroupManagers.CreateInstances'))
        faults.push({ method: `${route.method.split('.')[0]}.quota`, kind: 'quota', times: 1 });
      else
        return send(
          res,
          403,
          errorBody(new GceFault(403, 'quotaExceeded', `Quota 'IMAGES' exceeded. Limit: 2.0 globally.`)),
        );
    }
    // GCE answers a repeated requestId with the first call's operation, doing nothing again.
    const rid = url.searchParams.get('requestId');
    const earlier = rid ? byRequestId.get(`${route.method}/${rid}`) : undefined;
    if (earlier) {
      advance(earlier);
      return send(res, 200, opJson(earlier));
    }
    try {
      let out = await handler(params, body, url.searchParams);
      if (rid && out && (out as Operation).doneAt !== undefined)
        byRequestId.set(`${route.method}/${rid}`, out as Operation);
      if (fault === 'operation-error' && out && (out as Operation).scope !== undefined) {
        const op = out as Operation;
        op.effect = () => {
          throw new GceFault(500, 'internalError', `Internal error while running ${route.method} (injected)`);
        };
        op.startEffect = undefined;
      }
      if (out && (out as Operation).scope !== undefined && (out as Operation).doneAt !== undefined)
        out = opJson(out as Operation);
      const extra = unknownFields(types, route.responseType, out);
      if (extra.length > 0)
        return send(
          res,
          500,
          errorBody(
            new GceFault(
              500,
              'fakeBug',
              `fake-gce answered ${route.method} with fields ${extra.join(', ')} that ${route.responseType} lacks`,
            ),
          ),
        );
      // The call took effect, the answer is lost (a dropped connection).
      if (fault === 'lost-answer') return req.socket.destroy();
      return send(res, 200, out);
    } catch (e) {
      if (e instanceof GceFault) return send(res, e.status, errorBody(e));
      return send(res, 500, errorBody(new GceFault(500, 'fakeBug', (e as Error).stack ?? String(e))));
    }
  };

  const server = createServer((req, res) => {
    serve(req, res).catch((e) => send(res, 500, errorBody(new GceFault(500, 'fakeBug', String(e)))));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  base = `https://compute.googleapis.com`;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    project,
    metadataHost: `127.0.0.1:${port}`,
    token,
    instances,
    groups,
    images,
    snapshots,
    disks,
    calls,
    unmodelled,
    unauthorized,
    createTemplate: (t) => {
      templates.set(t.name, { name: t.name, sourceImage: t.sourceImage, metadata: t.metadata ?? {} });
      return link(`global/instanceTemplates/${t.name}`);
    },
    createGroup: (g) => {
      const scope = g.zone ? `zones/${g.zone}` : `regions/${g.region}`;
      const group: FakeGroup = {
        name: g.name,
        scope,
        zones: g.zone ? [g.zone] : ['a', 'b', 'c'].map((z) => `${g.region}-${z}`),
        template: g.template,
        baseInstanceName: g.name,
        members: new Map(),
        autoscaler: g.autoscalerMode ? { name: `${g.name}-as`, mode: g.autoscalerMode } : undefined,
      };
      groups.set(`${scope}/${g.name}`, group);
      return group;
    },
    seedImage: (name, family) => {
      const dir = path.join(root, 'images', name);
      mkdirSync(dir, { recursive: true });
      images.set(name, {
        id: nextId(),
        name,
        family,
        labels: {},
        creationTimestamp: now(),
        status: 'READY',
        dir,
      });
    },
    inject: (f) => {
      faults.push({ ...f, times: f.times ?? 1 });
    },
    loseInstance: (name) => {
      const i = [...instances.values()].find((x) => x.name === name);
      if (i) deleteInstance(i.zone, i.name);
    },
    diskDir: (name) => {
      const i = [...instances.values()].find((x) => x.name === name);
      if (!i) throw new Error(`fake-gce: no instance ${name}`);
      return disks.get(`${i.zone}/${i.bootDisk}`)!.dir;
    },
    close: async () => {
      clearInterval(repair);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(root, { recursive: true, force: true });
    },
  };
}
