// Credentials the OpenStack way: a cloud of clouds.yaml (merged with secure.yaml beside it),
// named by the config's `cloud` or $OS_CLOUD, or else the OS_* environment variables. Read at
// each authentication (a rotated password or secret file is picked up); never logged.

import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';

/** Keystone v3 authentication: a password or an application credential. */
export type CloudAuth =
  | {
      readonly type: 'password';
      readonly authUrl: string;
      readonly username?: string | undefined;
      readonly userId?: string | undefined;
      readonly password: string;
      readonly userDomain: { readonly name?: string; readonly id?: string };
      readonly project: {
        readonly name?: string | undefined;
        readonly id?: string | undefined;
        readonly domain: { readonly name?: string; readonly id?: string };
      };
    }
  | {
      readonly type: 'application-credential';
      readonly authUrl: string;
      readonly id?: string | undefined;
      readonly name?: string | undefined;
      readonly username?: string | undefined;
      readonly userDomain: { readonly name?: string; readonly id?: string };
      readonly secret: string;
    };

export interface Cloud {
  readonly auth: CloudAuth;
  readonly region?: string | undefined;
  readonly interface?: string | undefined;
  /** Where it came from, for messages (a file and cloud name, or the environment). */
  readonly source: string;
}

export interface CloudOptions {
  /** The config's `cloud`; default $OS_CLOUD. */
  readonly cloud?: string | undefined;
  /** The config's `cloudsFile`; default the standard places. */
  readonly cloudsFile?: string | undefined;
  /** The config's `secretFile`: the password or secret, replacing clouds.yaml's. */
  readonly secretFile?: string | undefined;
  readonly env?: NodeJS.ProcessEnv;
}

function cloudsFiles(o: CloudOptions, env: NodeJS.ProcessEnv): string[] {
  if (o.cloudsFile) return [o.cloudsFile];
  return [
    env.OS_CLIENT_CONFIG_FILE,
    path.resolve('clouds.yaml'),
    path.join(env.HOME ?? homedir(), '.config', 'openstack', 'clouds.yaml'),
    '/etc/openstack/clouds.yaml',
  ].filter((f): f is string => typeof f === 'string' && f !== '');
}

type Tree = Record<string, unknown>;
const isTree = (v: unknown): v is Tree => typeof v === 'object' && v !== null && !Array.isArray(v);

function merge(a: Tree, b: Tree): Tree {
  const out: Tree = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = isTree(v) && isTree(out[k]) ? merge(out[k] as Tree, v) : v;
  return out;
}

const str = (v: unknown): string | undefined =>
  typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined;

function readSecret(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (e) {
    throw new Error(`cannot read the secret file ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/** The auth block of a cloud (clouds.yaml's shape) as a CloudAuth; throws naming what is missing. */
export function authOf(
  block: Tree,
  authType: string | undefined,
  secret: string | undefined,
  where: string,
): CloudAuth {
  const authUrl = str(block.auth_url);
  if (!authUrl) throw new Error(`${where}: auth.auth_url is missing`);
  const url = authUrl.replace(/\/+$/, '');
  const userDomain = {
    ...(str(block.user_domain_name) ? { name: str(block.user_domain_name)! } : {}),
    ...(str(block.user_domain_id) ? { id: str(block.user_domain_id)! } : {}),
  };
  const appCred =
    authType === 'v3applicationcredential' ||
    str(block.application_credential_id) !== undefined ||
    str(block.application_credential_name) !== undefined;
  if (appCred) {
    const s = secret ?? str(block.application_credential_secret);
    if (!s) throw new Error(`${where}: auth.application_credential_secret is missing (or set secretFile)`);
    const id = str(block.application_credential_id);
    if (!id && !str(block.application_credential_name))
      throw new Error(`${where}: auth.application_credential_id or _name is missing`);
    return {
      type: 'application-credential',
      authUrl: url,
      id,
      name: str(block.application_credential_name),
      username: str(block.username),
      userDomain: Object.keys(userDomain).length > 0 ? userDomain : { name: 'Default' },
      secret: s,
    };
  }
  const password = secret ?? str(block.password);
  if (!password) throw new Error(`${where}: auth.password is missing (or set secretFile)`);
  const username = str(block.username);
  const userId = str(block.user_id);
  if (!username && !userId) throw new Error(`${where}: auth.username is missing`);
  const projectName = str(block.project_name) ?? str(block.tenant_name);
  const projectId = str(block.project_id) ?? str(block.tenant_id);
  if (!projectName && !projectId) throw new Error(`${where}: auth.project_name is missing`);
  const projectDomain = {
    ...(str(block.project_domain_name) ? { name: str(block.project_domain_name)! } : {}),
    ...(str(block.project_domain_id) ? { id: str(block.project_domain_id)! } : {}),
  };
  const domain = str(block.domain_name);
  return {
    type: 'password',
    authUrl: url,
    username,
    userId,
    password,
    userDomain: Object.keys(userDomain).length > 0 ? userDomain : { name: domain ?? 'Default' },
    project: {
      name: projectName,
      id: projectId,
      domain: Object.keys(projectDomain).length > 0 ? projectDomain : { name: domain ?? 'Default' },
    },
  };
}

/** The cloud to authenticate against, read now (files and variables may have changed). */
export function readCloud(o: CloudOptions): Cloud {
  const env = o.env ?? process.env;
  const secret = o.secretFile ? readSecret(o.secretFile) : undefined;
  const name = o.cloud ?? str(env.OS_CLOUD);
  if (name) {
    const files = cloudsFiles(o, env);
    const file = files.find((f) => existsSync(f));
    if (!file) throw new Error(`cloud "${name}": no clouds.yaml found (looked in ${files.join(', ')})`);
    let doc: unknown;
    try {
      doc = parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new Error(`${file}: not readable YAML (${(e as Error).message.split('\n')[0]})`);
    }
    const clouds = isTree(doc) && isTree(doc.clouds) ? doc.clouds : undefined;
    let cloud = clouds && isTree(clouds[name]) ? (clouds[name] as Tree) : undefined;
    if (!cloud)
      throw new Error(
        `${file}: no cloud "${name}" under clouds (has ${clouds ? Object.keys(clouds).join(', ') || 'none' : 'no clouds: section'})`,
      );
    // secure.yaml beside it holds the secrets of the same clouds, kept out of clouds.yaml.
    const secureFile = path.join(path.dirname(file), 'secure.yaml');
    if (existsSync(secureFile)) {
      const secure = parse(readFileSync(secureFile, 'utf8')) as unknown;
      const extra = isTree(secure) && isTree(secure.clouds) ? secure.clouds[name] : undefined;
      if (isTree(extra)) cloud = merge(cloud, extra);
    }
    const where = `${file} cloud "${name}"`;
    const auth = isTree(cloud.auth) ? cloud.auth : {};
    return {
      auth: authOf(auth, str(cloud.auth_type), secret, where),
      region: str(cloud.region_name),
      interface: str(cloud.interface),
      source: where,
    };
  }
  const block: Tree = {
    auth_url: env.OS_AUTH_URL,
    username: env.OS_USERNAME,
    user_id: env.OS_USER_ID,
    password: env.OS_PASSWORD,
    project_name: env.OS_PROJECT_NAME ?? env.OS_TENANT_NAME,
    project_id: env.OS_PROJECT_ID ?? env.OS_TENANT_ID,
    user_domain_name: env.OS_USER_DOMAIN_NAME,
    user_domain_id: env.OS_USER_DOMAIN_ID,
    project_domain_name: env.OS_PROJECT_DOMAIN_NAME,
    project_domain_id: env.OS_PROJECT_DOMAIN_ID,
    application_credential_id: env.OS_APPLICATION_CREDENTIAL_ID,
    application_credential_name: env.OS_APPLICATION_CREDENTIAL_NAME,
    application_credential_secret: env.OS_APPLICATION_CREDENTIAL_SECRET,
  };
  if (!str(block.auth_url))
    throw new Error(
      'no OpenStack credentials: set cloud: (or OS_CLOUD) and a clouds.yaml, or OS_AUTH_URL and the other OS_* variables',
    );
  return {
    auth: authOf(block, str(env.OS_AUTH_TYPE), secret, 'the OS_* environment variables'),
    region: str(env.OS_REGION_NAME),
    interface: str(env.OS_INTERFACE),
    source: 'the OS_* environment variables',
  };
}

/** The secret strings of a cloud, for scrubbing messages. */
export function secretsOf(cloud: Cloud): string[] {
  return [cloud.auth.type === 'password' ? cloud.auth.password : cloud.auth.secret];
}
