import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redactUrl, redactUrls } from './url-secrets.ts';

test('a URL is shown without credentials, query values, fragment or token-long path segments', () => {
  const cases: [string, string][] = [
    ['http://127.0.0.1:9093', 'http://127.0.0.1:9093'],
    ['https://am.example.com/prefix/', 'https://am.example.com/prefix/'],
    ['https://alice:hunter2@am.example.com:9093/', 'https://[redacted]@am.example.com:9093/'],
    ['https://alice@am.example.com', 'https://[redacted]@am.example.com'],
    [
      'https://hooks.slack.com/services/T0AAA/B0BBB/XXXXXXXXXXXXXXXXXXXXXXXX',
      'https://hooks.slack.com/services/T0AAA/B0BBB/[redacted]',
    ],
    [
      'https://h/hook?token=abc&format=json&x=&flag',
      'https://h/hook?token=[redacted]&format=[redacted]&x=&flag',
    ],
    ['https://h/hook?to=ops@example.com', 'https://h/hook?to=[redacted]'],
    ['https://h/#access_token=abc', 'https://h/#[redacted]'],
    // Invalid URLs, as a config error shows them: a space, a password with / or #, no scheme.
    ['https://alice:pw@exa mple.com/?token=abc', 'https://[redacted]@exa mple.com/?token=[redacted]'],
    ['http://admin:ab/cd+ef==@am:9093', 'http://[redacted]@am:9093'],
    ['http://admin:ab#cd@am:9093', 'http://[redacted]@am:9093'],
    ['http://admin:ab?cd@am:9093', 'http://[redacted]@am:9093'],
    ['alice:hunter2@am:9093', '[redacted]@am:9093'],
  ];
  for (const [url, shown] of cases) assert.equal(redactUrl(url), shown, url);
});

test('every URL in running text is redacted; the text around it stays', () => {
  assert.equal(
    redactUrls(
      'am (https://alice:pw@am:9093/api?k=v), then "http://h/x?token=secret123". Request cannot be constructed from a URL that includes credentials: http://bob:pw2@h/',
    ),
    'am (https://[redacted]@am:9093/api?k=[redacted]), then "http://h/x?token=[redacted]". Request cannot be constructed from a URL that includes credentials: http://[redacted]@h/',
  );
  assert.equal(redactUrls('no URL here: a@b, x?y=z'), 'no URL here: a@b, x?y=z');
});
