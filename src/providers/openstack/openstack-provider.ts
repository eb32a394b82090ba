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

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { LaunchContext } from '../../nodes/node-kind.ts';
import type { CreateRequest, Instance, Provider } from '../provider.ts';
import { renderBootScript, type ServerProcess, specMetadata } from './boot-script.ts';
import { type Cloud, readCloud } from './clouds.ts';
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
  readonly servers: {
    readonly flavor: string;
    readonly image: string;
    readonly networks: 'none' | 'auto' | readonly string[];
    readonly securityGroups: readonly string[];
    readonly keyName?: string | undefined;
    readonly serverGroup?: string | undefined;
    readonly availabilityZone?: string | undefined;
  };
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
  }

  // ---- names to ids, once per provider object

  /** Flavor, image, server group and networks as Nova wants them, each named by its config field. */
  #resolve() {
    this.#refs ??= (async () => {
      const s = this.#o.servers;
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
    const out: NovaServer[] = [];
    let marker: string | undefined;
    for (;;) {
      const page = (
        await this.session.call<{ servers: NovaServer[] }>('list servers', {
          service: 'compute',
          method: 'GET',
          path: `/servers/detail?tags=${encodeURIComponent(this.#tag)}&limit=200${marker ? `&marker=${marker}` : ''}`,
        })
      ).body.servers;
      out.push(...page.filter((s) => s.metadata[META.provider] === this.name && s.metadata[META.node]));
      if (page.length < 200) return out;
      marker = page.at(-1)!.id;
    }
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
    const refs = await this.#resolve();
    const findEarlier = async () =>
      (await this.#servers()).find((s) => s.metadata[META.action] === req.actionId && s.status !== 'ERROR');
    let server = await findEarlier();
    if (!server) {
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
                imageRef: refs.image,
                networks: refs.networks,
                ...(this.#o.servers.securityGroups.length > 0 && this.#o.servers.networks !== 'none'
                  ? { security_groups: this.#o.servers.securityGroups.map((name) => ({ name })) }
                  : {}),
                ...(this.#o.servers.keyName ? { key_name: this.#o.servers.keyName } : {}),
                ...(this.#o.servers.availabilityZone
                  ? { availability_zone: this.#o.servers.availabilityZone }
                  : {}),
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
        });
      // Fault injection for the crash-safety tests: dies right after Nova took the create.
      if (process.env.RAMPART_CRASH_AT === 'openstack:after-create-server')
        process.kill(process.pid, 'SIGKILL');
      server = { id: created.body.server.id } as NovaServer;
    }
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

  // ---- destroy, stop, start

  async destroy(instance: Instance): Promise<void> {
    const subject = `node ${instance.nodeId}, server ${instance.id}`;
    if (!UUID.test(instance.id)) return; // never a server id: nothing of it can exist
    await this.session.call('delete server', {
      service: 'compute',
      method: 'DELETE',
      path: `/servers/${encodeURIComponent(instance.id)}`,
      accept: [404],
      subject,
    });
    const deadline = Date.now() + this.#o.bootTimeoutMs;
    while ((await this.#server(instance.id, subject)) && Date.now() < deadline) await sleep(this.#pollMs);
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
