// Other web pages against the tokenless loopback API, in Debian's Chromium over a running
// local fleet: a page on another site sends every write a page can send without asking
// (no-cors fetches, a text/plain form) and a JSON write that needs a preflight; a page whose
// DNS name was rebound to this machine writes to "its own" origin. None of it pauses or sizes
// the pool; the real dashboard, on the API's own origin, still pauses and resumes it.

import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import pino from 'pino';
import { observedController, serveApi } from '../../src/api/controller-api.ts';
import { loadConfigFile } from '../../src/config/load.ts';
import { launchBrowser } from '../support/browser.ts';
import { fastFleetConfig, makeFleet, waitFor } from '../support/fleet.ts';
import { startHttpFixture } from '../support/http-fixture.ts';
import { requireBinary } from '../support/servers.ts';

const EVIL = 'evil.example';
const REBIND = 'rebind.evil.example';

/** The script of the other site's page: every way it has to write to the API, each noted. */
function crossSiteScript(api: string): string {
  return `
const pause = '${api}/api/v1/pools/sentries/pause';
const size = '${api}/api/v1/pools/sentries/size';
const results = {};
async function attempt(name, send) {
  try {
    const r = await send();
    results[name] = r.type === 'opaque' ? 'sent, answer hidden' : 'answered ' + r.status;
  } catch (e) {
    results[name] = 'blocked: ' + e.name;
  }
}
await attempt('no-cors POST without body', () => fetch(pause, { method: 'POST', mode: 'no-cors' }));
await attempt('no-cors POST text/plain', () =>
  fetch(pause, { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: '{}' }));
await attempt('no-cors size text/plain', () =>
  fetch(size, { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: '{"size":3}' }));
await attempt('JSON POST (needs a preflight)', () =>
  fetch(pause, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }));
await attempt('read', () => fetch('${api}/api/v1/pools'));
const frame = document.createElement('iframe');
frame.name = 'sink';
document.body.append(frame);
const form = document.createElement('form');
Object.assign(form, { method: 'POST', action: pause, enctype: 'text/plain', target: 'sink' });
const field = document.createElement('input');
Object.assign(field, { name: '{"x":"', value: '"}' });
form.append(field);
document.body.append(form);
await new Promise((resolve) => {
  frame.addEventListener('load', resolve, { once: true });
  setTimeout(resolve, 5000);
  form.submit();
});
results['form POST text/plain'] = 'submitted';
document.getElementById('results').textContent = JSON.stringify(results);
`;
}

/**
 * What a script of a page under a rebound name does once its name points here: to the
 * browser, requests to its own origin, so nothing stops them but the API.
 */
const REBOUND_SCRIPT = `(async () => {
  const results = {};
  for (const [name, path, init] of [
    ['read', '/api/v1/pools', {}],
    ['pause', '/api/v1/pools/sentries/pause', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }],
    ['size', '/api/v1/pools/sentries/size', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"size":3}' }],
  ]) {
    const r = await fetch(path, init);
    results[name] = { status: r.status, text: await r.text() };
  }
  return results;
})()`;

const page = (script: string) =>
  `<!doctype html><title>another site</title><pre id="results"></pre><script type="module">${script}</script>`;

test('pages on other sites cannot pause or size a pool; the dashboard on its own origin can', async (t) => {
  const chromium = requireBinary(t, 'chromium');
  if (!chromium) return;
  const fleet = makeFleet(fastFleetConfig({ min: 1, capacity: 2, max: 3 }));
  t.after(() => fleet.cleanup());
  const { config } = loadConfigFile(fleet.configFile);
  const observed = observedController(config, pino({ level: 'silent' }));
  // The API's log: every write it answered, with its status.
  const writes: { method: string; path: string; status: number }[] = [];
  const apiLog = pino(
    { level: 'info' },
    new Writable({
      write(chunk, _enc, done) {
        const line = JSON.parse(String(chunk));
        if (line.msg === 'API write') writes.push(line);
        done();
      },
    }),
  );
  const api = await serveApi(observed, config, apiLog, { listen: '127.0.0.1:0' });
  assert.ok(api);
  t.after(() => api.close());
  await observed.controller.start();
  t.after(() => observed.controller.stop());
  const rt = await fleet.inspect();
  const apiPort = Number(new URL(api.url).port);

  const other = await startHttpFixture((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(page(crossSiteScript(api.url)));
  });
  t.after(() => other.close());

  const browser = await launchBrowser(t, chromium, { hostsOnLoopback: [EVIL, REBIND] });
  const tab = await browser.newPage();
  const results = async (): Promise<Record<string, unknown>> => {
    await tab.waitForFunction(`document.getElementById('results')?.textContent !== ''`, undefined, {
      timeout: 60_000,
    });
    return JSON.parse((await tab.textContent('#results')) ?? '{}');
  };

  // 1. Another site (http://evil.example:PORT, served from this machine).
  await tab.goto(`http://${EVIL}:${other.port}/`);
  const crossSite = await results();
  assert.equal(crossSite['JSON POST (needs a preflight)'], 'blocked: TypeError', JSON.stringify(crossSite));
  assert.equal(crossSite.read, 'blocked: TypeError', 'the page cannot read the API either');
  // Everything the page sent reached the API and was refused: four writes, one preflight.
  await waitFor('the API to answer the other site’s five requests', () => writes.length >= 5, 30_000);
  assert.deepEqual(writes.map((w) => `${w.method} ${w.path} ${w.status}`).sort(), [
    'OPTIONS /api/v1/pools/sentries/pause 403',
    'POST /api/v1/pools/sentries/pause 403',
    'POST /api/v1/pools/sentries/pause 403',
    'POST /api/v1/pools/sentries/pause 403',
    'POST /api/v1/pools/sentries/size 403',
  ]);

  // 2. A page of a site whose name was rebound to this machine, at the API's port: it is
  // loaded from this machine, so it is of the API's origin in all but name. (A page fulfilled
  // from elsewhere would be stopped by Chromium's Private Network Access before the API saw
  // anything; the API does not count on that: other browsers have no such check.)
  const document = await tab.goto(`http://${REBIND}:${apiPort}/`);
  assert.equal(document?.status(), 421, 'not even the dashboard is served by that name');
  const rebound = (await tab.evaluate(REBOUND_SCRIPT)) as Record<string, { status: number; text: string }>;
  assert.deepEqual(Object.keys(rebound).sort(), ['pause', 'read', 'size']);
  for (const [name, r] of Object.entries(rebound)) {
    assert.equal(r.status, 421, `${name}: ${r.text}`);
    assert.match(JSON.parse(r.text).error, /not a name this API answers to/, name);
  }

  // Nothing was recorded, so the controller has nothing to take: the pool is as it was.
  assert.deepEqual(await rt.store.openRequests(), []);
  const pool = await rt.store.getPool('sentries');
  assert.notEqual(pool?.paused, true, 'the pool is not paused');
  assert.equal(pool?.manualSize, undefined, 'no size set by hand');
  assert.deepEqual(
    (await rt.store.listActions({ pool: 'sentries' }))
      .filter((a) => ['pause', 'resume', 'size'].includes(a.kind))
      .map((a) => a.kind),
    [],
    'no pause, resume or size action',
  );

  // 3. The dashboard, on the API's own origin, pauses and resumes the pool.
  await tab.goto(`${api.url}/#/pools/sentries`);
  for (const [button, paused] of [
    ['Pause', true],
    ['Resume', false],
  ] as const) {
    await tab.waitForFunction(
      `document.querySelector('#pause-toggle')?.innerText === '${button}'`,
      undefined,
      {
        timeout: 60_000,
      },
    );
    await tab.click('#pause-toggle');
    await waitFor(
      `the pool ${paused ? 'paused' : 'resumed'} from the dashboard`,
      async () => (await rt.store.getPool('sentries'))?.paused === paused,
      30_000,
    );
  }
  const taken = (await rt.store.listActions({ pool: 'sentries' })).filter(
    (a) => a.kind === 'pause' || a.kind === 'resume',
  );
  assert.deepEqual(
    taken.map((a) => `${a.kind} ${a.outcome}`),
    ['pause succeeded', 'resume succeeded'],
  );
  for (const a of taken) assert.match(a.caller, /^dashboard at (127\.0\.0\.1|::ffff:127\.0\.0\.1)$/);
});
