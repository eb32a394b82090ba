// A FAKE of the machines behind Nova's fake virt driver, for tests on the OpenStack test bed:
// Nova's servers run nothing, so this watches Nova and "boots" each ACTIVE server Rampart made
// as its boot script would: it gives the server a loopback address of its own (127.x.y.z,
// written into the server's metadata under the provider's `address: { metadata }` key, since
// a server without Neutron ports has none), reads the data dir from the server's user data, waits
// for the node's process in the metadata (boot-script.ts) and starts it there, with the data
// dir mapped to a folder of the fake's. A server that is deleted or no longer ACTIVE (SHUTOFF)
// has its process killed; ACTIVE again, the same process starts on the same data.
//
// Images, as the fake plays the hypervisor's part of them: Nova's fake driver uploads nothing
// for a createImage (the image stays `queued` in Glance), so this fake uploads, for a queued
// image whose `instance_uuid` is a server it runs, a tar of that server's data dir (its "disk")
// to Glance, which makes the image active. A server booting an image that carries
// `rampart_family` (one Rampart baked) starts with that tar unpacked into its data dir; a
// server booting any other image (the bed's blank one) starts with an empty data dir.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { dataDirOf, specFromMetadata } from '../../src/providers/openstack/boot-script.ts';
import { readCloud } from '../../src/providers/openstack/clouds.ts';
import {
  IMAGE_PROPS,
  META,
  type NovaServer,
  providerTag,
} from '../../src/providers/openstack/openstack-provider.ts';
import { OpenstackSession } from '../../src/providers/openstack/openstack-session.ts';

export interface OpenstackMachinesOptions {
  readonly cloudsFile: string;
  readonly cloud: string;
  /** The provider entry whose servers boot here. */
  readonly provider: string;
  /** Metadata key the machine writes its address into (the provider's `address: { metadata }`). */
  readonly addressKey: string;
}

export interface OpenstackMachines {
  /** Server ids whose process runs now. */
  running(): string[];
  /** Kills a server's process as a crash would, leaving the server ACTIVE: it is not started again. */
  crash(serverId: string): void;
  /** The image a server's data dir was unpacked from (a baked one), if any. */
  restoredFrom(serverId: string): string | undefined;
  /** Images this fake uploaded a server's data dir to. */
  uploaded(): string[];
  /** The address given to a server, if booted. */
  addressOf(serverId: string): string | undefined;
  stop(): Promise<void>;
}

interface Machine {
  readonly address: string;
  readonly dataDir: string;
  child?: ChildProcess | undefined;
  crashed?: boolean;
  restoredFrom?: string | undefined;
}

export function startOpenstackMachines(o: OpenstackMachinesOptions): OpenstackMachines {
  const session = new OpenstackSession({
    cloud: () => readCloud({ cloud: o.cloud, cloudsFile: o.cloudsFile }),
    context: 'the machines fake',
    policy: { attempts: 3, baseDelayMs: 200, maxDelayMs: 1000, callTimeoutMs: 10_000 },
    microversions: { compute: '2.67' },
    // The cloud's own region, as the provider takes it: a region another test added to the
    // shared bed's catalog (a fault proxy in front of Nova) is never this fake's way to Nova.
    region: readCloud({ cloud: o.cloud, cloudsFile: o.cloudsFile }).region,
  });
  // Machines' disks in RAM where there is /dev/shm: etcd fsyncs every write.
  const dir = mkdtempSync(path.join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'rampart-os-machines-'));
  const machines = new Map<string, Machine>();
  const net = `127.${100 + Math.floor(Math.random() * 150)}.${Math.floor(Math.random() * 250)}`;
  let next = 2;
  let stopped = false;
  const killAll = () => {
    for (const m of machines.values()) kill(m.child);
  };
  process.once('exit', killAll);

  const userDataDir = async (id: string): Promise<string | undefined> => {
    const s = (
      await session.call<{ server: { 'OS-EXT-SRV-ATTR:user_data'?: string | null } }>('show server', {
        service: 'compute',
        method: 'GET',
        path: `/servers/${id}`,
      })
    ).body.server;
    const ud = s['OS-EXT-SRV-ATTR:user_data'];
    return ud ? dataDirOf(Buffer.from(ud, 'base64').toString('utf8')) : undefined;
  };

  const boot = async (s: NovaServer): Promise<void> => {
    let m = machines.get(s.id);
    if (!m) {
      const remote = await userDataDir(s.id);
      if (!remote) return; // not one of Rampart's boot scripts: nothing to run
      const address = `${net}.${next++}`;
      m = { address, dataDir: path.join(dir, s.id) };
      mkdirSync(m.dataDir, { recursive: true });
      m.restoredFrom = await restore(s, m.dataDir);
      machines.set(s.id, m);
      (m as { remote?: string }).remote = remote;
      await session.call('set address', {
        service: 'compute',
        method: 'PUT',
        path: `/servers/${s.id}/metadata/${encodeURIComponent(o.addressKey)}`,
        body: { meta: { [o.addressKey]: address } },
      });
    }
    if (m.child || m.crashed) return;
    const spec = specFromMetadata(s.metadata);
    if (!spec) return; // the controller writes it once it has prepared the node
    const remote = (m as { remote?: string }).remote!;
    const here = (v: string) => v.split(remote).join(m.dataDir);
    const log = openSync(path.join(m.dataDir, 'node.log'), 'a');
    const child = spawn(spec.command, spec.args.map(here), {
      cwd: m.dataDir,
      detached: true,
      stdio: ['ignore', log, log],
      env: {
        ...process.env,
        ...Object.fromEntries(Object.entries(spec.env ?? {}).map(([k, v]) => [k, here(v)])),
      },
    });
    closeSync(log);
    child.unref();
    child.once('exit', () => {
      if (m.child === child) m.child = undefined;
    });
    m.child = child;
  };

  /** Unpacks a baked image's data dir into a new server's; undefined for any other image. */
  const restore = async (s: NovaServer, into: string): Promise<string | undefined> => {
    const imageId = typeof s.image === 'object' ? s.image?.id : undefined;
    if (!imageId) return undefined;
    const image = (
      await session.call<Record<string, unknown>>('show image', {
        service: 'image',
        method: 'GET',
        path: `/v2/images/${imageId}`,
      })
    ).body;
    if (!image[IMAGE_PROPS.family]) return undefined;
    const data = await session.call<string>('download image', {
      service: 'image',
      method: 'GET',
      path: `/v2/images/${imageId}/file`,
      binary: true,
    });
    const untar = spawnSync('tar', ['-xzf', '-', '-C', into], { input: data.body });
    if (untar.status !== 0) throw new Error(`untar image ${imageId}: ${untar.stderr}`);
    return imageId;
  };

  const done = new Set<string>();
  /** Uploads a stopped (or running) server's data dir to each queued image Nova made of it. */
  const upload = async () => {
    const queued = (
      await session.call<{ images: Record<string, string>[] }>('list images', {
        service: 'image',
        method: 'GET',
        path: `/v2/images?status=queued&${IMAGE_PROPS.provider}=${encodeURIComponent(o.provider)}`,
      })
    ).body.images;
    for (const image of queued) {
      const m = machines.get(image.instance_uuid ?? '');
      if (!m || done.has(image.id!)) continue;
      const tar = spawnSync('tar', ['-czf', '-', '--exclude=./node.log', '-C', m.dataDir, '.'], {
        maxBuffer: 1 << 30,
      });
      if (tar.status !== 0) throw new Error(`tar ${m.dataDir}: ${tar.stderr}`);
      // Glance takes data only once the formats are set: a hypervisor's upload sets them (the
      // libvirt driver does), Nova's createImage leaves them to it.
      if (!image.disk_format)
        await session.call('set image formats', {
          service: 'image',
          method: 'PATCH',
          path: `/v2/images/${image.id}`,
          body: [
            { op: 'add', path: '/disk_format', value: 'raw' },
            { op: 'add', path: '/container_format', value: 'bare' },
          ],
          headers: { 'content-type': 'application/openstack-images-v2.1-json-patch' },
        });
      await session.call('upload image', {
        service: 'image',
        method: 'PUT',
        path: `/v2/images/${image.id}/file`,
        raw: { data: tar.stdout, contentType: 'application/octet-stream' },
      });
      done.add(image.id!);
    }
  };

  const pass = async () => {
    const servers = (
      await session.call<{ servers: NovaServer[] }>('list servers', {
        service: 'compute',
        method: 'GET',
        path: `/servers/detail?tags=${encodeURIComponent(providerTag(o.provider))}`,
      })
    ).body.servers.filter((s) => s.metadata[META.provider] === o.provider);
    const seen = new Set<string>();
    for (const s of servers) {
      seen.add(s.id);
      const active = s.status === 'ACTIVE' && s['OS-EXT-STS:task_state'] !== 'deleting';
      if (active) await boot(s);
      else {
        const m = machines.get(s.id);
        if (m?.child) {
          kill(m.child);
          m.child = undefined;
        }
      }
    }
    for (const [id, m] of machines)
      if (!seen.has(id)) {
        kill(m.child);
        machines.delete(id);
        rmSync(m.dataDir, { recursive: true, force: true });
      }
  };

  const loop = (async () => {
    while (!stopped) {
      await pass().catch(() => undefined);
      await upload().catch((e) => {
        if (!stopped) console.error(`openstack machines fake: image upload: ${(e as Error).message}`);
      });
      await sleep(500);
    }
  })();

  return {
    running: () => [...machines].filter(([, m]) => m.child).map(([id]) => id),
    crash: (id) => {
      const m = machines.get(id);
      if (!m) return;
      m.crashed = true;
      kill(m.child);
      m.child = undefined;
    },
    addressOf: (id) => machines.get(id)?.address,
    restoredFrom: (id) => machines.get(id)?.restoredFrom,
    uploaded: () => [...done],
    stop: async () => {
      stopped = true;
      await loop;
      killAll();
      machines.clear();
      process.removeListener('exit', killAll);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function kill(child: ChildProcess | undefined): void {
  if (!child?.pid) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}
