// The HTTP API as a client meets it: a token required off loopback (the process refuses to
// start otherwise), wrong tokens refused, malformed or out-of-bounds writes refused with a
// clear 4xx and nothing recorded, TLS, and an OpenAPI document that is valid and complete.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, test } from 'node:test';
import pino from 'pino';
import { ControllerTelemetry } from '../../src/api/controller-telemetry.ts';
import { ROUTES } from '../../src/api/routes.ts';
import { NAMED_SCHEMAS } from '../../src/api/schemas.ts';
import { type ApiServer, ApiStartError, startApiServer } from '../../src/api/server.ts';
import { ConfigError, parseConfigText } from '../../src/config/load.ts';
import { createRuntime, createStore } from '../../src/runtime/runtime.ts';
import { apiTestConfig } from '../support/api-config.ts';
import { CLI } from '../support/fleet.ts';
import { checkOpenApi } from '../support/openapi-check.ts';
import { skipUnless } from '../support/servers.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'rampart-api-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const TOKEN = 'c0ffee-rampart-test-token-0123456789abcdef';
writeFileSync(path.join(dir, 'token.txt'), `${TOKEN}\n`);
writeFileSync(path.join(dir, 'short.txt'), 'abc\n');

const configFile = path.join(dir, 'rampart.yaml');
writeFileSync(configFile, apiTestConfig('{ listen: "127.0.0.1:0", tokenFile: token.txt }'));
const { config } = parseConfigText(readFileSync(configFile, 'utf8'), configFile);

/** Every log line the servers write, to check that the token never reaches one. */
const logLines: string[] = [];
const log = pino(
  { level: 'debug' },
  new Writable({
    write(chunk, _enc, done) {
      logLines.push(String(chunk));
      done();
    },
  }),
);

const servers: ApiServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

/** What the servers serve, built as `rampart up` builds it; its store opened by the first server. */
const runtime = createRuntime(config);
let storeOpened: Promise<void> | undefined;
after(async () => {
  if (storeOpened) await runtime.store.close();
});

async function serve(overrides: Partial<Parameters<typeof startApiServer>[0]> = {}): Promise<ApiServer> {
  storeOpened ??= runtime.store.open();
  await storeOpened;
  const server = await startApiServer({
    config,
    log,
    runtime,
    telemetry: new ControllerTelemetry(config),
    writeWaitMs: 300,
    ...overrides,
  });
  servers.push(server);
  return server;
}

interface Call {
  token?: string;
  body?: unknown;
  raw?: string;
  contentType?: string;
  caller?: string;
}

async function call(base: string, method: string, route: string, o: Call = {}) {
  const headers: Record<string, string> = {};
  if (o.token !== undefined) headers.authorization = `Bearer ${o.token}`;
  if (o.caller !== undefined) headers['x-rampart-caller'] = o.caller;
  let body: string | undefined;
  if (o.raw !== undefined || o.body !== undefined) body = o.raw ?? JSON.stringify(o.body);
  // Every write is sent as JSON, even without a body, as the dashboard sends it.
  if (body !== undefined || method !== 'GET') headers['content-type'] = o.contentType ?? 'application/json';
  const r = await fetch(`${base}${route}`, { method, headers, body });
  const text = await r.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: r.status, headers: r.headers, text, json: json as Record<string, unknown> };
}

test('off loopback a token is required: the config is refused and `rampart up` does not start', async () => {
  assert.throws(
    () => parseConfigText(apiTestConfig('{ listen: "0.0.0.0:8080" }'), path.join(dir, 'open.yaml')),
    (e: unknown) =>
      e instanceof ConfigError &&
      /controller\.api\.listen: "0\.0\.0\.0:8080" is not a loopback address: the API needs a bearer token/.test(
        e.message,
      ),
  );
  for (const listen of ['127.0.0.1:8080', '127.8.9.10:1', 'localhost:8080', '[::1]:8080'])
    assert.doesNotThrow(
      () => parseConfigText(apiTestConfig(`{ listen: "${listen}" }`), path.join(dir, 'ok.yaml')),
      listen,
    );

  const open = path.join(dir, 'open.yaml');
  writeFileSync(open, apiTestConfig('{ listen: "0.0.0.0:0" }'));
  const up = spawnSync(process.execPath, [CLI, 'up', '-c', open], {
    encoding: 'utf8',
    env: { ...process.env, RAMPART_LOG_FORMAT: 'json' },
    timeout: 60_000,
  });
  assert.equal(up.status, 2, up.stderr);
  assert.match(up.stderr, /not a loopback address/);
  assert.equal(existsSync(path.join(dir, 'state.db')), false, 'nothing started, no store created');

  // The server itself refuses too, whatever its caller checked.
  const { config: loopback } = parseConfigText(
    apiTestConfig('{ listen: "127.0.0.1:0" }'),
    path.join(dir, 'lo.yaml'),
  );
  await assert.rejects(
    startApiServer({ config: loopback, log, runtime, listen: '0.0.0.0:0' }),
    (e: unknown) => e instanceof ApiStartError && /refusing to serve the API on 0\.0\.0\.0:0/.test(e.message),
  );
});

test('a token file that is missing or too short stops `rampart up` before anything runs, naming the file only', () => {
  for (const [file, why] of [
    ['missing.txt', /cannot be read \(no such file\)/],
    ['short.txt', /shorter than 16 characters/],
  ] as const) {
    const cfg = path.join(dir, `bad-${file}.yaml`);
    writeFileSync(
      cfg,
      apiTestConfig(`{ listen: "127.0.0.1:0", tokenFile: ${file} }`).replace('state.db', `${file}.db`),
    );
    const up = spawnSync(process.execPath, [CLI, 'up', '-c', cfg], {
      encoding: 'utf8',
      env: { ...process.env, RAMPART_LOG_FORMAT: 'json' },
      timeout: 60_000,
    });
    assert.equal(up.status, 1, up.stderr);
    assert.match(up.stderr, why);
    assert.match(up.stderr, new RegExp(file.replace('.', '\\.')));
    assert.doesNotMatch(up.stderr, /abc/, 'the token itself is never printed');
  }
});

test('bearer token: none or a wrong one is 401, the right one works; health and the document need none', async () => {
  const api = await serve();
  assert.equal(api.tokenRequired, true);
  const none = await call(api.url, 'GET', '/api/v1/pools');
  assert.equal(none.status, 401);
  assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="rampart"');
  assert.match(String(none.json.error), /needs a bearer token/);
  const wrong = await call(api.url, 'GET', '/api/v1/pools', { token: `${TOKEN}x` });
  assert.equal(wrong.status, 401);
  assert.match(String(wrong.json.error), /not the one this controller expects/);
  const short = await call(api.url, 'GET', '/metrics', { token: 'x' });
  assert.equal(short.status, 401, 'a token of another length is refused the same way');
  const write = await call(api.url, 'POST', '/api/v1/pools/sentries/pause', { token: 'nope' });
  assert.equal(write.status, 401);

  const ok = await call(api.url, 'GET', '/api/v1/pools', { token: TOKEN });
  assert.equal(ok.status, 200);
  assert.deepEqual(
    (ok.json.pools as { name: string }[]).map((p) => p.name),
    ['validator', 'sentries'],
  );
  const metrics = await call(api.url, 'GET', '/metrics', { token: TOKEN });
  assert.equal(metrics.status, 200);
  assert.match(metrics.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  assert.match(metrics.text, /^rampart_leader 0$/m);
  assert.match(metrics.text, /^rampart_pool_max_nodes\{pool="sentries"\} 3$/m);
  assert.match(metrics.text, /^rampart_store_up 1$/m);

  assert.equal((await call(api.url, 'GET', '/healthz')).status, 200);
  assert.equal((await call(api.url, 'GET', '/openapi.json')).status, 200);
  const page = await call(api.url, 'GET', '/');
  assert.equal(page.status, 200);
  assert.match(page.text, /<title>Rampart<\/title>/);
  assert.doesNotMatch(page.text, new RegExp(TOKEN));
  assert.equal(
    (await call(api.url, 'GET', '/web/../../package.json')).status,
    404,
    'no file outside the web folder',
  );

  for (const line of logLines)
    assert.doesNotMatch(line, new RegExp(TOKEN), 'the token never reaches a log line');
});

test('HEAD answers as GET does, without a body: /metrics, /openapi.json, the dashboard, API routes', async () => {
  const api = await serve();
  const reads: [string, string | undefined][] = [
    ['/metrics', TOKEN],
    ['/openapi.json', undefined],
    ['/', undefined],
    ['/web/app.js', undefined],
    ['/api/v1/pools', TOKEN],
    ['/healthz', undefined],
  ];
  for (const [route, token] of reads) {
    const get = await call(api.url, 'GET', route, { token });
    const head = await call(api.url, 'HEAD', route, { token });
    assert.equal(get.status, 200, `GET ${route}`);
    assert.equal(head.status, 200, `HEAD ${route}: ${head.text}`);
    assert.equal(head.text, '', `HEAD ${route} has no body`);
    assert.equal(head.headers.get('content-type'), get.headers.get('content-type'), route);
    assert.ok(Number(head.headers.get('content-length')) > 0, `HEAD ${route} tells the length`);
    // /metrics changes between two scrapes (the process's own figures); the rest does not.
    if (route !== '/metrics')
      assert.equal(head.headers.get('content-length'), String(Buffer.byteLength(get.text)), route);
  }
  assert.match(
    (await call(api.url, 'HEAD', '/metrics')).headers.get('content-type') ?? '',
    /^application\/json/,
  );
  assert.equal((await call(api.url, 'HEAD', '/metrics')).status, 401, 'HEAD needs the token GET needs');
  assert.equal((await call(api.url, 'HEAD', '/api/v1/pools/nope', { token: TOKEN })).status, 404);
  const write = await call(api.url, 'DELETE', '/metrics', { token: TOKEN });
  assert.equal(write.status, 405);
  assert.equal(write.headers.get('allow'), 'GET, HEAD');
});

test('bad requests get a clear 4xx and record nothing', async () => {
  const api = await serve();
  const store = createStore(config);
  await store.open();
  after(() => store.close());
  const t = { token: TOKEN };
  const cases: [string, string, Call, number, RegExp][] = [
    [
      'POST',
      '/api/v1/pools/sentries/size',
      { ...t, raw: '{"size": ' },
      400,
      /request body is not valid JSON/,
    ],
    [
      'POST',
      '/api/v1/pools/sentries/size',
      { ...t, body: { size: 9 } },
      400,
      /size 9 is outside the bounds of pool sentries: min 1, max 3/,
    ],
    ['POST', '/api/v1/pools/sentries/size', { ...t, body: { size: 0 } }, 400, /outside the bounds.*min 1/],
    [
      'POST',
      '/api/v1/pools/sentries/size',
      { ...t, body: { size: 'ten' } },
      400,
      /body\.size: .*expected number/,
    ],
    ['POST', '/api/v1/pools/sentries/size', { ...t, body: { size: 2.5 } }, 400, /body\.size: .*expected int/],
    [
      'POST',
      '/api/v1/pools/sentries/size',
      { ...t, body: { size: 2, force: true } },
      400,
      /unknown field\(s\) "force"/,
    ],
    ['POST', '/api/v1/pools/sentries/size', { ...t }, 400, /needs a JSON body/],
    [
      'POST',
      '/api/v1/pools/sentries/size',
      { ...t, raw: 'size=2', contentType: 'application/x-www-form-urlencoded' },
      415,
      /application\/json/,
    ],
    [
      'POST',
      '/api/v1/pools/validator/size',
      { ...t, body: { size: 1 } },
      400,
      /validator pool: it is never scaled/,
    ],
    ['POST', '/api/v1/pools/validator/pause', { ...t }, 400, /validator pool/],
    ['POST', '/api/v1/pools/nope/pause', { ...t }, 404, /no pool "nope" \(pools: validator, sentries\)/],
    ['POST', '/api/v1/pools/sentries/pause', { ...t, body: [] }, 400, /body: /],
    ['POST', '/api/v1/pools/sentries/pause', { ...t, caller: 'bad/name<script>' }, 400, /X-Rampart-Caller/],
    [
      'POST',
      '/api/v1/snapshots',
      { ...t, body: { set: 'nope' } },
      404,
      /no snapshot set "nope" \(sets: snaps\)/,
    ],
    ['POST', '/api/v1/snapshots', { ...t, raw: 'x'.repeat(70_000) }, 413, /larger than/],
    ['GET', '/api/v1/decisions?limit=0', t, 400, /query\.limit: /],
    ['GET', '/api/v1/decisions?limit=5&limit=6', t, 400, /given more than once/],
    ['GET', '/api/v1/decisions?colour=red', t, 400, /unknown field\(s\) "colour"/],
    ['GET', '/api/v1/nodes?pool=nope', t, 404, /no pool "nope"/],
    ['DELETE', '/api/v1/pools', t, 405, /DELETE is not allowed on \/api\/v1\/pools \(allowed: GET\)/],
    ['GET', '/api/v1/nothing', t, 404, /no such route/],
  ];
  for (const [method, route, o, status, message] of cases) {
    const r = await call(api.url, method, route, o);
    assert.equal(
      r.status,
      status,
      `${method} ${route} ${JSON.stringify(o.body ?? o.raw?.slice(0, 20))}: ${r.text}`,
    );
    assert.match(String(r.json?.error), message, `${method} ${route}`);
  }
  // No controller runs here: anything recorded would still be open.
  assert.deepEqual(await store.openRequests(), [], 'no request was recorded');
  assert.deepEqual(await store.listActions(), []);
  assert.equal(await store.getPool('sentries'), undefined, 'the pool state is untouched');

  // A good write with no controller to take it: recorded, with its caller, answered 202.
  const accepted = await call(api.url, 'POST', '/api/v1/pools/sentries/size', {
    ...t,
    body: { size: 3 },
    caller: 'ops-team',
  });
  assert.equal(accepted.status, 202, accepted.text);
  const location = accepted.headers.get('location')!;
  assert.match(location, /^\/api\/v1\/requests\/r-[0-9a-f]+$/);
  const open = await store.openRequests();
  assert.equal(open.length, 1);
  assert.deepEqual(open[0]!.body, { pool: 'sentries', size: 3 });
  assert.match(open[0]!.caller, /^ops-team at (127\.0\.0\.1|::ffff:127\.0\.0\.1)$/);
  const followed = await call(api.url, 'GET', location, t);
  assert.equal(followed.status, 200);
  assert.equal(followed.json.outcome, undefined, 'not taken yet');
});

test('the OpenAPI document is valid, lists every route, and answers match its schemas', async () => {
  const api = await serve();
  const r = await call(api.url, 'GET', '/openapi.json');
  const doc = r.json as { openapi: string; paths: Record<string, Record<string, unknown>> };
  assert.match(doc.openapi, /^3\.1\.\d+$/);
  assert.deepEqual(checkOpenApi(doc), []);
  for (const route of ROUTES)
    assert.ok(
      doc.paths[route.path]?.[route.method.toLowerCase()],
      `${route.method} ${route.path} is documented`,
    );
  assert.ok(doc.paths['/openapi.json']?.get);
  const schemas = (doc as unknown as { components: { schemas: Record<string, unknown> } }).components.schemas;
  for (const name of Object.keys(NAMED_SCHEMAS)) assert.ok(schemas[name], `components.schemas.${name}`);
  const sizeBody = schemas.PoolSizeBody as { properties: { size: unknown }; additionalProperties: boolean };
  assert.equal(sizeBody.additionalProperties, false, 'unknown fields are refused, and documented so');

  // Every read answers what its documented schema says.
  for (const route of ROUTES.filter((x) => x.method === 'GET' && x.responses[200]?.schema)) {
    const concrete = route.path.replace('{pool}', 'sentries').replace('{id}', 'none');
    const answer = await call(api.url, 'GET', concrete, { token: TOKEN });
    if (route.path.includes('{id}')) {
      assert.equal(answer.status, 404);
      continue;
    }
    assert.equal(answer.status, 200, `${concrete}: ${answer.text}`);
    const parsed = route.responses[200]!.schema!.safeParse(answer.json);
    assert.ok(parsed.success, `${concrete} answers its schema: ${parsed.error?.message}`);
  }
});

test('TLS: with cert and key files the API serves HTTPS', async (t) => {
  const openssl = spawnSync('openssl', ['version'], { stdio: 'ignore' });
  if (skipUnless(t, openssl.status === 0, 'openssl is not installed (it makes the throwaway certificate)'))
    return;
  const cert = path.join(dir, 'api.crt');
  const key = path.join(dir, 'api.key');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  const tlsFile = path.join(dir, 'tls.yaml');
  writeFileSync(
    tlsFile,
    apiTestConfig('{ listen: "127.0.0.1:0", tokenFile: token.txt, tls: { cert: api.crt, key: api.key } }'),
  );
  const { config: tls } = parseConfigText(readFileSync(tlsFile, 'utf8'), tlsFile);
  assert.equal(tls.controller.api.tls?.cert, cert, 'paths resolve against the config file');
  const api = await serve({ config: tls });
  assert.match(api.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = httpsRequest(
      `${api.url}/api/v1/controller`,
      { ca: readFileSync(cert), headers: { authorization: `Bearer ${TOKEN}` } },
      (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
  assert.equal(answer.status, 200, answer.body);
  assert.equal(JSON.parse(answer.body).store, 'sqlite');
});
