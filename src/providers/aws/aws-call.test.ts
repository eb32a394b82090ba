import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffMs, scrub } from '../call-retry.ts';
import { type AwsCallError, callAws, classifyAwsError } from './aws-call.ts';

const policy = { attempts: 4, baseDelayMs: 1, maxDelayMs: 5, callTimeoutMs: 200 };
const awsError = (name: string, status: number) =>
  Object.assign(new Error(`${name} happened`), { name, $metadata: { httpStatusCode: status } });

test('throttling, 5xx, timeouts and dropped connections are retryable; validation errors are not', () => {
  assert.equal(classifyAwsError(awsError('Throttling', 400)).class, 'throttled');
  assert.equal(classifyAwsError(awsError('RequestLimitExceeded', 503)).class, 'throttled');
  assert.equal(classifyAwsError(awsError('ServiceUnavailable', 503)).class, 'transient');
  assert.equal(classifyAwsError(awsError('Whatever', 502)).class, 'transient');
  assert.equal(classifyAwsError(Object.assign(new Error('x'), { name: 'TimeoutError' })).class, 'timeout');
  assert.equal(
    classifyAwsError(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })).class,
    'network',
  );
  assert.equal(classifyAwsError(awsError('ValidationError', 400)).class, 'permanent');
  assert.equal(classifyAwsError(awsError('UnauthorizedOperation', 403)).class, 'permanent');
});

test('backoff grows per try, is capped, and throttling waits longer', () => {
  const p = { attempts: 9, baseDelayMs: 100, maxDelayMs: 10_000, callTimeoutMs: 1 };
  const top = () => 1; // the jitter's upper end
  assert.equal(backoffMs(1, 'transient', p, top), 100);
  assert.equal(backoffMs(3, 'transient', p, top), 400);
  assert.equal(backoffMs(1, 'throttled', p, top), 500);
  assert.equal(backoffMs(20, 'transient', p, top), 10_000);
  for (let i = 0; i < 50; i++)
    assert.ok(backoffMs(2, 'transient', p) >= 100 && backoffMs(2, 'transient', p) <= 200);
});

test('a retryable failure is retried, reported per try, and then succeeds', async () => {
  const events: string[] = [];
  let tries = 0;
  const out = await callAws(
    { call: 'RunInstances', group: 'g1', subject: 'node n1' },
    { policy, onRetry: (e) => events.push(`${e.call} ${e.code} ${e.attempt}/${e.of}`) },
    async () => {
      tries++;
      if (tries < 3) throw awsError('Throttling', 400);
      return 'ok';
    },
  );
  assert.equal(out, 'ok');
  assert.deepEqual(events, ['RunInstances Throttling 1/4', 'RunInstances Throttling 2/4']);
});

test('a permanent failure is not retried; exhausted retries name the call, group and tries', async () => {
  let tries = 0;
  const refused = await callAws({ call: 'AttachInstances', group: 'g1' }, { policy }, async () => {
    tries++;
    throw awsError('ValidationError', 400);
  }).catch((e: AwsCallError) => e);
  assert.equal(tries, 1);
  assert.match(
    refused.message,
    /^AttachInstances on Auto Scaling group g1 failed: ValidationError \(HTTP 400\): .*not retried/,
  );
  const exhausted = await callAws(
    { call: 'DescribeInstances', group: 'g2', subject: 'x' },
    { policy },
    async () => {
      throw awsError('InternalError', 500);
    },
  ).catch((e: AwsCallError) => e);
  assert.match(
    exhausted.message,
    /^DescribeInstances on Auto Scaling group g2 \(x\) failed: InternalError \(HTTP 500\): .*gave up after 4 tries/,
  );
  assert.equal(exhausted.attempts, 4);
});

test('a try with no answer is aborted at the call timeout and retried', async () => {
  let tries = 0;
  const err = await callAws(
    { call: 'DescribeInstances', group: 'g' },
    { policy: { ...policy, attempts: 2, callTimeoutMs: 30 } },
    (signal) => {
      tries++;
      return new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
    },
  ).catch((e: AwsCallError) => e);
  assert.equal(tries, 2);
  assert.match(err.message, /TimeoutError: no answer within 30 ms; gave up after 2 tries/);
});

test('a secret never reaches an error message', async () => {
  const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
  assert.equal(scrub(`bad key ${secret}!`, [secret]), 'bad key [redacted]!');
  const err = await callAws(
    { call: 'DescribeInstances', group: 'g' },
    { policy, secrets: () => [secret] },
    async () => {
      throw Object.assign(new Error(`signature computed with ${secret}`), { name: 'SignatureDoesNotMatch' });
    },
  ).catch((e: Error) => e);
  assert.ok(!err.message.includes(secret), err.message);
  assert.match(err.message, /\[redacted\]/);
});
