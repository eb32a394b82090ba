// Starts a real OpenStack (Zed, Debian's python3-* packages) for a test file, on loopback ports
// with its own temp dir: RabbitMQ, Keystone, Placement, Glance, Neutron (API only: no agents;
// Nova asks it for ports on every delete), Nova (API, conductor, scheduler, compute with the
// fake virt driver) and, when asked, Heat (API and engine). The databases live in a MariaDB
// server of the bed's own (Debian's mariadb-server, started here without systemd, on a unix
// socket in the bed's dir, no TCP): on SQLite, Nova's four processes writing one file failed
// calls with "database is locked" under load, whatever the busy timeout (a WAL transaction that
// read before it writes gets SQLITE_BUSY at once, without waiting).
//
// Creating the schemas takes minutes (every manage command imports the whole service), so it
// is done once into a template under the cache (keyed by TEMPLATE: a stopped MariaDB data dir),
// and each start copies the template and rewrites the two things in it that name a place:
// Keystone's identity endpoint and Nova's cell mappings (message queue URL, database socket).
// Neutron's schema comes from its models, then is stamped at head (its migrations take minutes).

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { acquireSharedBed } from './openstack-shared-bed.ts';
import {
  CACHE,
  freePort,
  type RunningServer,
  requireBinary,
  skipUnlessInstalled,
  startServer,
} from './servers.ts';

const run = promisify(execFile);
const RUN_PY = fileURLToPath(new URL('./openstack/run.py', import.meta.url));
/** Bumped whenever the template's making changes: a new one is built beside the old. */
const TEMPLATE = 'zed-mariadb-2';
const TEMPLATE_DIR = path.join(CACHE, 'openstack', `template-${TEMPLATE}`);
/** The paste files of Debian's service packages (not installed: they run debconf hooks). */
const ETC = path.join(CACHE, 'openstack', 'etc');
const RABBITMQ = '/usr/lib/rabbitmq/bin/rabbitmq-server';
const MARIADBD = '/usr/sbin/mariadbd';
export const ADMIN_PASSWORD = 'rampart-test-admin';
export const REGION = 'RegionOne';
export const FLAVOR = 'rampart.tiny';
export const IMAGE = 'rampart-blank';
/** The provider's cloud: a user of the caller's project (openTenant), its password in `secretFile`. */
export const CLOUD = 'rampart-test';
/** The admin's cloud, in the same project (the machines fake reads servers' user data, admin-only). */
export const ADMIN_CLOUD = 'rampart-admin';

export interface OpenStackOptions {
  /** Start Heat's API and engine too. */
  readonly heat?: boolean;
  /** Keystone token lifetime, seconds. Default 3600. */
  readonly tokenSeconds?: number;
  /** Nova's instances quota of the project. Default 20. */
  readonly instanceQuota?: number;
}

export interface OpenStackBed {
  readonly dir: string;
  /** `http://127.0.0.1:PORT/v3` */
  readonly authUrl: string;
  /** A clouds.yaml with clouds CLOUD (no password: see secretFile) and ADMIN_CLOUD. */
  readonly cloudsFile: string;
  /** The file holding the password of CLOUD's user (the provider's `secretFile`). */
  readonly secretFile: string;
  /** The id of the caller's project, where its servers are. */
  readonly projectId: string;
  /** Sets CLOUD's user's password (Keystone revokes its tokens) and writes it to secretFile. */
  rotatePassword(): Promise<string>;
  /** Sets the project's instances quota. */
  setInstanceQuota(instances: number): Promise<void>;
  /**
   * Adds a region to the catalog whose endpoints are RegionOne's, except those given (a fault
   * proxy in front of Nova: `{ compute: proxyUrl + '/v2.1' }`).
   */
  addRegion(
    name: string,
    endpoints: Readonly<Partial<Record<'compute' | 'image' | 'network', string>>>,
  ): Promise<void>;
  readonly urls: Readonly<Record<'keystone' | 'nova' | 'glance' | 'neutron' | 'placement', string>> & {
    readonly heat?: string | undefined;
  };
  /** A token for the admin project, issued now. */
  token(): Promise<string>;
  logTail(service: string, lines?: number): string;
  stop(): Promise<void>;
}

interface Ports {
  readonly rabbit: number;
  readonly rabbitDist: number;
  readonly epmd: number;
  readonly keystone: number;
  readonly placement: number;
  readonly glance: number;
  readonly neutron: number;
  readonly nova: number;
  readonly heat: number;
}

const authtoken = (p: Ports) => `[keystone_authtoken]
www_authenticate_uri = http://127.0.0.1:${p.keystone}/v3
auth_url = http://127.0.0.1:${p.keystone}/v3
auth_type = password
username = admin
password = ${ADMIN_PASSWORD}
project_name = admin
user_domain_name = Default
project_domain_name = Default
region_name = ${REGION}
# Validated tokens are cached for 10 s only: a revoked token is refused soon after (the
# re-issue tests), while a burst of calls does not ask Keystone once per call.
token_cache_time = 10
# Nova sends its requests to Neutron with an X-Service-Token, and no user here has a service role.
service_token_roles_required = false
`;

const serviceAuth = (section: string, p: Ports) => `[${section}]
auth_type = password
auth_url = http://127.0.0.1:${p.keystone}/v3
username = admin
password = ${ADMIN_PASSWORD}
project_name = admin
user_domain_name = Default
project_domain_name = Default
region_name = ${REGION}
valid_interfaces = public
`;

const socketOf = (dir: string) => path.join(dir, 'mysql', 'sock');
/** A service's database: a MariaDB database of the bed's server, through its socket. */
// read_timeout: a read that never returns fails the call (retried) rather than hanging it.
const db = (dir: string, name: string) =>
  `mysql+pymysql://openstack:openstack@localhost/${name}?unix_socket=${socketOf(dir)}&charset=utf8mb4&read_timeout=60`;
const DATABASES = ['keystone', 'placement', 'glance', 'neutron', 'nova_api', 'nova', 'nova_cell0', 'heat'];

/** Every config file of the bed, by name. */
function configs(dir: string, p: Ports, o: OpenStackOptions): Record<string, string> {
  const rabbit = `rabbit://guest:guest@127.0.0.1:${p.rabbit}/`;
  // Services started by startOpenStack log to log/<program>.log (--log-file); these two are WSGI apps.
  const common = (log: string) => `debug = false
log_dir = ${path.join(dir, 'log')}
log_file = ${log}.log
`;
  const quiet = 'debug = false\n';
  return {
    // Durability is traded for speed (a bed lives minutes): no fsync, no binary log.
    'mysql/my.cnf': `[mariadbd]
user = root
datadir = ${path.join(dir, 'mysql', 'data')}
socket = ${socketOf(dir)}
pid-file = ${path.join(dir, 'mysql', 'pid')}
log-error = ${path.join(dir, 'log', 'mariadb.log')}
skip-networking
skip-name-resolve
skip-log-bin
performance_schema = OFF
innodb_buffer_pool_size = 64M
innodb_log_file_size = 16M
innodb_flush_log_at_trx_commit = 0
innodb_doublewrite = 0
innodb_flush_method = nosync
max_connections = 1000
character-set-server = utf8mb4
collation-server = utf8mb4_general_ci
`,
    'rabbitmq.conf': `listeners.tcp.default = 127.0.0.1:${p.rabbit}
loopback_users = none
log.console = true
log.console.level = warning
`,
    enabled_plugins: '[].\n',
    'keystone.conf': `[DEFAULT]
${common('keystone')}
[database]
connection = ${db(dir, 'keystone')}
[token]
provider = fernet
expiration = ${o.tokenSeconds ?? 3600}
[fernet_tokens]
key_repository = ${path.join(dir, 'fernet-keys')}
[fernet_receipts]
key_repository = ${path.join(dir, 'fernet-keys')}
[credential]
key_repository = ${path.join(dir, 'credential-keys')}
[cache]
enabled = true
backend = dogpile.cache.memory
[identity]
# bcrypt's cheapest cost: users made here are checked in milliseconds, not a quarter second.
password_hash_rounds = 4
`,
    'placement/placement.conf': `[DEFAULT]
${common('placement')}
[placement_database]
connection = ${db(dir, 'placement')}
[api]
auth_strategy = keystone
${authtoken(p)}`,
    'glance-api.conf': `[DEFAULT]
${quiet}
bind_host = 127.0.0.1
bind_port = ${p.glance}
workers = 0
enabled_backends = fs:file
[glance_store]
default_backend = fs
[fs]
filesystem_store_datadir = ${path.join(dir, 'glance', 'images')}
[os_glance_staging_store]
filesystem_store_datadir = ${path.join(dir, 'glance', 'staging')}
[os_glance_tasks_store]
filesystem_store_datadir = ${path.join(dir, 'glance', 'tasks')}
[database]
connection = ${db(dir, 'glance')}
[paste_deploy]
flavor = keystone
config_file = ${path.join(ETC, 'glance-api-paste.ini')}
[oslo_concurrency]
lock_path = ${path.join(dir, 'locks')}
${authtoken(p)}`,
    'neutron.conf': `[DEFAULT]
${quiet}
bind_host = 127.0.0.1
bind_port = ${p.neutron}
core_plugin = ml2
service_plugins =
auth_strategy = keystone
# The API in the server's own process: with a forked API worker, a read of a new database
# connection once waited forever (eventlet never woke it though MariaDB's greeting had come),
# and Nova's calls to Neutron hung behind it.
api_workers = 0
rpc_workers = 0
rpc_state_report_workers = 0
transport_url = ${rabbit}
api_paste_config = ${path.join(ETC, 'neutron-api-paste.ini')}
notify_nova_on_port_status_changes = false
notify_nova_on_port_data_changes = false
state_path = ${path.join(dir, 'neutron')}
[database]
connection = ${db(dir, 'neutron')}
[ml2]
type_drivers = flat
tenant_network_types =
mechanism_drivers =
extension_drivers =
[oslo_concurrency]
lock_path = ${path.join(dir, 'locks')}
[oslo_messaging_notifications]
driver = noop
${authtoken(p)}`,
    'nova.conf': `[DEFAULT]
${quiet}
transport_url = ${rabbit}
compute_driver = fake.FakeDriver
host = rampart-fake-compute
my_ip = 127.0.0.1
state_path = ${path.join(dir, 'nova')}
instances_path = ${path.join(dir, 'nova', 'instances')}
osapi_compute_listen = 127.0.0.1
osapi_compute_listen_port = ${p.nova}
osapi_compute_workers = 1
enabled_apis = osapi_compute
[api]
auth_strategy = keystone
[wsgi]
api_paste_config = ${path.join(ETC, 'nova-api-paste.ini')}
[api_database]
connection = ${db(dir, 'nova_api')}
[database]
connection = ${db(dir, 'nova')}
[conductor]
workers = 1
[scheduler]
workers = 1
discover_hosts_in_cells_interval = 2
[filter_scheduler]
enabled_filters = ComputeFilter,ServerGroupAntiAffinityFilter,ServerGroupAffinityFilter
[quota]
instances = ${o.instanceQuota ?? 20}
cores = 200
ram = 512000
[oslo_concurrency]
lock_path = ${path.join(dir, 'locks')}
[oslo_messaging_notifications]
driver = noop
[glance]
region_name = ${REGION}
valid_interfaces = public
${authtoken(p)}
${serviceAuth('placement', p)}
${serviceAuth('neutron', p)}# A call to Neutron that hangs fails after 30 s instead of holding Nova's request forever.
timeout = 30
`,
    'heat.conf': `[DEFAULT]
${quiet}
transport_url = ${rabbit}
num_engine_workers = 1
heat_metadata_server_url = http://127.0.0.1:${p.heat}
heat_waitcondition_server_url = http://127.0.0.1:${p.heat}/v1/waitcondition
stack_user_domain_name = Default
stack_domain_admin = admin
stack_domain_admin_password = ${ADMIN_PASSWORD}
# Trusts, as clouds use (password would need every stack call to carry the user's password,
# X-Auth-Key: a ResourceGroup's nested stacks act later on the user's behalf).
deferred_auth_method = trusts
region_name_for_services = ${REGION}
[heat_api]
bind_host = 127.0.0.1
bind_port = ${p.heat}
workers = 1
[database]
connection = ${db(dir, 'heat')}
[paste_deploy]
api_paste_config = ${path.join(ETC, 'heat-api-paste.ini')}
[oslo_messaging_notifications]
driver = noop
[clients]
endpoint_type = publicURL
[trustee]
auth_type = password
auth_url = http://127.0.0.1:${p.keystone}/v3
username = admin
password = ${ADMIN_PASSWORD}
user_domain_name = Default
${authtoken(p)}`,
  };
}

function writeConfigs(dir: string, p: Ports, o: OpenStackOptions): void {
  for (const [name, text] of Object.entries(configs(dir, p, o))) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  for (const sub of [
    'log',
    'locks',
    'nova/instances',
    'glance/images',
    'glance/staging',
    'glance/tasks',
    'neutron',
  ])
    mkdirSync(path.join(dir, sub), { recursive: true });
}

async function py(dir: string, program: string, ...args: string[]): Promise<string> {
  try {
    const { stdout } = await run('nice', ['-n', '5', '/usr/bin/python3', RUN_PY, program, ...args], {
      cwd: dir,
      maxBuffer: 16 << 20,
      env: { ...process.env, OS_PLACEMENT_CONFIG_DIR: path.join(dir, 'placement') },
    });
    return stdout;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(
      `${program} ${args.join(' ')} failed: ${err.message}\n${(err.stderr ?? '').slice(-3000)}`,
    );
  }
}

/** Builds the template's databases and keys once (a lock dir keeps two test files from racing). */
async function ensureTemplate(): Promise<void> {
  if (existsSync(path.join(TEMPLATE_DIR, 'done'))) return;
  const lock = `${TEMPLATE_DIR}.lock`;
  mkdirSync(path.dirname(TEMPLATE_DIR), { recursive: true });
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(path.join(lock, 'pid'), String(process.pid));
      break;
    } catch {
      if (existsSync(path.join(TEMPLATE_DIR, 'done'))) return;
      // A builder that died holding the lock leaves it behind: taken over.
      if (!alive(Number(readFileSync(path.join(lock, 'pid'), { encoding: 'utf8', flag: 'a+' }) || 0)))
        rmSync(lock, { recursive: true, force: true });
      else await sleep(1000);
    }
  }
  try {
    if (existsSync(path.join(TEMPLATE_DIR, 'done'))) return;
    // What a builder that died left half made.
    for (const f of readdirSync(path.dirname(TEMPLATE_DIR)))
      if (f.startsWith(`${path.basename(TEMPLATE_DIR)}.building-`))
        rmSync(path.join(path.dirname(TEMPLATE_DIR), f), { recursive: true, force: true });
    const dir = mkdtempSync(`${TEMPLATE_DIR}.building-`);
    // Placeholder ports: every place they appear is rewritten at each start.
    const p: Ports = {
      rabbit: 1,
      rabbitDist: 2,
      epmd: 3,
      keystone: 4,
      placement: 5,
      glance: 6,
      neutron: 7,
      nova: 8,
      heat: 9,
    };
    writeConfigs(dir, p, {});
    await run('mariadb-install-db', [
      `--defaults-file=${path.join(dir, 'mysql', 'my.cnf')}`,
      '--auth-root-authentication-method=socket',
      '--skip-test-db',
    ]).catch((e) => {
      throw new Error(`mariadb-install-db: ${(e as Error).message}`);
    });
    const mariadb = await startMariadb(dir);
    await sql(
      dir,
      [
        ...DATABASES.map((d) => `CREATE DATABASE ${d};`),
        "CREATE USER 'openstack'@'localhost' IDENTIFIED BY 'openstack';",
        "GRANT ALL PRIVILEGES ON *.* TO 'openstack'@'localhost';",
      ].join('\n'),
    );
    const kc = ['--config-file', path.join(dir, 'keystone.conf')];
    const nc = ['--config-file', path.join(dir, 'nova.conf')];
    const steps = await Promise.allSettled([
      (async () => {
        await py(dir, 'keystone-manage', ...kc, 'db_sync');
        await py(
          dir,
          'keystone-manage',
          ...kc,
          'fernet_setup',
          '--keystone-user',
          'root',
          '--keystone-group',
          'root',
        );
        await py(
          dir,
          'keystone-manage',
          ...kc,
          'credential_setup',
          '--keystone-user',
          'root',
          '--keystone-group',
          'root',
        );
        await py(
          dir,
          'keystone-manage',
          ...kc,
          'bootstrap',
          '--bootstrap-password',
          ADMIN_PASSWORD,
          '--bootstrap-public-url',
          'http://127.0.0.1:4/v3',
          '--bootstrap-region-id',
          REGION,
        );
      })(),
      (async () => {
        await py(dir, 'nova-manage', ...nc, 'api_db', 'sync');
        await py(
          dir,
          'nova-manage',
          ...nc,
          'cell_v2',
          'map_cell0',
          '--database_connection',
          db(dir, 'nova_cell0'),
        );
        await py(dir, 'nova-manage', ...nc, 'cell_v2', 'create_cell', '--name', 'cell1', '--verbose');
        await py(dir, 'nova-manage', ...nc, 'db', 'sync');
      })(),
      (async () => {
        await py(
          dir,
          'placement-manage',
          '--config-file',
          path.join(dir, 'placement', 'placement.conf'),
          'db',
          'sync',
        );
        await py(dir, 'glance-manage', '--config-file', path.join(dir, 'glance-api.conf'), 'db_sync');
        await run('nice', [
          '-n',
          '5',
          '/usr/bin/python3',
          '-c',
          [
            'import sqlalchemy',
            'from neutron.db.migration.models import head',
            'from neutron_lib.db import model_base',
            `model_base.BASEV2.metadata.create_all(sqlalchemy.create_engine(${JSON.stringify(db(dir, 'neutron'))}))`,
          ].join('\n'),
        ]);
        await py(dir, 'neutron-db-manage', '--config-file', path.join(dir, 'neutron.conf'), 'stamp', 'heads');
        await py(dir, 'heat-manage', '--config-file', path.join(dir, 'heat.conf'), 'db_sync');
      })(),
    ]);
    // A clean shutdown (SIGTERM): the data dir is then copied as it is.
    await mariadb.stop();
    const failed = steps.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed.length > 0) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(failed.map((f) => (f.reason as Error).message).join('\n'));
    }
    writeFileSync(path.join(dir, 'template-dir'), dir);
    writeFileSync(path.join(dir, 'done'), `${new Date().toISOString()}\n`);
    rmSync(TEMPLATE_DIR, { recursive: true, force: true });
    renameSync(dir, TEMPLATE_DIR);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Points the copied databases at this bed: its Keystone URL, its queue, its socket. */
async function rewriteTemplate(dir: string, p: Ports): Promise<void> {
  const from = readFileSync(path.join(dir, 'template-dir'), 'utf8').trim();
  await sql(
    dir,
    `UPDATE keystone.endpoint SET url = '${`http://127.0.0.1:${p.keystone}/v3`}';
UPDATE nova_api.cell_mappings SET transport_url = 'rabbit://guest:guest@127.0.0.1:${p.rabbit}/'
  WHERE transport_url != 'none:///';
UPDATE nova_api.cell_mappings SET database_connection = REPLACE(database_connection, '${from}', '${dir}');`,
  );
}

/** Starts the bed's MariaDB on its socket (no TCP), with the data dir the bed's dir holds. */
async function startMariadb(dir: string): Promise<RunningServer> {
  if (!existsSync(MARIADBD))
    throw new Error(`${MARIADBD} is missing: run scripts/testbed/openstack.sh (it installs mariadb-server)`);
  const socket = socketOf(dir);
  return startServer({
    name: 'openstack-python',
    binary: MARIADBD,
    dir: path.join(dir, 'mysql'),
    port: 0,
    args: [`--defaults-file=${path.join(dir, 'mysql', 'my.cnf')}`],
    readyPath: '/',
    ready: () =>
      new Promise<boolean>((resolve) => {
        const s = createConnection({ path: socket });
        s.once('connect', () => {
          s.destroy();
          resolve(true);
        });
        s.once('error', () => resolve(false));
      }),
    readyTimeoutMs: 60_000,
    // SIGTERM is MariaDB's clean shutdown: the template's data dir is copied after it.
    stopGraceMs: 30_000,
    keepDir: true,
  }).catch((e) => {
    throw new Error(`mariadb: ${(e as Error).message}\n${tailOf(path.join(dir, 'log', 'mariadb.log'))}`);
  });
}

/** Runs SQL as MariaDB's root (socket authentication: the test runs as that OS user). */
async function sql(dir: string, statements: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = execFile(
      'mariadb',
      ['--no-defaults', '-S', socketOf(dir), '-u', 'root', '--batch'],
      (e, _out, err) => (e ? reject(new Error(`mariadb: ${e.message}\n${err}`)) : resolve()),
    );
    child.stdin?.end(statements);
  });
}

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** One admin call of the bed's setup; a 5xx (a service busy under load) is tried again. */
async function api(url: string, token: string, method: string, body?: unknown): Promise<unknown> {
  for (let attempt = 1; ; attempt++) {
    const r = await fetch(url, {
      method,
      headers: { 'x-auth-token': token, 'content-type': 'application/json', accept: 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    if (r.ok) return text ? JSON.parse(text) : undefined;
    if (r.status < 500 || attempt >= 5)
      throw new Error(`${method} ${url}: HTTP ${r.status}: ${text.slice(0, 500)}`);
    await sleep(1000 * attempt);
  }
}

/** A token of the admin, for project admin or the project given by its id. */
async function issueToken(authUrl: string, projectId?: string): Promise<string> {
  const r = await fetch(`${authUrl}/auth/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: 'admin', domain: { name: 'Default' }, password: ADMIN_PASSWORD } },
        },
        scope: {
          project: projectId ? { id: projectId } : { name: 'admin', domain: { name: 'Default' } },
        },
      },
    }),
  });
  await r.arrayBuffer();
  if (r.status !== 201) throw new Error(`Keystone refused the admin: HTTP ${r.status}`);
  return r.headers.get('x-subject-token')!;
}

/** A running bed's services, without a project: what a shared bed's clients are told. */
export interface BedCore {
  readonly dir: string;
  readonly authUrl: string;
  readonly urls: OpenStackBed['urls'];
}

/**
 * Starts a bed of the caller's own, stopped after `t` (the caller's file: call it from a
 * `before`-like first test or with the file's context), with a project for the caller.
 * Undefined when skipped (not installed, RAMPART_ALLOW_SKIP).
 */
export async function startOpenStack(
  t: Pick<TestContext, 'skip' | 'after'>,
  o: OpenStackOptions = {},
): Promise<OpenStackBed | undefined> {
  let stops: (() => Promise<void>) | undefined;
  const stop = async () => stops?.();
  t.after(stop);
  const core = await startBedCore({ skip: t.skip, after: (fn: () => Promise<void>) => (stops = fn) }, o);
  if (core === undefined) return undefined;
  return { ...(await openTenant(core, core.dir)), stop };
}

/** Starts a bed's services (see startOpenStack), stopped after `t`. */
export async function startBedCore(
  t: Pick<TestContext, 'skip'> & { after(fn: () => Promise<void>): void },
  o: OpenStackOptions = {},
): Promise<BedCore | undefined> {
  if (requireBinary(t, 'openstack-python') === undefined) return undefined;
  if (requireBinary(t, 'rabbitmq-server') === undefined) return undefined;
  await ensureTemplate();
  const dir = mkdtempSync(path.join(tmpdir(), 'rampart-openstack-'));
  cpSync(TEMPLATE_DIR, dir, { recursive: true });
  const p: Ports = {
    rabbit: await freePort(),
    rabbitDist: await freePort(),
    epmd: await freePort(),
    keystone: await freePort(),
    placement: await freePort(),
    glance: await freePort(),
    neutron: await freePort(),
    nova: await freePort(),
    heat: await freePort(),
  };
  writeConfigs(dir, p, o);
  const servers: RunningServer[] = [];
  const logs: Record<string, string> = {};
  const stop = async () => {
    // servers.ts waits for its children on unref'd timers: with nothing else left to do, the
    // test process would exit halfway through this stop and leave the bed's dir behind.
    const keepAlive = setInterval(() => undefined, 1000);
    try {
      await stopAll();
    } finally {
      clearInterval(keepAlive);
    }
  };
  const stopAll = async () => {
    for (const s of servers.reverse()) await s.stop();
    // epmd was started for this bed's RabbitMQ on a port of its own.
    await run('epmd', ['-port', String(p.epmd), '-kill']).catch(() => undefined);
    // The services' errors, for a failure's post-mortem (Nova's compute logs a harmless
    // "No DB access allowed" at every start).
    for (const service of [
      'nova-compute',
      'nova-conductor',
      'nova-scheduler',
      'nova-api',
      'neutron-server',
    ]) {
      const errors = tailOf(path.join(dir, 'log', `${service}.log`), 100_000)
        .split('\n')
        .filter(
          (l) =>
            / ERROR /.test(l) &&
            !/No DB access allowed/.test(l) &&
            !/ERROR \S+ +(File|\w+Error|Traceback|$)/.test(l),
        );
      if (errors.length > 0)
        console.error(`openstack test bed: ${service} logged errors:\n${errors.slice(-15).join('\n')}`);
    }
    // RAMPART_KEEP_OPENSTACK=1 keeps the configs and logs for a post-mortem.
    if (process.env.RAMPART_KEEP_OPENSTACK !== '1') rmSync(dir, { recursive: true, force: true });
    else console.error(`openstack test bed kept in ${dir}`);
  };
  t.after(stop);
  // The database first, stopped last (servers are stopped in the reverse order).
  servers.push(await startMariadb(dir));
  await rewriteTemplate(dir, p);
  const pyServer = async (name: string, args: string[], port: number, ready: () => Promise<boolean>) => {
    const sdir = path.join(dir, 'run', name);
    mkdirSync(sdir, { recursive: true });
    logs[name] = path.join(sdir, 'server.log');
    const s = await startServer({
      name: 'openstack-python',
      binary: '/usr/bin/python3',
      dir: sdir,
      port,
      args: [
        RUN_PY,
        ...args,
        ...(args[0] === 'serve' ? [] : ['--log-file', path.join(dir, 'log', `${name}.log`)]),
      ],
      env: {
        OS_KEYSTONE_CONFIG_FILES: path.join(dir, 'keystone.conf'),
        OS_PLACEMENT_CONFIG_DIR: path.join(dir, 'placement'),
        OS_NOVA_CONFIG_FILES: '',
      },
      readyPath: '/',
      ready,
      readyTimeoutMs: 180_000,
      stopGraceMs: 3000,
      keepDir: true,
    }).catch((e) => {
      throw new Error(`${name}: ${(e as Error).message}\n${tailOf(path.join(dir, 'log', `${name}.log`))}`);
    });
    servers.push(s);
    return s;
  };
  const httpReady =
    (port: number, p2 = '/') =>
    async () => {
      try {
        const r = await fetch(`http://127.0.0.1:${port}${p2}`, { signal: AbortSignal.timeout(2000) });
        await r.arrayBuffer();
        return r.status < 500;
      } catch {
        return false;
      }
    };
  const rabbitDir = path.join(dir, 'rabbit');
  mkdirSync(rabbitDir, { recursive: true });
  const rabbit = startServer({
    name: 'rabbitmq-server',
    binary: RABBITMQ,
    dir: rabbitDir,
    port: p.rabbit,
    args: [],
    env: {
      HOME: rabbitDir,
      RABBITMQ_NODENAME: `rampart-${p.rabbit}@localhost`,
      RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
      RABBITMQ_NODE_PORT: String(p.rabbit),
      RABBITMQ_DIST_PORT: String(p.rabbitDist),
      ERL_EPMD_PORT: String(p.epmd),
      ERL_EPMD_ADDRESS: '127.0.0.1',
      RABBITMQ_MNESIA_BASE: path.join(rabbitDir, 'mnesia'),
      RABBITMQ_LOG_BASE: path.join(rabbitDir, 'log'),
      RABBITMQ_CONFIG_FILE: path.join(dir, 'rabbitmq.conf'),
      RABBITMQ_ENABLED_PLUGINS_FILE: path.join(dir, 'enabled_plugins'),
      RABBITMQ_PID_FILE: path.join(rabbitDir, 'pid'),
    },
    readyPath: '/',
    ready: () => tcpOpen(p.rabbit),
    readyTimeoutMs: 120_000,
    stopGraceMs: 5000,
    keepDir: true,
  }).then((s) => {
    servers.push(s);
    logs.rabbitmq = path.join(rabbitDir, 'server.log');
    return s;
  });
  const keystone = pyServer(
    'keystone',
    ['serve', 'keystone', '127.0.0.1', String(p.keystone)],
    p.keystone,
    httpReady(p.keystone, '/v3'),
  );
  const ks = await keystone;
  const authUrl = `http://127.0.0.1:${p.keystone}/v3`;
  const admin = await issueToken(authUrl);
  const catalog: [string, string, number, string][] = [
    ['placement', 'placement', p.placement, ''],
    ['glance', 'image', p.glance, ''],
    ['neutron', 'network', p.neutron, ''],
    ['nova', 'compute', p.nova, '/v2.1'],
    ...(o.heat
      ? ([['heat', 'orchestration', p.heat, '/v1/%(tenant_id)s']] as [string, string, number, string][])
      : []),
  ];
  // keystonemiddleware and Nova look for internal endpoints; bootstrap made only the public one.
  const identity = (
    (await api(`${authUrl}/services?type=identity`, admin, 'GET')) as { services: { id: string }[] }
  ).services[0]!.id;
  for (const iface of ['internal', 'admin'])
    await api(`${authUrl}/endpoints`, admin, 'POST', {
      endpoint: { service_id: identity, interface: iface, region_id: REGION, url: authUrl },
    });
  for (const [name, type, port, suffix] of catalog) {
    const svc = (await api(`${authUrl}/services`, admin, 'POST', {
      service: { name, type, enabled: true },
    }).catch((e) => {
      throw new Error(`${(e as Error).message}\n${ks.logTail(60)}`);
    })) as { service: { id: string } };
    for (const iface of ['public', 'internal'])
      await api(`${authUrl}/endpoints`, admin, 'POST', {
        endpoint: {
          service_id: svc.service.id,
          interface: iface,
          region_id: REGION,
          url: `http://127.0.0.1:${port}${suffix}`,
        },
      });
  }
  await rabbit;
  const nc = ['--config-file', path.join(dir, 'nova.conf')];
  await Promise.all([
    pyServer(
      'placement',
      ['serve', 'placement', '127.0.0.1', String(p.placement)],
      p.placement,
      httpReady(p.placement),
    ),
    pyServer(
      'glance-api',
      ['glance-api', '--config-file', path.join(dir, 'glance-api.conf')],
      p.glance,
      httpReady(p.glance),
    ),
    pyServer(
      'neutron-server',
      ['neutron-server', '--config-file', path.join(dir, 'neutron.conf')],
      p.neutron,
      httpReady(p.neutron),
    ),
    pyServer('nova-api', ['nova-api', ...nc], p.nova, httpReady(p.nova)),
    pyServer('nova-conductor', ['nova-conductor', ...nc], 0, async () => true),
    pyServer('nova-scheduler', ['nova-scheduler', ...nc], 0, async () => true),
    ...(o.heat
      ? [
          pyServer(
            'heat-api',
            ['heat-api', '--config-file', path.join(dir, 'heat.conf')],
            p.heat,
            httpReady(p.heat),
          ),
          pyServer(
            'heat-engine',
            ['heat-engine', '--config-file', path.join(dir, 'heat.conf')],
            0,
            async () => true,
          ),
        ]
      : []),
  ]);
  await pyServer('nova-compute', ['nova-compute', ...nc], 0, async () => true);
  const nova = `http://127.0.0.1:${p.nova}/v2.1`;
  // The compute host is in a cell once the scheduler's periodic discovery mapped it.
  const deadline = Date.now() + 180_000;
  for (;;) {
    const h = (await api(`${nova}/os-hypervisors`, admin, 'GET').catch(() => ({ hypervisors: [] }))) as {
      hypervisors: { state?: string }[];
    };
    if (h.hypervisors.some((x) => x.state === 'up')) break;
    if (Date.now() > deadline)
      throw new Error(`nova-compute never came up:\n${tailOf(path.join(dir, 'log', 'nova-compute.log'))}`);
    await sleep(1000);
  }
  await api(`${nova}/flavors`, admin, 'POST', { flavor: { name: FLAVOR, ram: 64, vcpus: 1, disk: 1 } });
  const glance = `http://127.0.0.1:${p.glance}`;
  const image = (await api(`${glance}/v2/images`, admin, 'POST', {
    name: IMAGE,
    disk_format: 'raw',
    container_format: 'bare',
    visibility: 'public',
  })) as { id: string };
  const put = await fetch(`${glance}/v2/images/${image.id}/file`, {
    method: 'PUT',
    headers: { 'x-auth-token': admin, 'content-type': 'application/octet-stream' },
    body: Buffer.from('rampart blank image\n'),
  });
  await put.arrayBuffer();
  if (!put.ok) throw new Error(`image upload: HTTP ${put.status}`);
  return {
    dir,
    authUrl,
    urls: {
      keystone: authUrl,
      nova,
      glance,
      neutron: `http://127.0.0.1:${p.neutron}`,
      placement: `http://127.0.0.1:${p.placement}`,
      ...(o.heat ? { heat: `http://127.0.0.1:${p.heat}` } : {}),
    },
  };
}

/**
 * A project of its own on a bed, for one test file (beds are shared between files): the
 * provider's user (a member) with its password in a secret file, the admin made an admin of
 * the project too (the machines fake reads servers' user data, an admin-only field), and a
 * clouds.yaml naming both, in `dir`.
 */
export async function openTenant(core: BedCore, dir: string): Promise<Omit<OpenStackBed, 'stop'>> {
  const { authUrl } = core;
  const admin = await issueToken(authUrl);
  const suffix = randomBytes(4).toString('hex');
  const name = `rampart-${suffix}`;
  const project = (
    (await api(`${authUrl}/projects`, admin, 'POST', {
      project: { name, domain_id: 'default', enabled: true },
    })) as { project: { id: string } }
  ).project.id;
  const roles = ((await api(`${authUrl}/roles`, admin, 'GET')) as { roles: { id: string; name: string }[] })
    .roles;
  const role = (n: string) => roles.find((r) => r.name === n)!.id;
  const adminUser = ((await api(`${authUrl}/users?name=admin`, admin, 'GET')) as { users: { id: string }[] })
    .users[0]!.id;
  await api(`${authUrl}/projects/${project}/users/${adminUser}/roles/${role('admin')}`, admin, 'PUT');
  let password = `pw-${randomBytes(12).toString('hex')}`;
  const user = (
    (await api(`${authUrl}/users`, admin, 'POST', {
      user: { name, domain_id: 'default', password, default_project_id: project },
    })) as { user: { id: string } }
  ).user.id;
  await api(`${authUrl}/projects/${project}/users/${user}/roles/${role('member')}`, admin, 'PUT');
  const secretFile = path.join(dir, 'rampart-password');
  writeFileSync(secretFile, `${password}\n`, { mode: 0o600 });
  const cloudsFile = path.join(dir, 'clouds.yaml');
  writeFileSync(
    cloudsFile,
    `clouds:
  ${ADMIN_CLOUD}:
    auth:
      auth_url: ${authUrl}
      username: admin
      password: ${ADMIN_PASSWORD}
      project_name: ${name}
      user_domain_name: Default
      project_domain_name: Default
    region_name: ${REGION}
    interface: public
  ${CLOUD}:
    auth:
      auth_url: ${authUrl}
      username: ${name}
      project_name: ${name}
      user_domain_name: Default
      project_domain_name: Default
    region_name: ${REGION}
`,
  );
  const { nova, glance, neutron } = core.urls;
  return {
    dir: core.dir,
    authUrl,
    cloudsFile,
    urls: core.urls,
    secretFile,
    projectId: project,
    rotatePassword: async () => {
      password = `pw-${randomBytes(12).toString('hex')}`;
      await api(`${authUrl}/users/${user}`, await issueToken(authUrl), 'PATCH', { user: { password } });
      writeFileSync(secretFile, `${password}\n`);
      return password;
    },
    setInstanceQuota: async (instances) => {
      await api(`${nova}/os-quota-sets/${project}`, await issueToken(authUrl), 'PUT', {
        quota_set: { instances },
      });
    },
    addRegion: async (regionName, endpoints) => {
      const token = await issueToken(authUrl);
      await api(`${authUrl}/regions`, token, 'POST', { region: { id: regionName } });
      const own = { compute: nova, image: glance, network: neutron, ...endpoints };
      for (const [type, url] of Object.entries(own)) {
        const svc = (
          (await api(`${authUrl}/services?type=${type}`, token, 'GET')) as { services: { id: string }[] }
        ).services[0]!.id;
        await api(`${authUrl}/endpoints`, token, 'POST', {
          endpoint: { service_id: svc, interface: 'public', region_id: regionName, url },
        });
      }
    },
    token: () => issueToken(authUrl, project),
    logTail: (service, lines = 40) => tailOf(path.join(core.dir, 'log', `${service}.log`), lines),
  };
}

function tailOf(file: string, lines = 40): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return `(no ${file})`;
  }
}

/**
 * A bed for a whole test file, in `before`: the shared one (openstack-shared-bed.ts; started
 * by the first file that asks, stopped a while after the last one left) with a project of the
 * file's own, or a bed of the file's own when its options change the services' config
 * (tokenSeconds, instanceQuota) or RAMPART_OPENSTACK_SHARED=0. `skip` is the cases' skip
 * option (skipUnlessInstalled).
 */
export function openstackForFile(o: OpenStackOptions = {}): {
  readonly skip: string | false;
  bed(): OpenStackBed;
} {
  const skip = skipUnlessInstalled('openstack-python', 'rabbitmq-server');
  const shared =
    o.tokenSeconds === undefined &&
    o.instanceQuota === undefined &&
    process.env.RAMPART_OPENSTACK_SHARED !== '0';
  let bed: OpenStackBed | undefined;
  const stops: (() => Promise<void>)[] = [];
  before(async () => {
    if (skip) return;
    if (shared) {
      // The shared bed always runs Heat: a second bed for the Heat file would cost more (1-2
      // minutes of both cores to start, its own Nova) than Heat's two processes in the one bed.
      const { core, release } = await acquireSharedBed({ heat: true });
      const dir = mkdtempSync(path.join(tmpdir(), 'rampart-openstack-tenant-'));
      const stop = async () => {
        release();
        rmSync(dir, { recursive: true, force: true });
      };
      stops.push(stop);
      bed = { ...(await openTenant(core, dir)), stop };
      return;
    }
    const fileScope = {
      skip: () => undefined,
      after: (fn: () => Promise<void>) => stops.push(fn),
    } as unknown as TestContext;
    bed = await startOpenStack(fileScope, o);
  });
  after(async () => {
    for (const stop of stops.reverse()) await stop().catch((e) => console.error(e));
  });
  return {
    skip,
    bed: () => {
      if (!bed) throw new Error('the OpenStack bed is not started (openstackForFile starts it in `before`)');
      return bed;
    },
  };
}
