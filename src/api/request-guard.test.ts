import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type GuardedRequest, RequestGuard, type RequestGuardOptions } from './request-guard.ts';

const LOOPBACK: RequestGuardOptions = { listenHost: '127.0.0.1', allowedHosts: [], tokenRequired: false };
const NAMED: RequestGuardOptions = { ...LOOPBACK, allowedHosts: ['Rampart.Example.org', '[fd00::7]'] };
const SPECIFIC: RequestGuardOptions = { listenHost: '10.0.0.7', allowedHosts: [], tokenRequired: true };
const WILDCARD: RequestGuardOptions = { listenHost: '0.0.0.0', allowedHosts: [], tokenRequired: true };
const WILDCARD_V6: RequestGuardOptions = { listenHost: '::', allowedHosts: [], tokenRequired: true };
const OPEN_WILDCARD: RequestGuardOptions = { listenHost: '0.0.0.0', allowedHosts: [], tokenRequired: false };

const JSON_TYPE = 'application/json';
const get = (host: string | undefined, more: Partial<GuardedRequest> = {}): GuardedRequest => ({
  method: 'GET',
  host,
  origin: undefined,
  contentType: undefined,
  ...more,
});
const post = (host: string | undefined, more: Partial<GuardedRequest> = {}): GuardedRequest => ({
  method: 'POST',
  host,
  origin: undefined,
  contentType: JSON_TYPE,
  ...more,
});

// [what, guard, request, expected status (undefined: let through), message]
const CASES: [string, RequestGuardOptions, GuardedRequest, number | undefined, RegExp?][] = [
  // Host: loopback names, the listen host and allowedHosts; any port (proxies, port-forwards).
  ['listen address', LOOPBACK, get('127.0.0.1:8080'), undefined],
  ['localhost', LOOPBACK, get('localhost:8080'), undefined],
  ['LOCALHOST in capitals', LOOPBACK, get('LOCALHOST:8080'), undefined],
  ['another 127/8 address', LOOPBACK, get('127.8.9.10:8080'), undefined],
  ['IPv6 loopback', LOOPBACK, get('[::1]:8080'), undefined],
  ['no port', LOOPBACK, get('localhost'), undefined],
  ['another port', LOOPBACK, get('127.0.0.1:9999'), undefined],
  ['an allowed name, any case', NAMED, get('rampart.EXAMPLE.org:443'), undefined],
  ['an allowed IPv6 address', NAMED, get('[FD00::7]:8080'), undefined],
  ['the specific listen address', SPECIFIC, get('10.0.0.7:8080'), undefined],
  ['a DNS-rebinding name', LOOPBACK, get('rebind.evil.example:8080'), 421, /DNS rebinding.*allowedHosts/],
  [
    'a DNS-rebinding name on a write',
    LOOPBACK,
    post('rebind.evil.example:8080'),
    421,
    /"rebind\.evil\.example:8080" is not a name this API answers to \(it answers to localhost, 127\.0\.0\.1, \[::1\]\)/,
  ],
  [
    'a name not allowed',
    NAMED,
    get('evil.example.org'),
    421,
    /answers to .*rampart\.example\.org, \[fd00::7\]/,
  ],
  ['a subdomain of an allowed name', NAMED, get('x.rampart.example.org'), 421],
  ['a name ending in localhost', LOOPBACK, get('evil.localhost:8080'), 421],
  ['0.0.0.0 on a loopback listen', LOOPBACK, get('0.0.0.0:8080'), 421],
  ['another address on a specific listen', SPECIFIC, get('10.0.0.8:8080'), 421],
  ['no Host', LOOPBACK, get(undefined), 400, /Host header is required/],
  ['a Host with a user', LOOPBACK, get('evil@127.0.0.1:8080'), 400, /malformed/],
  ['a Host with a path', LOOPBACK, get('127.0.0.1:8080/x'), 400, /malformed/],
  ['a Host with a port too large', LOOPBACK, get('127.0.0.1:99999'), 400, /malformed/],
  ['a Host that is not IPv6 in brackets', LOOPBACK, get('[::g]:80'), 400, /malformed/],
  ['an empty Host', LOOPBACK, get(''), 400, /malformed/],
  // A wildcard listen needs a token (the server refuses to start otherwise): any Host.
  ['any name on 0.0.0.0 with a token', WILDCARD, get('rampart.svc.cluster.local:8080'), undefined],
  ['any address on :: with a token', WILDCARD_V6, get('[2001:db8::1]:8080'), undefined],
  ['no Host on 0.0.0.0 with a token', WILDCARD, get(undefined), undefined],
  ['a malformed Host on 0.0.0.0', WILDCARD, get('a b'), 400, /malformed/],
  ['0.0.0.0 without a token: loopback names only', OPEN_WILDCARD, get('10.0.0.7:8080'), 421],
  // Origin: writes from the API's own origin or from clients that send none.
  ['a write without Origin (curl)', LOOPBACK, post('127.0.0.1:8080'), undefined],
  [
    'a write from the dashboard',
    LOOPBACK,
    post('127.0.0.1:8080', { origin: 'http://127.0.0.1:8080' }),
    undefined,
  ],
  [
    'a write from the dashboard reached as localhost',
    LOOPBACK,
    post('localhost:8080', { origin: 'http://localhost:8080' }),
    undefined,
  ],
  [
    'a write through a proxy that ends TLS (default port)',
    NAMED,
    post('rampart.example.org', { origin: 'https://rampart.example.org' }),
    undefined,
  ],
  [
    'default port written out in Host',
    NAMED,
    post('rampart.example.org:443', { origin: 'https://rampart.example.org' }),
    undefined,
  ],
  [
    'a write from another site',
    LOOPBACK,
    post('127.0.0.1:8080', { origin: 'https://evil.example' }),
    403,
    /Origin "https:\/\/evil\.example" is another origin than this API's \(127\.0\.0\.1:8080\)/,
  ],
  [
    'a write from another loopback port',
    LOOPBACK,
    post('127.0.0.1:8080', { origin: 'http://127.0.0.1:9999' }),
    403,
    /another origin/,
  ],
  [
    'a write from localhost to 127.0.0.1',
    LOOPBACK,
    post('127.0.0.1:8080', { origin: 'http://localhost:8080' }),
    403,
  ],
  ['a write from an opaque origin', LOOPBACK, post('127.0.0.1:8080', { origin: 'null' }), 403, /Origin null/],
  ['a write from a bad Origin', LOOPBACK, post('127.0.0.1:8080', { origin: '::' }), 403, /not a URL/],
  [
    'a write from another site on 0.0.0.0 with a token',
    WILDCARD,
    post('rampart:8080', { origin: 'http://evil.example' }),
    403,
  ],
  [
    'a write with an Origin and no Host on 0.0.0.0',
    WILDCARD,
    post(undefined, { origin: 'http://rampart:8080' }),
    403,
    /without a Host/,
  ],
  [
    'a preflight from another site',
    LOOPBACK,
    { method: 'OPTIONS', host: '127.0.0.1:8080', origin: 'https://evil.example', contentType: undefined },
    403,
  ],
  [
    'a read from another site (the browser keeps the answer from it)',
    LOOPBACK,
    get('127.0.0.1:8080', { origin: 'https://evil.example' }),
    undefined,
  ],
  // Content type: every write is JSON, so another site's write needs a (refused) preflight.
  [
    'a write with charset',
    LOOPBACK,
    post('127.0.0.1:8080', { contentType: 'Application/JSON; charset=utf-8' }),
    undefined,
  ],
  [
    'a write without a content type',
    LOOPBACK,
    post('127.0.0.1:8080', { contentType: undefined }),
    415,
    /Content-Type: application\/json, even without a body \(got no content type\)/,
  ],
  [
    'a write as text/plain',
    LOOPBACK,
    post('127.0.0.1:8080', { contentType: 'text/plain' }),
    415,
    /got text\/plain/,
  ],
  [
    'a form write',
    LOOPBACK,
    post('127.0.0.1:8080', { contentType: 'application/x-www-form-urlencoded' }),
    415,
  ],
  [
    'a DELETE without a content type',
    LOOPBACK,
    { method: 'DELETE', host: '127.0.0.1:8080', origin: undefined, contentType: undefined },
    415,
  ],
  [
    'a HEAD',
    LOOPBACK,
    { method: 'HEAD', host: 'localhost', origin: undefined, contentType: undefined },
    undefined,
  ],
  [
    'a same-origin OPTIONS (no body, no content type)',
    LOOPBACK,
    { method: 'OPTIONS', host: '127.0.0.1:8080', origin: undefined, contentType: undefined },
    undefined,
  ],
  // Host is checked before Origin and content type.
  [
    'a rebinding write as text/plain',
    LOOPBACK,
    post('rebind.evil.example:8080', {
      origin: 'http://rebind.evil.example:8080',
      contentType: 'text/plain',
    }),
    421,
  ],
];

test('the request guard: Host, Origin and content type', () => {
  for (const [what, options, request, status, message] of CASES) {
    const refusal = new RequestGuard(options).check(request);
    assert.equal(refusal?.status, status, `${what}: ${refusal?.error}`);
    if (message) assert.match(refusal!.error, message, what);
  }
});
