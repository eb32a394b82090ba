// Reading kubeconfigs with the library's KubeConfig: KUBECONFIG's files merged as kubectl merges
// them (the first to define a name wins), paths relative to the file that names them, what
// client-go gives an exec plugin, and every refusal naming the file, context and field without
// the secret it read. (The credentials themselves: test/integration/kube-config.test.ts.)

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { kubeCluster } from '../config-kit/fields.ts';
import { resolveKubeAccess } from './kube-client.ts';
import { defaultKubeconfigFiles, loadKubeconfig } from './kubeconfig.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'rampart-kubeconfig-unit-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, content: unknown) => {
  const f = path.join(dir, name);
  writeFileSync(f, typeof content === 'string' ? content : JSON.stringify(content));
  return f;
};
const SECRET = 'sekrit-token-value';
const base = {
  clusters: [
    {
      name: 'c',
      cluster: {
        server: 'https://10.0.0.1:6443',
        'certificate-authority-data': Buffer.from('CA').toString('base64'),
      },
    },
  ],
  users: [{ name: 'u', user: { token: SECRET } }],
  contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u', namespace: 'chain' } }],
  'current-context': 'ctx',
};

test('KUBECONFIG files merge, the first to define a name wins; a missing one in a list is skipped', () => {
  const a = file('a.yaml', { ...base, users: [{ name: 'u', user: { tokenFile: 'tok' } }] });
  const b = file('b.yaml', {
    ...base,
    clusters: [{ name: 'other', cluster: { server: 'https://10.0.0.2' } }],
    contexts: [{ name: 'second', context: { cluster: 'other', user: 'u' } }],
    'current-context': 'second',
  });
  const env = { KUBECONFIG: [path.join(dir, 'none.yaml'), a, b].join(path.delimiter), HOME: dir };
  assert.deepEqual(defaultKubeconfigFiles(env), [path.join(dir, 'none.yaml'), a, b]);
  const access = loadKubeconfig({ env });
  assert.equal(access.server, 'https://10.0.0.1:6443', "a's current-context");
  assert.deepEqual(
    access.config.getCurrentUser()?.authProvider,
    { name: 'tokenFile', config: { tokenFile: path.join(dir, 'tok') } },
    'a tokenFile is re-read by the library, relative to the file that names it',
  );
  assert.equal(Buffer.from(access.config.getCurrentCluster()?.caData ?? '', 'base64').toString(), 'CA');
  assert.equal(access.namespace, 'chain');
  assert.equal(loadKubeconfig({ env, context: 'second' }).server, 'https://10.0.0.2');
  assert.deepEqual(defaultKubeconfigFiles({ HOME: '/home/me' }), ['/home/me/.kube/config']);
});

test('refusals name the file, the context and the field, never the secret', () => {
  const cases: [string, unknown, RegExp, string?][] = [
    [
      'no-current.yaml',
      { ...base, 'current-context': undefined },
      /no context given \(cluster\.context\) and no current-context set \(contexts: ctx\)/,
    ],
    ['ctx.yaml', base, /context "prod" \(cluster\.context\) is not defined \(contexts: ctx\)/, 'prod'],
    [
      'no-cluster.yaml',
      { ...base, clusters: [] },
      /contexts\[0\] "ctx": context\.cluster "c" is not defined \(clusters: none\)/,
    ],
    [
      'no-user.yaml',
      { ...base, users: [{ name: 'v', user: {} }] },
      /context\.user "u" is not defined \(users: v\)/,
    ],
    [
      'insecure.yaml',
      {
        ...base,
        clusters: [{ name: 'c', cluster: { server: 'https://x', 'insecure-skip-tls-verify': true } }],
      },
      /clusters\[0\] "c": cluster\.insecure-skip-tls-verify is true/,
    ],
    [
      'half-cert.yaml',
      { ...base, users: [{ name: 'u', user: { 'client-certificate-data': 'QUJD' } }] },
      /users\[0\] "u": user\.client-key is missing/,
    ],
    [
      'bad-data.yaml',
      {
        ...base,
        users: [{ name: 'u', user: { 'client-certificate-data': `!${SECRET}`, 'client-key-data': 'QUJD' } }],
      },
      /users\[0\] "u": client-certificate-data is not base64/,
    ],
    [
      'no-file.yaml',
      { ...base, users: [{ name: 'u', user: { 'client-certificate': 'u.crt', 'client-key': 'u.key' } }] },
      /client-certificate .*u\.crt cannot be read \(ENOENT\)/,
    ],
    [
      'provider.yaml',
      { ...base, users: [{ name: 'u', user: { 'auth-provider': { name: 'gcp' } } }] },
      /user\.auth-provider: .*use an exec plugin/,
    ],
    [
      'alpha.yaml',
      {
        ...base,
        users: [
          {
            name: 'u',
            user: { exec: { apiVersion: 'client.authentication.k8s.io/v1alpha1', command: 'x' } },
          },
        ],
      },
      /exec\.apiVersion is "client\.authentication\.k8s\.io\/v1alpha1"/,
    ],
    [
      'interactive.yaml',
      {
        ...base,
        users: [
          {
            name: 'u',
            user: {
              exec: {
                apiVersion: 'client.authentication.k8s.io/v1',
                command: 'x',
                interactiveMode: 'Always',
              },
            },
          },
        ],
      },
      /exec\.interactiveMode is Always/,
    ],
    [
      'exec-token.yaml',
      {
        ...base,
        users: [
          {
            name: 'u',
            user: {
              token: SECRET,
              exec: { apiVersion: 'client.authentication.k8s.io/v1beta1', command: 'x' },
            },
          },
        ],
      },
      /user\.exec and a static token both given/,
    ],
    ['not-yaml.yaml', `users: [ {name: u, user: {token: ${SECRET}}`, /not-yaml\.yaml:\d+:\d+: not YAML/],
  ];
  for (const [name, content, want, context] of cases) {
    const f = file(name, content);
    assert.throws(
      () => loadKubeconfig({ files: [f], context }),
      (e: Error) => {
        assert.match(e.message, want, name);
        assert.ok(e.message.includes(f), `${name} names its file: ${e.message}`);
        assert.doesNotMatch(e.message, new RegExp(SECRET), name);
        return true;
      },
    );
  }
  assert.throws(
    () => loadKubeconfig({ files: [path.join(dir, 'absent')] }),
    /absent: cannot read it \(ENOENT\)/,
  );
});

test('an exec plugin: a relative command is the kubeconfig folder’s, a bare one is PATH’s; cluster info when asked', () => {
  const exec = (command: string) => ({
    ...base,
    users: [
      {
        name: 'u',
        user: {
          exec: {
            apiVersion: 'client.authentication.k8s.io/v1',
            command,
            interactiveMode: 'IfAvailable',
            provideClusterInfo: true,
            env: [{ name: 'A', value: 'b' }],
          },
        },
      },
    ],
  });
  const rel = loadKubeconfig({ files: [file('rel.yaml', exec('./bin/auth'))] });
  const e = rel.config.getCurrentUser()?.exec as { command: string; env: { name: string; value: string }[] };
  assert.equal(e.command, path.join(dir, 'bin', 'auth'));
  assert.equal(rel.exec?.command, path.join(dir, 'bin', 'auth'));
  assert.match(rel.exec?.where ?? '', /user "u" of kubeconfig .*rel\.yaml/);
  assert.equal(e.env.find((v) => v.name === 'A')?.value, 'b');
  const info = JSON.parse(e.env.find((v) => v.name === 'KUBERNETES_EXEC_INFO')?.value ?? '{}');
  assert.equal(info.apiVersion, 'client.authentication.k8s.io/v1');
  assert.equal(info.spec.interactive, false);
  assert.equal(info.spec.cluster.server, 'https://10.0.0.1:6443');
  assert.equal(info.spec.cluster['certificate-authority-data'], Buffer.from('CA').toString('base64'));
  const bare = loadKubeconfig({ files: [file('bare.yaml', exec('aws'))] });
  assert.equal(bare.exec?.command, 'aws');
});

test('where access comes from: a named kubeconfig, server, the pod, then KUBECONFIG; never two at once', () => {
  const f = file('where.yaml', base);
  assert.equal(resolveKubeAccess({ kubeconfig: f }, {}).source, `kubeconfig ${f}, context "ctx"`);
  assert.equal(
    resolveKubeAccess({ server: 'http://127.0.0.1:1' }, { KUBECONFIG: f }).server,
    'http://127.0.0.1:1',
  );
  const saDir = mkdtempSync(path.join(dir, 'sa-'));
  file(path.relative(dir, path.join(saDir, 'ca.crt')), 'CA');
  const inPod = resolveKubeAccess(
    {},
    { KUBECONFIG: f, KUBERNETES_SERVICE_HOST: '10.96.0.1', RAMPART_SERVICE_ACCOUNT_DIR: saDir },
  );
  assert.equal(inPod.server, 'https://10.96.0.1:443');
  assert.equal(inPod.config.getCurrentUser()?.authProvider?.config.tokenFile, path.join(saDir, 'token'));
  assert.equal(resolveKubeAccess({}, { KUBECONFIG: f }).source, `kubeconfig ${f}, context "ctx"`);
  assert.throws(
    () => resolveKubeAccess({}, { HOME: dir }),
    /no cluster given .* not running in a pod .* no kubeconfig at .*\.kube\/config \(KUBECONFIG is unset\)/,
  );
  assert.throws(
    () => resolveKubeAccess({ kubeconfig: f, server: 'https://x' }, {}),
    /choose the kubeconfig or the explicit fields/,
  );
  const refused = kubeCluster.safeParse({ kubeconfig: 'k', tokenFile: 't' });
  assert.equal(refused.success, false);
  assert.deepEqual(
    refused.error?.issues.map((i) => i.path),
    [['tokenFile']],
  );
  assert.equal(kubeCluster.safeParse({ context: 'prod', insecureSkipTlsVerify: true }).success, true);
});
