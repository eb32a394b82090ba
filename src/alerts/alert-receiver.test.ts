import assert from 'node:assert/strict';
import { test } from 'node:test';
import { urlSecrets } from '../core/url-secrets.ts';
import { scrubSecrets } from './alert-receiver.ts';

test("a URL's password, token-long query values and path segments are secrets; short ones are not", () => {
  const url = new URL(
    'https://bot:pa55word@hooks.example.com/services/T0AAA/B0BBB/XXXXXXXXXXXXXXXXXXXXXXXX?key=abc123def&x=10',
  );
  const secrets = urlSecrets(url);
  for (const s of ['pa55word', 'XXXXXXXXXXXXXXXXXXXXXXXX', 'abc123def', '?key=abc123def&x=10'])
    assert.ok(secrets.includes(s), s);
  for (const s of ['bot', 'services', 'T0AAA', 'B0BBB', '10']) assert.ok(!secrets.includes(s), s);
  const message = scrubSecrets(
    'HTTP 410: no route /services/T0AAA/B0BBB/XXXXXXXXXXXXXXXXXXXXXXXX?key=abc123def&x=10 (token XXXXXXXXXXXXXXXXXXXXXXXX)',
    secrets,
  );
  assert.equal(message, 'HTTP 410: no route [redacted] (token [redacted])', 'short values such as 10 stay');
});
