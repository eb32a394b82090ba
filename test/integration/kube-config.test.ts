// Reaching a real API server through kubeconfigs, as kubectl does: a client-certificate user
// (files and inline data, signed by the CA the server trusts for clients), exec credential
// plugins (a small script printing an ExecCredential: a ServiceAccount token the server
// accepts, or a client certificate), re-run when their credential expires or is refused (401),
// and never letting what they print reach an error. Credentials come from @kubernetes/client-node's
// KubeConfig; these check what Rampart adds around it. The in-cluster path is kube-rampart's.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { KubeClient, KubeError } from '../../src/kube/kube-client.ts';
import { createNamespace, kubeForFile } from '../support/kube.ts';

const NS = 'kubeconfig';
const dir = mkdtempSync(join(tmpdir(), 'rampart-kubeconfig-'));
/** The exec plugin's working files: its run count, the tokens it hands out, their expiry. */
const state = join(dir, 'state');

/** A CA the API server trusts for client certificates, and a user it signed (CN, O = group). */
function clientCertificates(): void {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'client-ca.key',
    '-out',
    'client-ca.crt',
    '-days',
    '2',
    '-subj',
    '/CN=rampart client CA',
  );
  openssl(
    'req',
    ...ec,
    '-keyout',
    'user.key',
    '-out',
    'user.csr',
    '-subj',
    '/O=rampart-testers/CN=rampart-cert',
  );
  openssl(
    'x509',
    '-req',
    '-in',
    'user.csr',
    '-CA',
    'client-ca.crt',
    '-CAkey',
    'client-ca.key',
    '-CAcreateserial',
    '-out',
    'user.crt',
    '-days',
    '2',
  );
}

const bed = kubeForFile(
  () => {
    clientCertificates();
    return { apiserverArgs: [`--client-ca-file=${join(dir, 'client-ca.crt')}`] };
  },
  async (k) => {
    await createNamespace(k, NS);
    await k.ok('POST', `/api/v1/namespaces/${NS}/serviceaccounts`, {
      body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'exec-user' } },
    });
  },
);
bed.cleanup(() => rmSync(dir, { recursive: true, force: true }));

/** The plugin: counts its runs, prints token number <run> of $STATE/tokens (the last repeats), with $STATE/expiry. */
const PLUGIN = `#!/bin/sh
n=$(( $(cat "$STATE/runs" 2>/dev/null || echo 0) + 1 ))
echo "$n" > "$STATE/runs"
printf '%s' "$KUBERNETES_EXEC_INFO" > "$STATE/info"
if [ -f "$STATE/fail" ]; then echo "no credentials for you" >&2; exit 3; fi
if [ -f "$STATE/garbage" ]; then echo "token: $(cat "$STATE/tokens")"; exit 0; fi
token=$(sed -n "\${n}p" "$STATE/tokens"); [ -n "$token" ] || token=$(tail -n 1 "$STATE/tokens")
exp=$(cat "$STATE/expiry" 2>/dev/null)
if [ -f "$STATE/cert" ]; then
  printf '{"apiVersion":"%s","kind":"ExecCredential","status":{"clientCertificateData":%s,"clientKeyData":%s}}' "$API" "$(cat "$STATE/cert")" "$(cat "$STATE/key")"
else
  printf '{"apiVersion":"%s","kind":"ExecCredential","status":{"token":"%s"%s}}' "$API" "$token" "\${exp:+,\\"expirationTimestamp\\":\\"$exp\\"}"
fi
`;

/** Writes a kubeconfig (in dir/kube) with every user and context below, and the plugin beside it. */
function writeKubeconfig(server: string, caFile: string): string {
  const kubeDir = join(dir, 'kube');
  mkdirSync(kubeDir, { recursive: true });
  mkdirSync(state, { recursive: true });
  writeFileSync(join(kubeDir, 'plugin.sh'), PLUGIN);
  chmodSync(join(kubeDir, 'plugin.sh'), 0o755);
  const exec = (api: string, extra: object = {}) => ({
    apiVersion: `client.authentication.k8s.io/${api}`,
    // Relative with a slash: the kubeconfig's folder's, as in client-go.
    command: './plugin.sh',
    env: [
      { name: 'STATE', value: state },
      { name: 'API', value: `client.authentication.k8s.io/${api}` },
    ],
    interactiveMode: 'Never',
    provideClusterInfo: true,
    ...extra,
  });
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      { name: 'bed', cluster: { server, 'certificate-authority': caFile } },
      { name: 'bed-unchecked', cluster: { server, 'insecure-skip-tls-verify': true } },
    ],
    users: [
      // Files relative to the kubeconfig.
      { name: 'cert-files', user: { 'client-certificate': '../user.crt', 'client-key': '../user.key' } },
      {
        name: 'cert-data',
        user: {
          'client-certificate-data': readFileSync(join(dir, 'user.crt')).toString('base64'),
          'client-key-data': readFileSync(join(dir, 'user.key')).toString('base64'),
        },
      },
      { name: 'exec-v1', user: { exec: exec('v1') } },
      { name: 'exec-v1beta1', user: { exec: exec('v1beta1') } },
      {
        name: 'exec-missing',
        user: {
          exec: {
            ...exec('v1'),
            command: 'rampart-no-such-plugin',
            installHint: 'install it from the cloud',
          },
        },
      },
    ],
    contexts: [
      { name: 'cert-files', context: { cluster: 'bed', user: 'cert-files', namespace: NS } },
      { name: 'cert-data', context: { cluster: 'bed', user: 'cert-data' } },
      { name: 'exec', context: { cluster: 'bed', user: 'exec-v1' } },
      { name: 'exec-beta', context: { cluster: 'bed', user: 'exec-v1beta1' } },
      { name: 'exec-missing', context: { cluster: 'bed', user: 'exec-missing' } },
      { name: 'unchecked', context: { cluster: 'bed-unchecked', user: 'cert-data' } },
    ],
    'current-context': 'exec',
  };
  const file = join(kubeDir, 'config');
  writeFileSync(file, JSON.stringify(config, null, 2), { mode: 0o600 });
  return file;
}

/** The identity the API server sees. */
async function whoAmI(client: KubeClient): Promise<{ username: string; groups: string[] }> {
  const r = await client.create<{ status: { userInfo: { username: string; groups: string[] } } }>(
    '/apis/authentication.k8s.io/v1/selfsubjectreviews',
    { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
  );
  return r.status.userInfo;
}

/** Resets the plugin: its runs, its tokens, their expiry, its failure switch and its certificate. */
function plugin(o: {
  tokens: string[];
  expiry?: string;
  fail?: boolean;
  garbage?: boolean;
  cert?: boolean;
}): void {
  for (const f of ['runs', 'expiry', 'fail', 'garbage', 'cert', 'key', 'info'])
    rmSync(join(state, f), { force: true });
  writeFileSync(join(state, 'tokens'), `${o.tokens.join('\n')}\n`);
  if (o.expiry !== undefined) writeFileSync(join(state, 'expiry'), o.expiry);
  if (o.fail) writeFileSync(join(state, 'fail'), '');
  if (o.garbage) writeFileSync(join(state, 'garbage'), '');
  if (o.cert) {
    writeFileSync(join(state, 'cert'), JSON.stringify(readFileSync(join(dir, 'user.crt'), 'utf8')));
    writeFileSync(join(state, 'key'), JSON.stringify(readFileSync(join(dir, 'user.key'), 'utf8')));
  }
}
const runs = () => Number(readFileSync(join(state, 'runs'), 'utf8').trim());

let kubeconfig: string;
let saToken: string;
const client = (context?: string, extra: { insecureSkipTlsVerify?: boolean; env?: NodeJS.ProcessEnv } = {}) =>
  new KubeClient({ kubeconfig, ...(context ? { context } : {}), ...extra });

test('kubeconfig users on the real API server', { skip: bed.skip }, async (t) => {
  const k = bed.kube();
  kubeconfig = writeKubeconfig(k.url, k.caFile);
  saToken = await k.serviceAccountToken(NS, 'exec-user');
  const saUser = `system:serviceaccount:${NS}:exec-user`;

  await t.test(
    'a client certificate, from files beside the kubeconfig or inline; the context namespace is the default',
    async () => {
      for (const context of ['cert-files', 'cert-data']) {
        const c = client(context);
        const me = await whoAmI(c);
        assert.equal(me.username, 'rampart-cert');
        assert.ok(me.groups.includes('rampart-testers'), me.groups.join(','));
        assert.equal(c.namespaceOr('default'), context === 'cert-files' ? NS : 'default');
        c.close();
      }
    },
  );

  await t.test(
    'an exec plugin (v1, the current context): its token, run once while unexpired, told the cluster',
    async () => {
      plugin({ tokens: [saToken], expiry: new Date(Date.now() + 3_600_000).toISOString() });
      const c = client();
      assert.equal((await whoAmI(c)).username, saUser);
      await Promise.all([
        whoAmI(c),
        whoAmI(c),
        c.list(`/api/v1/namespaces/${NS}/serviceaccounts`).catch(() => []),
      ]);
      assert.equal(runs(), 1, 'an unexpired credential is reused, by concurrent requests too');
      const info = JSON.parse(readFileSync(join(state, 'info'), 'utf8'));
      assert.equal(info.kind, 'ExecCredential');
      assert.equal(info.spec.interactive, false);
      assert.equal(info.spec.cluster.server, k.url, 'provideClusterInfo passes the cluster');
      c.close();
    },
  );

  await t.test('an expired credential runs the plugin again before the next request', async () => {
    plugin({ tokens: [saToken], expiry: new Date(Date.now() - 1000).toISOString() });
    const c = client('exec');
    await whoAmI(c);
    await whoAmI(c);
    assert.equal(runs(), 2);
    c.close();
  });

  await t.test(
    'a refused credential (401) runs the plugin again and the request is retried once',
    async () => {
      plugin({ tokens: ['revoked-token-0123456789', saToken] });
      const c = client('exec');
      assert.equal((await whoAmI(c)).username, saUser);
      assert.equal(runs(), 2);
      // A plugin that keeps answering a refused token: one retry, then the 401, without the token.
      plugin({ tokens: ['revoked-token-0123456789'] });
      const d = client('exec');
      const e = await whoAmI(d).then(
        () => assert.fail('a refused token was accepted'),
        (x: unknown) => x,
      );
      assert.ok(e instanceof KubeError && e.status === 401, String(e));
      assert.equal(runs(), 2);
      assert.doesNotMatch(String(e), /revoked-token/);
      c.close();
      d.close();
    },
  );

  await t.test('a v1beta1 plugin answering a client certificate', async () => {
    plugin({ tokens: ['unused'], cert: true });
    const c = client('exec-beta');
    assert.equal((await whoAmI(c)).username, 'rampart-cert');
    c.close();
  });

  await t.test(
    "a plugin's failure names the plugin and its stderr; what it printed on stdout never shows",
    async () => {
      plugin({ tokens: ['secret-token-abcdef'], fail: true });
      await assert.rejects(whoAmI(client('exec')), (e: Error) => {
        assert.match(
          e.message,
          /plugin\.sh \(user "exec-v1" of kubeconfig .*\) failed; it said: no credentials for you/,
        );
        return true;
      });
      // Not JSON: the library's parse error quotes it; Rampart's message does not.
      plugin({ tokens: ['secret-token-abcdef'], garbage: true });
      await assert.rejects(whoAmI(client('exec')), (e: Error) => {
        assert.match(e.message, /plugin\.sh \(user "exec-v1" .*\) printed no JSON ExecCredential on stdout/);
        assert.doesNotMatch(e.message, /secret-token/);
        return true;
      });
      await assert.rejects(
        whoAmI(client('exec-missing')),
        /rampart-no-such-plugin .* is not installed \(not found\) — install it from the cloud/,
      );
    },
  );

  await t.test('insecure-skip-tls-verify only when the Rampart config allows it', async () => {
    assert.throws(
      () => client('unchecked'),
      /clusters\[1\] "bed-unchecked": cluster\.insecure-skip-tls-verify is true: .*cluster\.insecureSkipTlsVerify: true/,
    );
    const c = client('unchecked', { insecureSkipTlsVerify: true });
    assert.equal((await whoAmI(c)).username, 'rampart-cert');
    c.close();
  });

  await t.test('$KUBECONFIG out of a pod; the ServiceAccount in one', async () => {
    plugin({ tokens: [saToken] });
    const env = { PATH: process.env.PATH, KUBECONFIG: `${join(dir, 'missing')}:${kubeconfig}` };
    const c = new KubeClient({ env });
    assert.match(c.source, /context "exec"/);
    assert.equal((await whoAmI(c)).username, saUser);
    c.close();
    const saDir = join(dir, 'sa');
    mkdirSync(saDir, { recursive: true });
    writeFileSync(join(saDir, 'token'), k.adminToken);
    writeFileSync(join(saDir, 'ca.crt'), readFileSync(k.caFile));
    writeFileSync(join(saDir, 'namespace'), NS);
    const url = new URL(k.url);
    const inPod = new KubeClient({
      env: {
        ...env,
        KUBERNETES_SERVICE_HOST: url.hostname,
        KUBERNETES_SERVICE_PORT: url.port,
        RAMPART_SERVICE_ACCOUNT_DIR: saDir,
      },
    });
    assert.match(inPod.source, /ServiceAccount/);
    assert.equal((await whoAmI(inPod)).username, 'admin');
    assert.equal(inPod.namespaceOr('default'), NS);
    inPod.close();
  });
});
