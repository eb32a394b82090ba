// Reads a cluster's access out of kubeconfig files, as kubectl does: the files of $KUBECONFIG
// (merged, the first to define a name wins) or ~/.kube/config, one context, its cluster (server,
// CA) and its user (token, token file, client certificate, exec credential plugin). Errors name
// the file, the context and the field, never a token's or a key's content.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

/** An exec credential plugin, as the kubeconfig user gives it (client.authentication.k8s.io). */
export interface ExecPlugin {
  readonly apiVersion: 'client.authentication.k8s.io/v1' | 'client.authentication.k8s.io/v1beta1';
  /** A bare name is looked up on PATH; a relative path with a slash is the kubeconfig's folder's. */
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly installHint?: string | undefined;
  /** Passed to the plugin in KUBERNETES_EXEC_INFO when provideClusterInfo is set. */
  readonly cluster?: Readonly<Record<string, unknown>> | undefined;
  /** For messages: `user "eks" of kubeconfig /home/me/.kube/config`. */
  readonly where: string;
}

/** How requests authenticate. Values here are secrets: never put them in a message. */
export interface KubeAuth {
  readonly token?: string | undefined;
  /** Re-read as it rotates; wins over `token`, as in client-go. */
  readonly tokenFile?: string | undefined;
  readonly clientCert?: { readonly cert: Buffer; readonly key: Buffer } | undefined;
  readonly exec?: ExecPlugin | undefined;
}

/** A cluster's access, whatever it was read from. */
export interface KubeAccess {
  readonly server: string;
  /** PEM of the CA(s) the server's certificate is checked against; absent: the system's. */
  readonly ca?: Buffer | undefined;
  /** Only when the Rampart config allowed it explicitly. */
  readonly insecureSkipTlsVerify: boolean;
  /** The name the server's certificate is checked for, when not the server URL's host. */
  readonly tlsServerName?: string | undefined;
  readonly auth: KubeAuth;
  /** The context's namespace (kubeconfig) or the pod's (in-cluster). */
  readonly namespace?: string | undefined;
  /** For messages: `kubeconfig /home/me/.kube/config, context "prod"`. */
  readonly source: string;
}

export interface KubeconfigOptions {
  /** Files to read, merged in order. Default $KUBECONFIG's, else ~/.kube/config. */
  readonly files?: readonly string[] | undefined;
  /** Default the files' current-context. */
  readonly context?: string | undefined;
  /** The Rampart config says a cluster without certificate checks is acceptable. Default false. */
  readonly allowInsecure?: boolean | undefined;
  readonly env?: NodeJS.ProcessEnv | undefined;
}

/** The files kubectl reads: $KUBECONFIG's (split on `:`), else ~/.kube/config. */
export function defaultKubeconfigFiles(env: NodeJS.ProcessEnv = process.env): string[] {
  const list = (env.KUBECONFIG ?? '')
    .split(path.delimiter)
    .filter((f) => f !== '')
    .map((f) => path.resolve(f));
  if (list.length > 0) return list;
  const home = env.HOME ?? env.USERPROFILE;
  if (!home)
    throw new Error(
      'kubernetes: no kubeconfig given, KUBECONFIG is unset and there is no HOME for ~/.kube/config',
    );
  return [path.join(home, '.kube', 'config')];
}

type Obj = Record<string, unknown>;

interface Named {
  readonly name: string;
  readonly body: Obj;
  /** The file and the entry, for messages: `/x/config users[2] "admin"`. */
  readonly at: string;
  readonly file: string;
}

interface Loaded {
  readonly clusters: Map<string, Named>;
  readonly users: Map<string, Named>;
  readonly contexts: Map<string, Named>;
  readonly currentContext?: { value: string; file: string } | undefined;
  readonly files: readonly string[];
}

const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);

function readFiles(files: readonly string[]): Loaded {
  const clusters = new Map<string, Named>();
  const users = new Map<string, Named>();
  const contexts = new Map<string, Named>();
  let currentContext: Loaded['currentContext'];
  const read: string[] = [];
  const single = files.length === 1;
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // As kubectl: a missing file in a KUBECONFIG list is skipped; the only file must exist.
      if (code === 'ENOENT' && !single) continue;
      throw new Error(`kubeconfig ${file}: cannot read it (${code ?? (e as Error).message})`);
    }
    let doc: unknown;
    try {
      doc = parse(text);
    } catch (e) {
      // The YAML error's position, not the text around it (it may hold a token).
      const pos = (e as { linePos?: { line: number; col: number }[] }).linePos?.[0];
      throw new Error(
        `kubeconfig ${file}${pos ? `:${pos.line}:${pos.col}` : ''}: not YAML (${(e as { code?: string }).code ?? 'parse error'})`,
      );
    }
    read.push(file);
    if (doc === null || doc === undefined) continue;
    if (!isObj(doc))
      throw new Error(`kubeconfig ${file}: not a Config (a mapping of clusters, users, contexts)`);
    const section = (key: 'clusters' | 'users' | 'contexts', field: string, into: Map<string, Named>) => {
      const list = doc[key];
      if (list === undefined || list === null) return;
      if (!Array.isArray(list)) throw new Error(`kubeconfig ${file}: ${key} is not a list`);
      list.forEach((entry: unknown, i) => {
        const name = isObj(entry) ? entry.name : undefined;
        if (typeof name !== 'string' || name === '')
          throw new Error(`kubeconfig ${file}: ${key}[${i}] has no name`);
        const body = entry !== null && isObj(entry) ? (entry[field] ?? {}) : {};
        if (!isObj(body))
          throw new Error(`kubeconfig ${file}: ${key}[${i}] "${name}".${field} is not a mapping`);
        // Merged as kubectl merges: the first file to define a name wins.
        if (!into.has(name)) into.set(name, { name, body, at: `${file} ${key}[${i}] "${name}"`, file });
      });
    };
    section('clusters', 'cluster', clusters);
    section('users', 'user', users);
    section('contexts', 'context', contexts);
    const cc = doc['current-context'];
    if (currentContext === undefined && typeof cc === 'string' && cc !== '')
      currentContext = { value: cc, file };
  }
  return { clusters, users, contexts, currentContext, files: read };
}

/** The base64 `*-data` field, or the file `field` names (relative to the kubeconfig's folder). */
function bytes(entry: Named, field: string): Buffer | undefined {
  const data = entry.body[`${field}-data`];
  const file = entry.body[field];
  if (data !== undefined && data !== '') {
    if (typeof data !== 'string' || !/^[A-Za-z0-9+/=\s]+$/.test(data))
      throw new Error(`kubeconfig ${entry.at}: ${field}-data is not base64`);
    return Buffer.from(data, 'base64');
  }
  if (file === undefined || file === '') return undefined;
  if (typeof file !== 'string') throw new Error(`kubeconfig ${entry.at}: ${field} is not a file path`);
  const full = path.resolve(path.dirname(entry.file), file);
  try {
    return readFileSync(full);
  } catch (e) {
    throw new Error(
      `kubeconfig ${entry.at}: ${field} ${full} cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
}

function str(entry: Named, field: string): string | undefined {
  const v = entry.body[field];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new Error(`kubeconfig ${entry.at}: ${field} is not a string`);
  return v;
}

function execPlugin(user: Named, cluster: Named, server: string, ca: Buffer | undefined): ExecPlugin {
  const e = user.body.exec;
  if (!isObj(e)) throw new Error(`kubeconfig ${user.at}: exec is not a mapping`);
  const at = `kubeconfig ${user.at}: exec`;
  const apiVersion = e.apiVersion;
  if (
    apiVersion !== 'client.authentication.k8s.io/v1' &&
    apiVersion !== 'client.authentication.k8s.io/v1beta1'
  )
    throw new Error(
      `${at}.apiVersion is ${JSON.stringify(apiVersion)}: Rampart runs client.authentication.k8s.io/v1 or v1beta1 plugins (v1alpha1 was removed from Kubernetes)`,
    );
  const command = e.command;
  if (typeof command !== 'string' || command === '') throw new Error(`${at}.command is missing`);
  const args = e.args ?? [];
  if (!Array.isArray(args) || !args.every((a) => typeof a === 'string'))
    throw new Error(`${at}.args is not a list of strings`);
  const env: Record<string, string> = {};
  const envList = e.env ?? [];
  if (!Array.isArray(envList)) throw new Error(`${at}.env is not a list of {name, value}`);
  envList.forEach((v: unknown, i) => {
    if (!isObj(v) || typeof v.name !== 'string' || typeof v.value !== 'string')
      throw new Error(`${at}.env[${i}] is not {name, value} strings`);
    env[v.name] = v.value;
  });
  // v1 requires interactiveMode; Rampart never has a terminal, so a plugin that must prompt cannot run.
  const mode = e.interactiveMode;
  if (mode === 'Always')
    throw new Error(
      `${at}.interactiveMode is Always: the plugin needs a terminal, which Rampart (a daemon) never has; use a plugin mode that needs none (a service account, a workload identity)`,
    );
  if (apiVersion === 'client.authentication.k8s.io/v1' && mode !== 'Never' && mode !== 'IfAvailable')
    throw new Error(
      `${at}.interactiveMode must be Never or IfAvailable (client.authentication.k8s.io/v1 requires it)`,
    );
  // A path with a separator is the kubeconfig's folder's, as in client-go; a bare name is PATH's.
  const resolved = command.includes('/') ? path.resolve(path.dirname(user.file), command) : command;
  let clusterInfo: Record<string, unknown> | undefined;
  if (e.provideClusterInfo === true) {
    const extensions = cluster.body.extensions;
    const config = Array.isArray(extensions)
      ? (extensions as unknown[]).find(
          (x): x is Obj => isObj(x) && x.name === 'client.authentication.k8s.io/exec',
        )?.extension
      : undefined;
    clusterInfo = {
      server,
      ...(ca ? { 'certificate-authority-data': ca.toString('base64') } : {}),
      ...(str(cluster, 'tls-server-name') ? { 'tls-server-name': str(cluster, 'tls-server-name') } : {}),
      ...(config === undefined ? {} : { config }),
    };
  }
  return {
    apiVersion,
    command: resolved,
    args: args as string[],
    env,
    installHint: typeof e.installHint === 'string' ? e.installHint : undefined,
    cluster: clusterInfo,
    where: `user "${user.name}" of kubeconfig ${user.file}`,
  };
}

/** Reads the files and resolves one context into a cluster's access. */
export function loadKubeconfig(o: KubeconfigOptions = {}): KubeAccess {
  const files =
    o.files && o.files.length > 0 ? o.files.map((f) => path.resolve(f)) : defaultKubeconfigFiles(o.env);
  const shown = files.join(path.delimiter);
  const k = readFiles(files);
  if (k.files.length === 0) throw new Error(`kubeconfig ${shown}: none of these files exists`);
  const contextName = o.context ?? k.currentContext?.value;
  if (contextName === undefined)
    throw new Error(
      `kubeconfig ${shown}: no context given (cluster.context) and no current-context set (contexts: ${[...k.contexts.keys()].join(', ') || 'none'})`,
    );
  const context = k.contexts.get(contextName);
  const from = o.context !== undefined ? 'cluster.context' : `current-context of ${k.currentContext?.file}`;
  if (!context)
    throw new Error(
      `kubeconfig ${shown}: context "${contextName}" (${from}) is not defined (contexts: ${[...k.contexts.keys()].join(', ') || 'none'})`,
    );
  const source = `kubeconfig ${context.file}, context "${contextName}"`;
  const clusterName = str(context, 'cluster');
  if (clusterName === undefined) throw new Error(`kubeconfig ${context.at}: context.cluster is missing`);
  const cluster = k.clusters.get(clusterName);
  if (!cluster)
    throw new Error(
      `kubeconfig ${context.at}: context.cluster "${clusterName}" is not defined (clusters: ${[...k.clusters.keys()].join(', ') || 'none'})`,
    );
  const server = str(cluster, 'server');
  if (server === undefined) throw new Error(`kubeconfig ${cluster.at}: cluster.server is missing`);
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new Error(`kubeconfig ${cluster.at}: cluster.server ${JSON.stringify(server)} is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new Error(`kubeconfig ${cluster.at}: cluster.server ${server} is not http(s)`);
  if (str(cluster, 'proxy-url') !== undefined)
    throw new Error(
      `kubeconfig ${cluster.at}: cluster.proxy-url is not supported by Rampart: reach the server directly`,
    );
  const ca = bytes(cluster, 'certificate-authority');
  const insecure = cluster.body['insecure-skip-tls-verify'] === true;
  if (insecure && !o.allowInsecure)
    throw new Error(
      `kubeconfig ${cluster.at}: cluster.insecure-skip-tls-verify is true: Rampart checks the API server's certificate unless its config says cluster.insecureSkipTlsVerify: true (give certificate-authority instead)`,
    );
  if (insecure && ca)
    throw new Error(
      `kubeconfig ${cluster.at}: cluster.insecure-skip-tls-verify and certificate-authority both given: choose one`,
    );

  const userName = str(context, 'user');
  let auth: KubeAuth = {};
  if (userName !== undefined) {
    const user = k.users.get(userName);
    if (!user)
      throw new Error(
        `kubeconfig ${context.at}: context.user "${userName}" is not defined (users: ${[...k.users.keys()].join(', ') || 'none'})`,
      );
    for (const [field, why] of [
      [
        'auth-provider',
        'auth-provider plugins were removed from Kubernetes clients: use an exec plugin (gke-gcloud-auth-plugin, kubelogin, aws eks get-token)',
      ],
      ['username', 'basic authentication was removed from Kubernetes in 1.19'],
      ['password', 'basic authentication was removed from Kubernetes in 1.19'],
      ['as', 'impersonation is not supported by Rampart: give the identity itself'],
      ['as-user-extra', 'impersonation is not supported by Rampart: give the identity itself'],
      ['as-groups', 'impersonation is not supported by Rampart: give the identity itself'],
    ] as const)
      if (user.body[field] !== undefined && user.body[field] !== null && user.body[field] !== '')
        throw new Error(`kubeconfig ${user.at}: user.${field}: ${why}`);
    const token = str(user, 'token');
    const tokenFileRaw = str(user, 'tokenFile');
    const tokenFile =
      tokenFileRaw === undefined ? undefined : path.resolve(path.dirname(user.file), tokenFileRaw);
    const cert = bytes(user, 'client-certificate');
    const key = bytes(user, 'client-key');
    if ((cert === undefined) !== (key === undefined))
      throw new Error(
        `kubeconfig ${user.at}: user.${cert ? 'client-key' : 'client-certificate'} is missing: a client certificate needs both the certificate and its key`,
      );
    const exec =
      user.body.exec === undefined || user.body.exec === null
        ? undefined
        : execPlugin(user, cluster, server, ca);
    if (exec && (token !== undefined || tokenFile !== undefined || cert !== undefined))
      throw new Error(
        `kubeconfig ${user.at}: user.exec and a static ${cert ? 'client certificate' : 'token'} both given: choose one`,
      );
    auth = {
      token,
      tokenFile,
      clientCert: cert && key ? { cert, key } : undefined,
      exec,
    };
  }
  const namespace = str(context, 'namespace');
  return {
    server: server.replace(/\/+$/, ''),
    ca,
    insecureSkipTlsVerify: insecure,
    tlsServerName: str(cluster, 'tls-server-name'),
    auth,
    namespace,
    source,
  };
}
