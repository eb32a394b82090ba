// Starts real Prometheus and netdata servers (Debian's packages) for integration tests: each on a
// free loopback port with a temp dir, in its own process group so everything it spawns is killed.

import { type ChildProcess, spawn } from 'node:child_process';
import {
  accessSync,
  closeSync,
  constants,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir, userInfo } from 'node:os';
import { delimiter, join } from 'node:path';
import type { TestContext } from 'node:test';

export interface RunningServer {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly port: number;
  /** The server's temp dir (config, data, logs); removed by stop(). */
  readonly dir: string;
  /** The last lines the server wrote to stdout/stderr, for failure messages. */
  logTail(lines?: number): string;
  /** Stops the server and everything it spawned, then removes its temp dir. Idempotent. */
  stop(): Promise<void>;
}

/** Where the testbed scripts cache what they build or install: outside the repo. */
export const CACHE = process.env.RAMPART_CACHE ?? join(homedir(), '.cache', 'rampart');

const BINARIES = {
  prometheus: { candidates: ['/usr/bin/prometheus'], script: 'scripts/testbed/prometheus.sh' },
  netdata: { candidates: ['/usr/sbin/netdata'], script: 'scripts/testbed/netdata.sh' },
  moto_server: {
    candidates: [join(CACHE, 'moto-venv', 'bin', 'moto_server')],
    script: 'scripts/testbed/moto.sh',
  },
  cometbft: { candidates: [join(CACHE, 'bin', 'cometbft')], script: 'scripts/testbed/cometbft.sh' },
} as const;

export type ServerName = keyof typeof BINARIES;

/** The server's binary: its Debian path or on PATH; undefined when it is not installed. */
export function findBinary(name: ServerName): string | undefined {
  const pathDirs = (process.env.PATH ?? '').split(delimiter).filter((d) => d !== '');
  for (const candidate of [...BINARIES[name].candidates, ...pathDirs.map((d) => join(d, name))]) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not there: try the next place.
    }
  }
  return undefined;
}

/**
 * The binary, or: with RAMPART_ALLOW_SKIP=1 the test is skipped (returns undefined), otherwise
 * the test fails, since CI installs the servers and a silent skip would hide that it did not.
 */
export function requireBinary(t: TestContext, name: ServerName): string | undefined {
  const binary = findBinary(name);
  if (binary !== undefined) return binary;
  const message = `${name} is not installed (looked in ${BINARIES[name].candidates.join(', ')} and PATH); run bash ${BINARIES[name].script}`;
  if (process.env.RAMPART_ALLOW_SKIP === '1') {
    t.skip(`${message} (skipped: RAMPART_ALLOW_SKIP=1)`);
    return undefined;
  }
  throw new Error(`${message}, or set RAMPART_ALLOW_SKIP=1 to skip this test`);
}

/** A loopback port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port from a loopback listener');
  return address.port;
}

// Children still alive and their dirs, so they are cleaned up even when the test process dies first.
const liveGroups = new Set<number>();
const liveDirs = new Set<string>();
let exitHooksInstalled = false;

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}

function killEverything(): void {
  for (const pid of liveGroups) killGroup(pid, 'SIGKILL');
  for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
}

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.on('exit', killEverything);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killEverything();
      // Listener removed by once(): the same signal now does what it would have done.
      process.kill(process.pid, signal);
    });
  }
}

interface StartSpec {
  readonly name: ServerName;
  readonly binary: string;
  readonly dir: string;
  readonly port: number;
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** Path answering 200 once the server is usable. */
  readonly readyPath: string;
  readonly readyTimeoutMs: number;
  /** Grace after SIGTERM before SIGKILL. */
  readonly stopGraceMs: number;
}

async function startServer(spec: StartSpec): Promise<RunningServer> {
  installExitHooks();
  const logPath = join(spec.dir, 'server.log');
  const logFd = openSync(logPath, 'a');
  let child: ChildProcess;
  try {
    child = spawn(spec.binary, spec.args, {
      cwd: spec.dir,
      env: { ...process.env, ...spec.env },
      stdio: ['ignore', logFd, logFd],
      detached: true,
    });
  } finally {
    closeSync(logFd);
  }
  const pid = child.pid;
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exitedPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    });
    child.once('error', (error) => {
      exited = { code: null, signal: null };
      writeFileSync(logPath, `spawn failed: ${error.message}\n`, { flag: 'a' });
      resolve();
    });
  });
  if (pid !== undefined) liveGroups.add(pid);
  liveDirs.add(spec.dir);
  child.unref();

  const url = `http://127.0.0.1:${spec.port}`;
  const logTail = (lines = 30): string => {
    try {
      return readFileSync(logPath, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  };
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (pid !== undefined) {
      if (exited === undefined) {
        killGroup(pid, 'SIGTERM');
        await Promise.race([exitedPromise, delay(spec.stopGraceMs)]);
      }
      // Also reaps helpers the server spawned that outlived it.
      killGroup(pid, 'SIGKILL');
      await Promise.race([exitedPromise, delay(2000)]);
      liveGroups.delete(pid);
    }
    rmSync(spec.dir, { recursive: true, force: true });
    liveDirs.delete(spec.dir);
  };

  const deadline = Date.now() + spec.readyTimeoutMs;
  for (;;) {
    if (exited !== undefined) {
      const tail = logTail();
      await stop();
      throw new Error(
        `${spec.name} (${spec.binary}) exited before it was ready (code ${exited.code}, signal ${exited.signal}):\n${tail}`,
      );
    }
    try {
      const response = await fetch(`${url}${spec.readyPath}`, { signal: AbortSignal.timeout(1000) });
      await response.arrayBuffer();
      if (response.ok) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      const tail = logTail();
      await stop();
      throw new Error(
        `${spec.name} did not answer ${url}${spec.readyPath} within ${spec.readyTimeoutMs} ms:\n${tail}`,
      );
    }
    await delay(150);
  }
  return { url, port: spec.port, dir: spec.dir, logTail, stop };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

export interface PrometheusOptions {
  /** `host:port` of the endpoints to scrape (job `simnode`, path /metrics). */
  readonly scrapeTargets: readonly string[];
  readonly scrapeIntervalSeconds?: number;
}

/**
 * Starts Prometheus scraping `scrapeTargets`; resolves once /-/ready answers, with the server
 * stopped after test `t`. Undefined when the test was skipped (see requireBinary).
 */
export async function startPrometheus(
  t: TestContext,
  options: PrometheusOptions,
): Promise<RunningServer | undefined> {
  const binary = requireBinary(t, 'prometheus');
  if (binary === undefined) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'rampart-prometheus-'));
  const interval = `${options.scrapeIntervalSeconds ?? 1}s`;
  const config = [
    'global:',
    `  scrape_interval: ${interval}`,
    `  scrape_timeout: ${interval}`,
    `  evaluation_interval: ${interval}`,
    'scrape_configs:',
    '  - job_name: simnode',
    '    static_configs:',
    `      - targets: [${options.scrapeTargets.map((t) => JSON.stringify(t)).join(', ')}]`,
    '',
  ].join('\n');
  writeFileSync(join(dir, 'prometheus.yml'), config);
  const port = await freePort();
  const server = await startServer({
    name: 'prometheus',
    binary,
    dir,
    port,
    args: [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    readyPath: '/-/ready',
    readyTimeoutMs: 20_000,
    stopGraceMs: 5000,
  });
  t.after(() => server.stop());
  return server;
}

/**
 * Starts a netdata agent with only its internal /proc collector, in RAM, with health, ML, statsd,
 * the cloud link and telemetry off; resolves once /api/v1/info answers, with the agent stopped
 * after test `t`. Undefined when the test was skipped (see requireBinary).
 */
export async function startNetdata(t: TestContext): Promise<RunningServer | undefined> {
  const binary = requireBinary(t, 'netdata');
  if (binary === undefined) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'rampart-netdata-'));
  for (const sub of ['etc', 'log', 'cache', 'lib', 'lib/cloud.d'])
    mkdirSync(join(dir, sub), { recursive: true });
  const user = userInfo().username;
  const port = await freePort();
  const disabledPlugins = [
    'tc',
    'idlejitter',
    'cgroups',
    'diskspace',
    'timex',
    'checks',
    'apps',
    'charts.d',
    'python.d',
    'go.d',
    'ebpf',
    'node.d',
    'fping',
    'perf',
    'slabinfo',
    'nfacct',
    'ioping',
    'cups',
    'freeipmi',
    'statsd',
    'netdata monitoring',
  ];
  const config = [
    '[global]',
    `  run as user = ${user}`,
    '  hostname = rampart-test',
    '  memory mode = ram',
    '[db]',
    '  mode = ram',
    '  update every = 1',
    '[directories]',
    `  config = ${join(dir, 'etc')}`,
    `  log = ${join(dir, 'log')}`,
    `  cache = ${join(dir, 'cache')}`,
    `  lib = ${join(dir, 'lib')}`,
    `  home = ${dir}`,
    '[logs]',
    '  debug = none',
    `  error = ${join(dir, 'log', 'error.log')}`,
    '  access = none',
    '[web]',
    `  bind to = 127.0.0.1:${port}`,
    '[health]',
    '  enabled = no',
    '[ml]',
    '  enabled = no',
    '[statsd]',
    '  enabled = no',
    '[registry]',
    '  enabled = no',
    '[plugins]',
    '  enable running new plugins = no',
    '  proc = yes',
    ...disabledPlugins.map((p) => `  ${p} = no`),
    '',
  ].join('\n');
  writeFileSync(join(dir, 'netdata.conf'), config);
  writeFileSync(join(dir, 'lib', 'cloud.d', 'cloud.conf'), '[global]\n  enabled = no\n');
  const server = await startServer({
    name: 'netdata',
    binary,
    dir,
    port,
    args: ['-D', '-c', join(dir, 'netdata.conf'), '-u', user, '-i', '127.0.0.1', '-p', String(port)],
    // netdata's anonymous-statistics script honours these; nothing may leave the machine.
    env: { DO_NOT_TRACK: '1', DISABLE_TELEMETRY: '1' },
    readyPath: '/api/v1/info',
    readyTimeoutMs: 30_000,
    stopGraceMs: 3000,
  });
  t.after(() => server.stop());
  return server;
}

/**
 * Calls `attempt` until `done` holds for its result or `timeoutMs` passes; returns the last
 * result either way, so the caller's assertions say what was still wrong.
 */
export async function pollUntil<R>(
  attempt: () => Promise<R>,
  done: (result: R) => boolean,
  timeoutMs: number,
  intervalMs = 500,
): Promise<R> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await attempt();
    if (done(result) || Date.now() + intervalMs > deadline) return result;
    await delay(intervalMs);
  }
}

/**
 * Starts moto's AWS API emulator on a free loopback port, stopped after test `t`. Tests
 * give AWS clients `endpoint: server.url`, any region and dummy credentials.
 */
export async function startMoto(t: TestContext): Promise<RunningServer | undefined> {
  const binary = requireBinary(t, 'moto_server');
  if (binary === undefined) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'rampart-moto-'));
  const port = await freePort();
  const server = await startServer({
    name: 'moto_server',
    binary,
    dir,
    port,
    args: ['-H', '127.0.0.1', '-p', String(port)],
    readyPath: '/moto-api/',
    readyTimeoutMs: 30_000,
    stopGraceMs: 3000,
  });
  t.after(() => server.stop());
  return server;
}
