// A FAKE kubelet for the Kubernetes test bed: kwok runs no containers, so this runs each
// Running pod of a namespace as a local process. Its first container's command and args run
// with its environment (plain values and the downward API's pod name, namespace, pod IP and
// host IP), its ConfigMap volumes written out as files when it starts (as a kubelet mounts
// them), one folder per bound claim that outlives the pod (the volume), and one per emptyDir
// or projected volume (left empty: no ServiceAccount token is written). A process cannot
// mount at /data: every mount path in the command, args and environment is replaced by its
// folder. Give kwok a pod CIDR inside 127.0.0.0/8 and each pod owns a loopback address to
// listen on. The process restarts when it exits (restartPolicy Always, half a second later)
// and is killed when its pod is deleted. It does not run readiness probes (kwok's stages
// mark pods Ready) nor pull images (the command must be on this host, on PATH or in `path`).

import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeControlPlane } from './kube.ts';

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string } };
}
interface Container {
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  volumeMounts?: { name: string; mountPath: string }[];
}
interface Pod {
  metadata: { name: string; namespace: string; uid: string; deletionTimestamp?: string };
  spec: {
    nodeName?: string;
    containers: Container[];
    volumes?: {
      name: string;
      configMap?: { name: string; optional?: boolean; items?: { key: string; path: string }[] };
      persistentVolumeClaim?: { claimName: string };
      emptyDir?: unknown;
      projected?: unknown;
    }[];
  };
  status?: { phase?: string; podIP?: string; hostIP?: string };
}

export interface FakeKubeletOptions {
  /** Where volumes, mounted files and logs go. */
  readonly root: string;
  /** Folders put before PATH (where the command's binary is). */
  readonly path?: readonly string[];
  /** Called when a pod is seen deleted, just before its process is killed. */
  readonly onPodGone?: ((pod: string, ip: string, why: string) => void) | undefined;
}

interface Running {
  readonly uid: string;
  readonly ip: string;
  child: ChildProcess | undefined;
  restarts: number;
  gone: boolean;
}

export interface FakeKubelet {
  /** Pods with a process, by name: its pod IP and how often it was restarted. */
  pods(): ReadonlyMap<string, { ip: string; restarts: number; pid: number | undefined }>;
  /** Kills a pod's process as a crash would (SIGKILL); it is restarted as a kubelet would. */
  crash(pod: string): void;
  /** The last lines of a pod's output. */
  log(pod: string, lines?: number): string;
  /** Kills every process and stops watching. */
  stop(): Promise<void>;
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export function fakeKubelet(
  kube: KubeControlPlane,
  namespace: string,
  options: FakeKubeletOptions,
): FakeKubelet {
  const running = new Map<string, Running>();
  let stopped = false;
  const logFile = (pod: string) => join(options.root, 'logs', `${pod}.log`);
  mkdirSync(join(options.root, 'logs'), { recursive: true });

  const kill = (r: Running, signal: NodeJS.Signals) => {
    const pid = r.child?.pid;
    if (pid === undefined || r.child?.exitCode !== null || r.child.signalCode !== null) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // Already gone.
    }
  };

  /** The pod's folders, or undefined while something it mounts is not there yet (a kubelet waits too). */
  const mounts = async (pod: Pod): Promise<Map<string, string> | undefined> => {
    const podDir = join(options.root, 'pods', `${pod.metadata.name}-${pod.metadata.uid}`);
    const byVolume = new Map<string, string>();
    for (const v of pod.spec.volumes ?? []) {
      if (v.configMap) {
        const r = await kube.request<{ data?: Record<string, string> }>(
          'GET',
          `/api/v1/namespaces/${namespace}/configmaps/${v.configMap.name}`,
        );
        if (r.status !== 200 && !v.configMap.optional) return undefined;
        const dir = join(podDir, v.name);
        mkdirSync(dir, { recursive: true });
        const data = r.status === 200 ? (r.body.data ?? {}) : {};
        const items = v.configMap.items ?? Object.keys(data).map((key) => ({ key, path: key }));
        // A key the items name that is not there yet: a kubelet waits for it too.
        if (items.some((i) => data[i.key] === undefined) && !v.configMap.optional) return undefined;
        for (const i of items) if (data[i.key] !== undefined) writeFileSync(join(dir, i.path), data[i.key]!);
        byVolume.set(v.name, dir);
      } else if (v.persistentVolumeClaim) {
        const r = await kube.request<{ status?: { phase?: string }; spec?: { volumeName?: string } }>(
          'GET',
          `/api/v1/namespaces/${namespace}/persistentvolumeclaims/${v.persistentVolumeClaim.claimName}`,
        );
        if (r.status !== 200 || r.body.status?.phase !== 'Bound' || !r.body.spec?.volumeName)
          return undefined;
        // The volume's folder: a new pod of the same claim finds its data again.
        const dir = join(options.root, 'volumes', r.body.spec.volumeName);
        mkdirSync(dir, { recursive: true });
        byVolume.set(v.name, dir);
      } else if (v.emptyDir !== undefined || v.projected !== undefined) {
        const dir = join(podDir, v.name);
        mkdirSync(dir, { recursive: true });
        byVolume.set(v.name, dir);
      }
    }
    const byPath = new Map<string, string>();
    for (const m of pod.spec.containers[0]?.volumeMounts ?? []) {
      const dir = byVolume.get(m.name);
      if (dir === undefined)
        throw new Error(`fake kubelet: pod ${pod.metadata.name} mounts unknown volume ${m.name}`);
      byPath.set(m.mountPath.replace(/\/+$/, ''), dir);
    }
    return byPath;
  };

  const start = async (pod: Pod, r: Running) => {
    const byPath = await mounts(pod);
    if (!byPath || r.gone || stopped) return false;
    // Longest first, so /data/x is not taken for /data.
    const paths = [...byPath.keys()].sort((a, b) => b.length - a.length);
    const local = (s: string) =>
      paths.reduce(
        (acc, p) =>
          acc.replace(new RegExp(`(?<![\\w.-])${escapeRegExp(p)}(?=/|$|[^\\w.-])`, 'g'), byPath.get(p)!),
        s,
      );
    const c = pod.spec.containers[0]!;
    const field = (f: string): string => {
      switch (f) {
        case 'metadata.name':
          return pod.metadata.name;
        case 'metadata.namespace':
          return namespace;
        case 'status.podIP':
          return pod.status?.podIP ?? '';
        case 'status.hostIP':
          return pod.status?.hostIP ?? '';
        case 'spec.nodeName':
          return pod.spec.nodeName ?? '';
        default:
          throw new Error(`fake kubelet: downward API field ${f} is not modelled`);
      }
    };
    const env: Record<string, string> = {
      PATH: [...(options.path ?? []), process.env.PATH ?? ''].join(':'),
      HOME: join(options.root, 'pods', `${pod.metadata.name}-${pod.metadata.uid}`),
      HOSTNAME: pod.metadata.name,
    };
    for (const e of c.env ?? [])
      env[e.name] = e.valueFrom?.fieldRef ? field(e.valueFrom.fieldRef.fieldPath) : local(e.value ?? '');
    const argv = [...(c.command ?? []), ...(c.args ?? [])].map(local);
    if (argv.length === 0)
      throw new Error(`fake kubelet: pod ${pod.metadata.name} has no command (images are not run)`);
    const out = openSync(logFile(pod.metadata.name), 'a');
    const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', out, out], detached: true });
    r.child = child;
    child.once('error', () => undefined);
    child.once('exit', () => {
      if (r.gone || stopped) return;
      setTimeout(() => {
        if (r.gone || stopped) return;
        r.restarts++;
        void start(pod, r).catch(() => undefined);
      }, 500);
    });
    return true;
  };

  const round = async () => {
    const list = await kube.ok<{ items: Pod[] }>('GET', `/api/v1/namespaces/${namespace}/pods`);
    const all = new Map(list.items.map((p) => [p.metadata.name, p]));
    const live = new Map([...all].filter(([, p]) => !p.metadata.deletionTimestamp));
    for (const [name, r] of running) {
      const pod = live.get(name);
      if (pod?.metadata.uid === r.uid) continue;
      const seen = all.get(name);
      const why =
        seen?.metadata.uid !== r.uid
          ? seen
            ? 'replaced by a new pod of its name'
            : 'gone from the API'
          : `deleted at ${seen.metadata.deletionTimestamp}`;
      // Deleted (or replaced by a new pod of that name): its process goes, as a kubelet's would.
      r.gone = true;
      options.onPodGone?.(name, r.ip, why);
      kill(r, 'SIGTERM');
      setTimeout(() => kill(r, 'SIGKILL'), 3000).unref();
      running.delete(name);
    }
    for (const pod of live.values()) {
      if (running.has(pod.metadata.name)) continue;
      if (pod.status?.phase !== 'Running' || !pod.status.podIP || !pod.spec.nodeName) continue;
      const r: Running = {
        uid: pod.metadata.uid,
        ip: pod.status.podIP,
        child: undefined,
        restarts: 0,
        gone: false,
      };
      running.set(pod.metadata.name, r);
      const started = await start(pod, r).catch((e: Error) => {
        // Why a pod does not run, as a kubelet's events would say: in its log.
        appendFileSync(logFile(pod.metadata.name), `fake kubelet: ${e.message}\n`);
        return false;
      });
      if (!started) running.delete(pod.metadata.name);
    }
  };
  const loop = (async () => {
    while (!stopped) {
      await round().catch(() => undefined);
      await new Promise((r) => setTimeout(r, 200));
    }
  })();

  return {
    pods: () =>
      new Map([...running].map(([name, r]) => [name, { ip: r.ip, restarts: r.restarts, pid: r.child?.pid }])),
    crash: (pod) => {
      const r = running.get(pod);
      if (r) kill(r, 'SIGKILL');
    },
    log: (pod, lines = 30) => {
      try {
        return readFileSync(logFile(pod), 'utf8').split('\n').slice(-lines).join('\n');
      } catch {
        return '';
      }
    },
    stop: async () => {
      stopped = true;
      await loop;
      const exits: Promise<unknown>[] = [];
      for (const r of running.values()) {
        r.gone = true;
        if (r.child && r.child.exitCode === null && r.child.signalCode === null)
          exits.push(new Promise((resolve) => r.child!.once('exit', resolve)));
        kill(r, 'SIGKILL');
      }
      await Promise.all(exits);
      running.clear();
    },
  };
}
