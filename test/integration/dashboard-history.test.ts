// The dashboard's time range over what the store holds, in Debian's Chromium: a controller
// scales a local fleet up under load and is stopped; a new controller (nothing in its memory)
// serves the dashboard; a link to the past range shows the first controller's size series and
// its scale-up from the store; dragging on the chart zooms in, the arrows pan, the view's link
// opens the same range, and live comes back. The page also loads under its strict
// Content-Security-Policy, enforced, with uPlot served from node_modules.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import type { Page } from 'playwright-core';
import { observedController, serveApi } from '../../src/api/controller-api.ts';
import { followPool } from '../../src/cli/commands/load.ts';
import { loadConfigFile } from '../../src/config/load.ts';
import { LoadGenerator } from '../../src/nodes/simnode/load-generator.ts';
import { launchBrowser } from '../support/browser.ts';
import { fastFleetConfig, makeFleet, waitFor } from '../support/fleet.ts';
import { requireBinary } from '../support/servers.ts';

const CONFIG = fastFleetConfig(
  { min: 1, capacity: 2, max: 5 },
  { scaleUpCooldown: '2s', scaleDownPeriod: '60s' },
);
const silent = pino({ level: 'silent' });

/** The range the page's address names now. */
async function rangeInAddress(page: Page): Promise<{ from: number; to: number } | undefined> {
  const query = new URLSearchParams(new URL(page.url()).hash.split('?')[1] ?? '');
  const from = query.get('from');
  const to = query.get('to');
  return from && to ? { from: Date.parse(from), to: Date.parse(to) } : undefined;
}

/** Polls `fn` in the page from here (no in-page eval, so it works under the enforced CSP). */
async function pageShows(page: Page, what: string, fn: () => Promise<boolean>, timeoutMs = 30_000) {
  try {
    await waitFor(what, fn, timeoutMs);
  } catch (e) {
    const text = (await page.textContent('main').catch(() => '')) ?? '';
    throw new Error(`${(e as Error).message}\n--- page text ---\n${text.slice(0, 2000)}`);
  }
}

test('a past range is read from the store after a restart; zoom, pan, link and live', {
  timeout: 300_000,
}, async (t) => {
  const chromium = requireBinary(t, 'chromium');
  if (!chromium) return;
  const fleet = makeFleet(CONFIG);
  t.after(() => fleet.cleanup());
  const { config } = loadConfigFile(fleet.configFile);
  const rt = await fleet.inspect();

  // 1. A first controller scales the pool up under load, and is stopped.
  const first = observedController(config, silent);
  const firstApi = await serveApi(first, config, silent, { listen: '127.0.0.1:0' });
  assert.ok(firstApi);
  await first.controller.start();
  const load = new LoadGenerator({ rate: 0 });
  const follow = followPool(rt.store, 'sentries', load, 300);
  load.start();
  t.after(() => {
    follow.stop();
    load.stop();
  });
  load.setRate(50);
  const scaleUp = await waitFor(
    'a scale-up decision, and samples in the store on either side of it',
    async () => {
      const up = (await rt.store.listDecisions({ pool: 'sentries' })).find((d) => d.decision === 'scale-up');
      const samples = await rt.store.listSamples({ pool: 'sentries' });
      // Half a minute of samples after it: a range to zoom into.
      return up && samples.some((s) => s.at > up.at + 30_000) ? up : undefined;
    },
    120_000,
  );
  load.setRate(0);
  await first.controller.stop();
  await firstApi.close();
  const stoppedAt = Date.now();
  const samples = await rt.store.listSamples({ pool: 'sentries' });
  const startedAt = samples[0]!.at;

  // 2. A new controller: its memory holds nothing of that.
  const second = observedController(config, silent);
  const api = await serveApi(second, config, silent, { listen: '127.0.0.1:0' });
  assert.ok(api);
  t.after(() => api.close());
  await second.controller.start();
  t.after(() => second.controller.stop());
  await waitFor('the new controller to tick', () => second.telemetry.series.points('sentries').length > 0);

  const from = startedAt - 2000;
  const to = stoppedAt;
  const iso = (ms: number) => new Date(ms).toISOString();
  const answer = (await (
    await fetch(`${api.url}/api/v1/pools/sentries/series?from=${from}&to=${to}`)
  ).json()) as {
    points: { at: number; ready: number }[];
    events: { decision: string; at: number }[];
    source: { store: number; memory: number };
  };
  assert.ok(answer.source.store > 0, 'the past range comes from the store');
  assert.equal(answer.source.memory, 0, 'nothing of it is in the new controller’s memory');
  assert.ok(answer.events.some((d) => d.decision === 'scale-up' && d.at === scaleUp!.at));
  assert.ok(Math.max(...answer.points.map((p) => p.ready)) >= 2, 'the size grew, as stored');

  // 3. The link to that range, in the browser: the first controller's chart and its scale-up.
  const browser = await launchBrowser(t, chromium);
  const page = await browser.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(m.text());
  });
  await page.goto(`${api.url}/#/pools/sentries?from=${iso(from)}&to=${iso(to)}`);
  await pageShows(page, 'the stored size series and the scale-up marker', async () => {
    const points = Number((await page.getAttribute('#chart-size', 'data-points').catch(() => null)) ?? 0);
    const up = await page.$('#chart-size .chart-marker.marker-up');
    return points > 0 && up !== null;
  });
  assert.match((await page.getAttribute('#chart-size .marker-up', 'title')) ?? '', /Scaled up/);
  assert.equal(await page.getAttribute('.range-shown', 'data-range-state'), 'fixed');
  assert.deepEqual(await rangeInAddress(page), { from, to });
  await browser.screenshot(page, 'pool-past-range');

  // 4. Zoom: drag across the middle half of the size chart.
  const over = await page.$('#chart-size .u-over');
  const box = (await over!.boundingBox())!;
  const before = (await rangeInAddress(page))!;
  await page.mouse.move(box.x + box.width * 0.25, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2, { steps: 5 });
  await page.mouse.move(box.x + box.width * 0.75, box.y + box.height / 2, { steps: 5 });
  await page.mouse.up();
  let zoomed: { from: number; to: number } | undefined;
  await pageShows(page, 'the address to name the zoomed range', async () => {
    zoomed = await rangeInAddress(page);
    return zoomed !== undefined && zoomed.to - zoomed.from < (before.to - before.from) * 0.7;
  });
  assert.ok(zoomed!.from > before.from && zoomed!.to < before.to, 'inside the range it zoomed from');

  // 5. Pan back half a range, then follow the view's link: the same range opens.
  await page.click('[data-range="back"]');
  let panned: { from: number; to: number } | undefined;
  await pageShows(page, 'the range panned back', async () => {
    panned = await rangeInAddress(page);
    return panned !== undefined && panned.from < zoomed!.from;
  });
  assert.ok(Math.abs(panned!.to - panned!.from - (zoomed!.to - zoomed!.from)) <= 2000, 'same span');
  const link = (await page.getAttribute('a.permalink', 'href'))!;
  const again = await browser.newPage();
  await again.goto(`${api.url}/${link}`);
  await pageShows(again, 'the linked range shown', async () => {
    const shown = await again.getAttribute('.range-shown', 'data-range-state').catch(() => null);
    return shown === 'fixed' && (await again.$('#chart-size canvas')) !== null;
  });
  assert.deepEqual(await rangeInAddress(again), panned);

  // 6. Back to live.
  await page.click('[data-range="live"]');
  await pageShows(page, 'the live range', async () => {
    return (await page.getAttribute('.range-shown', 'data-range-state').catch(() => null)) === 'live';
  });
  assert.match(page.url(), /[?&]last=15m\b/);
  assert.deepEqual(pageErrors, [], 'no error in the page');

  // 7. Under the enforced Content-Security-Policy: uPlot loads from this server and draws.
  const strict = await launchBrowser(t, chromium, { enforceCsp: true });
  const strictPage = await strict.newPage();
  const violations: string[] = [];
  strictPage.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text());
  });
  strictPage.on('pageerror', (e) => violations.push(String(e)));
  const requests: string[] = [];
  strictPage.on('request', (r) => requests.push(r.url()));
  await strictPage.goto(`${api.url}/#/pools/sentries?last=5m`);
  await pageShows(strictPage, 'the charts drawn under the enforced CSP', async () => {
    return (await strictPage.$$('#chart-size canvas, figure[data-metric] canvas')).length >= 2;
  });
  await strictPage.goto(`${api.url}/#/`);
  await pageShows(strictPage, 'the sparklines drawn under the enforced CSP', async () => {
    return (await strictPage.$$('.pool-card .sparkline canvas')).length === 2;
  });
  assert.deepEqual(violations, [], 'no CSP violation');
  assert.ok(
    requests.every((u) => u.startsWith(api.url)),
    `every request goes to the controller (no CDN): ${requests.filter((u) => !u.startsWith(api.url)).join(', ')}`,
  );
  assert.ok(requests.some((u) => u.endsWith('/web/vendor/uplot.js')));
});
