// Writes deploy/helm/rampart/values.schema.json: the chart's values, with `config` described
// by Rampart's own config schema (src/config/schema.ts), so `helm install` refuses a wrong
// config with the field and what is allowed. `--check` exits 1 when the file is stale.
// Usage: node scripts/helm-values-schema.ts [--check]

import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { configJsonSchema } from '../src/config/schema.ts';

const file = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  'deploy',
  'helm',
  'rampart',
  'values.schema.json',
);

const str = { type: 'string' };
const bool = { type: 'boolean' };
const obj = { type: 'object' };
const list = (items: unknown = {}) => ({ type: 'array', items });
const strict = (properties: Record<string, unknown>, required: string[] = []) => ({
  type: 'object',
  additionalProperties: false,
  properties,
  ...(required.length ? { required } : {}),
});

const { $schema: _drop, ...config } = configJsonSchema();
const schema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  title: 'Values of the Rampart Helm chart',
  ...strict({
    replicaCount: {
      type: 'integer',
      minimum: 0,
      description: 'Controller replicas; more than 1 needs coordination kind kubernetes.',
    },
    image: strict({ repository: str, tag: str, pullPolicy: { enum: ['Always', 'IfNotPresent', 'Never'] } }),
    imagePullSecrets: list(),
    config: { ...config, description: "Rampart's config (rampart.yaml)." },
    apiToken: strict({
      secret: { type: ['string', 'null'], description: 'Secret with key `token` for the API.' },
    }),
    existingSecrets: list(str),
    secretEnv: list(strict({ name: str, secret: str, key: str }, ['name', 'secret', 'key'])),
    extraVolumes: list(obj),
    extraVolumeMounts: list(obj),
    env: list(obj),
    serviceAccount: strict({ create: bool, name: str, annotations: obj }),
    rbac: strict({ create: bool, namespaces: list(str), nodePools: bool }),
    persistence: strict({ enabled: bool, storageClass: str, size: str, accessModes: list(str) }),
    podSecurityContext: obj,
    securityContext: obj,
    resources: obj,
    service: strict({ type: str, port: { type: 'integer', minimum: 1, maximum: 65535 } }),
    podDisruptionBudget: strict({ enabled: bool }),
    serviceMonitor: strict({ enabled: bool, interval: str, labels: obj }),
    prometheusRule: strict({ enabled: bool, labels: obj }),
    nodeSelector: obj,
    tolerations: list(obj),
    affinity: obj,
    podAnnotations: obj,
    global: obj,
  }),
};
const text = `${JSON.stringify(schema, null, 2)}\n`;
if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(file, 'utf8');
  } catch {}
  if (current !== text) {
    process.stderr.write(`${file} is stale: run node scripts/helm-values-schema.ts\n`);
    process.exit(1);
  }
} else writeFileSync(file, text);
