// Reads a cluster's access out of kubeconfig files with @kubernetes/client-node's KubeConfig
// (its parser, and at request time its tokens, certificates and exec plugins), merged as kubectl
// merges $KUBECONFIG, plus the checks Rampart owes its operator: errors name the file, context
// and field, never a token's or a key's content; what Rampart's client cannot honour is refused.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { type Cluster, type Context, KubeConfig, type User } from '@kubernetes/client-node';
import { parse } from 'yaml';

/** A cluster's access, whatever it was read from. */
export interface KubeAccess {
  /** The library's config, its current context the one chosen. Holds secrets: never log it. */
  readonly config: KubeConfig;
  readonly server: string;
  /** The context's namespace (kubeconfig) or the pod's (in-cluster). */
  readonly namespace?: string | undefined;
  /** For messages: `kubeconfig /home/me/.kube/config, context "prod"`. */
  readonly source: string;
  /** The user's exec plugin, for messages about it (its command and where it is defined). */
  readonly exec?:
    | { readonly command: string; readonly where: string; readonly installHint?: string }
    | undefined;
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
const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);

/** One entry as the library read it, with where it came from and the raw fields the library drops. */
interface Entry<T> {
  readonly value: T;
  /** For messages: `/x/config users[2] "admin"`. */
  readonly at: string;
  readonly file: string;
  readonly raw: Obj;
}

interface Merged {
  readonly clusters: Map<string, Entry<Cluster>>;
  readonly users: Map<string, Entry<User>>;
  readonly contexts: Map<string, Entry<Context>>;
  readonly currentContext?: { value: string; file: string } | undefined;
  readonly read: number;
}

/**
 * Each file is parsed by the library (paths made relative to it); the merge is kubectl's: a
 * missing file in a list is skipped, the first to define a name wins, the first current-context
 * wins (KubeConfig.mergeConfig refuses duplicates and lets a later current-context win instead).
 */
function readFiles(files: readonly string[]): Merged {
  const m: Merged = { clusters: new Map(), users: new Map(), contexts: new Map(), read: 0 };
  let currentContext: Merged['currentContext'];
  let read = 0;
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && files.length > 1) continue;
      throw new Error(`kubeconfig ${file}: cannot read it (${code ?? (e as Error).message})`);
    }
    let doc: unknown;
    try {
      // Parsed here too for the position of a syntax error (the library's message quotes the
      // text around it, which may hold a token) and for the fields the library drops.
      doc = parse(text);
    } catch (e) {
      const pos = (e as { linePos?: { line: number; col: number }[] }).linePos?.[0];
      throw new Error(
        `kubeconfig ${file}${pos ? `:${pos.line}:${pos.col}` : ''}: not YAML (${(e as { code?: string }).code ?? 'parse error'})`,
      );
    }
    read++;
    if (doc === null || doc === undefined) continue;
    if (!isObj(doc))
      throw new Error(`kubeconfig ${file}: not a Config (a mapping of clusters, users, contexts)`);
    for (const key of ['clusters', 'users', 'contexts'] as const)
      if (doc[key] !== undefined && doc[key] !== null && !Array.isArray(doc[key]))
        throw new Error(`kubeconfig ${file}: ${key} is not a list`);
    const kc = new KubeConfig();
    try {
      kc.loadFromString(text);
    } catch (e) {
      // The library's own checks (`users[0].name is missing`): names and indices only.
      throw new Error(`kubeconfig ${file}: ${(e as Error).message}`);
    }
    kc.makePathsAbsolute(path.dirname(file));
    const add = <T extends { name: string }>(
      key: 'clusters' | 'users' | 'contexts',
      field: string,
      list: T[],
      into: Map<string, Entry<T>>,
    ) => {
      const raws = (doc[key] ?? []) as unknown[];
      list.forEach((value, i) => {
        const raw = isObj(raws[i]) ? (raws[i] as Obj)[field] : undefined;
        if (raw !== undefined && raw !== null && !isObj(raw))
          throw new Error(`kubeconfig ${file}: ${key}[${i}] "${value.name}".${field} is not a mapping`);
        if (!into.has(value.name))
          into.set(value.name, { value, at: `${file} ${key}[${i}] "${value.name}"`, file, raw: raw ?? {} });
      });
    };
    add('clusters', 'cluster', kc.getClusters(), m.clusters);
    add('users', 'user', kc.getUsers(), m.users);
    add('contexts', 'context', kc.getContexts(), m.contexts);
    const cc = kc.getCurrentContext();
    if (currentContext === undefined && typeof cc === 'string' && cc !== '')
      currentContext = { value: cc, file };
  }
  return { ...m, currentContext, read };
}

/** Checks a `*-data` field is base64 and a file field is readable (the library reads them per request). */
function checkBytes(at: string, field: string, data: string | undefined, file: string | undefined): boolean {
  if (data !== undefined && data !== null && data !== '') {
    if (typeof data !== 'string' || !/^[A-Za-z0-9+/=\s]+$/.test(data))
      throw new Error(`kubeconfig ${at}: ${field}-data is not base64`);
    return true;
  }
  if (file === undefined || file === null || file === '') return false;
  try {
    readFileSync(file);
  } catch (e) {
    throw new Error(
      `kubeconfig ${at}: ${field} ${file} cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  return true;
}

const names = (m: Map<string, unknown>) => [...m.keys()].join(', ') || 'none';

/** The user's exec plugin, checked, with what client-go adds and the library does not. */
function execPlugin(user: Entry<User>, cluster: Entry<Cluster>): Obj {
  const e = user.value.exec as unknown;
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
  if (
    e.args !== undefined &&
    e.args !== null &&
    (!Array.isArray(e.args) || !e.args.every((a) => typeof a === 'string'))
  )
    throw new Error(`${at}.args is not a list of strings`);
  const env = e.env ?? [];
  if (!Array.isArray(env)) throw new Error(`${at}.env is not a list of {name, value}`);
  env.forEach((v: unknown, i) => {
    if (!isObj(v) || typeof v.name !== 'string' || typeof v.value !== 'string')
      throw new Error(`${at}.env[${i}] is not {name, value} strings`);
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
  // What client-go gives a plugin and the library does not: a command with a separator is the
  // kubeconfig folder's, and KUBERNETES_EXEC_INFO (non-interactive; the cluster when asked).
  const c = cluster.value;
  let clusterInfo: Obj | undefined;
  if (e.provideClusterInfo === true) {
    const extensions = cluster.raw.extensions;
    const config = Array.isArray(extensions)
      ? (extensions as unknown[]).find(
          (x): x is Obj => isObj(x) && x.name === 'client.authentication.k8s.io/exec',
        )?.extension
      : undefined;
    const ca = c.caData ? c.caData : c.caFile ? readFileSync(c.caFile).toString('base64') : undefined;
    clusterInfo = {
      server: c.server,
      ...(ca ? { 'certificate-authority-data': ca } : {}),
      ...(c.tlsServerName ? { 'tls-server-name': c.tlsServerName } : {}),
      ...(config === undefined ? {} : { config }),
    };
  }
  const info = {
    apiVersion,
    kind: 'ExecCredential',
    spec: { interactive: false, ...(clusterInfo ? { cluster: clusterInfo } : {}) },
  };
  return {
    ...e,
    command: command.includes('/') ? path.resolve(path.dirname(user.file), command) : command,
    env: [...env, { name: 'KUBERNETES_EXEC_INFO', value: JSON.stringify(info) }],
  };
}

/** Reads the files and resolves one context into a cluster's access. */
export function loadKubeconfig(o: KubeconfigOptions = {}): KubeAccess {
  const files =
    o.files && o.files.length > 0 ? o.files.map((f) => path.resolve(f)) : defaultKubeconfigFiles(o.env);
  const shown = files.join(path.delimiter);
  const k = readFiles(files);
  if (k.read === 0) throw new Error(`kubeconfig ${shown}: none of these files exists`);
  const contextName = o.context ?? k.currentContext?.value;
  if (contextName === undefined)
    throw new Error(
      `kubeconfig ${shown}: no context given (cluster.context) and no current-context set (contexts: ${names(k.contexts)})`,
    );
  const context = k.contexts.get(contextName);
  const from = o.context !== undefined ? 'cluster.context' : `current-context of ${k.currentContext?.file}`;
  if (!context)
    throw new Error(
      `kubeconfig ${shown}: context "${contextName}" (${from}) is not defined (contexts: ${names(k.contexts)})`,
    );
  const source = `kubeconfig ${context.file}, context "${contextName}"`;
  const cluster = k.clusters.get(context.value.cluster);
  if (!cluster)
    throw new Error(
      `kubeconfig ${context.at}: context.cluster "${context.value.cluster}" is not defined (clusters: ${names(k.clusters)})`,
    );
  const c = cluster.value;
  try {
    const url = new URL(c.server);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error();
  } catch {
    throw new Error(
      `kubeconfig ${cluster.at}: cluster.server ${JSON.stringify(c.server)} is not an http(s) URL`,
    );
  }
  if (c.proxyUrl)
    throw new Error(
      `kubeconfig ${cluster.at}: cluster.proxy-url is not supported by Rampart: reach the server directly`,
    );
  const ca = checkBytes(cluster.at, 'certificate-authority', c.caData, c.caFile);
  if (c.skipTLSVerify && !o.allowInsecure)
    throw new Error(
      `kubeconfig ${cluster.at}: cluster.insecure-skip-tls-verify is true: Rampart checks the API server's certificate unless its config says cluster.insecureSkipTlsVerify: true (give certificate-authority instead)`,
    );
  if (c.skipTLSVerify && ca)
    throw new Error(
      `kubeconfig ${cluster.at}: cluster.insecure-skip-tls-verify and certificate-authority both given: choose one`,
    );

  let user: User | undefined;
  let exec: KubeAccess['exec'];
  const userName = context.value.user;
  if (userName !== undefined) {
    const u = k.users.get(userName);
    if (!u)
      throw new Error(
        `kubeconfig ${context.at}: context.user "${userName}" is not defined (users: ${names(k.users)})`,
      );
    const refuse = (field: string, why: string) => {
      const v = u.raw[field];
      if (v !== undefined && v !== null && v !== '')
        throw new Error(`kubeconfig ${u.at}: user.${field}: ${why}`);
    };
    refuse(
      'auth-provider',
      'auth-provider plugins were removed from Kubernetes clients: use an exec plugin (gke-gcloud-auth-plugin, kubelogin, aws eks get-token)',
    );
    for (const f of ['username', 'password'])
      refuse(f, 'basic authentication was removed from Kubernetes in 1.19');
    for (const f of ['as', 'as-user-extra', 'as-groups'])
      refuse(f, 'impersonation is not supported by Rampart: give the identity itself');
    const v = u.value;
    const cert = checkBytes(u.at, 'client-certificate', v.certData, v.certFile);
    const key = checkBytes(u.at, 'client-key', v.keyData, v.keyFile);
    if (cert !== key)
      throw new Error(
        `kubeconfig ${u.at}: user.${cert ? 'client-key' : 'client-certificate'} is missing: a client certificate needs both the certificate and its key`,
      );
    // client-go's `tokenFile` (the library reads `token-file` once, at load): re-read as it rotates, and wins over `token`.
    const tokenFile =
      typeof u.raw.tokenFile === 'string' && u.raw.tokenFile !== '' ? u.raw.tokenFile : undefined;
    if (u.raw.exec !== undefined && u.raw.exec !== null) {
      if (v.token || tokenFile || cert)
        throw new Error(
          `kubeconfig ${u.at}: user.exec and a static ${cert ? 'client certificate' : 'token'} both given: choose one`,
        );
      const e = execPlugin(u, cluster);
      user = { ...v, exec: e };
      exec = {
        command: e.command as string,
        where: `user "${u.value.name}" of kubeconfig ${u.file}`,
        ...(typeof e.installHint === 'string' ? { installHint: e.installHint } : {}),
      };
    } else if (tokenFile) {
      user = {
        ...v,
        token: undefined,
        authProvider: {
          name: 'tokenFile',
          config: { tokenFile: path.resolve(path.dirname(u.file), tokenFile) },
        },
      };
    } else user = v;
  }
  return {
    config: libraryConfig(c, user ?? { name: 'anonymous' }, context.value.namespace),
    server: c.server.replace(/\/+$/, ''),
    namespace: context.value.namespace,
    source,
    exec,
  };
}

/**
 * The library's config for one cluster and user, as the current context (always a user: without
 * one the library applies no CA either). A plain-http server is marked skipTLSVerify: the
 * library refuses http otherwise, and there is no TLS to skip.
 */
export function libraryConfig(cluster: Cluster, user: User, namespace?: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [cluster.server.startsWith('http:') ? { ...cluster, skipTLSVerify: true } : cluster],
    users: [user],
    contexts: [{ name: 'rampart', cluster: cluster.name, user: user.name, namespace }],
    currentContext: 'rampart',
  });
  return kc;
}
