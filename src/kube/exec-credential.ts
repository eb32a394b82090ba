// Runs a kubeconfig's exec credential plugin (client.authentication.k8s.io/v1 or v1beta1, as
// EKS, GKE and AKS use) and reads the ExecCredential it prints: a bearer token or a client
// certificate, with an optional expiry. Its output is a secret: messages name the plugin, its
// exit and its stderr (the plugin's own diagnostics), never what it printed on stdout.

import { spawn } from 'node:child_process';
import type { ExecPlugin } from './kubeconfig.ts';

/** What a plugin gave. Secret values: never in a message. */
export interface ExecCredential {
  readonly token?: string | undefined;
  readonly clientCert?: { readonly cert: Buffer; readonly key: Buffer } | undefined;
  /** ms since the epoch; absent: valid until the server refuses it (401). */
  readonly expiresAt?: number | undefined;
}

/** Longest a plugin may run (a cloud CLI fetching a token takes a second or two). */
const EXEC_TIMEOUT_MS = 60_000;
/** An ExecCredential is a few KiB; more is not one. */
const MAX_STDOUT = 1 << 20;

/** Runs the plugin once and parses what it printed. */
export async function runExecPlugin(
  plugin: ExecPlugin,
  parentEnv: NodeJS.ProcessEnv = process.env,
  timeoutMs = EXEC_TIMEOUT_MS,
): Promise<ExecCredential> {
  const who = `kubernetes: the exec credential plugin ${plugin.command} (${plugin.where})`;
  const info = {
    apiVersion: plugin.apiVersion,
    kind: 'ExecCredential',
    spec: { interactive: false, ...(plugin.cluster ? { cluster: plugin.cluster } : {}) },
  };
  const { stdout, stderr, code, signal, error } = await new Promise<{
    stdout: Buffer;
    stderr: string;
    code: number | null;
    signal: NodeJS.Signals | null;
    error?: NodeJS.ErrnoException;
  }>((resolve) => {
    const child = spawn(plugin.command, [...plugin.args], {
      env: { ...parentEnv, ...plugin.env, KUBERNETES_EXEC_INFO: JSON.stringify(info) },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: timeoutMs,
    });
    const out: Buffer[] = [];
    let outBytes = 0;
    let err = '';
    child.stdout.on('data', (c: Buffer) => {
      outBytes += c.length;
      if (outBytes <= MAX_STDOUT) out.push(c);
      else child.kill('SIGKILL');
    });
    child.stderr.on('data', (c: Buffer) => {
      // The tail is what explains a failure.
      err = (err + c.toString('utf8')).slice(-2000);
    });
    child.on('error', (e: NodeJS.ErrnoException) =>
      resolve({ stdout: Buffer.alloc(0), stderr: err, code: null, signal: null, error: e }),
    );
    child.on('close', (code, signal) => resolve({ stdout: Buffer.concat(out), stderr: err, code, signal }));
  });
  const hint = plugin.installHint ? ` — ${plugin.installHint.trim()}` : '';
  if (error)
    throw new Error(
      error.code === 'ENOENT'
        ? `${who} is not installed (not found)${hint}`
        : `${who} cannot run: ${error.code ?? error.message}`,
    );
  const lastErr = stderr.trim().split('\n').slice(-5).join(' | ').slice(-500);
  const said = lastErr ? `; it said: ${lastErr}` : '';
  if (signal !== null)
    throw new Error(
      `${who} was stopped (${signal}${signal === 'SIGTERM' ? `, no answer within ${Math.round(timeoutMs / 1000)} s` : ''}${signal === 'SIGKILL' ? ', too much output' : ''})${said}`,
    );
  if (code !== 0) throw new Error(`${who} failed with exit code ${code}${said}`);
  let doc: unknown;
  try {
    doc = JSON.parse(stdout.toString('utf8'));
  } catch {
    throw new Error(`${who} printed no JSON ExecCredential on stdout (${stdout.length} bytes)`);
  }
  return parseExecCredential(doc, plugin.apiVersion, who);
}

/** Checks and reads a plugin's ExecCredential. Messages name fields, never their values. */
export function parseExecCredential(
  doc: unknown,
  apiVersion: string,
  who = 'exec credential plugin',
): ExecCredential {
  const o = (doc ?? {}) as {
    apiVersion?: unknown;
    kind?: unknown;
    status?: {
      token?: unknown;
      clientCertificateData?: unknown;
      clientKeyData?: unknown;
      expirationTimestamp?: unknown;
    };
  };
  if (o.kind !== 'ExecCredential')
    throw new Error(`${who} printed JSON that is not an ExecCredential (kind)`);
  if (o.apiVersion !== apiVersion)
    throw new Error(
      `${who} answered apiVersion ${JSON.stringify(o.apiVersion)}, the kubeconfig asks for ${apiVersion}`,
    );
  const s = o.status;
  if (typeof s !== 'object' || s === null) throw new Error(`${who} printed an ExecCredential without status`);
  const token = typeof s.token === 'string' && s.token !== '' ? s.token : undefined;
  const cert =
    typeof s.clientCertificateData === 'string' && s.clientCertificateData !== ''
      ? s.clientCertificateData
      : undefined;
  const key = typeof s.clientKeyData === 'string' && s.clientKeyData !== '' ? s.clientKeyData : undefined;
  if ((cert === undefined) !== (key === undefined))
    throw new Error(
      `${who} printed status.${cert ? 'clientCertificateData without clientKeyData' : 'clientKeyData without clientCertificateData'}`,
    );
  if (token === undefined && cert === undefined)
    throw new Error(`${who} printed neither status.token nor status.clientCertificateData and clientKeyData`);
  let expiresAt: number | undefined;
  if (s.expirationTimestamp !== undefined && s.expirationTimestamp !== null) {
    expiresAt = typeof s.expirationTimestamp === 'string' ? Date.parse(s.expirationTimestamp) : Number.NaN;
    if (Number.isNaN(expiresAt))
      throw new Error(`${who} printed a status.expirationTimestamp that is not an RFC 3339 time`);
  }
  return {
    token,
    // PEM text in the JSON, as client-go reads it.
    clientCert: cert && key ? { cert: Buffer.from(cert), key: Buffer.from(key) } : undefined,
    expiresAt,
  };
}
