// The HTTP API against requests a hostile web page or a careless client sends: a Host that is
// not a name the API answers to (DNS rebinding) is refused for reads and writes; a write from
// another Origin, or not sent as JSON, is refused and its preflight never granted; a malformed
// path or query is a 400 that names it, with nothing logged as an internal error.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, test } from 'node:test';
import pino from 'pino';
import { type ApiServer, startApiServer } from '../../src/api/server.ts';
import { parseConfigText } from '../../src/config/load.ts';
import { createRuntime, createStore } from '../../src/runtime/runtime.ts';
import type { Store } from '../../src/store/store.ts';
import { apiTestConfig } from '../support/api-config.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'rampart-api-hostile-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const TOKEN = 'c0ffee-rampart-hostile-token-0123456789';
writeFileSync(path.join(dir, 'token.txt'), `${TOKEN}\n`);

function loadConfig(api: string) {
  const file = path.join(dir, 'rampart.yaml');
  writeFileSync(file, apiTestConfig(api));
  return parseConfigText(readFileSync(file, 'utf8'), file).config;
}

const config = loadConfig('{ listen: "127.0.0.1:0", allowedHosts: [rampart.test, "fd00::7"] }');

/** Every log line the servers write: no request here may log an internal error. */
const logLines: { level: number; msg: string; err?: { stack?: string } }[] = [];
const log = pino(
  { level: 'debug' },
  new Writable({
    write(chunk, _enc, done) {
      logLines.push(JSON.parse(String(chunk)));
      done();
    },
  }),
);

const servers: ApiServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});
let store: Store | undefined;
after(() => store?.close());

/** What the servers serve, built as `rampart up` builds it; its store opened by the first server. */
const runtime = createRuntime(config);
let runtimeOpened: Promise<void> | undefined;
after(async () => {
  if (runtimeOpened) await runtime.store.close();
});

async function serve(cfg = config): Promise<{ api: ApiServer; port: number }> {
  runtimeOpened ??= runtime.store.open();
  await runtimeOpened;
  const api = await startApiServer({ config: cfg, log, runtime, writeWaitMs: 300 });
  servers.push(api);
  return { api, port: Number(new URL(api.url).port) };
}

async function openStore(): Promise<Store> {
  if (!store) {
    store = createStore(config);
    await store.open();
  }
  return store;
}

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  readonly error: string | undefined;
}

/**
 * One request exactly as given: `host` is the Host header sent (fetch would not send a
 * foreign one), the target is sent as written (fetch would normalize it).
 */
function raw(
  port: number,
  method: string,
  target: string,
  o: { host?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path: target,
        headers: { host: o.host ?? `127.0.0.1:${port}`, ...o.headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (text += d));
        res.on('end', () => {
          let error: string | undefined;
          try {
            error = (JSON.parse(text) as { error?: string }).error;
          } catch {
            error = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, error });
        });
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

const JSON_WRITE = { 'content-type': 'application/json' };

async function assertNothingRecorded(what: string): Promise<void> {
  const s = await openStore();
  assert.deepEqual(await s.openRequests(), [], `${what}: no request recorded`);
  assert.deepEqual(await s.listActions(), [], `${what}: no action`);
  assert.equal((await s.getPool('sentries'))?.paused, undefined, `${what}: the pool is untouched`);
}

test('a Host that is not the listen address, loopback or a configured name is refused for reads and writes', async () => {
  const { port } = await serve();
  const rebind = `rebind.evil.example:${port}`;
  for (const [method, target, headers, body] of [
    ['GET', '/api/v1/pools', {}, undefined],
    ['GET', '/', {}, undefined],
    ['GET', '/openapi.json', {}, undefined],
    ['POST', '/api/v1/pools/sentries/pause', JSON_WRITE, '{}'],
    ['POST', '/api/v1/pools/sentries/size', JSON_WRITE, '{"size": 3}'],
    // What a rebound page sends: its own origin, which is the API's Host.
    ['POST', '/api/v1/pools/sentries/pause', { ...JSON_WRITE, origin: `http://${rebind}` }, '{}'],
  ] as const) {
    const r = await raw(port, method, target, { host: rebind, headers, body });
    assert.equal(r.status, 421, `${method} ${target}: ${r.text}`);
    assert.match(r.headers['content-type'] as string, /^application\/json/);
    assert.match(
      r.error ?? '',
      /^Host "rebind\.evil\.example:\d+" is not a name this API answers to \(it answers to localhost, 127\.0\.0\.1, \[::1\], rampart\.test, \[fd00::7\]\).*DNS rebinding.*controller\.api\.allowedHosts/,
      `${method} ${target}`,
    );
    assert.equal(r.headers['access-control-allow-origin'], undefined);
  }
  await assertNothingRecorded('rebound writes');

  for (const host of [
    `127.0.0.1:${port}`,
    `localhost:${port}`,
    `LocalHost:${port}`,
    `[::1]:${port}`,
    `rampart.test:${port}`,
    'RAMPART.test',
    `[fd00::7]:${port}`,
  ]) {
    const r = await raw(port, 'GET', '/api/v1/pools', { host });
    assert.equal(r.status, 200, `Host ${host}: ${r.text}`);
  }
  for (const host of [
    '0.0.0.0',
    `evil.localhost:${port}`,
    `x.rampart.test:${port}`,
    `127.0.0.1.evil.example`,
  ]) {
    const r = await raw(port, 'GET', '/api/v1/pools', { host });
    assert.equal(r.status, 421, `Host ${host}: ${r.text}`);
  }
  const malformed = await raw(port, 'GET', '/api/v1/pools', { host: `evil@127.0.0.1:${port}` });
  assert.equal(malformed.status, 400);
  assert.match(malformed.error ?? '', /Host header .* is malformed/);
});

test('on 0.0.0.0 with a token any Host is taken (the token protects the API); a write from another Origin is still refused', async () => {
  const open = loadConfig('{ listen: "0.0.0.0:0", tokenFile: token.txt }');
  const { port } = await serve(open);
  const auth = { authorization: `Bearer ${TOKEN}` };
  const read = await raw(port, 'GET', '/api/v1/pools', {
    host: 'rampart.svc.cluster.local:8080',
    headers: auth,
  });
  assert.equal(read.status, 200, read.text);
  const noToken = await raw(port, 'GET', '/api/v1/pools', { host: `rebind.evil.example:${port}` });
  assert.equal(noToken.status, 401);
  const write = await raw(port, 'POST', '/api/v1/pools/sentries/pause', {
    host: `rebind.evil.example:${port}`,
    headers: { ...auth, ...JSON_WRITE, origin: 'https://evil.example' },
    body: '{}',
  });
  assert.equal(write.status, 403, write.text);
});

test('writes from another Origin or not sent as JSON are refused and no preflight is granted; same-origin and Origin-less JSON writes are taken', async () => {
  const { port } = await serve();
  const pause = '/api/v1/pools/sentries/pause';
  const cases: [string, Record<string, string>, string | undefined, number, RegExp][] = [
    [
      'another site, as JSON',
      { ...JSON_WRITE, origin: 'https://evil.example' },
      '{}',
      403,
      /^Origin "https:\/\/evil\.example" is another origin than this API's \(127\.0\.0\.1:\d+\).*its own dashboard/,
    ],
    ['another loopback port', { ...JSON_WRITE, origin: 'http://127.0.0.1:1' }, '{}', 403, /another origin/],
    ['an opaque origin', { ...JSON_WRITE, origin: 'null' }, '{}', 403, /Origin null/],
    // What `fetch(url, {method: 'POST', mode: 'no-cors'})` sends from another site.
    ['another site, no body', { origin: 'https://evil.example' }, undefined, 403, /another origin/],
    [
      'no content type',
      {},
      undefined,
      415,
      /Content-Type: application\/json, even without a body \(got no content type\)/,
    ],
    ['text/plain', { 'content-type': 'text/plain' }, '{}', 415, /got text\/plain/],
    ['a form', { 'content-type': 'application/x-www-form-urlencoded' }, 'a=1', 415, /application\/json/],
    ['multipart', { 'content-type': 'multipart/form-data; boundary=x' }, '--x--', 415, /application\/json/],
  ];
  for (const [what, headers, body, status, message] of cases) {
    const r = await raw(port, 'POST', pause, { headers, body });
    assert.equal(r.status, status, `${what}: ${r.text}`);
    assert.match(r.error ?? '', message, what);
    assert.equal(r.headers['access-control-allow-origin'], undefined, what);
  }

  // The preflight of a cross-site JSON write: refused, and nothing in it lets the write follow.
  const preflight = await raw(port, 'OPTIONS', pause, {
    headers: {
      origin: 'https://evil.example',
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type',
    },
  });
  assert.equal(preflight.status, 403, preflight.text);
  for (const h of Object.keys(preflight.headers))
    assert.doesNotMatch(h, /^access-control-/, `the preflight answer has no ${h}`);
  await assertNothingRecorded('cross-site writes');

  // The dashboard's own write (same origin, JSON) and a script's (no Origin, JSON) are taken.
  const dashboard = await raw(port, 'POST', pause, {
    headers: { ...JSON_WRITE, origin: `http://127.0.0.1:${port}`, 'x-rampart-caller': 'dashboard' },
  });
  assert.equal(dashboard.status, 202, dashboard.text);
  const script = await raw(port, 'POST', '/api/v1/snapshots', {
    headers: JSON_WRITE,
    body: '{"set":"snaps"}',
  });
  assert.equal(script.status, 202, script.text);
  const kinds = (await (await openStore()).openRequests()).map((r) => r.kind).sort();
  assert.deepEqual(kinds, ['pool-pause', 'snapshot-create']);
});

test('malformed paths and queries are a 400 naming the problem, with no internal error logged', async () => {
  const { port } = await serve();
  const before = logLines.length;
  const cases: [string, string, RegExp][] = [
    ['GET', '/api/v1/pools/%c0%ae', /the path "\/api\/v1\/pools\/%c0%ae" has bad percent-encoding/],
    ['POST', '/api/v1/pools/%c0%ae/pause', /bad percent-encoding/],
    ['GET', '/api/v1/requests/%ff', /bad percent-encoding/],
    ['GET', '/api/v1/pools/sentries%e2%82/series', /bad percent-encoding/],
    ['GET', '/web/%c0%ae%c0%ae/%c0%ae%c0%ae/package.json', /bad percent-encoding/],
    ['GET', '/%', /bad percent-encoding/],
    ['GET', '/api/v1/nodes?pool=%c0%ae', /the query of .* has bad percent-encoding/],
    ['GET', '/api/v1/decisions?limit=%', /query .*bad percent-encoding/],
    ['GET', '//evil.example/api/v1/pools', /not a path starting with one \//],
    ['GET', '//[', /not a path/],
    ['GET', 'http://evil.example/api/v1/pools', /not a path/],
    ['OPTIONS', '*', /not a path/],
  ];
  for (const [method, target, message] of cases) {
    const r = await raw(port, method, target, method === 'POST' ? { headers: JSON_WRITE } : {});
    assert.equal(r.status, 400, `${method} ${target}: ${r.text}`);
    assert.match(r.headers['content-type'] as string, /^application\/json/);
    assert.match(r.error ?? '', message, `${method} ${target}`);
  }
  const mine = logLines.slice(before);
  assert.deepEqual(
    mine.filter((l) => l.level >= 50 || l.err?.stack !== undefined).map((l) => l.msg),
    [],
    'nothing logged as an error, no stack',
  );
  assert.ok(
    mine.some((l) => /API (read|write)/.test(l.msg)),
    'the refusals are logged as requests',
  );
});
