// The `openstack` provider (servers mode): a pool's nodes are Nova servers made from a flavor,
// an image, networks, security groups, a key pair and a boot script, optionally in a server
// group. Every server carries its node id, pool, creating action and term in its metadata and
// the provider's tag, so the listing (by tag) is the truth after any restart.
//
// Create, step by step, each safe to repeat: look for a server carrying the action id (a try or
// a controller that died may have made it), else POST /servers; wait until it is ACTIVE (ERROR:
// it is deleted and the fault reported); wait for its address; let the node kind prepare the
// node with that address (an etcd member is added to its cluster here), and write the process
// the server runs into its metadata, where its boot script (boot-script.ts) reads it. A
// controller killed anywhere leaves a server with its action id: a restart adopts or removes it.
//
// Scale-in deletes exactly the chosen server (DELETE /servers/{id}), and waits until Nova no
// longer lists it.
//
// Heat mode (`heat`): the servers are the members of a ResourceGroup of the operator's stack
// (heat-group.ts). A create raises the group's count by a stack update and labels the member
// Heat made with the node's metadata and the provider's tag through Nova (Heat cannot: the
// template is the operator's and is the same for every member, and a value it passes through
// the group's resource_def is resolved before the member's index is); a removal lowers the
// count in the same update that names the chosen member in the group's removal_policies. Stack
// updates run one at a time, and while one runs a member not yet labelled is not listed (it is
// the running create's); any other member without Rampart's metadata (a controller killed
// between the update and the labelling, a count raised by hand) is listed as
// `unmanaged-<server id>` with no action, and the controller's orphan cleanup removes it —
// unless it is older than the controller's first tick of the pool (the operator's members from
// before Rampart), which the cleanup leaves running.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { LaunchContext } from '../../nodes/node-kind.ts';
import type { CreateRequest, ImageBaking, Instance, Provider } from '../provider.ts';
import { renderBootScript, type ServerProcess, specMetadata } from './boot-script.ts';
import { type Cloud, readCloud } from './clouds.ts';
import { HeatGroup } from './heat-group.ts';
import { type GlanceImage, imagesToPrune } from './image-pruning.ts';
import { OpenstackCallError, OpenstackSession, type RetryPolicy } from './openstack-session.ts';

/** Metadata keys Rampart puts on every server it creates. */
export const META = {
  node: 'rampart:node',
  pool: 'rampart:pool',
  action: 'rampart:action',
  term: 'rampart:term',
  /** The provider entry's name: scopes a provider's listing. */
  provider: 'rampart:provider',
  /** ms since the epoch, when Rampart asked for it. */
  createdAt: 'rampart:created-at',
} as const;

/** Glance properties of the images the provider bakes (Nova's createImage metadata becomes them). */
export const IMAGE_PROPS = {
  family: 'rampart_family',
  provider: 'rampart_provider',
  /** The bake's action id: a retried bake finds its own image. */
  action: 'rampart_action',
  /** The node the image was baked from. */
  node: 'rampart_node',
} as const;

/** Nova's microversion the provider speaks: tags at create (2.52), networks none (2.37). */
export const COMPUTE_MICROVERSION = '2.67';

export type AddressSource = 'fixed' | 'floating' | { readonly metadata: string };

export interface OpenstackProviderOptions {
  readonly name: string;
  readonly cloud?: string | undefined;
  readonly cloudsFile?: string | undefined;
  readonly secretFile?: string | undefined;
  /** Reads the credentials (tests pass their own); default readCloud of the fields above. */
  readonly readCloud?: (() => Cloud) | undefined;
  readonly region?: string | undefined;
  readonly interface?: string | undefined;
  /** Servers mode; absent in Heat mode. */
  readonly servers?: {
    readonly flavor: string;
    readonly image: string;
    readonly networks: 'none' | 'auto' | readonly string[];
    readonly securityGroups: readonly string[];
    readonly keyName?: string | undefined;
    readonly serverGroup?: string | undefined;
    readonly availabilityZone?: string | undefined;
  };
  /** Heat mode: the pool is this ResourceGroup of this stack. */
  readonly heat?:
    | {
        readonly stack: string;
        readonly group: string;
        readonly countParameter: string;
        readonly removalParameter: string;
        readonly updateTimeoutMs: number;
      }
    | undefined;
  /** Glance images baked from the pool's servers; new servers boot the family's newest (servers mode). */
  readonly images?:
    | {
        readonly family: string;
        readonly every?: number | undefined;
        readonly keep: number;
        /** Longest wait for the image to be active. */
        readonly timeout: number;
      }
    | undefined;
  readonly address: AddressSource;
  readonly ports: Readonly<Record<string, number>>;
  readonly dataDir: string;
  readonly bootTimeoutMs: number;
  readonly retry?: RetryPolicy | undefined;
  /** The pool the provider serves, for messages. */
  readonly pool?: string | undefined;
  readonly log?: Logger | undefined;
  /** How often a server's state is polled while waiting. Default 1s. */
  readonly pollMs?: number | undefined;
}

/** A server as Nova's detail listing shows it (the fields the provider reads). */
export interface NovaServer {
  readonly id: string;
  readonly name: string;
  readonly status: string;
  readonly created: string;
  readonly metadata: Record<string, string>;
  readonly tags?: string[];
  readonly addresses?: Record<string, { addr: string; version: number; 'OS-EXT-IPS:type'?: string }[]>;
  readonly fault?: { message?: string; code?: number };
  readonly 'OS-EXT-STS:task_state'?: string | null;
  /** The image it booted (`""` when it booted from a volume). */
  readonly image?: { id: string } | string;
}

const RUNNING = new Set([
  'ACTIVE',
  'BUILD',
  'REBUILD',
  'REBOOT',
  'HARD_REBOOT',
  'MIGRATING',
  'RESIZE',
  'VERIFY_RESIZE',
]);
const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/** The tag marking a provider entry's servers (Nova tags: at most 60 characters, no / or ,). */
export function providerTag(name: string): string {
  return `rampart-${name}`.slice(0, 60);
}

/** The address of a server, from the configured source; undefined while it has none. */
export function serverAddress(s: NovaServer, source: AddressSource): string | undefined {
  if (typeof source === 'object') return s.metadata[source.metadata] || undefined;
  const want = source === 'floating' ? 'floating' : 'fixed';
  for (const list of Object.values(s.addresses ?? {}))
    for (const a of list) if (a.version === 4 && (a['OS-EXT-IPS:type'] ?? 'fixed') === want) return a.addr;
  return undefined;
}

export class OpenstackProvider implements Provider {
  readonly kind = 'openstack';
  readonly name: string;
  readonly session: OpenstackSession;
  readonly #o: OpenstackProviderOptions;
  readonly #tag: string;
  readonly #pollMs: number;
  readonly #heat: HeatGroup | undefined;
  /** The tail of the Heat stack operations of this object: they run one at a time. */
  #heatQueue: Promise<unknown> = Promise.resolve();
  /** Stack operations queued or running: while one is, an unlabelled member is its own. */
  #heatBusy = 0;
  #heatChecked = false;
  /** Image ids creates in flight were given: pruning never deletes them. */
  readonly #booting = new Map<string, number>();
  readonly images: ImageBaking | undefined;
  #refs:
    | Promise<{ flavor: string; image: string; group?: string | undefined; networks: unknown }>
    | undefined;

  constructor(o: OpenstackProviderOptions) {
    this.name = o.name;
    this.#o = o;
    this.#tag = providerTag(o.name);
    this.#pollMs = o.pollMs ?? 1000;
    const cloudOf =
      o.readCloud ??
      (() => readCloud({ cloud: o.cloud, cloudsFile: o.cloudsFile, secretFile: o.secretFile }));
    let region = o.region;
    let iface = o.interface;
    const log = o.log;
    this.session = new OpenstackSession({
      cloud: () => {
        const c = cloudOf();
        region ??= c.region;
        iface ??= c.interface;
        return c;
      },
      get region() {
        return region;
      },
      get interface() {
        return iface;
      },
      policy: o.retry,
      context: `openstack provider ${o.name}${o.pool ? `, pool ${o.pool}` : ''}`,
      microversions: { compute: COMPUTE_MICROVERSION },
      onRetry: (e) =>
        log?.warn(
          { provider: o.name, attempt: e.attempt, of: e.of, status: e.status, delayMs: e.delayMs },
          `${e.call}: ${e.message}${e.status ? ` (HTTP ${e.status})` : ''}, try ${e.attempt} of ${e.of}; retrying in ${e.delayMs} ms`,
        ),
    });
    if (o.heat)
      this.#heat = new HeatGroup(this.session, {
        ...o.heat,
        pollMs: this.#pollMs,
        where: `openstack provider ${o.name}${o.pool ? ` (pool ${o.pool})` : ''}`,
      });
    else if (!o.servers) throw new Error(`openstack provider ${o.name}: give servers or heat`);
    const images = o.images;
    if (images && o.heat)
      throw new Error(`openstack provider ${o.name}: baking images is for servers mode, not heat`);
    this.images = images
      ? {
          everyMs: images.every,
          keep: images.keep,
          list: async () =>
            (await this.listImages())
              .filter((i) => i.status === 'active')
              .map((i) => ({ name: i.name, id: i.id, createdAt: i.createdAt })),
          bake: (instance, id) => this.bakeImage(instance, id),
        }
      : undefined;
  }

  // ---- names to ids, once per provider object

  /** Flavor, image, server group and networks as Nova wants them, each named by its config field. */
  #resolve() {
    this.#refs ??= (async () => {
      const s = this.#o.servers!;
      const flavors = (
        await this.session.call<{ flavors: { id: string; name: string }[] }>('list flavors', {
          service: 'compute',
          method: 'GET',
          path: '/flavors/detail',
        })
      ).body.flavors;
      const flavor = flavors.find((f) => f.id === s.flavor) ?? flavors.find((f) => f.name === s.flavor);
      if (!flavor)
        throw new Error(
          `${this.#where('servers.flavor')}: no flavor ${JSON.stringify(s.flavor)} (has ${flavors.map((f) => f.name).join(', ') || 'none'})`,
        );
      const image = await this.#imageId(s.image);
      let group: string | undefined;
      if (s.serverGroup) {
        const groups = (
          await this.session.call<{ server_groups: { id: string; name: string }[] }>('list server groups', {
            service: 'compute',
            method: 'GET',
            path: '/os-server-groups',
          })
        ).body.server_groups;
        group = (groups.find((g) => g.id === s.serverGroup) ?? groups.find((g) => g.name === s.serverGroup))
          ?.id;
        if (!group)
          throw new Error(
            `${this.#where('servers.serverGroup')}: no server group ${JSON.stringify(s.serverGroup)}`,
          );
      }
      let networks: unknown = s.networks;
      if (Array.isArray(s.networks)) {
        const ids: { uuid: string }[] = [];
        for (const n of s.networks as string[]) {
          if (UUID.test(n)) {
            ids.push({ uuid: n });
            continue;
          }
          const found = (
            await this.session.call<{ networks: { id: string }[] }>('find network', {
              service: 'network',
              method: 'GET',
              path: `/v2.0/networks?name=${encodeURIComponent(n)}`,
            })
          ).body.networks;
          if (found.length !== 1)
            throw new Error(
              `${this.#where('servers.networks')}: ${found.length} networks named ${JSON.stringify(n)}`,
            );
          ids.push({ uuid: found[0]!.id });
        }
        networks = ids;
      }
      return { flavor: flavor.id, image, group, networks };
    })();
    this.#refs.catch(() => {
      this.#refs = undefined;
    });
    return this.#refs;
  }

  async #imageId(ref: string): Promise<string> {
    if (UUID.test(ref)) {
      const got = await this.session.call<{ id: string; status: string }>('show image', {
        service: 'image',
        method: 'GET',
        path: `/v2/images/${ref}`,
        accept: [404],
      });
      if (got.status !== 404) return got.body.id;
    }
    const images = (
      await this.session.call<{ images: { id: string; created_at: string }[] }>('find image', {
        service: 'image',
        method: 'GET',
        path: `/v2/images?name=${encodeURIComponent(ref)}&status=active&sort=created_at:desc`,
      })
    ).body.images;
    if (images.length === 0)
      throw new Error(`${this.#where('servers.image')}: no active image ${JSON.stringify(ref)}`);
    return images[0]!.id;
  }

  #where(field: string): string {
    return `openstack provider ${this.name}${this.#o.pool ? ` (pool ${this.#o.pool})` : ''}, providers[].${field}`;
  }

  // ---- reads

  async #servers(): Promise<NovaServer[]> {
    // A server Nova has marked DELETED but not yet removed is gone, as `#server` says: a destroy
    // that returned must not be followed by a listing that still shows it.
    return (await this.#pages(`tags=${encodeURIComponent(this.#tag)}&`)).filter(
      (s) => s.metadata[META.provider] === this.name && s.metadata[META.node] && s.status !== 'DELETED',
    );
  }

  /** Every server of the listing `query` selects (`tags=…&` or nothing), page by page. */
  async #pages(query: string): Promise<NovaServer[]> {
    const out: NovaServer[] = [];
    let marker: string | undefined;
    for (;;) {
      const page = (
        await this.session.call<{ servers: NovaServer[] }>('list servers', {
          service: 'compute',
          method: 'GET',
          path: `/servers/detail?${query}limit=200${marker ? `&marker=${marker}` : ''}`,
        })
      ).body.servers;
      out.push(...page);
      if (page.length < 200) return out;
      marker = page.at(-1)!.id;
    }
  }

  // ---- Heat mode

  /** Runs a stack operation after the ones before it (Heat refuses a second update meanwhile). */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    this.#heatBusy++;
    const run = this.#heatQueue.then(async () => {
      if (!this.#heatChecked) {
        await this.#heat!.check();
        this.#heatChecked = true;
      }
      return fn();
    });
    this.#heatQueue = run.catch(() => undefined);
    return run.finally(() => {
      this.#heatBusy--;
    });
  }

  /** The group's members with their Nova servers, in index order. */
  async #groupServers(): Promise<{ name: string; server: NovaServer }[]> {
    const members = await this.#heat!.members();
    const byId = new Map((await this.#pages('')).filter((s) => s.status !== 'DELETED').map((s) => [s.id, s]));
    const out: { name: string; server: NovaServer }[] = [];
    for (const m of members) {
      const server = m.serverId ? byId.get(m.serverId) : undefined;
      if (server) out.push({ name: m.name, server });
    }
    return out;
  }

  async #listGroup(): Promise<Instance[]> {
    const busy = this.#heatBusy > 0;
    const out: Instance[] = [];
    for (const { server } of await this.#groupServers()) {
      if (server.metadata[META.node] && server.metadata[META.provider] === this.name)
        out.push(this.#toInstance(server));
      else if (!busy && this.#o.pool)
        out.push({
          ...this.#toInstance(server),
          nodeId: `unmanaged-${server.id}`,
          pool: this.#o.pool,
          actionId: '',
          term: undefined,
        });
    }
    return out;
  }

  /** Raises the group's count by one and labels the member Heat made; an earlier try's is reused. */
  #growGroup(req: CreateRequest, subject: string): Promise<NovaServer> {
    return this.#exclusive(async () => {
      const heat = this.#heat!;
      await heat.settled(subject);
      const before = await this.#groupServers();
      const earlier = before.find((m) => m.server.metadata[META.action] === req.actionId);
      if (earlier) return earlier.server;
      const names = new Set((await heat.members()).map((m) => m.name));
      await heat.update(subject, names.size + 1, undefined, () => {
        // Fault injection for the crash-safety tests: dies once Heat took the update.
        if (process.env.RAMPART_CRASH_AT === 'openstack:after-stack-update')
          process.kill(process.pid, 'SIGKILL');
      });
      const made = (await this.#groupServers()).filter((m) => !names.has(m.name));
      const mine = made.at(-1);
      if (!mine)
        throw new Error(
          `${this.#where('heat.group')}: the update of stack ${this.#o.heat!.stack} completed but group ${this.#o.heat!.group} has no new member with a server`,
        );
      const metadata = {
        [META.node]: req.nodeId,
        [META.pool]: req.pool,
        [META.action]: req.actionId,
        [META.term]: String(req.term),
        [META.provider]: this.name,
        [META.createdAt]: String(Date.now()),
      };
      await this.session.call('label server', {
        service: 'compute',
        method: 'POST',
        path: `/servers/${mine.server.id}/metadata`,
        body: { metadata },
        subject,
      });
      await this.session.call('tag server', {
        service: 'compute',
        method: 'PUT',
        path: `/servers/${mine.server.id}/tags/${encodeURIComponent(this.#tag)}`,
        subject,
      });
      return { ...mine.server, metadata: { ...mine.server.metadata, ...metadata } };
    });
  }

  /** Removes exactly the member whose server is `serverId`: count lowered, that member named. */
  #shrinkGroup(serverId: string, subject: string): Promise<void> {
    return this.#exclusive(async () => {
      const heat = this.#heat!;
      await heat.settled(subject);
      const members = await heat.members();
      const chosen = members.find((m) => m.serverId === serverId);
      if (!chosen) return; // gone already (an earlier try, or a dead controller's update)
      await heat.update(subject, members.length - 1, [chosen.name], () => {
        if (process.env.RAMPART_CRASH_AT === 'openstack:after-removal-update')
          process.kill(process.pid, 'SIGKILL');
      });
    });
  }

  async #server(id: string, subject: string): Promise<NovaServer | undefined> {
    const got = await this.session.call<{ server: NovaServer }>('show server', {
      service: 'compute',
      method: 'GET',
      path: `/servers/${encodeURIComponent(id)}`,
      accept: [404],
      subject,
    });
    return got.status === 404 || got.body.server.status === 'DELETED' ? undefined : got.body.server;
  }

  #toInstance(s: NovaServer): Instance {
    const m = s.metadata;
    const deleting = s['OS-EXT-STS:task_state'] === 'deleting';
    return {
      id: s.id,
      nodeId: m[META.node] ?? '',
      pool: m[META.pool] ?? '',
      actionId: m[META.action] ?? '',
      term: Number(m[META.term]) || undefined,
      host: serverAddress(s, this.#o.address) ?? '',
      ports: { ...this.#o.ports },
      // A server whose process was never handed over (a controller died between the create
      // and the metadata) is listed as running all the same: a restart adopts it, it never
      // becomes ready, and after joinTimeout the controller removes and replaces it. (Listed as
      // not running, nothing would ever delete it: the controller's loop acts on running ones.)
      running: RUNNING.has(s.status) && !deleting,
      createdAt: Number(m[META.createdAt]) || Date.parse(s.created) || 0,
      names: [s.name],
    };
  }

  async list(): Promise<Instance[]> {
    if (this.#heat) return this.#listGroup();
    return (await this.#servers()).map((s) => this.#toInstance(s));
  }

  // ---- create

  async create(req: CreateRequest): Promise<Instance> {
    const missing = req.kind.portNames.filter((p) => this.#o.ports[p] === undefined);
    if (missing.length > 0)
      throw new Error(
        `${this.#where('ports')}: node kind ${req.kind.kind} needs port(s) ${missing.join(', ')}`,
      );
    const subject = `node ${req.nodeId}`;
    const server = this.#heat ? await this.#growGroup(req, subject) : await this.#createServer(req, subject);
    return this.#handOver(req, server, subject);
  }

  /** Servers mode: the server of the action (an earlier try's, or a new one). */
  async #createServer(req: CreateRequest, subject: string): Promise<NovaServer> {
    const refs = await this.#resolve();
    const servers = this.#o.servers!;
    const findEarlier = async () =>
      (await this.#servers()).find((s) => s.metadata[META.action] === req.actionId && s.status !== 'ERROR');
    let server = await findEarlier();
    if (!server) {
      const imageRef = (await this.#newestImage())?.id ?? refs.image;
      this.#booting.set(imageRef, (this.#booting.get(imageRef) ?? 0) + 1);
      const created = await this.session
        .call<{ server: { id: string } }>(
          'create server',
          {
            service: 'compute',
            method: 'POST',
            path: '/servers',
            subject,
            body: {
              server: {
                name: req.nodeId,
                flavorRef: refs.flavor,
                imageRef,
                networks: refs.networks,
                ...(servers.securityGroups.length > 0 && servers.networks !== 'none'
                  ? { security_groups: servers.securityGroups.map((name) => ({ name })) }
                  : {}),
                ...(servers.keyName ? { key_name: servers.keyName } : {}),
                ...(servers.availabilityZone ? { availability_zone: servers.availabilityZone } : {}),
                user_data: Buffer.from(
                  renderBootScript({
                    nodeId: req.nodeId,
                    pool: req.pool,
                    actionId: req.actionId,
                    dataDir: this.#o.dataDir,
                  }),
                ).toString('base64'),
                metadata: {
                  [META.node]: req.nodeId,
                  [META.pool]: req.pool,
                  [META.action]: req.actionId,
                  [META.term]: String(req.term),
                  [META.provider]: this.name,
                  [META.createdAt]: String(Date.now()),
                },
                tags: [this.#tag],
              },
              ...(refs.group ? { 'os:scheduler_hints': { group: refs.group } } : {}),
            },
          },
          // A try that timed out may have created it: look first.
          async () => {
            const earlier = await findEarlier();
            return earlier ? { status: 202, body: { server: earlier }, headers: new Headers() } : undefined;
          },
        )
        .catch((e) => {
          throw this.#explain(e, subject);
        })
        .finally(() => {
          const n = (this.#booting.get(imageRef) ?? 1) - 1;
          if (n > 0) this.#booting.set(imageRef, n);
          else this.#booting.delete(imageRef);
        });
      // Fault injection for the crash-safety tests: dies right after Nova took the create.
      if (process.env.RAMPART_CRASH_AT === 'openstack:after-create-server')
        process.kill(process.pid, 'SIGKILL');
      server = { id: created.body.server.id } as NovaServer;
    }
    return server;
  }

  /** Waits for the server to boot, prepares the node and writes its process into the metadata. */
  async #handOver(req: CreateRequest, server: NovaServer, subject: string): Promise<Instance> {
    const booted = await this.#untilBooted(server.id, subject);
    const host = serverAddress(booted, this.#o.address)!;
    const launch: LaunchContext = {
      ...req.launch,
      // Images are OpenStack's snapshots; a snapshot restored on this machine would not reach the server.
      snapshot: undefined,
      nodeId: req.nodeId,
      pool: req.pool,
      host,
      ports: { ...this.#o.ports },
      dataDir: this.#o.dataDir,
    };
    const spec = await this.#processOf(req, launch);
    await this.session.call('set server metadata', {
      service: 'compute',
      method: 'POST',
      path: `/servers/${booted.id}/metadata`,
      body: { metadata: specMetadata(spec) },
      subject,
    });
    if (process.env.RAMPART_CRASH_AT === 'openstack:after-spec') process.kill(process.pid, 'SIGKILL');
    return this.#toInstance({ ...booted, metadata: { ...booted.metadata, ...specMetadata(spec) } });
  }

  /** Explains a refused create: quota, a bad flavor or image, naming the field. */
  #explain(e: unknown, subject: string): Error {
    const msg = (e as Error).message;
    if (e instanceof OpenstackCallError && e.status === 403 && /quota/i.test(msg))
      return new Error(
        `${this.#where('servers')}: quota exceeded creating ${subject}, nothing was created: ${msg}`,
        {
          cause: e,
        },
      );
    if (e instanceof OpenstackCallError && e.status === 400 && /flavor/i.test(msg))
      return new Error(`${this.#where('servers.flavor')}: ${msg}`, { cause: e });
    if (e instanceof OpenstackCallError && e.status === 400 && /image/i.test(msg))
      return new Error(`${this.#where('servers.image')}: ${msg}`, { cause: e });
    return e as Error;
  }

  /** The node kind's process with the server's address, its data dir the server's own. */
  async #processOf(req: CreateRequest, launch: LaunchContext): Promise<ServerProcess> {
    // prepare and processSpec work in a data dir on this machine; what they write there is
    // read back into the process (an etcd member's join plan becomes its flags).
    const scratch = mkdtempSync(path.join(tmpdir(), 'rampart-openstack-'));
    try {
      const here = { ...launch, dataDir: scratch };
      await req.kind.prepare?.(here);
      const spec = req.kind.processSpec(here);
      const there = (s: string) => s.split(scratch).join(this.#o.dataDir);
      return {
        command: spec.command,
        args: spec.args.map(there),
        ...(spec.env
          ? { env: Object.fromEntries(Object.entries(spec.env).map(([k, v]) => [k, there(v)])) }
          : {}),
      };
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }

  /** Waits until the server is ACTIVE with an address; ERROR deletes it and says why. */
  async #untilBooted(id: string, subject: string): Promise<NovaServer> {
    const deadline = Date.now() + this.#o.bootTimeoutMs;
    for (;;) {
      const s = await this.#server(id, subject);
      if (!s)
        throw new Error(`openstack provider ${this.name}: server ${id} (${subject}) vanished while booting`);
      if (s.status === 'ERROR') {
        const fault = s.fault?.message ?? 'no fault recorded';
        const cleanup = await this.destroy(this.#toInstance(s)).then(
          () => `deleted it`,
          (e) => `could not delete it (${(e as Error).message}): the orphan cleanup will`,
        );
        throw new Error(
          `${this.#where('servers')}: server ${id} (${subject}) went to ERROR: ${fault}; ${cleanup}`,
        );
      }
      if (s.status === 'ACTIVE' && serverAddress(s, this.#o.address)) return s;
      if (Date.now() > deadline)
        throw new Error(
          `openstack provider ${this.name}: server ${id} (${subject}) is ${s.status}${serverAddress(s, this.#o.address) ? '' : ' without an address'} after ${this.#o.bootTimeoutMs} ms (bootTimeout)`,
        );
      await sleep(this.#pollMs);
    }
  }

  // ---- images

  /** The images this provider baked into its family (every status), newest first. */
  async listImages(): Promise<GlanceImage[]> {
    const family = this.#imagesConfig().family;
    const out: GlanceImage[] = [];
    let marker: string | undefined;
    for (;;) {
      const page = (
        await this.session.call<{
          images: { id: string; name: string; status: string; created_at: string }[];
        }>('list images', {
          service: 'image',
          method: 'GET',
          path: `/v2/images?${IMAGE_PROPS.family}=${encodeURIComponent(family)}&${IMAGE_PROPS.provider}=${encodeURIComponent(this.name)}&sort=created_at:desc&limit=100${marker ? `&marker=${marker}` : ''}`,
          subject: `family ${family}`,
        })
      ).body.images;
      for (const i of page)
        out.push({ id: i.id, name: i.name, status: i.status, createdAt: Date.parse(i.created_at) || 0 });
      if (page.length < 100) return out;
      marker = page.at(-1)!.id;
    }
  }

  #imagesConfig() {
    const images = this.#o.images;
    if (!images)
      throw new Error(`openstack provider ${this.name}: baking images needs providers[].images (a family)`);
    return images;
  }

  /** The family's newest active image, the one a new server boots; none before the first bake. */
  async #newestImage(): Promise<GlanceImage | undefined> {
    if (!this.#o.images) return undefined;
    return (await this.listImages()).find((i) => i.status === 'active');
  }

  /**
   * Bakes a Glance image of `instance`'s server (stopped by the caller) with Nova's createImage,
   * named `<family>-<id>` and carrying `id` in its properties, so a retried bake finds its own
   * image instead of making a second; waits until Glance has it `active`, then deletes the
   * family's images beyond `keep`.
   */
  async bakeImage(instance: Instance, id: string): Promise<{ image: string; retired: string[] }> {
    const { family, timeout } = this.#imagesConfig();
    const name = `${family}-${id}`;
    const subject = `image ${name} of node ${instance.nodeId}, server ${instance.id}`;
    const mine = async () =>
      (
        await this.session.call<{ images: { id: string; status: string }[] }>('find image', {
          service: 'image',
          method: 'GET',
          path: `/v2/images?${IMAGE_PROPS.action}=${encodeURIComponent(id)}&${IMAGE_PROPS.provider}=${encodeURIComponent(this.name)}`,
          subject,
        })
      ).body.images.find((i) => i.status !== 'killed' && i.status !== 'deleted');
    let imageId = (await mine())?.id;
    if (!imageId) {
      const made = await this.session
        .call<{ image_id: string }>(
          'create image',
          {
            service: 'compute',
            method: 'POST',
            path: `/servers/${encodeURIComponent(instance.id)}/action`,
            subject,
            body: {
              createImage: {
                name,
                metadata: {
                  [IMAGE_PROPS.family]: family,
                  [IMAGE_PROPS.provider]: this.name,
                  [IMAGE_PROPS.action]: id,
                  [IMAGE_PROPS.node]: instance.nodeId,
                },
              },
            },
          },
          // A try that timed out may have made it: look first.
          async () => {
            const earlier = await mine();
            return earlier
              ? { status: 202, body: { image_id: earlier.id }, headers: new Headers() }
              : undefined;
          },
        )
        .catch((e) => {
          if (e instanceof OpenstackCallError && e.status === 404)
            return Promise.reject(
              new Error(`openstack provider ${this.name}: ${subject}: the server is gone`, { cause: e }),
            );
          if (e instanceof OpenstackCallError && e.status === 403 && /quota|limit/i.test(e.message))
            return Promise.reject(
              new Error(`${this.#where('images')}: image quota exceeded baking ${subject}: ${e.message}`, {
                cause: e,
              }),
            );
          return Promise.reject(e);
        });
      imageId = made.body.image_id;
    }
    const deadline = Date.now() + timeout;
    for (;;) {
      const got = await this.session.call<{ status: string }>('show image', {
        service: 'image',
        method: 'GET',
        path: `/v2/images/${imageId}`,
        accept: [404],
        subject,
      });
      const status = got.status === 404 ? 'deleted' : got.body.status;
      if (status === 'active') break;
      if (status === 'killed' || status === 'deleted') {
        await this.#deleteImage(imageId, subject);
        throw new Error(
          `openstack provider ${this.name}: ${subject} is ${status}: Nova could not upload the server's disk (nova-compute's log says why); deleted it`,
        );
      }
      if (Date.now() > deadline)
        throw new Error(
          `openstack provider ${this.name}: ${subject} is ${status}, not active, after ${timeout} ms (providers[].images.timeout); left for the next bake's pruning`,
        );
      await sleep(this.#pollMs);
    }
    return { image: name, retired: await this.pruneImages() };
  }

  /**
   * Deletes the family's active images beyond `keep`, and those a bake gave up on (still not
   * active after twice the bake timeout, or killed); never one a server or a create in flight uses.
   */
  async pruneImages(): Promise<string[]> {
    const { keep, timeout } = this.#imagesConfig();
    const inUse = new Set<string>(this.#booting.keys());
    for (const s of await this.#servers()) {
      const id = typeof s.image === 'object' ? s.image?.id : undefined;
      if (id) inUse.add(id);
    }
    const out: string[] = [];
    const stale = { now: Date.now(), afterMs: 2 * timeout };
    for (const image of imagesToPrune(await this.listImages(), keep, inUse, stale)) {
      await this.#deleteImage(image.id, `image ${image.name}`);
      out.push(image.name);
    }
    return out;
  }

  async #deleteImage(id: string, subject: string): Promise<void> {
    await this.session.call('delete image', {
      service: 'image',
      method: 'DELETE',
      path: `/v2/images/${id}`,
      accept: [404],
      subject,
    });
  }

  // ---- destroy, stop, start

  async destroy(instance: Instance): Promise<void> {
    const subject = `node ${instance.nodeId}, server ${instance.id}`;
    if (!UUID.test(instance.id)) return; // never a server id: nothing of it can exist
    if (this.#heat) return this.#shrinkGroup(instance.id, subject);
    await this.session.call('delete server', {
      service: 'compute',
      method: 'DELETE',
      path: `/servers/${encodeURIComponent(instance.id)}`,
      accept: [404],
      subject,
    });
    // Done only when Nova no longer shows it: a destroy that returned with the server still
    // there would let the controller count a removal that has not happened.
    const deadline = Date.now() + this.#o.bootTimeoutMs;
    for (;;) {
      const s = await this.#server(instance.id, subject);
      if (!s) return;
      if (Date.now() >= deadline)
        throw new Error(
          `openstack provider ${this.name}: server ${instance.id} (${subject}) is still ${s.status}${s['OS-EXT-STS:task_state'] ? ` (${s['OS-EXT-STS:task_state']})` : ''} ${this.#o.bootTimeoutMs} ms after its delete`,
        );
      await sleep(this.#pollMs);
    }
  }

  async #action(instance: Instance, action: 'os-stop' | 'os-start', want: string): Promise<NovaServer> {
    const subject = `node ${instance.nodeId}, server ${instance.id}`;
    const deadline = Date.now() + this.#o.bootTimeoutMs;
    for (let asked = false; ; ) {
      const s = await this.#server(instance.id, subject);
      if (!s) throw new Error(`openstack provider ${this.name}: server ${instance.id} (${subject}) is gone`);
      if (s.status === want && !s['OS-EXT-STS:task_state']) return s;
      if (!asked && !s['OS-EXT-STS:task_state']) {
        await this.session.call(action === 'os-stop' ? 'stop server' : 'start server', {
          service: 'compute',
          method: 'POST',
          path: `/servers/${instance.id}/action`,
          body: { [action]: null },
          subject,
        });
        asked = true;
      }
      if (Date.now() > deadline)
        throw new Error(
          `openstack provider ${this.name}: server ${instance.id} (${subject}) is ${s.status}, not ${want}, after ${this.#o.bootTimeoutMs} ms`,
        );
      await sleep(this.#pollMs);
    }
  }

  /** Stops the server (SHUTOFF), keeping its disk. Idempotent. */
  async stop(instance: Instance): Promise<void> {
    await this.#action(instance, 'os-stop', 'SHUTOFF');
  }

  /** Starts a stopped server again: same id, metadata and disk. */
  async start(instance: Instance): Promise<Instance> {
    return this.#toInstance(await this.#action(instance, 'os-start', 'ACTIVE'));
  }
}
