// The openstack provider against a real OpenStack (Keystone, Glance, Neutron, Placement, Nova
// with its fake virt driver; test/support/openstack.ts), whose ACTIVE servers a machines fake
// boots into simnode processes: the provider contract, servers carrying their identity in
// metadata and the provider's tag, the chosen server deleted, quota exceeded and bad flavors
// reported naming the field with nothing left behind, a revoked token issued again from a
// rotated secret file, and faults injected by a proxy in front of Nova (5xx, 409, 429, an
// answer lost after the create took effect), and a proxy in front of Keystone (a token issue
// answered 503, a token expired mid-run, one issued close to its expiry). No log line or error
// holds the password or a token.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, test } from 'node:test';
import pino from 'pino';
import { simnodeKind } from '../../src/nodes/simnode/simnode-kind.ts';
import { readCloud } from '../../src/providers/openstack/clouds.ts';
import {
  META,
  type NovaServer,
  OpenstackProvider,
  type OpenstackProviderOptions,
  providerTag,
} from '../../src/providers/openstack/openstack-provider.ts';
import type { CreateRequest } from '../../src/providers/provider.ts';
import { shortId } from '../../src/runtime/action-journal.ts';
import { providerContract } from '../contracts/provider.contract.ts';
import { waitFor } from '../support/fleet.ts';
import { ADMIN_CLOUD, CLOUD, FLAVOR, IMAGE, openstackForFile } from '../support/openstack.ts';
import { startOpenstackFaultProxy } from '../support/openstack-fault-proxy.ts';
import { type OpenstackMachines, startOpenstackMachines } from '../support/openstack-machines-fake.ts';

const os = openstackForFile();
const ADDRESS_KEY = 'rampart:address';
const FAST_RETRY = { attempts: 4, baseDelayMs: 50, maxDelayMs: 500, callTimeoutMs: 20_000 };

/** Every log line and error message of this file: none may hold a password or a token. */
const transcript: string[] = [];
function capturingLog(): pino.Logger {
  const sink = new Writable({
    write(chunk, _enc, done) {
      transcript.push(String(chunk));
      done();
    },
  });
  return pino({ level: 'debug' }, sink);
}
async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    transcript.push((e as Error).message);
    return e as Error;
  }
  throw new Error('expected a rejection');
}

function makeProvider(name: string, over: Partial<OpenstackProviderOptions> = {}): OpenstackProvider {
  const bed = os.bed();
  return new OpenstackProvider({
    name,
    cloud: CLOUD,
    cloudsFile: bed.cloudsFile,
    secretFile: bed.secretFile,
    servers: { flavor: FLAVOR, image: IMAGE, networks: 'none', securityGroups: [] },
    address: { metadata: ADDRESS_KEY },
    ports: { rpc: 26657, metrics: 26660 },
    dataDir: '/var/lib/rampart/node',
    bootTimeoutMs: 120_000,
    retry: FAST_RETRY,
    pool: 'sentries',
    log: capturingLog(),
    pollMs: 300,
    ...over,
  });
}

function request(over: Partial<CreateRequest> = {}): CreateRequest {
  return {
    nodeId: `sentries-${shortId()}`,
    pool: 'sentries',
    actionId: `a-${shortId()}`,
    term: 3,
    kind: simnodeKind,
    launch: { role: 'sentry', upstream: [], options: {} },
    ...over,
  };
}

/** Every server of the project, as the admin sees them. */
async function allServers(): Promise<NovaServer[]> {
  const bed = os.bed();
  const r = await fetch(`${bed.urls.nova}/servers/detail`, {
    headers: { 'x-auth-token': await bed.token(), 'x-openstack-nova-api-version': '2.67' },
  });
  return ((await r.json()) as { servers: NovaServer[] }).servers;
}

async function deleteAll(provider: string): Promise<void> {
  const p = makeProvider(provider);
  for (const i of await p.list()) await p.destroy(i);
}

const machines: OpenstackMachines[] = [];
after(async () => {
  for (const m of machines) await m.stop();
});
/** The machines fake for one provider entry's servers; stopped by the returned function. */
function bootMachines(provider: string): () => Promise<void> {
  if (os.skip) return async () => undefined;
  const bed = os.bed();
  const m = startOpenstackMachines({
    cloudsFile: bed.cloudsFile,
    cloud: ADMIN_CLOUD,
    provider,
    addressKey: ADDRESS_KEY,
  });
  machines.push(m);
  return async () => {
    machines.splice(machines.indexOf(m), 1);
    await m.stop();
  };
}

providerContract(
  'openstack (Nova servers on the fake virt driver, simnode per server)',
  async () => {
    const name = `contract-${shortId()}`.toLowerCase();
    const stopMachines = bootMachines(name);
    return {
      provider: () => makeProvider(name),
      kind: simnodeKind,
      cleanup: async () => {
        await deleteAll(name);
        await stopMachines();
      },
    };
  },
  { skip: os.skip },
);

describe('openstack provider', { skip: os.skip }, () => {
  test('a server carries node, pool, action and term in its metadata and the provider tag; scale-in deletes exactly the chosen one', async () => {
    const name = `meta-${shortId()}`.toLowerCase();
    const stopMachines = bootMachines(name);
    const p = makeProvider(name);
    try {
      const req = request();
      const [a, b] = [await p.create(req), await p.create(request())];
      const server = (await allServers()).find((s) => s.id === a.id)!;
      assert.equal(server.metadata[META.node], req.nodeId);
      assert.equal(server.metadata[META.pool], 'sentries');
      assert.equal(server.metadata[META.action], req.actionId);
      assert.equal(server.metadata[META.term], '3');
      assert.deepEqual(server.tags, [providerTag(name)]);
      assert.equal(server.name, req.nodeId);
      assert.equal((await p.list()).find((i) => i.id === a.id)?.term, 3);
      // The node's process runs on the server's address (the machines fake started it).
      const status = await fetch(`http://${a.host}:${a.ports.rpc}/status`);
      assert.equal(status.status, 200);
      await status.arrayBuffer();
      await p.destroy(b);
      const left = (await allServers()).filter((s) => s.tags?.includes(providerTag(name)));
      assert.deepEqual(
        left.map((s) => s.id),
        [a.id],
        'only the chosen server is gone',
      );
    } finally {
      await deleteAll(name);
      await stopMachines();
    }
  });

  test('quota exceeded: an error naming the call, the pool and the field, and no server left behind', async () => {
    const name = `quota-${shortId()}`.toLowerCase();
    const stopMachines = bootMachines(name);
    const bed = os.bed();
    const p = makeProvider(name);
    const before = (await allServers()).length;
    await bed.setInstanceQuota(before);
    try {
      const e = await rejection(p.create(request()));
      assert.match(
        e.message,
        /openstack provider quota-\w+ \(pool sentries\), providers\[\]\.servers: quota exceeded creating node sentries-\w+, nothing was created/,
      );
      assert.match(e.message, /create server \(POST compute \/servers\)/);
      assert.match(e.message, /HTTP 403/);
      assert.equal((await allServers()).length, before, 'no server was left behind');
    } finally {
      await bed.setInstanceQuota(20);
      await stopMachines();
    }
  });

  test('a flavor or image that does not exist is an error naming the field, before any server is made', async () => {
    const before = (await allServers()).length;
    const flavor = await rejection(
      makeProvider('bad-flavor', {
        servers: { flavor: 'm1.nope', image: IMAGE, networks: 'none', securityGroups: [] },
      }).create(request()),
    );
    assert.match(
      flavor.message,
      /providers\[\]\.servers\.flavor: no flavor "m1\.nope" \(has .*rampart\.tiny/,
    );
    const image = await rejection(
      makeProvider('bad-image', {
        servers: { flavor: FLAVOR, image: 'no-such-image', networks: 'none', securityGroups: [] },
      }).create(request()),
    );
    assert.match(image.message, /providers\[\]\.servers\.image: no active image "no-such-image"/);
    assert.equal((await allServers()).length, before);
  });

  test('a token revoked mid-run (the password rotated) is issued again from the secret file', async () => {
    const name = `token-${shortId()}`.toLowerCase();
    const bed = os.bed();
    const p = makeProvider(name);
    await p.list();
    assert.equal(p.session.tokensIssued, 1);
    const oldPassword = readCloud({ cloud: CLOUD, cloudsFile: bed.cloudsFile, secretFile: bed.secretFile });
    const fresh = await bed.rotatePassword();
    // Keystone revoked the provider's token: once Nova's 10 s token cache lets go of it, Nova
    // answers 401 and the provider authenticates again, with the rotated password.
    await waitFor(
      'a token issued again',
      async () => {
        assert.deepEqual(await p.list(), []);
        return p.session.tokensIssued === 2;
      },
      60_000,
    );
    assert.deepEqual(await p.list(), []);
    assert.equal(p.session.tokensIssued, 2, 'one new token, from the rotated password');
    const secrets = [fresh, oldPassword.auth.type === 'password' ? oldPassword.auth.password : ''];
    for (const line of transcript)
      for (const s of secrets) assert.ok(!line.includes(s), `a secret leaked: ${line.slice(0, 200)}`);
  });
  test('5xx, 409 and 429 from Nova are retried; an answer lost after the create took effect makes no second server', async () => {
    const bed = os.bed();
    const proxy = await startOpenstackFaultProxy(new URL(bed.urls.nova).origin);
    const region = `Faults${shortId()}`;
    await bed.addRegion(region, { compute: `${proxy.url}/v2.1` });
    const name = `faults-${shortId()}`.toLowerCase();
    const stopMachines = bootMachines(name);
    const p = makeProvider(name, { region });
    try {
      proxy.inject({ method: 'POST', path: /^\/v2\.1\/servers$/, fault: 'unavailable', times: 2 });
      proxy.inject({ method: 'GET', path: /^\/v2\.1\/flavors/, fault: 'rate-limited', times: 1 });
      const a = await p.create(request());
      assert.equal(
        proxy.calls.filter(
          (c) => c.method === 'POST' && c.path === '/v2.1/servers' && c.fault === 'unavailable',
        ).length,
        2,
      );
      // Nova takes the create, the answer never comes back: the retry finds the server by its action id.
      proxy.inject({ method: 'POST', path: /^\/v2\.1\/servers$/, fault: 'drop-answer', times: 1 });
      const req = request();
      const b = await p.create(req);
      const mine = (await p.list()).filter((i) => i.actionId === req.actionId);
      assert.deepEqual(
        mine.map((i) => i.id),
        [b.id],
        'one server for the action',
      );
      proxy.inject({ method: 'DELETE', path: /^\/v2\.1\/servers\//, fault: 'conflict', times: 1 });
      await p.destroy(a);
      assert.ok(proxy.calls.some((c) => c.method === 'DELETE' && c.fault === 'conflict'));
      assert.deepEqual(
        (await p.list()).map((i) => i.id),
        [b.id],
      );
      const retried = transcript.filter((l) => /retrying in \d+ ms/.test(l));
      assert.ok(retried.length >= 4, `each fault was logged as a retry (${retried.length})`);
    } finally {
      await proxy.close();
      await deleteAll(name);
      await stopMachines();
    }
  });
  test('Keystone behind a fault proxy: a 5xx on a token issue retried, a token expired mid-run issued again, one near its expiry renewed before it is used', async () => {
    const bed = os.bed();
    const keystone = await startOpenstackFaultProxy(new URL(bed.authUrl).origin);
    const nova = await startOpenstackFaultProxy(new URL(bed.urls.nova).origin);
    const region = `Tokens${shortId()}`;
    await bed.addRegion(region, { compute: `${nova.url}/v2.1` });
    // The same clouds, authenticating through the proxy.
    const dir = mkdtempSync(path.join(tmpdir(), 'rampart-os-tokens-'));
    const cloudsFile = path.join(dir, 'clouds.yaml');
    writeFileSync(
      cloudsFile,
      readFileSync(bed.cloudsFile, 'utf8').split(bed.authUrl).join(`${keystone.url}/v3`),
    );
    const p = makeProvider(`tokens-${shortId()}`.toLowerCase(), { region, cloudsFile });
    const issues = () => keystone.calls.filter((c) => c.method === 'POST' && c.path === '/v3/auth/tokens');
    const unauthorized = () => nova.calls.filter((c) => c.fault === 'token-expired').length;
    try {
      keystone.inject({ method: 'POST', path: /^\/v3\/auth\/tokens$/, fault: 'unavailable', times: 1 });
      assert.deepEqual(await p.list(), []);
      assert.equal(issues().length, 2, 'the 503 was retried');
      assert.equal(p.session.tokensIssued, 1);

      // Nova answers 401 to a token the provider still holds good (expired or revoked there).
      nova.inject({ method: 'GET', path: /^\/v2\.1\/servers/, fault: 'token-expired', times: 1 });
      assert.deepEqual(await p.list(), []);
      assert.equal(unauthorized(), 1);
      assert.equal(p.session.tokensIssued, 2, 'a new token after the 401, and the call went through');

      // The next token comes with 5 s left: the call after it renews first, with no 401.
      keystone.inject({ method: 'POST', path: /^\/v3\/auth\/tokens$/, fault: 'expires-soon', times: 1 });
      nova.inject({ method: 'GET', path: /^\/v2\.1\/servers/, fault: 'token-expired', times: 1 });
      assert.deepEqual(await p.list(), []);
      assert.equal(p.session.tokensIssued, 3);
      const novaCalls = nova.calls.length;
      assert.deepEqual(await p.list(), []);
      assert.equal(p.session.tokensIssued, 4, 'renewed before its expiry');
      assert.ok(
        nova.calls.slice(novaCalls).every((c) => c.fault === undefined),
        'no call was refused on the way',
      );
      assert.equal(unauthorized(), 2);
    } finally {
      await keystone.close();
      await nova.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
