import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRequestTarget } from './request-target.ts';

// [target, pathname (undefined: refused), query or message]
const CASES: [string, string | undefined, string | RegExp][] = [
  ['/', '/', ''],
  ['/api/v1/pools/sentries', '/api/v1/pools/sentries', ''],
  ['/api/v1/decisions?pool=sentries&limit=5', '/api/v1/decisions', 'pool=sentries&limit=5'],
  ['/api/v1/pools/sentr%C3%A9es', '/api/v1/pools/sentr%C3%A9es', ''],
  ['/api/v1/decisions?pool=a+b%20c', '/api/v1/decisions', 'pool=a+b+c'],
  ['/web/app.js#top', '/web/app.js', ''],
  ['/api/v1/pools/%c0%ae', undefined, /the path "\/api\/v1\/pools\/%c0%ae" has bad percent-encoding/],
  ['/web/%c0%ae%c0%ae/package.json', undefined, /bad percent-encoding/],
  ['/api/v1/pools/%ff', undefined, /bad percent-encoding/],
  ['/api/v1/pools/%zz', undefined, /bad percent-encoding/],
  ['/api/v1/pools/50%', undefined, /bad percent-encoding/],
  ['/api/v1/pools/%e2%82', undefined, /bad percent-encoding/],
  ['/api/v1/nodes?pool=%c0%ae', undefined, /the query of .* has bad percent-encoding/],
  ['/api/v1/nodes?pool=%', undefined, /query .*bad percent-encoding/],
  ['/api/v1/nodes?%ff=1', undefined, /query .*bad percent-encoding/],
  ['*', undefined, /not a path starting with one \//],
  ['http://evil.example/api/v1/pools', undefined, /not a path/],
  ['//evil.example/api/v1/pools', undefined, /not a path/],
  ['/\\evil.example/api/v1/pools', undefined, /not a path/],
  ['', undefined, /not a path/],
];

test('request targets: a path from the root with percent-encoding that spells UTF-8', () => {
  for (const [target, pathname, expected] of CASES) {
    const parsed = parseRequestTarget(target);
    if (pathname === undefined) {
      assert.equal(parsed.ok, false, target);
      if (!parsed.ok) assert.match(parsed.error, expected as RegExp, target);
      continue;
    }
    assert.ok(parsed.ok, `${target}: ${parsed.ok ? '' : parsed.error}`);
    assert.equal(parsed.pathname, pathname, target);
    assert.equal(parsed.searchParams.toString(), expected, target);
  }
});

test('a long target is cut to 100 characters in the error', () => {
  const parsed = parseRequestTarget(`/%ff${'a'.repeat(500)}`);
  assert.ok(!parsed.ok);
  assert.ok(parsed.error.length < 200, parsed.error);
});
