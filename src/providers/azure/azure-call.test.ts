import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AzureCallError, classifyAzureError, scrub } from './azure-call.ts';

const headers = (h: Record<string, string>) => ({ get: (n: string) => h[n.toLowerCase()] });

test('client errors are classed: what the pipeline retried, what another try may fix, what Azure refused', () => {
  const cases: [string, unknown, { class: string; code: string; retryAfter?: boolean }][] = [
    [
      '429 with Retry-After: the pipeline waited it out already',
      {
        statusCode: 429,
        code: 'TooManyRequests',
        message: 'x',
        response: { headers: headers({ 'retry-after': '3' }) },
      },
      { class: 'throttled', code: 'TooManyRequests', retryAfter: true },
    ],
    [
      '429 without Retry-After: ours to retry',
      { statusCode: 429, code: 'TooManyRequests', message: 'x', response: { headers: headers({}) } },
      { class: 'throttled', code: 'TooManyRequests', retryAfter: false },
    ],
    [
      '503',
      { statusCode: 503, code: 'ServiceUnavailable', message: 'x' },
      { class: 'transient', code: 'ServiceUnavailable' },
    ],
    [
      '501 is no outage',
      { statusCode: 501, code: 'NotModelled', message: 'x' },
      { class: 'permanent', code: 'NotModelled' },
    ],
    [
      'quota',
      { statusCode: 409, code: 'OperationNotAllowed', message: 'exceeding approved Cores quota' },
      { class: 'permanent', code: 'OperationNotAllowed' },
    ],
    [
      'a failed long-running operation carries its code in the message',
      new Error('The long-running operation has failed. AllocationFailed. Allocation failed.'),
      { class: 'permanent', code: 'AllocationFailed' },
    ],
    [
      'a timed-out try',
      Object.assign(new Error('The operation was aborted.'), { name: 'AbortError' }),
      { class: 'timeout', code: 'AbortError' },
    ],
    [
      'a reset connection',
      Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
      { class: 'network', code: 'ECONNRESET' },
    ],
  ];
  for (const [what, error, want] of cases) {
    const got = classifyAzureError(error);
    assert.equal(got.class, want.class, what);
    assert.equal(got.code, want.code, what);
    if (want.retryAfter !== undefined) assert.equal(got.retryAfter, want.retryAfter, what);
  }
  assert.equal(
    classifyAzureError(
      new Error('The long-running operation has failed. AllocationFailed. Allocation failed.'),
    ).message,
    'Allocation failed.',
  );
});

test('a failed call names the call, the scale set, the subject and what was done; secrets never show', () => {
  const e = new AzureCallError('virtualMachines.createOrUpdate', 'workers', 'node w-1, VM w-1', 4, {
    class: 'throttled',
    code: 'TooManyRequests',
    status: 429,
    message: 'slow down',
  });
  assert.equal(
    e.message,
    'virtualMachines.createOrUpdate on scale set workers (node w-1, VM w-1) failed: TooManyRequests (HTTP 429): slow down; gave up after 4 tries',
  );
  assert.equal(
    scrub('secret s3cr3t-value in s3cr3t-value', ['s3cr3t-value', 'ab']),
    'secret [redacted] in [redacted]',
  );
});
