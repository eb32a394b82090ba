// Tests of the Alertmanager receiver against a local HTTP server: the body is Alertmanager's API v2
// postableAlerts (checked field by field against its OpenAPI definition), firing goes without
// endsAt, resolved with it, and answers map to retryable or final errors.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { alertReceiverContract } from '../../test/contracts/alert-receiver.contract.ts';
import {
  captureLog,
  FakeClock,
  type ReceiverServer,
  startReceiverServer,
  T0,
  until,
  validatorDown,
} from '../../test/support/alert-fixtures.ts';
import { closedPort } from '../../test/support/http-fixture.ts';
import { AlertDispatcher } from './alert-dispatcher.ts';
import { DeliveryError } from './alert-receiver.ts';
import { AlertmanagerReceiver, labelName } from './alertmanager-receiver.ts';

/** RFC 3339 date-time (Go's strfmt.DateTime accepts this, fractional seconds optional). */
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * Asserts `body` is a valid `postableAlerts` (Alertmanager api/v2/openapi.yaml): an array of
 * objects with only labels (required, a labelSet), annotations (a labelSet), startsAt and endsAt
 * (date-time) and generatorURL (uri); plus what Alertmanager's validation adds: at least one
 * label, label and annotation names as Prometheus names, endsAt not before startsAt.
 */
function assertPostableAlerts(body: unknown): asserts body is Record<string, unknown>[] {
  assert.ok(Array.isArray(body), 'postableAlerts is an array');
  for (const alert of body as unknown[]) {
    assert.ok(
      alert !== null && typeof alert === 'object' && !Array.isArray(alert),
      'each alert is an object',
    );
    const a = alert as Record<string, unknown>;
    for (const k of Object.keys(a))
      assert.ok(
        ['labels', 'annotations', 'startsAt', 'endsAt', 'generatorURL'].includes(k),
        `unknown field ${k}`,
      );
    for (const set of ['labels', 'annotations'] as const) {
      const value = a[set];
      if (set === 'annotations' && value === undefined) continue;
      assert.ok(value !== null && typeof value === 'object' && !Array.isArray(value), `${set} is a labelSet`);
      for (const [k, v] of Object.entries(value as object)) {
        assert.match(k, LABEL_NAME, `${set} name ${k}`);
        assert.equal(typeof v, 'string', `${set}.${k} is a string`);
      }
    }
    assert.ok(Object.keys(a.labels as object).length > 0, 'at least one label');
    for (const t of ['startsAt', 'endsAt'] as const)
      if (a[t] !== undefined) {
        assert.equal(typeof a[t], 'string');
        assert.match(a[t] as string, RFC3339, `${t} is RFC 3339`);
        assert.ok(!Number.isNaN(Date.parse(a[t] as string)));
      }
    if (a.endsAt !== undefined)
      assert.ok(
        Date.parse(a.endsAt as string) >= Date.parse(a.startsAt as string),
        'endsAt not before startsAt',
      );
    if (a.generatorURL !== undefined) assert.doesNotThrow(() => new URL(a.generatorURL as string));
  }
}

let server: ReceiverServer;
let status = 200;
before(async () => {
  server = await startReceiverServer(() => status);
});
after(() => server.close());

const signal = () => AbortSignal.timeout(5000);

test('a firing alert is POSTed to /api/v2/alerts as postableAlerts, without endsAt', async () => {
  const receiver = new AlertmanagerReceiver({
    name: 'am',
    url: `${server.url}/`,
    timeoutMs: 5000,
    source: 'rampart-prod',
    generatorURL: 'http://127.0.0.1:8080/',
    now: () => T0,
  });
  const before = server.requests.length;
  await receiver.deliver(validatorDown({ labels: { chain: 'cosmoshub-4' } }), signal());
  const request = server.requests[before]!;
  assert.equal(request.method, 'POST');
  assert.equal(request.url, '/api/v2/alerts');
  assert.match(String(request.headers['content-type']), /^application\/json/);
  assertPostableAlerts(request.body);
  assert.equal(request.body.length, 1);
  assert.deepEqual(request.body[0], {
    labels: {
      alertname: 'RampartValidatorDown',
      severity: 'critical',
      rampart: 'rampart-prod',
      pool: 'validator',
      node: 'validator-0',
      chain: 'cosmoshub-4',
    },
    annotations: {
      summary: 'validator validator-0 is down',
      description: 'RPC unreachable for 12s; standby cloud-standby is being brought up',
      key: 'validator-down/validator',
      evidence: 'catchingUp=false\nlastHeight=1234\nunreachableFor=12s',
    },
    startsAt: '2026-03-01T11:59:48.000Z',
    generatorURL: 'http://127.0.0.1:8080/',
  });
});

test('a resolved alert carries endsAt: when it ended, else now; never before startsAt', async () => {
  const receiver = new AlertmanagerReceiver({ name: 'am', url: server.url, timeoutMs: 5000, now: () => T0 });
  const before = server.requests.length;
  await receiver.deliver(validatorDown({ status: 'resolved', endsAt: T0 - 1000 }), signal());
  await receiver.deliver(validatorDown({ status: 'resolved' }), signal());
  await receiver.deliver(validatorDown({ status: 'resolved', endsAt: T0 - 60_000 }), signal());
  const bodies = server.requests.slice(before).map((r) => {
    assertPostableAlerts(r.body);
    return r.body[0]!;
  });
  assert.deepEqual(
    bodies.map((b) => b.endsAt),
    ['2026-03-01T11:59:59.000Z', '2026-03-01T12:00:00.000Z', '2026-03-01T11:59:48.000Z'],
  );
  assert.equal(bodies[0]!.startsAt, '2026-03-01T11:59:48.000Z');
  assert.equal((bodies[0]!.labels as Record<string, string>).rampart, 'rampart');
});

test('a route prefix in the URL is kept', async () => {
  const receiver = new AlertmanagerReceiver({
    name: 'am',
    url: `${server.url}/alertmanager`,
    timeoutMs: 5000,
  });
  const before = server.requests.length;
  await receiver.deliver(validatorDown(), signal());
  assert.equal(server.requests[before]!.url, '/alertmanager/api/v2/alerts');
});

test('labels are valid Alertmanager names and cannot replace the ones Rampart sets', async () => {
  assert.equal(labelName('chain-id'), 'chain_id');
  assert.equal(labelName('1st'), '_1st');
  const receiver = new AlertmanagerReceiver({ name: 'am', url: server.url, timeoutMs: 5000 });
  const before = server.requests.length;
  await receiver.deliver(
    validatorDown({ labels: { 'chain-id': 'x', severity: 'info', alertname: 'Other', empty: '' } }),
    signal(),
  );
  const body = server.requests[before]!.body;
  assertPostableAlerts(body);
  const labels = body[0]!.labels as Record<string, string>;
  assert.equal(labels.chain_id, 'x');
  assert.equal(labels.severity, 'critical');
  assert.equal(labels.alertname, 'RampartValidatorDown');
  assert.equal('empty' in labels, false);
});

test('when a key changes labels (warning → critical), the old label set is resolved in the same POST', async () => {
  const receiver = new AlertmanagerReceiver({ name: 'am', url: server.url, timeoutMs: 5000, now: () => T0 });
  const before = server.requests.length;
  await receiver.deliver(validatorDown({ severity: 'warning' }), signal());
  await receiver.deliver(validatorDown({ severity: 'critical' }), signal());
  await receiver.deliver(validatorDown({ severity: 'critical' }), signal());
  const [first, second, third] = server.requests.slice(before).map((r) => {
    assertPostableAlerts(r.body);
    return r.body;
  });
  assert.equal(first!.length, 1);
  assert.equal(second!.length, 2);
  assert.equal((second![0]!.labels as Record<string, string>).severity, 'critical');
  assert.equal(second![0]!.endsAt, undefined);
  assert.equal((second![1]!.labels as Record<string, string>).severity, 'warning');
  assert.equal(second![1]!.endsAt, '2026-03-01T12:00:00.000Z');
  assert.equal(third!.length, 1, 'the old label set is resolved once');
});

test('5xx, 429 and an unreachable Alertmanager are retryable; 400 is not', async () => {
  const receiver = new AlertmanagerReceiver({ name: 'am', url: server.url, timeoutMs: 5000 });
  const outcome = async (r: AlertmanagerReceiver) => {
    try {
      await r.deliver(validatorDown(), signal());
      return 'ok';
    } catch (e) {
      assert.ok(e instanceof DeliveryError);
      assert.match(e.message, /^am \(http:\/\/127\.0\.0\.1:\d+\): /);
      return e.retryable ? 'retry' : 'final';
    }
  };
  try {
    status = 503;
    assert.equal(await outcome(receiver), 'retry');
    status = 429;
    assert.equal(await outcome(receiver), 'retry');
    status = 400;
    assert.equal(await outcome(receiver), 'final');
  } finally {
    status = 200;
  }
  const down = new AlertmanagerReceiver({
    name: 'am',
    url: `http://127.0.0.1:${await closedPort()}`,
    timeoutMs: 5000,
  });
  assert.equal(await outcome(down), 'retry');
});

test('a user and password in the URL are sent as Authorization: Basic, and appear in no URL, error or log line', async (t) => {
  // An Alertmanager behind a proxy with basic auth, careless enough to echo what it was sent.
  const server = await startReceiverServer((n, request) =>
    n === 1 || n === 2
      ? { status: 503, body: `refused ${request.headers.authorization} for alice, p@ss w0rd, p%40ss%20w0rd` }
      : 200,
  );
  t.after(() => server.close());
  const url = server.url.replace('http://', 'http://alice:p%40ss%20w0rd@');
  const basic = `Basic ${Buffer.from('alice:p@ss w0rd').toString('base64')}`;
  const secrets = ['alice', 'p@ss w0rd', 'p%40ss%20w0rd', basic.slice('Basic '.length)];
  const receiver = new AlertmanagerReceiver({ name: 'am', url: `${url}/prefix`, timeoutMs: 5000 });

  await receiver.deliver(validatorDown(), signal());
  assert.equal(server.requests[0]!.headers.authorization, basic);
  assert.equal(server.requests[0]!.url, '/prefix/api/v2/alerts');

  const error = await receiver.deliver(validatorDown(), signal()).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(error instanceof DeliveryError);
  assert.match(error.message, /^am \(http:\/\/127\.0\.0\.1:\d+\): HTTP 503: refused Basic \[redacted\]/);
  for (const s of secrets) assert.ok(!String(error.stack).includes(s), `${s} in ${error.message}`);

  const logs = captureLog();
  const clock = new FakeClock();
  const dispatcher = new AlertDispatcher([receiver], { log: logs.log, clock });
  t.after(() => dispatcher.close());
  dispatcher.send(validatorDown({ status: 'resolved' }));
  await until(() => clock.sleeps.length === 1, 'the dispatcher retries');
  clock.advance(clock.sleeps[0]!);
  await until(() => dispatcher.stats()[0]!.delivered === 1, 'delivered');
  assert.match(logs.lines.join(''), /refused Basic \[redacted\]/);
  for (const line of logs.lines)
    for (const s of secrets) assert.ok(!line.includes(s), `a log line holds ${s}: ${line}`);
});

alertReceiverContract(
  'alertmanager',
  (url) => new AlertmanagerReceiver({ name: 'am', url, timeoutMs: 5000 }),
);
