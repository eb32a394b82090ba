// The field types every slice of the config is built from: durations, names, URLs, listen
// addresses, file paths, Kubernetes cluster access. Durations are written as text (`10s`)
// and come out as milliseconds.

import { z } from 'zod';
import { parseDuration } from '../core/duration.ts';

/** What a duration is, for an error about a value that is not text at all (`staleAfter: 10`). */
const NOT_A_DURATION = 'a duration: write it like 10s, 500ms, 5m';
const DURATION_DESCRIPTION = 'A duration: 500ms, 10s, 5m, 6h, 1d or combinations like 1h30m.';

const durationText = z
  .string({ error: NOT_A_DURATION })
  .regex(/^(0|(\d+(\.\d+)?(ms|s|m|h|d))+)$/, { message: 'a duration such as 500ms, 10s, 5m, 6h or 1h30m' });

export const duration = durationText
  .transform((text) => parseDuration(text)!)
  .meta({ description: DURATION_DESCRIPTION });

/**
 * An interval or a timeout: 0 would poll without pause or give up at once, so it must be
 * more than 0. `example` is what the error suggests instead (the default, where there is one).
 */
export const positiveDuration = (example: string) =>
  durationText
    // Text that is no duration at all has its own error (the regex): only a duration is judged here.
    .refine((text) => (parseDuration(text) ?? 1) > 0, {
      error: (issue) =>
        `${JSON.stringify(issue.input)} is too short: must be more than 0, such as ${example}`,
    })
    .transform((text) => parseDuration(text)!)
    .meta({ description: `${DURATION_DESCRIPTION} More than 0.` });

/** A duration with a default, written as text. */
export const durationDefault = (text: string, description: string) =>
  duration.prefault(text).meta({ description: `${description} Default ${text}.` });

/** An interval or a timeout with a default: more than 0. */
export const positiveDurationDefault = (text: string, description: string) =>
  positiveDuration(text)
    .prefault(text)
    .meta({ description: `${description} More than 0; default ${text}.` });

const NAME = 'a name of lowercase letters, digits and -, starting with a letter';
export const name = z.string({ error: NAME }).regex(/^[a-z][a-z0-9-]{0,62}$/, { message: NAME });

/** An http or https URL. */
export const httpUrl = z.url({
  protocol: /^https?$/,
  error: 'an http(s) URL such as https://host:9093/path',
});

export const listen = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/, { message: 'host:port, e.g. 127.0.0.1:8080' });

/**
 * Fields whose value is a file or folder on the controller's machine, written relative to the
 * config file's folder: the loader makes them absolute, whatever slice they are in.
 */
export const filePaths = z.registry<{ readonly when: 'always' | 'has-slash' }>();

/** A file or folder, relative to the config file's folder; at least `minLength` characters (default 1). */
export const filePath = (minLength = 1) => {
  const field = minLength > 0 ? z.string().min(minLength) : z.string();
  filePaths.add(field, { when: 'always' });
  return field;
};

/**
 * A program: a bare name is looked up on PATH when it runs; a name with a slash is a file,
 * relative to the config file's folder.
 */
export const programPath = () => {
  const field = z.string();
  filePaths.add(field, { when: 'has-slash' });
  return field;
};

/**
 * How Rampart reaches a Kubernetes cluster. Every field absent: in a pod, its ServiceAccount
 * (token, CA, KUBERNETES_SERVICE_HOST / _PORT); out of one, $KUBECONFIG or ~/.kube/config.
 */
export const kubeCluster = z
  .strictObject({
    /** API server URL, e.g. https://10.0.0.1:6443. Default: in-cluster. */
    server: httpUrl.optional(),
    /** CA certificate (PEM file, relative to the config file's folder). Default: the ServiceAccount's. */
    caFile: filePath().optional(),
    /** File holding a bearer token, re-read as it rotates (a Secret mounted as a file). Default: the ServiceAccount's. */
    tokenFile: filePath().optional(),
    /**
     * A kubeconfig file (tokens, client certificates, exec credential plugins as EKS, GKE and
     * AKS use). Default, out of a pod: $KUBECONFIG, else ~/.kube/config.
     */
    kubeconfig: filePath().optional(),
    /** The kubeconfig's context. Default: its current-context. */
    context: z.string().min(1).optional(),
    /** Accept a kubeconfig cluster with insecure-skip-tls-verify (its certificate unchecked). Default false. */
    insecureSkipTlsVerify: z.boolean().optional(),
  })
  .superRefine((c, ctx) => {
    const kubeconfig = c.kubeconfig !== undefined || c.context !== undefined;
    for (const field of ['server', 'caFile', 'tokenFile'] as const)
      if (kubeconfig && c[field] !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: [field],
          message: `give a kubeconfig (kubeconfig, context) or the cluster's own fields (server, caFile, tokenFile), not both`,
        });
    if (c.insecureSkipTlsVerify === true && c.server !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['insecureSkipTlsVerify'],
        message: 'only a kubeconfig cluster may skip certificate checks: give caFile',
      });
  })
  .prefault({});

/** A Kubernetes object name (DNS-1123 label). */
export const kubeName = z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, {
  message: 'a Kubernetes name: lowercase letters, digits and -, at most 63, starting and ending alphanumeric',
});
