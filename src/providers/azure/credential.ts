// The azure provider's credential, the Azure way: by default DefaultAzureCredential
// (environment service principal, workload identity, managed identity, the az CLI's login);
// in a pod, a service principal from files a Kubernetes secret mounts (seed 001, phase 5).
// The secret's value never leaves this file except inside the credential object: errors
// name the folder and the missing file, never what a file holds.

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  ClientCertificateCredential,
  ClientSecretCredential,
  DefaultAzureCredential,
  type TokenCredential,
} from '@azure/identity';

/** Files of a mounted service principal secret, by name. */
export const SERVICE_PRINCIPAL_FILES = {
  tenantId: 'tenantId',
  clientId: 'clientId',
  clientSecret: 'clientSecret',
  /** PEM holding the certificate and its private key, instead of a client secret. */
  clientCertificate: 'clientCertificate',
} as const;

export interface CredentialSettings {
  /** Folder of the mounted secret; absent: DefaultAzureCredential. */
  readonly servicePrincipalDir?: string | undefined;
  readonly authorityHost?: string | undefined;
  /** PEM of the CAs the login endpoint presents (Azure Stack Hub); default the public ones. */
  readonly ca?: string | undefined;
}

export interface AzureCredential {
  readonly credential: TokenCredential;
  /** Values that must never appear in a message (the client secret, where one is known). */
  readonly secrets: readonly string[];
  /** How the credential was found, for the log: never a secret. */
  readonly describe: string;
}

function readTrimmed(file: string): string {
  return readFileSync(file, 'utf8').trim();
}

export function azureCredential(s: CredentialSettings): AzureCredential {
  const common = {
    ...(s.authorityHost ? { authorityHost: s.authorityHost } : {}),
    ...(s.ca ? { tlsOptions: { ca: s.ca } } : {}),
    // A private login endpoint (a sovereign cloud's or a test's) is not in Microsoft's instance list.
    ...(s.authorityHost ? { disableInstanceDiscovery: true } : {}),
  };
  const envSecret = process.env.AZURE_CLIENT_SECRET;
  if (!s.servicePrincipalDir)
    return {
      credential: new DefaultAzureCredential(common),
      secrets: envSecret ? [envSecret] : [],
      describe: 'DefaultAzureCredential (environment, workload identity, managed identity)',
    };
  const dir = s.servicePrincipalDir;
  const file = (name: string) => path.join(dir, name);
  const missing: string[] = [SERVICE_PRINCIPAL_FILES.tenantId, SERVICE_PRINCIPAL_FILES.clientId].filter(
    (f) => !existsSync(file(f)),
  );
  const hasSecret = existsSync(file(SERVICE_PRINCIPAL_FILES.clientSecret));
  const hasCert = existsSync(file(SERVICE_PRINCIPAL_FILES.clientCertificate));
  if (!hasSecret && !hasCert)
    missing.push(`${SERVICE_PRINCIPAL_FILES.clientSecret} or ${SERVICE_PRINCIPAL_FILES.clientCertificate}`);
  if (missing.length > 0)
    throw new Error(
      `service principal folder ${dir} lacks ${missing.join(', ')} (a Kubernetes secret with keys tenantId, clientId and clientSecret, mounted as a folder)`,
    );
  const tenantId = readTrimmed(file(SERVICE_PRINCIPAL_FILES.tenantId));
  const clientId = readTrimmed(file(SERVICE_PRINCIPAL_FILES.clientId));
  if (hasSecret) {
    const secret = readTrimmed(file(SERVICE_PRINCIPAL_FILES.clientSecret));
    return {
      credential: new ClientSecretCredential(tenantId, clientId, secret, common),
      secrets: [secret, ...(envSecret ? [envSecret] : [])],
      describe: `service principal ${clientId} of tenant ${tenantId} from ${dir}`,
    };
  }
  const pem = readFileSync(file(SERVICE_PRINCIPAL_FILES.clientCertificate), 'utf8');
  return {
    credential: new ClientCertificateCredential(tenantId, clientId, { certificate: pem }, common),
    secrets: [...pem.split('\n').filter((l) => l.length > 40), ...(envSecret ? [envSecret] : [])],
    describe: `service principal ${clientId} of tenant ${tenantId} (certificate) from ${dir}`,
  };
}
