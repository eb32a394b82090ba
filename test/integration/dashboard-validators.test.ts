// The validators page in Debian's Chromium over a real CometBFT chain of four validators, the
// guarded one holding 1 of 31 voting power (the chain goes on without it): while it runs, the
// page shows it signing (the newest blocks signed, its height against the network's, its peers
// against the sentries' min, failover healthy, no fail marker); once it is killed, the page
// shows the blocks it misses, in the strip and on the chart, and failover's transition on the
// same timeline.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import type { Page } from 'playwright-core';
import { observedController, serveApi } from '../../src/api/controller-api.ts';
import { loadConfigFile } from '../../src/config/load.ts';
import { readFailover } from '../../src/failover/failover-state.ts';
import { launchBrowser } from '../support/browser.ts';
import { startFailoverBed } from '../support/failover-bed.ts';
import { makeFleet, waitFor } from '../support/fleet.ts';
import { requireBinary } from '../support/servers.ts';

const silent = pino({ level: 'silent' });

/** Waits until `fn` (run in the page) is true; fails with `what` and the page's text. */
async function until(page: Page, what: string, fn: string, timeoutMs = 60_000): Promise<void> {
  try {
    await page.waitForFunction(fn, undefined, { timeout: timeoutMs, polling: 250 });
  } catch (e) {
    const text = await page.evaluate('document.querySelector("main").innerText').catch(() => '');
    throw new Error(
      `timed out waiting for ${what}: ${(e as Error).message}\n--- page text ---\n${String(text).slice(0, 3000)}`,
    );
  }
}

test('the validators page shows signed blocks, then the blocks a stopped validator misses', {
  timeout: 300_000,
}, async (t) => {
  if (!requireBinary(t, 'cometbft')) return;
  const chromium = requireBinary(t, 'chromium');
  if (!chromium) return;
  const bed = await startFailoverBed();
  t.after(() => bed.cleanup());
  // A down verdict needs long spans: the page is looked at while the validator is suspect.
  const fleet = makeFleet(
    bed.config('{ pollInterval: 1s, unreachableFor: 60s, heightStalledFor: 60s, missedBlocks: 20 }'),
  );
  t.after(() => fleet.cleanup());
  const { config } = loadConfigFile(fleet.configFile);
  const observed = observedController(config, silent);
  const api = await serveApi(observed, config, silent, { listen: '127.0.0.1:0' });
  assert.ok(api);
  t.after(() => api.close());
  await observed.controller.start();
  t.after(() => observed.controller.stop());
  const rt = await fleet.inspect();

  await waitFor(
    'the validator seen signing by failover, through a ready sentry',
    async () => {
      const f = await readFailover(rt.store, 'validator');
      return f.address === bed.guardedAddress && (f.lastPoll?.signed ?? []).some((s) => s);
    },
    180_000,
  );

  const browser = await launchBrowser(t, chromium);
  const page = await browser.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(m.text());
  });
  await page.goto(`${api.url}/#/validators?last=5m`);
  await until(
    page,
    'the guarded validator signing: blocks signed, charts drawn',
    `(() => {
      const card = document.querySelector('.validator-card[data-pool="validator"]');
      const blocks = card?.querySelector('.blocks');
      return blocks !== null && blocks !== undefined && Number(blocks.dataset.signed) > 0 &&
        card.querySelectorAll('figure[data-chart] canvas').length === 3;
    })()`,
    90_000,
  );
  const card = '.validator-card[data-pool="validator"]';
  const text = (await page.textContent(card)) ?? '';
  assert.match(text, /failover: healthy/);
  assert.match(text, /of the network's [\d,]+/, "its height against the network's");
  assert.match(text, /Peers now \d+ · sentries' min 1/, "its peers against the sentries' min");
  assert.doesNotMatch(text, /fail marker \d/i, 'a validator is never health-replaced: no fail marker');
  assert.match(text, /not counted/, 'the nodes table says its fail marker counts for nothing');
  const missedAtFirst = Number(await page.getAttribute(`${card} .blocks`, 'data-missed'));
  await browser.screenshot(page, 'validators-signing');

  // Kill the guarded validator: the chain goes on without it, and its blocks go missing.
  const node = (await rt.store.listNodes({ pool: 'validator' }))[0]!;
  const instance = (await rt.providers.get('here')!.list()).find((i) => i.nodeId === node.id && i.running)!;
  process.kill(Number(instance.id.split(':')[0]), 'SIGKILL');

  await until(
    page,
    'missed blocks in the strip and on the chart',
    `(() => {
      const card = document.querySelector('${card}');
      const missed = Number(card?.querySelector('.blocks')?.dataset.missed ?? 0);
      const caption = card?.querySelector('figure[data-chart="signatures"] figcaption')?.innerText ?? '';
      const m = /now (\\d+) missed/.exec(caption);
      return missed >= 5 && m !== null && Number(m[1]) >= 5;
    })()`,
    90_000,
  );
  assert.ok(Number(await page.getAttribute(`${card} .blocks`, 'data-missed')) > missedAtFirst);
  assert.ok((await page.$$(`${card} .block.missed`)).length >= 5, 'missed blocks drawn as cells');
  assert.match((await page.getAttribute(`${card} .block.missed`, 'title')) ?? '', /^height \d+: missed$/);
  // Failover's transition on the same timeline as the signatures.
  await until(
    page,
    "failover's transition marked on the signatures chart",
    `document.querySelector('${card} figure[data-chart="signatures"] .chart-marker.marker-suspect, ${card} figure[data-chart="signatures"] .chart-marker.marker-down') !== null`,
    90_000,
  );
  assert.match(
    (await page.getAttribute(`${card} figure[data-chart="signatures"] .chart-marker`, 'title')) ?? '',
    /healthy → (suspect|down)/,
  );
  await browser.screenshot(page, 'validators');
  assert.deepEqual(pageErrors, [], 'no error in the page');
});
