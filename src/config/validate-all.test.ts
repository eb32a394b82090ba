// `rampart validate` reports every error of a config in one run, by line: field errors and
// the cross-checks that span sections together, each once, each in Rampart's words.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { describeConfig } from './describe-config.ts';
import { ConfigError, type ConfigIssue, formatIssue, parseConfigText } from './load.ts';

const issuesOf = (text: string): readonly ConfigIssue[] => {
  try {
    parseConfigText(text, 'rampart.yaml');
  } catch (e) {
    if (e instanceof ConfigError) return e.issues;
    throw e;
  }
  assert.fail('expected a ConfigError');
};
const errorsOf = (text: string): string[] => issuesOf(text).map(formatIssue);

const valid = `version: 1
metrics:
  - { name: nodes, kind: scrape }
providers:
  - { name: laptop, kind: local }
pools:
  - name: validator
    role: validator
    provider: laptop
    node: { kind: simnode }
  - name: sentries
    role: sentry
    provider: laptop
    node: { kind: simnode, validatorPool: validator }
    size: { min: 2, capacity: 3, max: 5 }
`;

describe('validate: every error in one run', () => {
  test('one error of every kind, each with file:line:col and field, ordered by line', () => {
    const issues = issuesOf(`version: 1
controller:
  evaluationInterval: 0s
  colour: blue
metrics:
  - { name: nodes, kind: scrape, staleAfter: 10 }
  - { name: nodes, kind: scrape }
providers:
  - { name: laptop, kind: local }
pools:
  - name: validator
    role: validator
    provider: laptop
    node: { kind: simnode }
    size: { min: 1, capacity: 1, max: 1 }
  - name: sentries
    role: sentry
    provider: laptp
    node: { kind: simnode, validatorPool: validator }
    size: { min: 4, capacity: 3, max: "5" }
    scaleUp:
      rules:
        - { metric: "prom:up", comparator: ">", threshold: 1, step: 0 }
    health: { checkInterval: 0s, joinTimeout: 0s }
snapshots:
  - { name: validator-snapshots, from: validator, store: { kind: directory, path: snaps } }
`);
    assert.deepEqual(issues.map(formatIssue), [
      // zero interval
      'rampart.yaml:3:23 controller.evaluationInterval: "0s" is too short: must be more than 0, such as 10s',
      // field
      'rampart.yaml:4:3 controller.colour: unknown field "colour" (allowed here: evaluationInterval, historyRetention, store, coordination, api, log)',
      // duration
      'rampart.yaml:6:46 metrics[0].staleAfter: 10 is not a duration: write it like 10s, 500ms, 5m',
      // duplicate name
      'rampart.yaml:7:13 metrics[1].name: "nodes" is already the name of metrics[0]',
      // validator-pool misuse
      'rampart.yaml:15:11 pools[0].size: a validator pool has no size: it is never scaled (its failures go to failover)',
      // reference
      'rampart.yaml:18:15 pools[1].provider: provider "laptp" is not defined in providers (defined: laptop)',
      // bounds
      'rampart.yaml:20:18 pools[1].size.min: min (4) must be ≤ capacity (3)',
      // type
      'rampart.yaml:20:39 pools[1].size.max: "5" is not a number',
      // reference from a rule that has a field error of its own
      'rampart.yaml:23:21 pools[1].scaleUp.rules[0].metric: metric source "prom" is not defined in metrics (defined: nodes)',
      'rampart.yaml:23:69 pools[1].scaleUp.rules[0].step: 0 is too small: must be at least 1 node, or a percentage such as 20%',
      'rampart.yaml:24:30 pools[1].health.checkInterval: "0s" is too short: must be more than 0, such as 10s',
      'rampart.yaml:24:47 pools[1].health.joinTimeout: "0s" is too short: must be more than 0, such as 10m',
      // snapshot from a validator
      'rampart.yaml:26:40 snapshots[0].from: pool "validator" is a validator pool: a snapshot is never taken from the validator (name a sentry or full-node pool)',
    ]);
    for (const i of issues) {
      assert.equal(i.file, 'rampart.yaml');
      assert.ok(i.line > 0 && i.column > 0 && i.field !== '', formatIssue(i));
    }
    const positions = issues.map((i) => [i.line, i.column] as const);
    const sorted = [...positions].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    assert.deepEqual(positions, sorted);
  });

  test('errors come by line, then column, whichever check found them', () => {
    const errors = errorsOf(
      valid
        .replace(
          'provider: laptop\n    node: { kind: simnode, validatorPool',
          'provider: nowhere\n    node: { kind: simnode, validatorPool',
        )
        .replace(
          'size: { min: 2, capacity: 3, max: 5 }',
          'size: { min: 2, capacity: 3, max: 5 }\n    scaleIn: { select: random }',
        )
        .replace('{ name: nodes, kind: scrape }', '{ name: nodes, kind: scrape, timeout: soon }'),
    );
    assert.deepEqual(errors, [
      'rampart.yaml:3:43 metrics[0].timeout: "soon" is not a duration such as 500ms, 10s, 5m, 6h or 1h30m',
      'rampart.yaml:13:15 pools[1].provider: provider "nowhere" is not defined in providers (defined: laptop)',
      'rampart.yaml:16:24 pools[1].scaleIn.select: "random" is not one of least-busy newest oldest',
    ]);
  });

  test('no error is reported twice: what the schema refused, the cross-checks do not judge', () => {
    // A size that is not a mapping is not also "missing"; a token file that is not text does
    // not make the API "tokenless"; a validator pool's unknown kind does not undefine it.
    const errors = errorsOf(`version: 1
controller:
  api: { listen: 0.0.0.0:8080, tokenFile: 5 }
metrics:
  - { name: nodes, kind: scrap }
providers:
  - { name: laptop, kind: local }
pools:
  - name: validator
    role: validator
    provider: laptop
    node: { kind: simnod }
  - name: sentries
    role: sentry
    provider: laptop
    node: { kind: simnode, validatorPool: validator }
    size: 5
    scaleUp: { rules: [ { metric: "nodes:x", comparator: ">", threshold: 1 } ] }
`);
    assert.deepEqual(errors, [
      'rampart.yaml:3:43 controller.api.tokenFile: 5 is not a string',
      'rampart.yaml:5:26 metrics[0].kind: "scrap" is not known: one of scrape, prometheus, netdata, kubernetes',
      'rampart.yaml:12:19 pools[0].node.kind: "simnod" is not known: one of simnode, cometbft, etcd-member, kube-pod, kube-node',
      'rampart.yaml:17:11 pools[1].size: 5 is not a mapping (key: value)',
    ]);
  });

  test('a section refused as a whole is not taken for an empty one', () => {
    const errors = errorsOf(
      valid
        .replace('metrics:\n  - { name: nodes, kind: scrape }', 'metrics: { nodes: scrape }')
        .concat('    scaleUp: { rules: [ { metric: "nodes:x", comparator: ">", threshold: 1 } ] }\n'),
    );
    assert.deepEqual(errors, ['rampart.yaml:2:10 metrics: a mapping is not a list']);
  });

  test('cross-checks run on any data and never throw: every error is a ConfigError', () => {
    const base = parseYaml(readFileSync('examples/local.yaml', 'utf8')) as Record<string, unknown>;
    const paths = [
      [],
      ['controller'],
      ['controller', 'store'],
      ['metrics'],
      ['metrics', 0],
      ['metrics', 0, 'kind'],
      ['providers'],
      ['providers', 0],
      ['pools'],
      ['pools', 0],
      ['pools', 1, 'node'],
      ['pools', 1, 'node', 'validatorPool'],
      ['pools', 1, 'size'],
      ['pools', 1, 'size', 'min'],
      ['pools', 1, 'scaleUp', 'rules'],
      ['pools', 1, 'scaleUp', 'rules', 0],
      ['pools', 1, 'bootstrap'],
      ['snapshots'],
      ['snapshots', 0],
      ['snapshots', 0, 'from'],
    ];
    fc.assert(
      fc.property(fc.constantFrom(...paths), fc.jsonValue(), (where, value) => {
        const data = structuredClone(base);
        if (where.length === 0) return check(value);
        let parent: unknown = data;
        for (const k of where.slice(0, -1)) parent = (parent as Record<string | number, unknown>)[k];
        (parent as Record<string | number, unknown>)[where.at(-1)!] = value;
        return check(data);
      }),
      { numRuns: 400 },
    );
    function check(data: unknown) {
      try {
        parseConfigText(toYaml(data), 'rampart.yaml');
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
      }
    }
  });
});

describe('validate: errors the cross-checks used to miss', () => {
  test('a snapshot set taken from a validator pool, or from a pool that does not exist', () => {
    const set = (from: string) => `${valid}snapshots:
  - { name: copies, from: ${from}, store: { kind: directory, path: snaps } }
`;
    assert.deepEqual(errorsOf(set('validator')), [
      'rampart.yaml:17:27 snapshots[0].from: pool "validator" is a validator pool: a snapshot is never taken from the validator (name a sentry or full-node pool)',
    ]);
    assert.deepEqual(errorsOf(set('sentinels')), [
      'rampart.yaml:17:27 snapshots[0].from: pool "sentinels" is not defined in pools (defined: validator, sentries)',
    ]);
    assert.doesNotThrow(() => parseConfigText(set('sentries'), 'rampart.yaml'));
  });

  test('a snapshot set taken from a pool whose nodes are not on this machine (VMs, pods)', () => {
    const onAws = valid
      .replace(
        '  - { name: laptop, kind: local }',
        '  - { name: laptop, kind: local }\n  - { name: cloud, kind: aws, region: eu-west-1, autoScalingGroup: sentries }',
      )
      .replace(
        '    provider: laptop\n    node: { kind: simnode, validatorPool',
        '    provider: cloud\n    node: { kind: simnode, validatorPool',
      );
    const errors = errorsOf(`${onAws}snapshots:
  - { name: copies, from: sentries, store: { kind: s3, bucket: snaps, region: eu-west-1 } }
`);
    assert.equal(errors.length, 1, errors.join('\n'));
    assert.match(
      errors[0]!,
      /^rampart\.yaml:18:27 snapshots\[0\]\.from: pool "sentries" runs on provider "cloud" \(aws\), whose nodes' files are not on the machine Rampart runs on: a snapshot set cannot copy them; bake AMIs/,
    );
  });

  test('a pool bootstrapping from a snapshot set that does not exist', () => {
    assert.deepEqual(errorsOf(`${valid}    bootstrap: { snapshots: copies }\n`), [
      'rampart.yaml:16:29 pools[1].bootstrap.snapshots: snapshot set "copies" is not defined in snapshots (defined: (none defined))',
    ]);
  });

  const zero = (field: string, text: string, example: string) => ({ field, text, example });
  const withSentries = (sentries: string) =>
    valid.replace(
      '    size: { min: 2, capacity: 3, max: 5 }\n',
      `    size: { min: 2, capacity: 3, max: 5 }\n${sentries}\n`,
    );
  const intervals = [
    zero(
      'controller.evaluationInterval',
      valid.replace('version: 1\n', 'version: 1\ncontroller: { evaluationInterval: 0s }\n'),
      '10s',
    ),
    zero('pools[1].health.checkInterval', withSentries('    health: { checkInterval: 0s }'), '10s'),
    zero('pools[1].health.joinTimeout', withSentries('    health: { joinTimeout: 0ms }'), '10m'),
    zero('metrics[0].timeout', valid.replace('kind: scrape }', 'kind: scrape, timeout: 0s }'), '2s'),
    zero('metrics[0].staleAfter', valid.replace('kind: scrape }', 'kind: scrape, staleAfter: "0" }'), '30s'),
    zero(
      'controller.store.timeout',
      valid.replace(
        'version: 1\n',
        'version: 1\ncontroller:\n  store: { kind: etcd, endpoints: [http://127.0.0.1:2379], timeout: 0s }\n  coordination: { kind: etcd }\n',
      ),
      '5s',
    ),
    zero(
      'alerts.receivers[0].timeout',
      `${valid}alerts: { receivers: [ { kind: alertmanager, url: http://127.0.0.1:9093, timeout: 0s } ] }\n`,
      '5s',
    ),
    zero(
      'snapshots[0].every',
      `${valid}snapshots:\n  - { name: s, from: sentries, every: 0h, store: { kind: directory, path: s } }\n`,
      '6h',
    ),
    zero(
      'pools[0].failover.detect.pollInterval',
      valid
        .replace(
          '    node: { kind: simnode }\n',
          '    node: { kind: cometbft }\n    failover: { detect: { pollInterval: 0s } }\n',
        )
        .replace('kind: simnode, validatorPool', 'kind: cometbft, validatorPool'),
      '2s',
    ),
  ];
  for (const { field, text, example } of intervals)
    test(`${field}: 0 is refused, naming the field and a value that works`, () => {
      const errors = errorsOf(text);
      assert.equal(errors.length, 1, errors.join('\n'));
      assert.match(
        errors[0]!,
        new RegExp(
          `^rampart\\.yaml:\\d+:\\d+ ${field.replace(/[.[\]]/g, '\\$&')}: "0\\w*" is too short: must be more than 0, such as ${example}$`,
        ),
      );
    });

  test('aws retries, Kubernetes waits and etcd member calls: 0 is refused too', () => {
    const aws = `version: 1
providers:
  - { name: cloud, kind: aws, region: eu-west-1, autoScalingGroup: g, retry: { baseDelay: 0s, maxDelay: 0s, callTimeout: 0s } }
  - name: cluster
    kind: kubernetes
    workload: { statefulSet: sentry, volumes: { claim: data, timeout: 0s } }
  - { name: nodes, kind: kubernetes, nodePool: { machines: spare, drainTimeout: 0s, evictionRetry: 0s } }
  - { name: spare, kind: aws, region: eu-west-1, autoScalingGroup: spare }
pools:
  - name: members
    role: member
    provider: cloud
    node: { kind: etcd-member, timeout: 0s }
    size: { min: 3, capacity: 3, max: 5 }
`;
    const fields = errorsOf(aws)
      .filter((e) => /is too short: must be more than 0/.test(e))
      .map((e) => e.split(' ')[1]);
    assert.deepEqual(fields, [
      'providers[0].retry.baseDelay:',
      'providers[0].retry.maxDelay:',
      'providers[0].retry.callTimeout:',
      'providers[1].workload.volumes.timeout:',
      'providers[2].nodePool.drainTimeout:',
      'providers[2].nodePool.evictionRetry:',
      'pools[0].node.timeout:',
    ]);
  });

  test('a cooldown, a scale-down period and a lock attempt period of 0 stay allowed', () => {
    const { config } = parseConfigText(
      withSentries('    scaleUp: { cooldown: 0s }\n    scaleDown: { period: 0s, lockAttemptPeriod: 0s }'),
      'rampart.yaml',
    );
    assert.equal(config.pools[1]!.scaleUp.cooldown, 0);
    assert.equal(config.pools[1]!.scaleDown.period, 0);
    assert.equal(config.pools[1]!.scaleDown.lockAttemptPeriod, 0);
  });
});

describe('validate: messages that say what is allowed', () => {
  const rule = (step: string) =>
    `${valid}    scaleUp: { rules: [ { metric: "nodes:x", comparator: ">", threshold: 1, step: ${step} } ] }\n`;

  test('a step below 1 node says a node count or a percentage', () => {
    assert.deepEqual(errorsOf(rule('0')), [
      'rampart.yaml:16:83 pools[1].scaleUp.rules[0].step: 0 is too small: must be at least 1 node, or a percentage such as 20%',
    ]);
    assert.match(
      errorsOf(rule('"0%"'))[0]!,
      /step: "0%" is too small: a percentage step must be more than 0%$/,
    );
    assert.match(
      errorsOf(rule('1.5'))[0]!,
      /step: 1\.5 is not a number of nodes \(at least 1\) or a percentage such as 20%$/,
    );
    assert.match(
      errorsOf(rule('true'))[0]!,
      /step: true is not a number of nodes \(at least 1\) or a percentage such as 20%$/,
    );
  });

  test('a duration written as a number says how to write one', () => {
    assert.deepEqual(errorsOf(valid.replace('kind: scrape }', 'kind: scrape, staleAfter: 10 }')), [
      'rampart.yaml:3:46 metrics[0].staleAfter: 10 is not a duration: write it like 10s, 500ms, 5m',
    ]);
  });

  test('a duplicate key names the key and the line it was first written on', () => {
    assert.deepEqual(
      errorsOf(valid.replace('    role: sentry\n', '    role: sentry\n    scaleIn: {}\n    role: worker\n')),
      [
        'rampart.yaml:14:5 pools[1].role: YAML: Map keys must be unique: "role" is also on line 12 (write it once)',
      ],
    );
  });

  test("zod's own wording never reaches a message: each names the field and what is allowed", () => {
    const errors = errorsOf(`version: 1
controller:
  api: { requireTls: "yes", allowedHosts: localhost }
  store: { kind: etcd, endpoints: [https://10.0.0.5:2379], prefix: rampart/ }
  coordination: { kind: etcd }
metrics:
  - { name: 5, kind: scrape }
providers:
  - { kind: local }
  - name: cloud
    kind: aws
    region: eu-west-1
    autoScalingGroup: ""
    address: 5
    ports: { RPC: 26657 }
    retry: { attempts: 0 }
pools:
  - name: sentries
    role: sentry
    provider: laptop
    node: { kind: simnode, syncRate: -1 }
    size: { min: 1.5, capacity: 3, max: 5 }
alerts:
  receivers:
    - { kind: webhook, url: https://hooks.example/x, headers: { "Bad Header": x } }
`);
    assert.deepEqual(errors, [
      'rampart.yaml:3:22 controller.api.requireTls: "yes" is not true or false',
      'rampart.yaml:3:43 controller.api.allowedHosts: "localhost" is not a list',
      'rampart.yaml:4:68 controller.store.prefix: "rampart/" does not start with "/"',
      'rampart.yaml:7:13 metrics[0].name: 5 is not a name of lowercase letters, digits and -, starting with a letter',
      'rampart.yaml:9:5 providers[0].name: is required (a name of lowercase letters, digits and -, starting with a letter)',
      'rampart.yaml:13:23 providers[1].autoScalingGroup: "" is too small: must be at least 1 character',
      'rampart.yaml:14:14 providers[1].address: 5 is not private-ip, public-ip or { tag: NAME }',
      'rampart.yaml:15:14 providers[1].ports.RPC: the key "RPC" is not a port name of lowercase letters, digits and -',
      'rampart.yaml:16:24 providers[1].retry.attempts: 0 is too small: must be at least 1',
      'rampart.yaml:20:15 pools[0].provider: provider "laptop" is not defined in providers (defined: cloud)',
      'rampart.yaml:21:38 pools[0].node.syncRate: -1 is too small: must be more than 0',
      'rampart.yaml:22:18 pools[0].size.min: 1.5 is not a whole number',
      'rampart.yaml:25:65 alerts.receivers[0].headers.Bad Header: the key "Bad Header" is not an HTTP header name',
    ]);
    for (const e of errors) assert.doesNotMatch(e, /Invalid|expected|received|Too (small|big)/);
  });
});

describe('validate: the summary of a valid config', () => {
  test('counts with the noun in the right number', () => {
    const { config } = parseConfigText(valid, 'rampart.yaml');
    assert.equal(describeConfig(config), '2 pools, 1 provider, 1 metric source');
    const demo = parseConfigText(readFileSync('examples/local.yaml', 'utf8'), 'examples/local.yaml').config;
    assert.equal(describeConfig(demo), '2 pools, 1 provider, 1 metric source');
    assert.equal(
      describeConfig({
        pools: [config.pools[1]!],
        providers: [],
        metrics: [...config.metrics, ...config.metrics],
      }),
      '1 pool, 0 providers, 2 metric sources',
    );
  });
});
