// Tests of the dispatcher with real receivers against local HTTP servers and a clock moved by
// hand: send never waits, retries back off and are bounded, a newer state replaces an older one,
// firing alerts are repeated to Alertmanager only, close() flushes within its deadline.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  captureLog,
  FakeClock,
  type ReceiverServer,
  type Script,
  settle,
  startReceiverServer,
  T0,
  until,
  validatorDown,
} from '../../test/support/alert-fixtures.ts';
import { closedPort } from '../../test/support/http-fixture.ts';
import { AlertDispatcher, backoffDelay, type DeliveryOutcome } from './alert-dispatcher.ts';
import type { AlertReceiver } from './alert-receiver.ts';
import { AlertmanagerReceiver } from './alertmanager-receiver.ts';
import { WebhookReceiver } from './webhook-receiver.ts';

const ERROR = 50;
const WARN = 40;

interface Rig {
  readonly server: ReceiverServer;
  readonly clock: FakeClock;
  readonly logs: ReturnType<typeof captureLog>;
  readonly dispatcher: AlertDispatcher;
  readonly outcomes: DeliveryOutcome[];
}

async function rig(
  t: { after(fn: () => Promise<unknown>): void },
  script: Script,
  options: { timeoutMs?: number; maxAttempts?: number; kind?: 'alertmanager' | 'webhook' } = {},
): Promise<Rig> {
  const server = await startReceiverServer(script);
  const clock = new FakeClock();
  const logs = captureLog();
  const outcomes: DeliveryOutcome[] = [];
  const timeoutMs = options.timeoutMs ?? 10_000;
  const receiver =
    options.kind === 'webhook'
      ? new WebhookReceiver({ name: 'hook', url: `${server.url}/hook`, timeoutMs, now: () => clock.now() })
      : new AlertmanagerReceiver({ name: 'am', url: server.url, timeoutMs, now: () => clock.now() });
  const dispatcher = new AlertDispatcher([receiver], {
    log: logs.log,
    clock,
    random: () => 0.5,
    maxAttempts: options.maxAttempts,
    onOutcome: (_receiver, outcome) => outcomes.push(outcome),
  });
  t.after(async () => {
    const closing = dispatcher.close(1);
    clock.advance(1);
    await closing;
    await server.close();
  });
  return { server, clock, logs, dispatcher, outcomes };
}

/** The state (status) each request to an Alertmanager carried, first alert of each POST. */
const statuses = (server: ReceiverServer) =>
  server.requests.map((r) =>
    (r.body as { endsAt?: string }[])[0]!.endsAt === undefined ? 'firing' : 'resolved',
  );

test('backoff doubles from the base, is capped, and is jittered between half and all of it', () => {
  const at = (tries: number, r: number) => backoffDelay(tries, 2000, 150_000, () => r);
  assert.deepEqual(
    [1, 2, 3, 4, 8, 9].map((n) => at(n, 0.999999)),
    [2000, 4000, 8000, 16_000, 150_000, 150_000],
  );
  assert.deepEqual(
    [1, 2, 3].map((n) => at(n, 0)),
    [1000, 2000, 4000],
  );
  // Ten tries (nine waits) with the defaults: between about 5 and 10 minutes.
  const total = (r: number) => Array.from({ length: 9 }, (_, i) => at(i + 1, r)).reduce((a, b) => a + b, 0);
  assert.ok(total(0) > 4 * 60_000 && total(0.999999) < 10 * 60_000, `${total(0)}..${total(0.999999)}`);
});

test('send returns at once, before the receiver answers (it never answers here)', async (t) => {
  const { server, dispatcher, clock, logs } = await rig(t, () => 'hang');
  const returned = dispatcher.send(validatorDown());
  assert.equal(returned, undefined, 'send returns nothing to await');
  assert.equal(server.requests.length, 0, 'send returned before the request was even made');
  await until(() => server.requests.length === 1, 'the request reaches the receiver');
  assert.equal(dispatcher.stats()[0]!.pending, 1);
  // close() gives up at its deadline and names what was not delivered.
  const closing = dispatcher.close(5000);
  await settle();
  clock.advance(5000);
  assert.deepEqual(await closing, [{ receiver: 'am', key: 'validator-down/validator', status: 'firing' }]);
  assert.equal(dispatcher.stats()[0]!.failed, 1);
  assert.match(
    logs.at(ERROR).at(-1)!.msg,
    /validator-down\/validator \(firing\) not delivered to am: shutting down/,
  );
});

test('retries after 500s with growing delays, then delivers', async (t) => {
  const { server, dispatcher, clock, logs, outcomes } = await rig(t, (n) => (n < 2 ? 500 : 200));
  dispatcher.send(validatorDown());
  await until(() => server.requests.length === 1 && clock.sleeps.length === 1, 'first try failed, waiting');
  assert.deepEqual(clock.sleeps, [1500], 'first retry after base 2s, jittered (random 0.5 → 3/4)');
  clock.advance(1500);
  await until(() => server.requests.length === 2 && clock.sleeps.length === 1, 'second try failed, waiting');
  assert.deepEqual(clock.sleeps, [3000], 'the delay doubles');
  clock.advance(3000);
  await until(() => dispatcher.stats()[0]!.delivered === 1, 'third try delivered');
  assert.equal(server.requests.length, 3);
  assert.deepEqual(outcomes, ['retrying', 'retrying', 'delivered']);
  const warns = logs.at(WARN);
  assert.equal(warns.length, 2);
  assert.match(
    warns[0]!.msg,
    /validator-down\/validator \(firing\) not delivered to am \(try 1 of 10\): retrying in 2s: .*HTTP 500/,
  );
  assert.equal(warns[0]!.receiver, 'am');
  assert.deepEqual(
    { ...dispatcher.stats()[0], receiver: 'am' },
    {
      receiver: 'am',
      kind: 'alertmanager',
      delivered: 1,
      failed: 0,
      retries: 2,
      superseded: 0,
      pending: 0,
      firing: 1,
    },
  );
});

test('retries after a timeout (the first request is never answered), then delivers', async (t) => {
  const { server, dispatcher, clock, logs } = await rig(t, (n) => (n === 0 ? 'hang' : 200), {
    timeoutMs: 150,
  });
  dispatcher.send(validatorDown());
  await until(() => clock.sleeps.length === 1, 'the first try timed out and a retry waits');
  assert.equal(server.requests.length, 1);
  assert.match(logs.at(WARN)[0]!.msg, /try 1 of 10.*no answer in time/);
  // Later tries are answered at once; on a loaded machine one may still time out: move time on.
  await until(() => {
    if (clock.sleeps.length > 0) clock.advance(Math.min(...clock.sleeps));
    return dispatcher.stats()[0]!.delivered === 1;
  }, 'a retry delivered');
  assert.ok(server.requests.length >= 2);
  assert.ok(dispatcher.stats()[0]!.retries >= 1);
});

test('gives up after maxAttempts tries and says so, naming the receiver and the alert', async (t) => {
  const { server, dispatcher, clock, logs, outcomes } = await rig(t, () => 503, { maxAttempts: 3 });
  dispatcher.send(validatorDown({ status: 'resolved', endsAt: T0 }));
  for (let tries = 1; tries < 3; tries++) {
    await until(() => server.requests.length === tries && clock.sleeps.length === 1, `try ${tries} failed`);
    clock.advance(clock.sleeps[0]!);
  }
  await until(() => dispatcher.stats()[0]!.failed === 1, 'given up');
  assert.deepEqual(outcomes, ['retrying', 'retrying', 'failed']);
  const error = logs.at(ERROR)[0]!;
  assert.match(
    error.msg,
    /^alert validator-down\/validator \(resolved\) not delivered to am: giving up after 3 tries: am \(http:\/\/127\.0\.0\.1:\d+\): HTTP 503/,
  );
  assert.equal(error.receiver, 'am');
  assert.equal(error.alert, 'validator-down/validator');
  // Nothing is tried again, however long we wait.
  clock.advance(24 * 3600_000);
  await settle();
  assert.equal(server.requests.length, 3);
  assert.equal(dispatcher.stats()[0]!.pending, 0);
});

test('a refusal (400) is not retried', async (t) => {
  const { server, dispatcher, logs } = await rig(t, () => ({ status: 400, body: 'bad alert' }), {
    kind: 'webhook',
  });
  dispatcher.send(validatorDown());
  await until(() => dispatcher.stats()[0]!.failed === 1, 'given up');
  assert.equal(server.requests.length, 1);
  assert.match(logs.at(ERROR)[0]!.msg, /giving up refused, not retried: hook .*HTTP 400: bad alert/);
});

test('a newer state of the same key replaces a queued one: resolved replaces firing', async (t) => {
  // Back to back: the firing state is replaced before the loop takes it.
  const { server, dispatcher, outcomes } = await rig(t, () => 200);
  dispatcher.send(validatorDown());
  dispatcher.send(validatorDown({ status: 'resolved', endsAt: T0 }));
  await until(() => dispatcher.stats()[0]!.delivered === 1, 'delivered');
  await settle();
  assert.deepEqual(statuses(server), ['resolved']);
  assert.deepEqual(outcomes, ['superseded', 'delivered']);
  assert.equal(dispatcher.stats()[0]!.firing, 0, 'a resolved alert is not repeated');
});

test('a firing state waiting to be retried is replaced by the resolved one, never sent again', async (t) => {
  const { server, dispatcher, clock } = await rig(t, (n) => (n === 0 ? 500 : 200));
  dispatcher.send(validatorDown());
  await until(() => clock.sleeps.length === 1, 'the firing state failed once and waits');
  dispatcher.send(validatorDown({ status: 'resolved', endsAt: T0 }));
  await until(() => dispatcher.stats()[0]!.delivered === 1, 'the resolved state is delivered at once');
  clock.advance(24 * 3600_000);
  await settle();
  assert.deepEqual(statuses(server), ['firing', 'resolved']);
  assert.equal(dispatcher.stats()[0]!.superseded, 1);
});

test('a state in flight that fails is not retried when a newer one is queued behind it', async (t) => {
  const { server, dispatcher, clock } = await rig(t, (n) => (n === 0 ? 'hang' : 200));
  dispatcher.send(validatorDown());
  await until(() => server.requests.length === 1, 'the firing state is in flight');
  dispatcher.send(validatorDown({ status: 'resolved', endsAt: T0 }));
  assert.ok(server.release(500), 'the firing state fails only now, with the resolved one queued');
  await until(() => dispatcher.stats()[0]!.delivered === 1, 'the resolved state follows the failed one');
  clock.advance(24 * 3600_000);
  await settle();
  assert.deepEqual(statuses(server), ['firing', 'resolved']);
  assert.equal(dispatcher.stats()[0]!.retries, 0);
  assert.equal(dispatcher.stats()[0]!.superseded, 1);
});

test('firing alerts are sent again every repeat interval to Alertmanager, not to a webhook, until resolved', async (t) => {
  const am = await startReceiverServer();
  const hook = await startReceiverServer();
  const clock = new FakeClock();
  const logs = captureLog();
  const dispatcher = new AlertDispatcher(
    [
      new AlertmanagerReceiver({ name: 'am', url: am.url, timeoutMs: 5000, now: () => clock.now() }),
      new WebhookReceiver({ name: 'hook', url: hook.url, timeoutMs: 5000, now: () => clock.now() }),
    ],
    { log: logs.log, clock, repeatIntervalMs: 60_000 },
  );
  t.after(async () => {
    await dispatcher.close();
    await am.close();
    await hook.close();
  });
  dispatcher.send(validatorDown());
  await until(() => am.requests.length === 1 && hook.requests.length === 1, 'first delivery to both');
  await until(() => clock.sleeps.includes(60_000), 'the Alertmanager loop waits for the repeat');
  clock.advance(59_999);
  await settle();
  assert.equal(am.requests.length, 1, 'not before the interval');
  clock.advance(1);
  await until(() => am.requests.length === 2, 'repeated after the interval');
  // The server has the request before the loop has its answer: advance only once the loop
  // sleeps again, or the fake time passes before the sleep begins and never ends it.
  await until(() => clock.sleeps.includes(60_000), 'the loop waits for the next repeat');
  clock.advance(60_000);
  await until(() => am.requests.length === 3, 'and again');
  assert.deepEqual(statuses(am), ['firing', 'firing', 'firing']);
  assert.equal(
    (am.requests[2]!.body as { startsAt: string }[])[0]!.startsAt,
    (am.requests[0]!.body as { startsAt: string }[])[0]!.startsAt,
    'a repeat keeps startsAt',
  );
  assert.equal(hook.requests.length, 1, 'the webhook heard of the firing state once');
  dispatcher.send(validatorDown({ status: 'resolved', endsAt: clock.now() }));
  await until(() => am.requests.length === 4 && hook.requests.length === 2, 'resolved delivered to both');
  clock.advance(10 * 60_000);
  await settle();
  assert.equal(am.requests.length, 4, 'a resolved alert is not repeated');
  assert.deepEqual(
    dispatcher.stats().map((s) => [s.receiver, s.delivered, s.firing]),
    [
      ['am', 4, 0],
      ['hook', 2, 0],
    ],
  );
});

test('a one-off event (firing with endsAt) is repeated only until it expires', async (t) => {
  const { server, dispatcher, clock } = await rig(t, () => 200);
  dispatcher.send(validatorDown({ key: 'pool-alert/sentries/s-1', startsAt: T0, endsAt: T0 + 90_000 }));
  await until(() => server.requests.length === 1 && clock.sleeps.length > 0, 'delivered once');
  clock.advance(60_000);
  await until(() => server.requests.length === 2, 'repeated while it lasts');
  clock.advance(60_000);
  await settle();
  assert.equal(server.requests.length, 2, 'not repeated after it expired');
  assert.equal(dispatcher.stats()[0]!.firing, 0);
});

test('a receiver that is down does not delay another', async (t) => {
  const up = await startReceiverServer();
  const clock = new FakeClock();
  const dispatcher = new AlertDispatcher(
    [
      new WebhookReceiver({ name: 'down', url: `http://127.0.0.1:${await closedPort()}`, timeoutMs: 5000 }),
      new WebhookReceiver({ name: 'up', url: up.url, timeoutMs: 5000 }),
    ],
    { log: captureLog().log, clock },
  );
  t.after(async () => {
    const closing = dispatcher.close(1);
    clock.advance(1);
    await closing;
    await up.close();
  });
  dispatcher.send(validatorDown());
  await until(() => up.requests.length === 1, 'delivered to the receiver that is up');
  await until(() => dispatcher.stats()[0]!.retries === 1, 'the one that is down retries');
});

test('close() delivers what is queued, then later sends are dropped with a warning', async () => {
  const server = await startReceiverServer();
  const logs = captureLog();
  const dispatcher = new AlertDispatcher(
    [new WebhookReceiver({ name: 'hook', url: server.url, timeoutMs: 5000 })],
    { log: logs.log, clock: new FakeClock() },
  );
  try {
    for (const pool of ['a', 'b', 'c'])
      dispatcher.send(validatorDown({ key: `validator-down/${pool}`, pool }));
    assert.equal(server.requests.length, 0);
    assert.deepEqual(await dispatcher.close(), []);
    assert.deepEqual(
      server.requests.map((r) => (r.body as { key: string }).key),
      ['validator-down/a', 'validator-down/b', 'validator-down/c'],
    );
    dispatcher.send(validatorDown());
    await settle();
    assert.equal(server.requests.length, 3);
    assert.match(logs.at(WARN).at(-1)!.msg, /not sent: alert delivery is shutting down/);
    assert.equal(await dispatcher.close(), await dispatcher.close(), 'close is idempotent');
  } finally {
    await server.close();
  }
});

test('receiver names must differ', () => {
  const r = () => new WebhookReceiver({ name: 'hook', url: 'http://127.0.0.1:1', timeoutMs: 1000 });
  assert.throws(
    () => new AlertDispatcher([r(), r()], { log: captureLog().log }),
    /two alert receivers are named hook/,
  );
});

test('a receiver error naming a URL is logged without its credentials, query values or tokens', async () => {
  const clock = new FakeClock();
  const logs = captureLog();
  // A receiver of the future (or a library under it) that puts its URL in an error.
  const receiver: AlertReceiver = {
    name: 'future',
    kind: 'webhook',
    timeoutMs: 1000,
    repeatsFiring: false,
    deliver: async () => {
      throw new TypeError(
        'Request cannot be constructed from a URL that includes credentials: https://ops:hunter2@hooks.example.com/services/XXXXSECRETPATHXXXX?token=s3cr3t-t0ken',
      );
    },
  };
  const dispatcher = new AlertDispatcher([receiver], { log: logs.log, clock, maxAttempts: 1 });
  dispatcher.send(validatorDown());
  await until(() => dispatcher.stats()[0]!.failed === 1, 'the delivery failed');
  const text = logs.lines.join('');
  assert.match(
    text,
    /https:\/\/\[redacted\]@hooks\.example\.com\/services\/\[redacted\]\?token=\[redacted\]/,
  );
  for (const secret of ['ops:', 'hunter2', 'XXXXSECRETPATHXXXX', 's3cr3t-t0ken'])
    assert.ok(!text.includes(secret), `${secret} is logged: ${text}`);
  await dispatcher.close(1);
});
