// The azure provider against fake-azure-compute (a fake of Resource Manager's Microsoft.Compute
// built from the official client's own operation specs) through the official clients: the
// provider contract on a Flexible scale set, exact scale-in with deleteInstances, a Uniform
// scale set listed and scaled in, the scale set's own autoscale refused, throttling with
// Retry-After, 5xx, quota, SKU and allocation failures retried or reported with nothing left
// behind, and a service principal read from mounted files against the fake token endpoint.
// No log line or error ever holds the client secret.

import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import type { TokenCredential } from '@azure/identity';
import pino from 'pino';
import { simnodeKind } from '../../src/nodes/simnode/simnode-kind.ts';
import {
  AzureProvider,
  type AzureProviderOptions,
  TAGS,
  vmNameFor,
} from '../../src/providers/azure/azure-provider.ts';
import { azureCredential } from '../../src/providers/azure/credential.ts';
import type { CreateRequest } from '../../src/providers/provider.ts';
import { shortId } from '../../src/runtime/action-journal.ts';
import { providerContract } from '../contracts/provider.contract.ts';
import { type FakeAzureCompute, startFakeAzureCompute } from '../support/fake-azure-compute.ts';

let fake: FakeAzureCompute;
before(async () => {
  fake = await startFakeAzureCompute({ pollsToFinish: 2, finishAfterMs: 2000 });
});
after(async () => {
  await fake?.stop();
  const secret = fake?.servicePrincipal.clientSecret;
  for (const line of transcript)
    assert.ok(!line.includes(secret), `a message holds the client secret: ${line}`);
});

/** Every log line and error message of this file: none may hold the secret. */
const transcript: string[] = [];
function capturingLog(): { log: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      transcript.push(String(chunk));
      done();
    },
  });
  return { log: pino({ level: 'debug' }, sink), lines };
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

const RG = 'rampart-test';
const FAST = {
  attempts: 4,
  baseDelayMs: 20,
  maxDelayMs: 200,
  callTimeoutMs: 3000,
  pollIntervalMs: 30,
  operationTimeoutMs: 20_000,
};

const staticCredential = (): TokenCredential => ({
  getToken: async () => ({ token: fake.staticToken, expiresOnTimestamp: Date.now() + 3_600_000 }),
});

function freshScaleSet(
  mode: 'Flexible' | 'Uniform' = 'Flexible',
  extra: { zones?: string[]; capacity?: number } = {},
) {
  const name = `workers-${shortId()}`;
  fake.addScaleSet({ resourceGroup: RG, name, orchestrationMode: mode, ...extra });
  return name;
}

function makeProvider(scaleSet: string, over: Partial<AzureProviderOptions> = {}): AzureProvider {
  return new AzureProvider({
    name: 'cloud',
    subscriptionId: fake.subscriptionId,
    resourceGroup: RG,
    scaleSet,
    credential: staticCredential(),
    endpoint: fake.url,
    ca: fake.ca,
    ports: { rpc: 26657, metrics: 26660 },
    retry: FAST,
    pool: 'sentries',
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

const live = (scaleSet: string) =>
  fake.machines(RG, scaleSet).filter((m) => m.properties.provisioningState !== 'Deleting');

providerContract('azure (fake-azure-compute, Flexible scale set)', async () => {
  const scaleSet = freshScaleSet();
  return { provider: () => makeProvider(scaleSet), kind: simnodeKind, cleanup: async () => undefined };
});

describe('azure provider', () => {
  test('the fake serves the client description: routes, verbs and api-version read from the SDK, the rest refused by name', async () => {
    const names = new Set(fake.operations.map((o) => o.name));
    for (const op of [
      'virtualMachineScaleSets.get',
      'virtualMachineScaleSets.deleteInstances',
      'virtualMachineScaleSetVMs.list',
      'virtualMachines.createOrUpdate',
      'virtualMachines.list',
      'galleryImageVersions.createOrUpdate',
    ])
      assert.ok(names.has(op), `${op} is in the client's description`);
    const del = fake.operations.find((o) => o.name === 'virtualMachineScaleSets.deleteInstances')!;
    assert.equal(del.method, 'POST');
    assert.match(del.template, /\/virtualMachineScaleSets\/\{vmScaleSetName\}\/delete$/);
    // An operation the fake does not model is refused with a 501 that names it.
    const r = await fetchWithCa(
      `${fake.url}/subscriptions/${fake.subscriptionId}/resourceGroups/${RG}/providers/Microsoft.Compute/virtualMachines/x/powerOff?api-version=${del.apiVersion}`,
      'POST',
    );
    assert.equal(r.status, 501);
    assert.match(r.text, /does not model virtualMachines\.powerOff/);
  });

  test('create tags the VM at creation, in the scale set, named after the node; list reads the tags back', async () => {
    const scaleSet = freshScaleSet('Flexible', { zones: ['1', '2', '3'] });
    const p = makeProvider(scaleSet, {
      customData: { dataDir: '/var/lib/node', command: 'systemctl start simnode' },
    });
    const req = request();
    const made = await p.create(req);
    assert.equal(made.id, vmNameFor(req.nodeId));
    assert.equal(made.host, made.id, 'the computer name is the address by default');
    const [vm] = live(scaleSet);
    assert.equal(vm!.name, made.id);
    assert.deepEqual(
      {
        node: vm!.tags?.[TAGS.node],
        pool: vm!.tags?.[TAGS.pool],
        action: vm!.tags?.[TAGS.action],
        term: vm!.tags?.[TAGS.term],
        set: vm!.tags?.[TAGS.scaleSet],
      },
      { node: req.nodeId, pool: 'sentries', action: req.actionId, term: '3', set: scaleSet },
    );
    const props = vm!.properties as {
      virtualMachineScaleSet: { id: string };
      hardwareProfile: { vmSize: string };
      osProfile: { computerName: string; customData: string };
      storageProfile: { osDisk: { deleteOption: string } };
    };
    assert.match(props.virtualMachineScaleSet.id, new RegExp(`/virtualMachineScaleSets/${scaleSet}$`));
    assert.equal(props.hardwareProfile.vmSize, 'Standard_D2s_v5', 'the size is the scale set sku');
    assert.equal(props.storageProfile.osDisk.deleteOption, 'Delete', 'the disk goes with the VM');
    const script = Buffer.from(props.osProfile.customData, 'base64').toString('utf8');
    assert.match(script, new RegExp(`RAMPART_NODE_ID='${req.nodeId}'`));
    assert.match(script, /systemctl start simnode\n$/);
    assert.deepEqual(vm!.zones, ['1'], 'the first zone of an empty set');
    const second = await p.create(request());
    assert.deepEqual(
      live(scaleSet).find((m) => m.name === second.id)?.zones,
      ['2'],
      'then the emptiest zone',
    );
    // A create retried with the same request (a restart mid-create) adopts the VM, never a second.
    const again = await makeProvider(scaleSet).create(req);
    assert.equal(again.id, made.id);
    assert.equal(live(scaleSet).length, 2);
  });

  test('scale-in deletes exactly the chosen VM with deleteInstances, followed to its end', async () => {
    const scaleSet = freshScaleSet();
    const p = makeProvider(scaleSet);
    const made = [];
    for (let i = 0; i < 3; i++) made.push(await p.create(request()));
    const before = fake.calls.length;
    await p.destroy(made[1]!);
    const calls = fake.calls.slice(before);
    const del = calls.filter((c) => c.operation === 'virtualMachineScaleSets.deleteInstances');
    assert.equal(del.length, 1);
    assert.equal(del[0]!.status, 202, 'a long-running operation');
    assert.ok(
      calls.some((c) => c.operation === 'poll'),
      'polled through its Location header',
    );
    assert.deepEqual(
      live(scaleSet)
        .map((m) => m.name)
        .sort(),
      [made[0]!.id, made[2]!.id].sort(),
      'only the chosen VM is gone',
    );
    assert.ok(!calls.some((c) => c.operation === 'virtualMachines.delete'), 'never a delete outside the set');
  });

  test('a VM someone else added to the scale set is listed as unmanaged, for the orphan cleanup', async () => {
    const scaleSet = freshScaleSet();
    const p = makeProvider(scaleSet);
    const mine = await p.create(request());
    // Another VM in the set, without Rampart's tags (created straight through the fake's API).
    await makeProvider(scaleSet).create(request({ nodeId: 'stranger-vm' }));
    fake.replaceTags(RG, scaleSet, 'stranger-vm', { owner: 'someone' });
    const listed = await p.list();
    assert.deepEqual(listed.map((i) => i.nodeId).sort(), [mine.nodeId, 'unmanaged-stranger-vm'].sort());
    const stranger = listed.find((i) => i.nodeId === 'unmanaged-stranger-vm')!;
    assert.equal(stranger.pool, 'sentries');
    assert.equal(stranger.actionId, '');
  });

  test('a Uniform scale set: its instances are listed, scaled in exactly, stopped and started; a create is refused, saying why', async () => {
    const scaleSet = freshScaleSet('Uniform', { capacity: 3 });
    const p = makeProvider(scaleSet);
    const listed = await p.list();
    assert.deepEqual(
      listed.map((i) => i.id).sort(),
      [0, 1, 2].map((n) => `${scaleSet}_${n}`),
    );
    assert.ok(listed.every((i) => i.nodeId.startsWith('unmanaged-') && i.running));
    await p.destroy(listed[1]!);
    assert.deepEqual(
      live(scaleSet)
        .map((m) => m.name)
        .sort(),
      [`${scaleSet}_0`, `${scaleSet}_2`],
    );
    await p.destroy(listed[1]!);
    // Stop and start keep the instance: deallocated, then running again under the same name.
    await p.stop(listed[0]!);
    assert.equal((await p.list()).find((i) => i.id === listed[0]!.id)?.running, false);
    const started = await p.start(listed[0]!);
    assert.deepEqual([started.id, started.running], [listed[0]!.id, true]);
    const err = await rejection(p.create(request()));
    assert.match(err.message, /Uniform orchestration/);
    assert.equal(live(scaleSet).length, 2, 'nothing added');
  });

  test("the scale set's own autoscale enabled: scale-up is refused, naming the setting", async () => {
    const scaleSet = freshScaleSet();
    fake.addAutoscaleSetting(RG, scaleSet, true);
    const err = await rejection(makeProvider(scaleSet).create(request()));
    assert.match(
      err.message,
      new RegExp(`autoscale setting ${scaleSet}-autoscale is enabled on the scale set`),
    );
    assert.equal(live(scaleSet).length, 0);
    const other = freshScaleSet();
    fake.addAutoscaleSetting(RG, other, false);
    await makeProvider(other).create(request());
    assert.equal(live(other).length, 1, 'a disabled setting does not stand in the way');
  });

  test('429 with Retry-After is waited out as told, 5xx retried; the call then succeeds once', async () => {
    const scaleSet = freshScaleSet();
    const { log, lines } = capturingLog();
    const p = makeProvider(scaleSet, { log });
    fake.inject({
      operation: 'virtualMachines.createOrUpdate',
      status: 429,
      code: 'TooManyRequests',
      retryAfter: 1,
    });
    fake.inject({
      operation: 'virtualMachineScaleSets.get',
      status: 503,
      code: 'ServiceUnavailable',
      times: 2,
    });
    fake.inject({ operation: 'poll', status: 500, code: 'InternalServerError' });
    const made = await p.create(request());
    assert.equal(live(scaleSet).length, 1);
    assert.equal(live(scaleSet)[0]!.name, made.id);
    const retries = lines.map(
      (l) => JSON.parse(l) as { status?: number; retryAfterMs?: number; msg: string },
    );
    assert.ok(
      retries.some((r) => r.status === 429 && r.retryAfterMs === 1000),
      `the 429's Retry-After is reported:\n${lines.join('')}`,
    );
    assert.equal(retries.filter((r) => r.status === 503).length, 2);
    assert.ok(retries.some((r) => r.status === 500));
  });

  test('throttling that does not end: the error names the call, the scale set and the node; nothing is left', async () => {
    const scaleSet = freshScaleSet();
    const p = makeProvider(scaleSet);
    fake.inject({
      operation: 'virtualMachines.createOrUpdate',
      status: 429,
      code: 'TooManyRequests',
      retryAfter: 0,
      times: 10,
    });
    const req = request();
    const err = await rejection(p.create(req));
    assert.match(
      err.message,
      new RegExp(`virtualMachines.createOrUpdate on scale set ${scaleSet} \\(node ${req.nodeId}`),
    );
    assert.match(err.message, /TooManyRequests \(HTTP 429\).*gave up after 4 tries/);
    assert.equal(live(scaleSet).length, 0);
    fake.clearFaults();
  });

  test('quota and SKU errors are reported as Azure says them, not retried, nothing created', async () => {
    const scaleSet = freshScaleSet();
    const p = makeProvider(scaleSet);
    fake.inject({
      operation: 'virtualMachines.createOrUpdate',
      status: 409,
      code: 'OperationNotAllowed',
      message:
        'Operation could not be completed as it results in exceeding approved standardDSv5Family Cores quota. Current Limit: 10, Current Usage: 10, Additional Required: 2',
    });
    const quota = await rejection(p.create(request()));
    assert.match(
      quota.message,
      /OperationNotAllowed \(HTTP 409\): Operation could not be completed as it results in exceeding approved standardDSv5Family Cores quota/,
    );
    assert.match(quota.message, /not retried: Azure refused it/);
    fake.inject({
      operation: 'virtualMachines.createOrUpdate',
      status: 409,
      code: 'SkuNotAvailable',
      message: "The requested VM size 'Standard_D2s_v5' is currently not available in location 'westeurope'.",
    });
    const sku = await rejection(p.create(request()));
    assert.match(
      sku.message,
      /SkuNotAvailable \(HTTP 409\): The requested VM size 'Standard_D2s_v5' is currently not available/,
    );
    assert.equal(live(scaleSet).length, 0);
  });

  test('an allocation that fails after the VM was accepted: the failed VM is deleted, the error says so', async () => {
    const scaleSet = freshScaleSet();
    const p = makeProvider(scaleSet);
    fake.inject({
      operation: 'virtualMachines.createOrUpdate',
      status: 200,
      code: 'AllocationFailed',
      message:
        'Allocation failed. We do not have sufficient capacity for the requested VM size in this region.',
      async: true,
    });
    const req = request();
    const err = await rejection(p.create(req));
    assert.match(err.message, /AllocationFailed: Allocation failed\. We do not have sufficient capacity/);
    assert.match(
      err.message,
      new RegExp(`deleted VM ${vmNameFor(req.nodeId)}, which it had made, so nothing is left behind`),
    );
    assert.deepEqual(live(scaleSet), []);
    assert.deepEqual(await p.list(), []);
  });

  test('a service principal from mounted files gets its token from the login endpoint; its secret is never printed', async () => {
    const scaleSet = freshScaleSet();
    const dir = mkdtempSync(path.join(tmpdir(), 'rampart-sp-'));
    writeFileSync(path.join(dir, 'tenantId'), `${fake.tenantId}\n`);
    writeFileSync(path.join(dir, 'clientId'), fake.servicePrincipal.clientId);
    writeFileSync(path.join(dir, 'clientSecret'), fake.servicePrincipal.clientSecret);
    const login = azureCredential({ servicePrincipalDir: dir, authorityHost: fake.url, ca: fake.ca });
    assert.ok(!login.describe.includes(fake.servicePrincipal.clientSecret));
    const { log, lines } = capturingLog();
    const p = makeProvider(scaleSet, { credential: login.credential, secrets: login.secrets, log });
    const before = fake.calls.length;
    const made = await p.create(request());
    assert.equal((await p.list())[0]?.id, made.id);
    assert.ok(fake.calls.slice(before).some((c) => c.operation === 'token' && c.status === 200));
    // A wrong secret: refused by the login endpoint, the message holds no secret.
    writeFileSync(path.join(dir, 'clientSecret'), 'not-the-secret-at-all');
    const wrong = azureCredential({ servicePrincipalDir: dir, authorityHost: fake.url, ca: fake.ca });
    const err = await rejection(
      makeProvider(scaleSet, { credential: wrong.credential, secrets: wrong.secrets, log }).list(),
    );
    assert.ok(!err.message.includes('not-the-secret-at-all'), err.message);
    assert.ok(!lines.join('').includes(fake.servicePrincipal.clientSecret));
    const missing = mkdtempSync(path.join(tmpdir(), 'rampart-sp-'));
    assert.throws(
      () => azureCredential({ servicePrincipalDir: missing }),
      /lacks tenantId, clientId, clientSecret or clientCertificate/,
    );
  });
});

async function fetchWithCa(url: string, method: string): Promise<{ status: number; text: string }> {
  const { request: httpsRequest } = await import('node:https');
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      { method, ca: fake.ca, headers: { authorization: `Bearer ${fake.staticToken}` } },
      (res) => {
        let text = '';
        res.on('data', (d) => {
          text += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}
