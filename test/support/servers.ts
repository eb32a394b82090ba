// Starts real Prometheus and netdata servers (Debian's packages) for integration tests: each on a
// free loopback port with a temp dir, in its own process group so everything it spawns is killed.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { homedir, tmpdir, userInfo } from 'node:os';
import { delimiter, join } from 'node:path';
import type { TestContext } from 'node:test';
import { freePort } from '../../src/providers/local/free-ports.ts';

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
  'prometheus-alertmanager': {
    candidates: ['/usr/bin/prometheus-alertmanager'],
    script: 'scripts/testbed/alertmanager.sh',
  },
  /** Prometheus's rule checker, from the same Debian package. */
  promtool: { candidates: ['/usr/bin/promtool'], script: 'scripts/testbed/prometheus.sh' },
  /** Debian's browser, driven by playwright-core in the dashboard tests. */
  chromium: { candidates: ['/usr/bin/chromium'], script: 'scripts/testbed/chromium.sh' },
  netdata: { candidates: ['/usr/sbin/netdata'], script: 'scripts/testbed/netdata.sh' },
  moto_server: {
    candidates: [join(CACHE, 'moto-venv', 'bin', 'moto_server')],
    script: 'scripts/testbed/moto.sh',
  },
  cometbft: { candidates: [join(CACHE, 'bin', 'cometbft')], script: 'scripts/testbed/cometbft.sh' },
  /** The Cosmos Hub's chain daemon (CometBFT and the app in one process), built from its Go modules. */
  gaiad: { candidates: [join(CACHE, 'bin', 'gaiad')], script: 'scripts/testbed/gaiad.sh' },
  etcd: { candidates: ['/usr/bin/etcd'], script: 'scripts/testbed/etcd.sh' },
  /** Kubernetes' control plane and kwok, built from their Go modules (test/support/kube.ts). */
  'kube-apiserver': {
    candidates: [join(CACHE, 'bin', 'kube-apiserver')],
    script: 'scripts/testbed/kubernetes.sh',
  },
  'kube-controller-manager': {
    candidates: [join(CACHE, 'bin', 'kube-controller-manager')],
    script: 'scripts/testbed/kubernetes.sh',
  },
  'kube-scheduler': {
    candidates: [join(CACHE, 'bin', 'kube-scheduler')],
    script: 'scripts/testbed/kubernetes.sh',
  },
  kwok: { candidates: [join(CACHE, 'bin', 'kwok')], script: 'scripts/testbed/kubernetes.sh' },
  helm: { candidates: [join(CACHE, 'bin', 'helm')], script: 'scripts/testbed/kubernetes.sh' },
  kustomize: { candidates: [join(CACHE, 'bin', 'kustomize')], script: 'scripts/testbed/kubernetes.sh' },
  /** The Python that runs OpenStack's services (Debian's, linked once their packages import). */
  'openstack-python': {
    candidates: [join(CACHE, 'openstack', 'bin', 'python3')],
    script: 'scripts/testbed/openstack.sh',
  },
  'rabbitmq-server': {
    candidates: ['/usr/lib/rabbitmq/bin/rabbitmq-server'],
    script: 'scripts/testbed/openstack.sh',
  },
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

// The one rule for a test whose server is not installed here, in one place: it fails. The
// suite installs every server (scripts/testbed/install.sh), so a skip would only hide that it
// did not. On a machine without some server, RAMPART_ALLOW_SKIP=1 turns the failure into a
// skip that names what is missing — except on CI (CI set, as CI services set it), where a
// missing server fails whatever RAMPART_ALLOW_SKIP says.
//
// A test that needs a server says so where it is declared: `test(name, { skip:
// skipUnlessInstalled('etcd') }, …)`, and a contract takes that `skip` too. Only a test that
// finds out in its body (a helper starting a server for it) uses `skipUnless(t, …)`.

/** CI set, and not to a "no" (CI services set it to true). */
function onCi(): boolean {
  return !['', '0', 'false'].includes((process.env.CI ?? '').trim().toLowerCase());
}

/** Whether a missing server may skip its tests instead of failing them (see above). */
function skipsAllowed(): boolean {
  return process.env.RAMPART_ALLOW_SKIP === '1' && !onCi();
}

function notInstalled(name: ServerName): string {
  return `${name} is not installed (looked in ${BINARIES[name].candidates.join(', ')} and PATH); run bash ${BINARIES[name].script}`;
}

/**
 * The `skip` option of a test or describe that needs `names`: the reason when one is missing
 * and skips are allowed; false otherwise — then the test runs, and fails where it starts the
 * server (requireBinary), saying what to install.
 */
export function skipUnlessInstalled(...names: ServerName[]): string | false {
  const missing = names.filter((name) => findBinary(name) === undefined);
  if (missing.length === 0 || !skipsAllowed()) return false;
  const scripts = [...new Set(missing.map((name) => `bash ${BINARIES[name].script}`))];
  return `not installed: ${missing.join(', ')}; run ${scripts.join(' and ')} (skipped: RAMPART_ALLOW_SKIP=1)`;
}

/**
 * For a test that finds out in its body that it cannot run here: false when `available`;
 * otherwise skips `t` (true: the test returns) when skips are allowed, or throws naming
 * `missing` (what is missing and how to get it).
 */
export function skipUnless(t: Pick<TestContext, 'skip'>, available: boolean, missing: string): boolean {
  if (available) return false;
  if (!skipsAllowed())
    throw new Error(
      onCi()
        ? `${missing} (on CI every server must be installed)`
        : `${missing}, or set RAMPART_ALLOW_SKIP=1 to skip this test`,
    );
  t.skip(`${missing} (skipped: RAMPART_ALLOW_SKIP=1)`);
  return true;
}

/** The binary; undefined when `t` was skipped for want of it (skipUnless). */
export function requireBinary(t: Pick<TestContext, 'skip'>, name: ServerName): string | undefined {
  const binary = findBinary(name);
  return skipUnless(t, binary !== undefined, notInstalled(name)) ? undefined : binary;
}

/**
 * A loopback port that was free a moment ago, for a server a test starts: drawn below the
 * kernel's ephemeral range, as the local provider draws its nodes' ports (CI once lost an
 * etcd cluster start to a port from port 0 taken by an outgoing connection).
 */
export { freePort };

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

export interface StartSpec {
  readonly name: ServerName;
  readonly binary: string;
  readonly dir: string;
  readonly port: number;
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** Path answering 200 once the server is usable. */
  readonly readyPath: string;
  /** Replaces the plain-HTTP check of `readyPath` (servers that answer only over TLS). */
  readonly ready?: () => Promise<boolean>;
  readonly readyTimeoutMs: number;
  /** Grace after SIGTERM before SIGKILL. */
  readonly stopGraceMs: number;
  /** stop() leaves the dir in place (a member stopped and started again keeps its data). */
  readonly keepDir?: boolean;
}

/** Spawns a server in its own process group, killed when the test process exits. */
export async function startServer(spec: StartSpec): Promise<RunningServer> {
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
    if (spec.keepDir) return;
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
      if (spec.ready) {
        if (await spec.ready()) break;
      } else {
        const response = await fetch(`${url}${spec.readyPath}`, { signal: AbortSignal.timeout(1000) });
        await response.arrayBuffer();
        if (response.ok) break;
      }
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

export interface AlertmanagerOptions {
  /** Every request must carry this user and password (its web config's basic_auth_users). */
  readonly basicAuth?: { readonly user: string; readonly password: string; readonly bcryptHash: string };
}

/**
 * Starts an Alertmanager with clustering off and one receiver that notifies nobody (alerts are
 * read back through its API); resolves once /-/ready answers, with the server stopped after
 * test `t`. Undefined when the test was skipped (see requireBinary).
 */
export async function startAlertmanager(
  t: TestContext,
  options: AlertmanagerOptions = {},
): Promise<RunningServer | undefined> {
  const binary = requireBinary(t, 'prometheus-alertmanager');
  if (binary === undefined) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'rampart-alertmanager-'));
  const auth = options.basicAuth;
  if (auth !== undefined)
    writeFileSync(join(dir, 'web.yml'), `basic_auth_users:\n  ${auth.user}: '${auth.bcryptHash}'\n`);
  const config = [
    'route:',
    '  receiver: nobody',
    '  group_wait: 1s',
    'receivers:',
    '  - name: nobody',
    '',
  ].join('\n');
  writeFileSync(join(dir, 'alertmanager.yml'), config);
  const port = await freePort();
  const server = await startServer({
    name: 'prometheus-alertmanager',
    binary,
    dir,
    port,
    args: [
      `--config.file=${join(dir, 'alertmanager.yml')}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      // No gossip port: several test servers (and a packaged one) may run on this machine.
      '--cluster.listen-address=',
      '--log.level=warn',
      ...(auth !== undefined ? [`--web.config.file=${join(dir, 'web.yml')}`] : []),
    ],
    readyPath: '/-/ready',
    ...(auth !== undefined
      ? {
          ready: async () => {
            const basic = Buffer.from(`${auth.user}:${auth.password}`).toString('base64');
            const response = await fetch(`http://127.0.0.1:${port}/-/ready`, {
              headers: { authorization: `Basic ${basic}` },
              signal: AbortSignal.timeout(1000),
            });
            await response.arrayBuffer();
            return response.ok;
          },
        }
      : {}),
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

export interface EtcdTlsFiles {
  /** CA that signed the member's and the client's certificates (PEM). */
  readonly ca: string;
  /** Client certificate and key for Rampart (PEM). */
  readonly cert: string;
  readonly key: string;
}

export interface EtcdMember {
  readonly name: string;
  /** Client URL, `http://127.0.0.1:PORT` (or https with TLS). */
  readonly endpoint: string;
  readonly running: boolean;
  /** Stops the member (SIGTERM, then SIGKILL), keeping its data. */
  stop(): Promise<void>;
  /** Starts it again on the same ports and data; resolves once it listens (not once healthy). */
  start(): Promise<void>;
  logTail(lines?: number): string;
}

export interface RunningEtcd {
  readonly endpoints: readonly string[];
  readonly members: readonly EtcdMember[];
  /** Present when started with TLS: files for the client side. */
  readonly tls?: EtcdTlsFiles | undefined;
  /** Waits until every running member reports healthy (the cluster has a leader). */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** Stops every member and removes every file. Idempotent. */
  stop(): Promise<void>;
}

/**
 * What the etcd helpers need of a test: a test's context, or (for one server shared by a
 * whole file) `{ after, skip }` built from node:test's module-level `after`.
 */
export type HookContext = Pick<TestContext, 'after' | 'skip'>;

export interface EtcdOptions {
  /** Serve clients over TLS with client-certificate authentication (a throwaway CA). */
  readonly tls?: boolean;
  /** Keep member data on disk (the temp dir) instead of tmpfs: fsync costs what it costs. */
  readonly onDisk?: boolean;
}

/** Where member data goes: tmpfs when there is one (etcd 3.4 has no --unsafe-no-fsync). */
function etcdBaseDir(): string {
  return existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
}

/** A throwaway CA, a server certificate for 127.0.0.1 and a client certificate, made by openssl. */
function makeEtcdCertificates(dir: string): EtcdTlsFiles & { serverCert: string; serverKey: string } {
  const f = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.crt'),
    '-days',
    '2',
    '-subj',
    '/CN=rampart test CA',
  );
  const sign = (name: string, cn: string, ext: string) => {
    writeFileSync(f(`${name}.ext`), ext);
    openssl('req', ...ec, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${cn}`);
    openssl(
      'x509',
      '-req',
      '-in',
      f(`${name}.csr`),
      '-CA',
      f('ca.crt'),
      '-CAkey',
      f('ca.key'),
      '-CAcreateserial',
      '-out',
      f(`${name}.crt`),
      '-days',
      '2',
      '-extfile',
      f(`${name}.ext`),
    );
  };
  sign(
    'server',
    '127.0.0.1',
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n',
  );
  sign('client', 'rampart', 'extendedKeyUsage=clientAuth\n');
  return {
    ca: f('ca.crt'),
    cert: f('client.crt'),
    key: f('client.key'),
    serverCert: f('server.crt'),
    serverKey: f('server.key'),
  };
}

/**
 * Starts `size` etcd members on loopback (free client, peer and metrics ports; data on
 * tmpfs), as one cluster; resolves once every member is healthy, with everything stopped and
 * removed after test `t`. Undefined when the test was skipped (see requireBinary).
 */
async function startEtcdMembers(
  t: HookContext,
  size: number,
  options: EtcdOptions,
): Promise<RunningEtcd | undefined> {
  const binary = requireBinary(t, 'etcd');
  if (binary === undefined) return undefined;
  const dir = mkdtempSync(join(options.onDisk ? tmpdir() : etcdBaseDir(), 'rampart-etcd-'));
  liveDirs.add(dir);
  const certs = options.tls ? makeEtcdCertificates(dir) : undefined;
  const scheme = certs ? 'https' : 'http';
  const specs = [];
  for (let i = 0; i < size; i++)
    specs.push({
      name: `m${i}`,
      client: await freePort(),
      peer: await freePort(),
      metrics: await freePort(),
    });
  const cluster = specs.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(',');
  const token = `rampart-${process.pid}-${Date.now()}`;
  const members = specs.map((m) => {
    const memberDir = join(dir, m.name);
    mkdirSync(memberDir, { recursive: true });
    const endpoint = `${scheme}://127.0.0.1:${m.client}`;
    const args = [
      `--name=${m.name}`,
      `--data-dir=${join(memberDir, 'data')}`,
      `--listen-client-urls=${endpoint}`,
      `--advertise-client-urls=${endpoint}`,
      `--listen-peer-urls=http://127.0.0.1:${m.peer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${m.peer}`,
      `--listen-metrics-urls=http://127.0.0.1:${m.metrics}`,
      `--initial-cluster=${cluster}`,
      '--initial-cluster-state=new',
      `--initial-cluster-token=${token}`,
      '--logger=zap',
      '--log-level=warn',
      ...(certs
        ? [
            `--cert-file=${certs.serverCert}`,
            `--key-file=${certs.serverKey}`,
            `--trusted-ca-file=${certs.ca}`,
            '--client-cert-auth',
          ]
        : []),
    ];
    let server: RunningServer | undefined;
    const member: EtcdMember = {
      name: m.name,
      endpoint,
      get running() {
        return server !== undefined;
      },
      stop: async () => {
        const s = server;
        server = undefined;
        await s?.stop();
      },
      start: async () => {
        if (server) return;
        server = await startServer({
          name: 'etcd',
          binary,
          dir: memberDir,
          port: m.metrics,
          args,
          // /metrics answers as soon as the member runs; /health only once it has a leader.
          readyPath: '/metrics',
          readyTimeoutMs: 30_000,
          stopGraceMs: 5000,
          keepDir: true,
        });
      },
      logTail: (lines = 30) => {
        try {
          return readFileSync(join(memberDir, 'server.log'), 'utf8')
            .trimEnd()
            .split('\n')
            .slice(-lines)
            .join('\n');
        } catch {
          return '(no log)';
        }
      },
    };
    return { member, metrics: m.metrics };
  });
  let stopped = false;
  const etcd: RunningEtcd = {
    endpoints: members.map((m) => m.member.endpoint),
    members: members.map((m) => m.member),
    tls: certs ? { ca: certs.ca, cert: certs.cert, key: certs.key } : undefined,
    waitHealthy: async (timeoutMs = 30_000) => {
      const deadline = Date.now() + timeoutMs;
      for (const { member, metrics } of members) {
        if (!member.running) continue;
        for (;;) {
          try {
            const r = await fetch(`http://127.0.0.1:${metrics}/health`, {
              signal: AbortSignal.timeout(1000),
            });
            const body = (await r.json()) as { health?: string };
            if (r.ok && body.health === 'true') break;
          } catch {
            // Not yet.
          }
          if (Date.now() > deadline)
            throw new Error(
              `etcd member ${member.name} not healthy within ${timeoutMs} ms:\n${member.logTail()}`,
            );
          await delay(100);
        }
      }
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await Promise.all(members.map((m) => m.member.stop()));
      rmSync(dir, { recursive: true, force: true });
      liveDirs.delete(dir);
    },
  };
  t.after(() => etcd.stop());
  try {
    await Promise.all(members.map((m) => m.member.start()));
    await etcd.waitHealthy();
  } catch (e) {
    await etcd.stop();
    throw e;
  }
  return etcd;
}

/**
 * Starts one etcd member on free loopback ports with its data on tmpfs (`/dev/shm` when it
 * exists); with `{ tls: true }` clients need the returned CA, certificate and key.
 */
export function startEtcd(t: HookContext, options: EtcdOptions = {}): Promise<RunningEtcd | undefined> {
  return startEtcdMembers(t, 1, options);
}

/** Starts a cluster of `size` members (3 for the fault tests), each stoppable on its own. */
export function startEtcdCluster(
  t: HookContext,
  size = 3,
  options: EtcdOptions = {},
): Promise<RunningEtcd | undefined> {
  return startEtcdMembers(t, size, options);
}
