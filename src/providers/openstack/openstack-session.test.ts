import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffMs, classifyStatus, errorMessage, retryAfter, scrub } from './openstack-session.ts';

const policy = { attempts: 5, baseDelayMs: 100, maxDelayMs: 2000, callTimeoutMs: 1000 };

test('what is retried: 5xx, 409 and 429; the rest is OpenStack refusing', () => {
  for (const [status, cls] of [
    [500, 'transient'],
    [503, 'transient'],
    [409, 'conflict'],
    [429, 'throttled'],
    [400, 'permanent'],
    [403, 'permanent'],
    [404, 'permanent'],
  ] as const)
    assert.equal(classifyStatus(status), cls, String(status));
});

test('backoff: full jitter under a doubling cap, 429 five times slower, Retry-After honoured up to the cap', () => {
  assert.equal(
    backoffMs(1, 'transient', policy, undefined, () => 1),
    100,
  );
  assert.equal(
    backoffMs(3, 'transient', policy, undefined, () => 1),
    400,
  );
  assert.equal(
    backoffMs(3, 'transient', policy, undefined, () => 0),
    200,
  );
  assert.equal(
    backoffMs(1, 'throttled', policy, undefined, () => 1),
    500,
  );
  assert.equal(
    backoffMs(10, 'transient', policy, undefined, () => 1),
    2000,
  );
  assert.equal(
    backoffMs(1, 'throttled', policy, 1500, () => 1),
    1500,
  );
  assert.equal(
    backoffMs(1, 'throttled', policy, 60_000, () => 1),
    2000,
  );
});

test('Retry-After in seconds or as a date', () => {
  assert.equal(retryAfter('3'), 3000);
  assert.equal(retryAfter(new Date(10_000).toUTCString(), 4000), 6000);
  assert.equal(retryAfter(null), undefined);
  assert.equal(retryAfter('soon'), undefined);
});

test("error bodies: Nova's, Keystone's, Glance's HTML, and secrets scrubbed", () => {
  assert.equal(
    errorMessage('{"forbidden": {"code": 403, "message": "Quota exceeded for instances"}}'),
    'Quota exceeded for instances',
  );
  assert.equal(
    errorMessage(
      '{"error": {"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}}',
    ),
    'The request you have made requires authentication.',
  );
  assert.equal(
    errorMessage('<html><body><h1>404 Not Found</h1>No image</body></html>'),
    '404 Not Found No image',
  );
  assert.equal(scrub('token gAAAA-secret-token failed', ['gAAAA-secret-token']), 'token [redacted] failed');
});
