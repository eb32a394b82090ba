import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { ConfigError, loadConfigFile, MAX_CONFIG_BYTES, MAX_CONFIG_STRING, parseConfigText } from './load.ts';
import { configJsonSchema } from './schema.ts';

const errorsOf = (text: string): string[] => {
  try {
    parseConfigText(text, 'rampart.yaml');
  } catch (e) {
    if (e instanceof ConfigError) return e.message.split('\n');
    throw e;
  }
  assert.fail('expected a ConfigError');
};

const base = (pools: string) => `version: 1
metrics:
  - { name: nodes, kind: scrape }
providers:
  - { name: laptop, kind: local }
pools:
${pools}`;

const sentries = `  - name: sentries
    role: sentry
    provider: laptop
    node: { kind: simnode }
    size: { min: 2, capacity: 3, max: 5 }`;

describe('config loading', () => {
  test('the shipped demo config is valid', () => {
    const { config } = parseConfigText(readFileSync('examples/local.yaml', 'utf8'), 'examples/local.yaml');
    assert.equal(config.pools.length, 2);
    assert.equal(config.controller.evaluationInterval, 2000);
  });

  test('defaults carry seed 003 meanings and units', () => {
    const { config } = parseConfigText(base(sentries), 'rampart.yaml');
    const p = config.pools[0]!;
    assert.equal(p.scaleUp.cooldown, 240_000);
    assert.equal(p.scaleDown.period, 200_000);
    assert.equal(p.scaleDown.lockAttemptPeriod, 10_000);
    assert.deepEqual(p.health, {
      checkInterval: 10_000,
      failTolerance: 20,
      joinRetries: 10,
      joinTimeout: 600_000,
    });
    assert.equal(p.scaleIn.select, 'least-busy');
    assert.equal(config.controller.store.kind, 'sqlite');
  });

  test('a seed 003 parameter table maps field for field', () => {
    const { config } = parseConfigText(
      `version: 1
metrics:
  - { name: netdata, kind: netdata, urlTemplate: "http://{host}:19999" }
providers:
  - { name: openstack-like, kind: local }
pools:
  - name: etcd
    role: member
    provider: openstack-like
    node: { kind: simnode }
    size: { min: 3, capacity: 3, max: 5 }           # min_cluster, capacity, max_cluster
    scaleUp:
      cooldown: 240s                                 # scaleupcooldown
      rules: [ { metric: "netdata:NETDATA_SYSTEM_CPU_IDLE", comparator: "<", threshold: 10 } ]
    scaleDown:
      period: 200s                                   # scaledownperiod
      lockAttemptPeriod: 10s                         # lockattemptperiod
      rules: [ { metric: "netdata:NETDATA_SYSTEM_CPU_IDLE", comparator: ">", threshold: 90 } ]
    health: { failTolerance: 20, joinRetries: 10 }  # failtolerance, retries
`,
      'heat.yaml',
    );
    const p = config.pools[0]!;
    assert.deepEqual(p.size, { min: 3, capacity: 3, max: 5 });
    assert.deepEqual(p.scaleUp.rules[0], {
      kind: 'threshold',
      metric: 'netdata:NETDATA_SYSTEM_CPU_IDLE',
      aggregate: 'avg',
      comparator: '<',
      threshold: 10,
      step: { nodes: 1 },
      rate: false,
    });
  });

  test('every error at once, each with file, line, column, field and what is allowed', () => {
    const errors = errorsOf(`version: 1
controller:
  evaluationInterval: 10 seconds
  stor: {}
metrics:
  - { name: nodes, kind: scrap }
providers:
  - { name: laptop, kind: local }
pools:
  - name: sentries
    role: sentry
    provider: laptop
    node: { kind: simnode }
    size: { min: 2, capacity: 3, max: 5 }
    scaleUp:
      rules:
        - { metric: "nodes:x", comparator: "=>", threshold: 0.7 }
    scaleIn: { select: random }
`);
    assert.deepEqual(errors, [
      'rampart.yaml:3:23 controller.evaluationInterval: "10 seconds" is not a duration such as 500ms, 10s, 5m, 6h or 1h30m',
      'rampart.yaml:4:3 controller.stor: unknown field "stor" (allowed here: evaluationInterval, historyRetention, store, coordination, api, log)',
      'rampart.yaml:6:26 metrics[0].kind: "scrap" is not known: one of scrape, prometheus, netdata, kubernetes',
      'rampart.yaml:17:44 pools[0].scaleUp.rules[0].comparator: "=>" is not one of < > <= >= ==',
      'rampart.yaml:18:24 pools[0].scaleIn.select: "random" is not one of least-busy newest oldest',
    ]);
  });

  test('cross-field checks: bounds, references, validator pools', () => {
    const errors = errorsOf(
      base(`  - name: validator
    role: validator
    provider: laptop
    node: { kind: simnode }
    scaleUp: { rules: [ { metric: "nodes:x", comparator: ">", threshold: 1 } ] }
  - name: sentries
    role: sentry
    provider: laptp
    node: { kind: simnode, validatorPool: sentries }
    size: { min: 4, capacity: 3, max: 2 }
    scaleDown: { rules: [ { metric: "prom:up", comparator: ">", threshold: 1 } ] }`),
    );
    assert.deepEqual(errors, [
      'rampart.yaml:11:23 pools[0].scaleUp.rules: a validator pool is never scaled: scale rules are not allowed on it',
      'rampart.yaml:14:15 pools[1].provider: provider "laptp" is not defined in providers (defined: laptop)',
      'rampart.yaml:15:43 pools[1].node.validatorPool: pool "sentries" has role sentry, not validator',
      'rampart.yaml:16:18 pools[1].size.min: min (4) must be ≤ capacity (3)',
      'rampart.yaml:16:31 pools[1].size.capacity: capacity (3) must be ≤ max (2)',
      'rampart.yaml:17:37 pools[1].scaleDown.rules[0].metric: metric source "prom" is not defined in metrics (defined: nodes)',
    ]);
  });

  test('a warm pool must fit beside capacity within max; a fitting one is taken as given', () => {
    const pool = (size: string) => `  - name: sentries
    role: sentry
    provider: laptop
    node: { kind: simnode }
    size: ${size}`;
    assert.deepEqual(errorsOf(base(pool('{ min: 1, capacity: 3, max: 4, warm: 2 }'))), [
      'rampart.yaml:11:48 pools[0].size.warm: warm (2) does not fit: capacity (3) + warm must be ≤ max (4), since spares count against max',
    ]);
    const fits = parseConfigText(base(pool('{ min: 1, capacity: 3, max: 5, warm: 2 }')), 'rampart.yaml');
    assert.equal(fits.config.pools[0]!.size?.warm, 2);
  });

  test('a non-validator pool needs a size; duplicate names are refused', () => {
    const errors = errorsOf(base(`${sentries}\n${sentries}`));
    assert.match(errors[0]!, /pools\[1\]\.name: "sentries" is already the name of pools\[0\]/);
  });

  test('YAML syntax errors name the line', () => {
    const errors = errorsOf('version: 1\npools: [\n');
    assert.match(errors[0]!, /^rampart\.yaml:\d+:\d+ \(top level\): YAML: /);
  });

  test('duplicate keys are an error, not a silent override', () => {
    const errors = errorsOf('version: 1\nversion: 1\n');
    assert.match(errors[0]!, /rampart\.yaml:2:1 .*YAML: Map keys must be unique/);
  });

  test('threshold rules need comparator and threshold; target rules exclude them', () => {
    const errors = errorsOf(
      base(`${sentries}
    scaleUp:
      rules:
        - { metric: "nodes:x", threshold: 1 }
        - { metric: "nodes:x", target: 0.6, comparator: ">", threshold: 1 }`),
    );
    assert.equal(errors.length, 2);
    assert.match(errors[0]!, /rules\[0\]\.comparator: a threshold rule needs both comparator/);
    assert.match(errors[1]!, /rules\[1\]: a rule is either threshold/);
  });
});

test('the JSON Schema describes the file as written: durations as text, unknown keys refused', () => {
  const schema = configJsonSchema() as { properties: Record<string, unknown>; additionalProperties: boolean };
  assert.equal(schema.additionalProperties, false);
  const text = JSON.stringify(schema);
  assert.match(text, /"cooldown":\{[^}]*"type":"string"/);
  assert.match(text, /"enum":\["<",">","<=",">=","=="\]/);
});

describe('config: etcd store and coordination', () => {
  const withController = (controller: string) => `version: 1
controller:
${controller}
metrics:
  - { name: nodes, kind: scrape }
providers:
  - { name: laptop, kind: local }
pools:
${sentries}`;

  test('defaults, and TLS and password files resolved beside the config file', () => {
    const { config } = parseConfigText(
      withController(`  store:
    kind: etcd
    endpoints: [https://10.0.0.5:2379, https://10.0.0.6:2379]
    tls: { ca: certs/ca.pem, cert: certs/rampart.pem, key: /etc/rampart/rampart-key.pem }
    auth: { username: rampart, passwordFile: secrets/etcd-password }
  coordination: { kind: etcd }`),
      '/srv/rampart/rampart.yaml',
    );
    const store = config.controller.store;
    assert.equal(store.kind, 'etcd');
    if (store.kind !== 'etcd') return;
    assert.equal(store.prefix, '/rampart/');
    assert.equal(store.timeout, 5000);
    assert.deepEqual(store.tls, {
      ca: '/srv/rampart/certs/ca.pem',
      cert: '/srv/rampart/certs/rampart.pem',
      key: '/etc/rampart/rampart-key.pem',
    });
    assert.equal(store.auth?.passwordFile, '/srv/rampart/secrets/etcd-password');
    assert.deepEqual(config.controller.coordination, { kind: 'etcd', leaseTtl: 15_000 });
  });

  test('etcd coordination without the etcd store, and the etcd store without it, are errors', () => {
    const [first] = errorsOf(withController('  coordination: { kind: etcd }'));
    assert.match(first!, /controller\.coordination\.kind: etcd coordination needs the etcd store/);
    const [second] = errorsOf(withController('  store: { kind: etcd, endpoints: [http://127.0.0.1:2379] }'));
    assert.match(second!, /controller\.coordination\.kind: a shared etcd store needs etcd coordination/);
  });

  test('a lease shorter than 2s or not in whole seconds is an error', () => {
    const store = '  store: { kind: etcd, endpoints: [http://127.0.0.1:2379] }';
    for (const ttl of ['1s', '2500ms']) {
      const errors = errorsOf(withController(`${store}\n  coordination: { kind: etcd, leaseTtl: ${ttl} }`));
      assert.equal(errors.length, 1, errors.join('\n'));
      assert.match(
        errors[0]!,
        /rampart\.yaml:\d+:\d+ controller\.coordination\.leaseTtl: .*whole seconds, at least 2s/,
      );
    }
  });

  test('endpoints must be URLs; TLS needs https and both halves of a client certificate', () => {
    const coordination = '  coordination: { kind: etcd }';
    const notUrl = errorsOf(
      withController(`  store: { kind: etcd, endpoints: [10.0.0.5:2379] }\n${coordination}`),
    );
    assert.match(notUrl[0]!, /controller\.store\.endpoints\[0\]/);
    const none = errorsOf(withController(`  store: { kind: etcd, endpoints: [] }\n${coordination}`));
    assert.match(none[0]!, /controller\.store\.endpoints: .*at least 1/);
    const tls = errorsOf(
      withController(`  store:
    kind: etcd
    endpoints: [http://10.0.0.5:2379]
    tls: { ca: ca.pem, cert: rampart.pem }
${coordination}`),
    );
    assert.equal(tls.length, 2, tls.join('\n'));
    assert.ok(
      tls.some((e) => /controller\.store\.tls\.key: a client certificate needs both cert and key/.test(e)),
    );
    assert.ok(
      tls.some((e) => /controller\.store\.endpoints\[0\]: "http:\/\/10\.0\.0\.5:2379" is plain http/.test(e)),
    );
  });

  test('unknown etcd fields are refused with the allowed ones', () => {
    const [e] = errorsOf(
      withController(
        '  store: { kind: etcd, endpoints: [http://127.0.0.1:2379], ttl: 5 }\n  coordination: { kind: etcd }',
      ),
    );
    assert.match(
      e!,
      /controller\.store\.ttl: unknown field "ttl" \(allowed here: kind, endpoints, prefix, tls, auth, timeout\)/,
    );
  });
});

describe('config: Kubernetes', () => {
  const kube = (provider: string, pool: string, extra = '') => `version: 1
metrics:
  - { name: k8s, kind: kubernetes }
providers:
${provider}
pools:
${pool}
${extra}`;
  const sts = `  - { name: cluster, kind: kubernetes, namespace: chain, workload: { statefulSet: sentry } }`;
  const sentryPool = (node = 'kube-pod', select = 'newest', metric = 'k8s:cpu') => `  - name: sentries
    role: sentry
    provider: cluster
    node: { kind: ${node} }
    size: { min: 1, capacity: 2, max: 4 }
    scaleIn: { select: ${select} }
    scaleUp: { rules: [{ metric: '${metric}', comparator: '>', threshold: 0.8 }] }`;

  test('the shipped Kubernetes examples are valid', () => {
    for (const f of ['examples/kubernetes-sentries.yaml', 'examples/kubernetes-workers.yaml'])
      assert.doesNotThrow(() => parseConfigText(readFileSync(f, 'utf8'), f), f);
  });

  test('a StatefulSet pool: kube-pod nodes, newest first, resource metrics only', () => {
    const { config } = parseConfigText(kube(sts, sentryPool()), 'rampart.yaml');
    const p = config.providers[0]!;
    assert.equal(p.kind, 'kubernetes');
    assert.deepEqual(p.kind === 'kubernetes' && p.cluster, {});
    assert.match(
      errorsOf(kube(sts, sentryPool('kube-node'))).join('\n'),
      /its nodes are kube-pod or cometbft, not kube-node/,
    );
    assert.match(
      errorsOf(kube(sts, sentryPool('etcd-member'))).join('\n'),
      /its nodes are kube-pod or cometbft, not etcd-member/,
    );
    assert.match(
      errorsOf(kube(sts, sentryPool('kube-pod', 'least-busy'))).join('\n'),
      /scaleIn\.select: .*highest ordinal.*select: newest/,
    );
    assert.match(
      errorsOf(kube(sts, sentryPool('kube-pod', 'newest', 'k8s:node_cpu'))).join('\n'),
      /not in the resource metrics API: write k8s:cpu \(cores\) or k8s:memory \(bytes\)/,
    );
  });

  test('CometBFT sentries in pods: their ConfigMap is named, their address one of three', () => {
    const pool = sentryPool('cometbft');
    assert.match(
      errorsOf(kube(sts, pool)).join('\n'),
      /providers\[0\]\.workload\.configMap: pool "sentries" runs cometbft nodes in pods: name the ConfigMap/,
    );
    const withMap = (extra: string) =>
      `  - { name: cluster, kind: kubernetes, workload: { statefulSet: sentry, configMap: sentry-peers${extra} } }`;
    const { config } = parseConfigText(kube(withMap(''), pool), 'rampart.yaml');
    const p = config.providers[0]!;
    assert.deepEqual(p.kind === 'kubernetes' && [p.workload?.address, p.workload?.serviceType], [
      'pod-ip',
      'LoadBalancer',
    ]);
    assert.doesNotThrow(() =>
      parseConfigText(kube(withMap(', address: service, serviceType: NodePort'), pool), 'rampart.yaml'),
    );
    assert.match(
      errorsOf(kube(withMap(', address: node-ip'), pool)).join('\n'),
      /workload\.address: .*pod-ip.*host-port.*service/,
    );
  });

  test('exactly one of workload and nodePool; kube kinds only on a kubernetes provider', () => {
    const both = `  - name: cluster
    kind: kubernetes
    workload: { statefulSet: sentry }
    nodePool: { machines: m }`;
    assert.match(errorsOf(kube(both, sentryPool())).join('\n'), /exactly one of workload .* or nodePool/);
    const local = `  - { name: cluster, kind: local }`;
    assert.match(
      errorsOf(kube(local, sentryPool())).join('\n'),
      /kube-pod nodes come only from a kubernetes provider/,
    );
  });

  test('a node pool needs an aws machines provider that serves no pool itself', () => {
    const workers = `  - name: workers
    role: worker
    provider: cluster
    node: { kind: kube-node }
    size: { min: 1, capacity: 1, max: 3 }`;
    const pool = `  - { name: cluster, kind: kubernetes, nodePool: { machines: machines, drainTimeout: 2m } }`;
    const aws = `  - { name: machines, kind: aws, region: eu-west-1, autoScalingGroup: g }`;
    const { config } = parseConfigText(kube(`${pool}\n${aws}`, workers), 'rampart.yaml');
    const p = config.providers[0]!;
    assert.equal(p.kind === 'kubernetes' && p.nodePool?.drainTimeout, 120_000);
    assert.equal(p.kind === 'kubernetes' && p.nodePool?.evictionRetry, 5000);
    assert.match(errorsOf(kube(pool, workers)).join('\n'), /provider "machines" is not defined in providers/);
    const local = `  - { name: machines, kind: local }`;
    assert.match(
      errorsOf(kube(`${pool}\n${local}`, workers)).join('\n'),
      /machines come from an aws or azure provider/,
    );
    const azure = `  - { name: machines, kind: azure, subscriptionId: 0b5c7a52-1d55-4a42-9d7e-3c1f2e6a9b10, resourceGroup: epiphany, scaleSet: workers }`;
    const onAzure = parseConfigText(kube(`${pool}\n${azure}`, workers), 'rampart.yaml').config;
    assert.equal(onAzure.providers[1]?.kind, 'azure', 'azure machines back a node pool too');
  });

  test('restore with a Job needs the container and an s3 snapshot set', () => {
    const jobNoContainer = `  - name: cluster
    kind: kubernetes
    workload: { statefulSet: sentry, volumes: { claim: data, restore: job } }`;
    assert.match(
      errorsOf(kube(jobNoContainer, sentryPool())).join('\n'),
      /restore: job needs the job container/,
    );
    const job = `  - name: cluster
    kind: kubernetes
    workload:
      statefulSet: sentry
      volumes: { claim: data, restore: job, job: { image: restore:1, command: [restore] } }`;
    assert.match(errorsOf(kube(job, sentryPool())).join('\n'), /restores with a Job: name the snapshot set/);
  });

  test('requireTls: the API, etcd and Kubernetes API servers must all be TLS', () => {
    const text = `version: 1
controller:
  api: { requireTls: true }
  store: { kind: etcd, endpoints: ['http://10.0.0.5:2379'] }
  coordination: { kind: etcd }
metrics:
  - { name: k8s, kind: kubernetes, cluster: { server: 'http://10.0.0.1:8080' } }
providers:
${sts}
pools:
${sentryPool()}`;
    const errors = errorsOf(text).join('\n');
    assert.match(
      errors,
      /controller\.api\.tls: TLS is required \(controller\.api\.requireTls\): serve the API over HTTPS/,
    );
    assert.match(errors, /controller\.store\.endpoints\[0\]: TLS is required .*plain http/);
    assert.match(errors, /metrics\[0\]\.cluster\.server: TLS is required .*plain http/);
  });

  test('requireTls: a kubeconfig that names a plain-http server is refused at the entry, naming the file', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rampart-kubeconfig-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const kubeconfig = (server: string) => `apiVersion: v1
kind: Config
clusters: [{ name: c, cluster: { server: '${server}' } }]
users: [{ name: u, user: { token: not-a-secret-here } }]
contexts: [{ name: ctx, context: { cluster: c, user: u } }]
current-context: ctx
`;
    writeFileSync(path.join(dir, 'plain.yaml'), kubeconfig('http://10.0.0.1:8080'));
    writeFileSync(path.join(dir, 'tls.yaml'), kubeconfig('https://10.0.0.1:6443'));
    const config = (file: string) => `version: 1
controller:
  api: { requireTls: true, tls: { cert: c.pem, key: k.pem } }
providers:
  - { name: cluster, kind: kubernetes, namespace: chain, cluster: { kubeconfig: ${file} }, workload: { statefulSet: sentry } }
pools:
${sentryPool('kube-pod', 'newest', 'nodes:cpu')}
metrics:
  - { name: nodes, kind: scrape }`;
    const refused = (file: string) => {
      try {
        parseConfigText(config(file), path.join(dir, 'rampart.yaml'));
        return [];
      } catch (e) {
        if (e instanceof ConfigError) return e.message.split('\n');
        throw e;
      }
    };
    const plain = refused('plain.yaml').join('\n');
    assert.match(
      plain,
      /rampart\.yaml:5:\d+ providers\[0\]\.cluster: TLS is required \(controller\.api\.requireTls\): kubeconfig .*plain\.yaml, context "ctx" gives the server "http:\/\/10\.0\.0\.1:8080", plain http/,
    );
    assert.doesNotMatch(plain, /not-a-secret-here/, 'nothing of the kubeconfig user is echoed');
    assert.doesNotMatch(refused('tls.yaml').join('\n'), /TLS is required/);
  });
});

describe('config: hostile input', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'rampart-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a file larger than 1 MiB is refused before it is read, naming the file and the limit', () => {
    const file = path.join(dir, 'rampart.yaml');
    writeFileSync(file, `version: 1\nx: "${'a'.repeat(20_000_000)}"\n`);
    assert.throws(
      () => loadConfigFile(file),
      (e: Error) => {
        assert.ok(e instanceof ConfigError);
        assert.equal(e.message, `${file}: 20.0 MB is larger than the 1 MiB a config may be`);
        return true;
      },
    );
    const text = `version: 1\nx: "${'a'.repeat(MAX_CONFIG_BYTES)}"\n`;
    assert.deepEqual(errorsOf(text), [
      `rampart.yaml: ${text.length} bytes is larger than the 1 MiB a config may be`,
    ]);
  });

  test('a string longer than 64 KiB is refused with its field, and not echoed', () => {
    const long = 'x'.repeat(MAX_CONFIG_STRING + 1);
    const errors = errorsOf(base(sentries.replace('name: sentries', `name: ${long}`)));
    assert.deepEqual(errors, [
      `rampart.yaml:7:11 pools[0].name: a text of ${MAX_CONFIG_STRING + 1} characters is longer than the ${MAX_CONFIG_STRING} a config string may be`,
    ]);
  });

  test('a YAML alias bomb is refused at the alias, with its line and field', () => {
    const errors = errorsOf(`version: 1
x:
  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
  b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
  c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
  d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
  e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
  f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
  g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
`);
    assert.equal(errors.length, 1, errors.join('\n'));
    assert.match(errors[0]!, /^rampart\.yaml:6:10 x\.d\[0\]: YAML: alias \*c expands .* more than 100 times/);
    // A few aliases for shared settings stay welcome.
    const { config } = parseConfigText(
      base(`${sentries.replace('size: {', 'size: &size {')}
  - { name: more, role: sentry, provider: laptop, node: { kind: simnode }, size: *size }`),
      'rampart.yaml',
    );
    assert.deepEqual(config.pools[1]!.size, config.pools[0]!.size);
  });

  test("no config error shows a URL's credentials, query values, token-long path segments or a header's value", () => {
    const secrets = ['hunter2', 's3cr3t-token', 'opensesame', 'T0KENXXXXXXXXXXXXXXXX', 'alice', 'Bearer abc'];
    const invalid = errorsOf(`version: 1
metrics:
  - { name: prom, kind: prometheus, url: 'https://alice:opensesame@prom example.com/api?key=s3cr3t-token' }
providers:
  - { name: laptop, kind: local }
pools:
${sentries}
alerts:
  receivers:
    - { kind: webhook, url: 'https://hooks.example.com/services/T0KENXXXXXXXXXXXXXXXX?token=s3cr3t-token', headers: { X-Token: "Bearer abc\\n" } }
    - { kind: alertmanager, url: 'ftp://alice:hunter2@am:9093' }
    - { kind: webhook, url: 'http://alice:hunter2@exa mple/x', tokenFile: t }
`).join('\n');
    const crossChecked = errorsOf(`version: 1
controller:
  store:
    kind: etcd
    endpoints: ['http://alice:hunter2@10.0.0.5:2379/?token=s3cr3t-token']
    tls: { ca: ca.pem }
  coordination: { kind: etcd }
providers:
  - { name: laptop, kind: local }
pools:
${sentries}
`).join('\n');
    for (const s of secrets) {
      assert.ok(!invalid.includes(s), `${s} in:\n${invalid}`);
      assert.ok(!crossChecked.includes(s), `${s} in:\n${crossChecked}`);
    }
    assert.match(
      invalid,
      /rampart\.yaml:3:42 metrics\[0\]\.url: "https:\/\/\[redacted\]@prom example\.com\/api\?key=\[redacted\]" is not an http\(s\) URL/,
    );
    assert.match(invalid, /alerts\.receivers\[0\]\.headers\.X-Token: the value \(not shown/);
    assert.match(
      invalid,
      /alerts\.receivers\[1\]\.url: "ftp:\/\/\[redacted\]@am:9093" is not an http\(s\) URL/,
    );
    assert.match(
      invalid,
      /alerts\.receivers\[2\]\.url: "http:\/\/\[redacted\]@exa mple\/x" is not an http\(s\) URL/,
    );
    assert.match(
      crossChecked,
      /controller\.store\.endpoints\[0\]: "http:\/\/\[redacted\]@10\.0\.0\.5:2379\/\?token=\[redacted\]" is plain http/,
    );
  });

  test('a receiver URL with a user and password is accepted; a webhook with a token as well is not', () => {
    const receivers = (receiver: string) => `${base(sentries)}
alerts:
  receivers:
    - ${receiver}
`;
    const { config } = parseConfigText(
      receivers("{ kind: alertmanager, url: 'https://rampart:pw@am.example.com:9093' }"),
      'rampart.yaml',
    );
    assert.equal(config.alerts.receivers[0]!.url, 'https://rampart:pw@am.example.com:9093');
    assert.deepEqual(
      errorsOf(receivers("{ kind: webhook, url: 'https://ops:pw@h.example.com/x', tokenFile: t }")),
      [
        'rampart.yaml:14:29 alerts.receivers[0].url: the user and password in the url are sent as an Authorization header: set either them, tokenFile or an Authorization header',
      ],
    );
  });
});

describe('config: the valid range of a rule', () => {
  const withRules = (rules: string) =>
    base(`${sentries}
    scaleUp:
      rules:
${rules}`);

  test('valid: { min, max } on threshold and target rules, either bound optional', () => {
    const { config } = parseConfigText(
      withRules(`        - { metric: "nodes:idle", comparator: "<", threshold: 10, valid: { min: 0, max: 100 } }
        - { metric: "nodes:rx", rate: true, target: 5e6, valid: { min: 0 } }
        - { metric: "nodes:peers", comparator: ">", threshold: 30 }`),
      'rampart.yaml',
    );
    const [idle, rx, peers] = config.pools[0]!.scaleUp.rules;
    assert.deepEqual(idle?.valid, { min: 0, max: 100 });
    assert.deepEqual(rx?.valid, { min: 0 });
    assert.equal(peers !== undefined && 'valid' in peers, false, 'absent when not written');
  });

  test('a range that is empty, inverted, unknown-keyed, or that the rule could never fire in, is an error', () => {
    const errors = errorsOf(
      withRules(`        - { metric: "nodes:a", comparator: ">", threshold: 1, valid: { min: 5, max: 1 } }
        - { metric: "nodes:b", comparator: ">", threshold: 1, valid: {} }
        - { metric: "nodes:c", comparator: ">", threshold: 1, valid: { min: 0, top: 9 } }
        - { metric: "nodes:d", comparator: ">", threshold: 100, valid: { min: 0, max: 100 } }
        - { metric: "nodes:e", comparator: "<", threshold: 0, valid: { min: 0 } }
        - { metric: "nodes:f", target: 200, valid: { max: 100 } }
        - { metric: "nodes:g", comparator: ">", threshold: 1, valid: { max: "100" } }`),
    );
    assert.deepEqual(errors, [
      'rampart.yaml:14:85 pools[0].scaleUp.rules[0].valid.max: max (1) must be ≥ min (5)',
      'rampart.yaml:15:70 pools[0].scaleUp.rules[1].valid: give min, max or both: the range the metric can take',
      'rampart.yaml:16:80 pools[0].scaleUp.rules[2].valid.top: unknown field "top" (allowed here: min, max)',
      'rampart.yaml:17:60 pools[0].scaleUp.rules[3].threshold: > 100 is never true for a value in valid [0, 100]: the rule could never fire',
      'rampart.yaml:18:60 pools[0].scaleUp.rules[4].threshold: < 0 is never true for a value in valid [0, ∞]: the rule could never fire',
      'rampart.yaml:19:40 pools[0].scaleUp.rules[5].target: target 200 is outside valid [-∞, 100]: the metric could never reach it',
      'rampart.yaml:20:77 pools[0].scaleUp.rules[6].valid.max: "100" is not a number',
    ]);
  });

  test('the JSON Schema carries valid, so `rampart schema` and the Helm values schema do', () => {
    const text = JSON.stringify(configJsonSchema());
    assert.match(
      text,
      /"valid":\{"type":"object","properties":\{"min":\{"type":"number"\},"max":\{"type":"number"\}\}/,
    );
  });
});
