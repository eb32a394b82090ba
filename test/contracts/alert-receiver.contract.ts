// The contract every AlertReceiver passes — alertmanager and webhook: a firing and a resolved
// state are each one POST of JSON that names the alert; an answer that a later try may fix
// (5xx, 408, 429, no answer, unreachable) is a retryable DeliveryError, one it cannot (4xx,
// a redirect) is final; the caller's abort ends a delivery; and no error ever carries the
// secret a URL's path or query may hold. Each receiver's test file calls alertReceiverContract.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Alert } from '../../src/alerts/alert.ts';
import { type AlertReceiver, DeliveryError } from '../../src/alerts/alert-receiver.ts';
import {
  type ReceiverServer,
  type Script,
  startReceiverServer,
  validatorDown,
} from '../support/alert-fixtures.ts';
import { closedPort } from '../support/http-fixture.ts';

/** Builds the receiver under test, pointed at `url`. */
export type ReceiverFactory = (url: string) => AlertReceiver;

/** A path segment standing for a secret some receivers' URLs carry (a webhook's token). */
const SECRET = 's3cr3t-path-token';

export function alertReceiverContract(name: string, make: ReceiverFactory): void {
  describe(`alert receiver contract: ${name}`, () => {
    let answer: Script = () => 200;
    let server: ReceiverServer;
    before(async () => {
      server = await startReceiverServer((n, r) => answer(n, r));
    });
    after(() => server.close());

    /** 'ok', or whether the DeliveryError is 'retry' or 'final' (its message kept). */
    const outcome = async (receiver: AlertReceiver, alert: Alert = validatorDown(), signal?: AbortSignal) => {
      try {
        await receiver.deliver(alert, signal ?? AbortSignal.timeout(5000));
        return { kind: 'ok' as const, message: '' };
      } catch (e) {
        assert.ok(e instanceof DeliveryError, `a DeliveryError, not ${String(e)}`);
        return { kind: e.retryable ? ('retry' as const) : ('final' as const), message: e.message };
      }
    };

    test('a firing and a resolved state are each one POST of JSON naming the alert', async () => {
      answer = () => 200;
      const receiver = make(server.url);
      assert.equal(receiver.timeoutMs > 0, true);
      const from = server.requests.length;
      assert.equal((await outcome(receiver)).kind, 'ok');
      assert.equal(
        (await outcome(receiver, validatorDown({ status: 'resolved', endsAt: Date.now() }))).kind,
        'ok',
      );
      const sent = server.requests.slice(from);
      assert.equal(sent.length, 2);
      for (const r of sent) {
        assert.equal(r.method, 'POST');
        assert.match(String(r.headers['content-type']), /^application\/json/);
        assert.match(JSON.stringify(r.body), /RampartValidatorDown/);
      }
    });

    test('5xx, 408, 429 and no server are retryable; 4xx and redirects are final', async () => {
      const receiver = make(server.url);
      const expected: [number, 'retry' | 'final'][] = [
        [500, 'retry'],
        [503, 'retry'],
        [408, 'retry'],
        [429, 'retry'],
        [400, 'final'],
        [401, 'final'],
        [404, 'final'],
        [302, 'final'],
      ];
      try {
        for (const [status, kind] of expected) {
          answer = () => status;
          assert.equal((await outcome(receiver)).kind, kind, `HTTP ${status}`);
        }
      } finally {
        answer = () => 200;
      }
      const down = make(`http://127.0.0.1:${await closedPort()}`);
      assert.equal((await outcome(down)).kind, 'retry', 'unreachable');
    });

    test("a receiver that does not answer and the caller's abort both end the delivery, retryable", async () => {
      answer = () => 'hang';
      try {
        const receiver = make(server.url);
        const timedOut = await outcome(receiver, validatorDown(), AbortSignal.timeout(200));
        assert.equal(timedOut.kind, 'retry');
        assert.match(timedOut.message, /no answer in time/);
        const stop = new AbortController();
        const pending = outcome(receiver, validatorDown(), stop.signal);
        stop.abort();
        const aborted = await pending;
        assert.equal(aborted.kind, 'retry');
        assert.match(aborted.message, /aborted/);
      } finally {
        answer = () => 200;
        while (server.release(200));
      }
    });

    test('no error carries a secret in the URL: only its origin is named', async () => {
      const receiver = make(`${server.url}/${SECRET}/hook?token=${SECRET}`);
      try {
        for (const status of [500, 400, 302]) {
          answer = () => ({ status, body: `echo of ${SECRET}` });
          const { kind, message } = await outcome(receiver);
          assert.notEqual(kind, 'ok');
          assert.ok(!message.includes(SECRET), message);
          assert.ok(message.includes(new URL(server.url).origin), message);
        }
      } finally {
        answer = () => 200;
      }
      const down = make(`http://127.0.0.1:${await closedPort()}/${SECRET}`);
      const { message } = await outcome(down);
      assert.ok(!message.includes(SECRET), message);
    });
  });
}
