// Tests of the generic JSON webhook: the body's documented shape, configured headers, and the
// bearer token from a file, which reaches the receiver and nothing else (no log line, no error).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { alertReceiverContract } from '../../test/contracts/alert-receiver.contract.ts';
import {
  captureLog,
  FakeClock,
  startReceiverServer,
  T0,
  until,
  validatorDown,
} from '../../test/support/alert-fixtures.ts';
import { closedPort } from '../../test/support/http-fixture.ts';
import { AlertDispatcher } from './alert-dispatcher.ts';
import { DeliveryError } from './alert-receiver.ts';
import { WebhookReceiver } from './webhook-receiver.ts';

const TOKEN = 's3cret-t0ken-4f1c9a7e2b';
let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'rampart-webhook-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('one JSON object per alert state, in the documented shape, with the configured headers', async (t) => {
  const server = await startReceiverServer();
  t.after(() => server.close());
  const receiver = new WebhookReceiver({
    name: 'ops',
    url: `${server.url}/hooks/rampart?team=validators`,
    timeoutMs: 5000,
    headers: { 'X-Team': 'validators' },
    source: 'rampart-prod',
    dashboardUrl: 'http://127.0.0.1:8080/',
    now: () => T0,
  });
  await receiver.deliver(validatorDown({ labels: { chain: 'cosmoshub-4' } }), AbortSignal.timeout(5000));
  await receiver.deliver(validatorDown({ status: 'resolved', node: undefined }), AbortSignal.timeout(5000));
  const [firing, resolved] = server.requests;
  assert.equal(firing!.method, 'POST');
  assert.equal(firing!.url, '/hooks/rampart?team=validators');
  assert.match(String(firing!.headers['content-type']), /^application\/json/);
  assert.equal(firing!.headers['x-team'], 'validators');
  assert.equal(firing!.headers.authorization, undefined);
  assert.deepEqual(firing!.body, {
    version: 1,
    source: 'rampart-prod',
    key: 'validator-down/validator',
    name: 'RampartValidatorDown',
    status: 'firing',
    severity: 'critical',
    pool: 'validator',
    node: 'validator-0',
    summary: 'validator validator-0 is down',
    description: 'RPC unreachable for 12s; standby cloud-standby is being brought up',
    labels: { chain: 'cosmoshub-4' },
    evidence: { unreachableFor: '12s', lastHeight: 1234, catchingUp: false },
    startsAt: '2026-03-01T11:59:48.000Z',
    endsAt: null,
    sentAt: '2026-03-01T12:00:00.000Z',
    url: 'http://127.0.0.1:8080/',
  });
  const r = resolved!.body as Record<string, unknown>;
  assert.equal(r.status, 'resolved');
  assert.equal(r.endsAt, '2026-03-01T12:00:00.000Z');
  assert.equal(r.node, null);
});

test('the token from tokenFile is sent as a bearer token and appears in no log line and no error', async (t) => {
  const tokenFile = join(dir, 'webhook-token');
  writeFileSync(tokenFile, `${TOKEN}\n`);
  // A careless receiver that echoes the Authorization header back in its error bodies.
  const server = await startReceiverServer((n, request) =>
    n < 2 ? { status: 500, body: `rejected ${request.headers.authorization}` } : 200,
  );
  t.after(() => server.close());
  const logs = captureLog();
  const clock = new FakeClock();
  const receiver = new WebhookReceiver({ name: 'ops', url: server.url, timeoutMs: 5000, tokenFile });
  const dispatcher = new AlertDispatcher([receiver], { log: logs.log, clock });
  t.after(() => dispatcher.close());

  // A direct delivery's error carries the receiver's answer, with the token taken out.
  const error = await receiver.deliver(validatorDown(), AbortSignal.timeout(5000)).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(error instanceof DeliveryError);
  assert.match(error.message, /HTTP 500: rejected Bearer \[redacted\]/);
  assert.ok(!error.message.includes(TOKEN));
  assert.ok(!String(error.stack).includes(TOKEN));

  dispatcher.send(validatorDown());
  await until(() => clock.sleeps.length === 1, 'the dispatcher retries');
  clock.advance(clock.sleeps[0]!);
  await until(() => dispatcher.stats()[0]!.delivered === 1, 'delivered');
  assert.deepEqual(
    server.requests.map((r) => r.headers.authorization),
    [`Bearer ${TOKEN}`, `Bearer ${TOKEN}`, `Bearer ${TOKEN}`],
  );
  assert.ok(logs.lines.length > 0, 'the failed try was logged');
  assert.match(logs.lines.join(''), /rejected Bearer \[redacted\]/);
  for (const line of logs.lines) assert.ok(!line.includes(TOKEN), `a log line holds the token: ${line}`);
});

test('a rotated token is read on the next delivery', async (t) => {
  const tokenFile = join(dir, 'rotating-token');
  writeFileSync(tokenFile, 'first-token');
  const server = await startReceiverServer();
  t.after(() => server.close());
  const receiver = new WebhookReceiver({ name: 'ops', url: server.url, timeoutMs: 5000, tokenFile });
  await receiver.deliver(validatorDown(), AbortSignal.timeout(5000));
  writeFileSync(tokenFile, 'second-token\n');
  await receiver.deliver(validatorDown(), AbortSignal.timeout(5000));
  assert.deepEqual(
    server.requests.map((r) => r.headers.authorization),
    ['Bearer first-token', 'Bearer second-token'],
  );
});

test('a missing or empty token file is refused at start, naming the file', () => {
  const missing = join(dir, 'no-such-token');
  assert.throws(
    () =>
      new WebhookReceiver({ name: 'ops', url: 'http://127.0.0.1:1', timeoutMs: 1000, tokenFile: missing }),
    new RegExp(`alert receiver ops: tokenFile ${missing} cannot be read \\(no such file\\)`),
  );
  const empty = join(dir, 'empty-token');
  writeFileSync(empty, '\n');
  assert.throws(
    () => new WebhookReceiver({ name: 'ops', url: 'http://127.0.0.1:1', timeoutMs: 1000, tokenFile: empty }),
    /tokenFile .* is empty/,
  );
});

test('a secret in the URL path never appears in an error: only the origin is named', async () => {
  const port = await closedPort();
  const receiver = new WebhookReceiver({
    name: 'slack',
    url: `http://127.0.0.1:${port}/services/T000/B000/XXXXSECRETPATH`,
    timeoutMs: 2000,
  });
  const error = await receiver.deliver(validatorDown(), AbortSignal.timeout(2000)).then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  assert.ok(error instanceof DeliveryError && error.retryable);
  assert.equal(error.message.split(': ')[0], `slack (http://127.0.0.1:${port})`);
  assert.match(error.message, /ECONNREFUSED/);
  assert.ok(!error.message.includes('XXXXSECRETPATH'));
});

test('a user and password in the URL are sent as Authorization: Basic; with a token as well, refused', async (t) => {
  const server = await startReceiverServer();
  t.after(() => server.close());
  const url = server.url.replace('http://', 'http://ops:s3cret@');
  const receiver = new WebhookReceiver({ name: 'ops', url: `${url}/hook?x=1`, timeoutMs: 5000 });
  await receiver.deliver(validatorDown(), AbortSignal.timeout(5000));
  assert.equal(
    server.requests[0]!.headers.authorization,
    `Basic ${Buffer.from('ops:s3cret').toString('base64')}`,
  );
  assert.equal(server.requests[0]!.url, '/hook?x=1');
  const tokenFile = join(dir, 'both-token');
  writeFileSync(tokenFile, TOKEN);
  for (const auth of [{ tokenFile }, { headers: { Authorization: 'Bearer x' } }])
    assert.throws(
      () => new WebhookReceiver({ name: 'ops', url, timeoutMs: 5000, ...auth }),
      /alert receiver ops: the user and password in its url are sent as an Authorization header: set either them, tokenFile or an Authorization header/,
    );
});

alertReceiverContract('webhook', (url) => new WebhookReceiver({ name: 'hook', url, timeoutMs: 5000 }));
