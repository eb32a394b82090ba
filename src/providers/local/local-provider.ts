// The `local` provider: nodes are processes on this host, each in its own session with its
// own ports and data dir. The process table is the source of truth: every node process
// carries its node id, pool and creating action in its environment, so a restarted
// controller finds exactly what is running, whoever started it.

import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CreateRequest, Instance, Provider } from '../provider.ts';
import { freePorts } from './free-ports.ts';

export interface LocalProviderOptions {
  readonly name: string;
  /** Absolute folder holding one data dir per node: <dataDir>/<pool>/<node id>. */
  readonly dataDir: string;
  /** Address nodes listen on. Default 127.0.0.1. */
  readonly host?: string | undefined;
  /** How long a node may take to exit after SIGTERM before it is killed, ms. Default 10s. */
  readonly stopTimeoutMs?: number | undefined;
}

const ENV = {
  dataDir: 'RAMPART_LOCAL_DATA_DIR',
  nodeId: 'RAMPART_NODE_ID',
  pool: 'RAMPART_POOL',
  actionId: 'RAMPART_ACTION_ID',
  term: 'RAMPART_TERM',
  host: 'RAMPART_HOST',
  ports: 'RAMPART_PORTS',
  createdAt: 'RAMPART_CREATED_AT',
} as const;

/** The process a node runs, kept in its data dir so a stopped node can be started again. */
interface SavedLaunch {
  readonly command: string;
  readonly args: string[];
  readonly env: Record<string, string>;
}

const LAUNCH_FILE = 'launch.json';

/** Variables a node process inherits from the controller: nothing that could hold a secret. */
const INHERITED_ENV = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR'];

export class LocalProvider implements Provider {
  readonly kind = 'local';
  readonly name: string;
  readonly dataDir: string;
  readonly host: string;
  readonly #stopTimeoutMs: number;

  constructor(opts: LocalProviderOptions) {
    this.name = opts.name;
    this.dataDir = path.resolve(opts.dataDir);
    this.host = opts.host ?? '127.0.0.1';
    this.#stopTimeoutMs = opts.stopTimeoutMs ?? 10_000;
  }

  async list(): Promise<Instance[]> {
    const found: Instance[] = [];
    let pids: string[];
    try {
      pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
    } catch (e) {
      throw new Error(`local provider ${this.name}: cannot read /proc: ${(e as Error).message}`);
    }
    for (const pid of pids) {
      const env = readEnviron(Number(pid));
      if (!env || env[ENV.dataDir] !== this.dataDir) continue;
      const stat = readStat(Number(pid));
      if (!stat) continue;
      const instance = this.#instanceFrom(Number(pid), stat, env);
      if (instance) found.push(instance);
    }
    return found;
  }

  #instanceFrom(pid: number, stat: ProcStat, env: Record<string, string>): Instance | undefined {
    const nodeId = env[ENV.nodeId];
    const pool = env[ENV.pool];
    const actionId = env[ENV.actionId];
    if (!nodeId || !pool || !actionId) return undefined;
    let ports: Record<string, number> = {};
    try {
      ports = JSON.parse(env[ENV.ports] ?? '{}') as Record<string, number>;
    } catch {
      // A process with unreadable ports is still ours: list it so it can be cleaned up.
    }
    return {
      id: `${pid}:${stat.startTime}`,
      nodeId,
      pool,
      actionId,
      host: env[ENV.host] ?? this.host,
      ports,
      dataDir: path.join(this.dataDir, pool, nodeId),
      running: stat.state !== 'Z' && stat.state !== 'X',
      createdAt: Number(env[ENV.createdAt] ?? 0),
      term: Number(env[ENV.term]) || undefined,
    };
  }

  async create(req: CreateRequest): Promise<Instance> {
    const dataDir = path.join(this.dataDir, req.pool, req.nodeId);
    mkdirSync(dataDir, { recursive: true });
    const taken = new Set((await this.list()).flatMap((i) => Object.values(i.ports)));
    const ports = await freePorts(this.host, req.kind.portNames, taken);
    const launch = {
      ...req.launch,
      nodeId: req.nodeId,
      pool: req.pool,
      host: this.host,
      ports,
      dataDir,
    };
    await req.kind.prepare?.(launch);
    const spec = req.kind.processSpec(launch);
    const createdAt = Date.now();
    const env: Record<string, string> = {
      ...(spec.env ?? {}),
      [ENV.dataDir]: this.dataDir,
      [ENV.nodeId]: req.nodeId,
      [ENV.pool]: req.pool,
      [ENV.actionId]: req.actionId,
      [ENV.term]: String(req.term),
      [ENV.host]: this.host,
      [ENV.ports]: JSON.stringify(ports),
      [ENV.createdAt]: String(createdAt),
    };
    // Written before the spawn: `start` runs the same process again after a `stop`.
    const saved: SavedLaunch = { command: spec.command, args: [...spec.args], env };
    writeFileSync(path.join(dataDir, LAUNCH_FILE), `${JSON.stringify(saved, null, 2)}\n`);
    return this.#spawn(saved, dataDir, req.nodeId);
  }

  async #spawn(saved: SavedLaunch, dataDir: string, nodeId: string): Promise<Instance> {
    const env: Record<string, string> = {};
    for (const k of INHERITED_ENV) if (process.env[k] !== undefined) env[k] = process.env[k]!;
    Object.assign(env, saved.env);
    const log = openSync(path.join(dataDir, 'node.log'), 'a');
    try {
      const child = spawn(saved.command, saved.args, {
        cwd: dataDir,
        env,
        detached: true,
        stdio: ['ignore', log, log],
      });
      const pid = await new Promise<number>((resolve, reject) => {
        child.once('spawn', () => resolve(child.pid!));
        child.once('error', (e) =>
          reject(
            new Error(
              `local provider ${this.name}: cannot start node ${nodeId} (${saved.command}): ${e.message}`,
            ),
          ),
        );
      });
      child.unref();
      const stat = readStat(pid);
      const instance = this.#instanceFrom(pid, stat ?? { state: 'R', startTime: 0 }, saved.env);
      if (!instance)
        throw new Error(`local provider ${this.name}: node ${nodeId} started without its identity`);
      return instance;
    } finally {
      closeSync(log);
    }
  }

  /** Starts a stopped instance again: the same process, identity and data. */
  async start(instance: Instance): Promise<Instance> {
    if (!instance.dataDir)
      throw new Error(`local provider ${this.name}: instance ${instance.id} has no data dir`);
    const file = path.join(instance.dataDir, LAUNCH_FILE);
    let saved: SavedLaunch;
    try {
      saved = JSON.parse(readFileSync(file, 'utf8')) as SavedLaunch;
    } catch (e) {
      throw new Error(
        `local provider ${this.name}: cannot restart ${instance.nodeId}: ${file}: ${(e as Error).message}`,
      );
    }
    return this.#spawn(saved, instance.dataDir, instance.nodeId);
  }

  /**
   * Stops the instance's process (if it still runs) and removes its data dir. Also takes an
   * instance no longer listed, built from its node's record: its process is then gone (its
   * pid and start time identify it, so a reused pid is never signalled) and its data goes.
   */
  async destroy(instance: Instance): Promise<void> {
    await this.stop(instance);
    if (!instance.dataDir?.startsWith(this.dataDir + path.sep)) return;
    try {
      rmSync(instance.dataDir, { recursive: true, force: true });
    } catch (e) {
      throw new Error(
        `local provider ${this.name}: node ${instance.nodeId} is stopped, but its data dir ${instance.dataDir} cannot be removed: ${(e as Error).message}`,
      );
    }
  }

  /** Stops an instance's process group: SIGTERM, then SIGKILL after the stop timeout. Keeps its data. */
  async stop(instance: Instance): Promise<void> {
    const [pidText, startTime] = instance.id.split(':');
    const pid = Number(pidText);
    const same = () => {
      const stat = readStat(pid);
      return (
        stat !== undefined && String(stat.startTime) === startTime && stat.state !== 'Z' && stat.state !== 'X'
      );
    };
    if (!same()) return;
    signalGroup(pid, 'SIGTERM');
    const deadline = Date.now() + this.#stopTimeoutMs;
    while (same() && Date.now() < deadline) await sleep(50);
    if (same()) {
      signalGroup(pid, 'SIGKILL');
      while (same()) await sleep(20);
    }
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}

interface ProcStat {
  readonly state: string;
  readonly startTime: number;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0]!, startTime: Number(fields[19]) };
  } catch {
    return undefined;
  }
}

function readEnviron(pid: number): Record<string, string> | undefined {
  let raw: string;
  try {
    raw = readFileSync(`/proc/${pid}/environ`, 'utf8');
  } catch {
    return undefined;
  }
  if (!raw.includes(ENV.dataDir)) return undefined;
  const env: Record<string, string> = {};
  for (const entry of raw.split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return env;
}
