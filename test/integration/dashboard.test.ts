// The real dashboard in Debian's Chromium, over a running local fleet (simnode processes, the
// controller in-process, its API on a free loopback port): the overview shows the pools with
// a size sparkline each, a scale-up under load shows on the chart and in the timeline with its
// reason, each ready node has its own line beside the rule's aggregate, a pause from the page
// (reached and pressed from the keyboard) stops scaling, and a snapshot is taken from the
// page. Screenshots of the main pages go to test-output/screenshots/.

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

// Three sentries serve 60 tx/s at full use; 60 tx/s settles the pool at 5 (below max 6), so a
// paused pool under heavier load has room it would have grown into.
const CONFIG = fastFleetConfig(
  { min: 1, capacity: 2, max: 6 },
  {
    scaleUpCooldown: '2s',
    scaleDownPeriod: '30s',
    scaleDownBelow: 0.1,
    sentriesExtra:
      '    traffic: [ { metric: "nodes:simnode_offered_load_tx_per_second", label: offered load, unit: tx/s } ]\n' +
      // A choice of ways to join (the network until a snapshot is taken): the joins are measured.
      '    bootstrap: { snapshots: sentry-snapshots }',
    extra:
      'snapshots:\n  - { name: sentry-snapshots, from: sentries, keep: 2, store: { kind: directory, path: snapshots } }\n',
  },
);

const silent = pino({ level: 'silent' });

/** Waits until `fn` (run in the page) is true; fails with `what` and the page's text. */
async function until(page: Page, what: string, fn: string, timeoutMs = 60_000): Promise<void> {
  try {
    await page.waitForFunction(fn, undefined, { timeout: timeoutMs, polling: 250 });
  } catch (e) {
    const text = await page.evaluate('document.body.innerText').catch(() => '');
    throw new Error(
      `timed out waiting for ${what}: ${(e as Error).message}\n--- page text ---\n${String(text).slice(0, 3000)}`,
    );
  }
}

test('the dashboard shows the fleet, a scale-up with its reason, and a pause that stops scaling', async (t) => {
  const chromium = requireBinary(t, 'chromium');
  if (!chromium) return;
  const fleet = makeFleet(CONFIG);
  t.after(() => fleet.cleanup());
  const { config } = loadConfigFile(fleet.configFile);
  const observed = observedController(config, silent);
  const api = await serveApi(observed, config, silent, { listen: '127.0.0.1:0' });
  assert.ok(api);
  t.after(() => api.close());
  await observed.controller.start();
  t.after(() => observed.controller.stop());
  const rt = await fleet.inspect();

  const load = new LoadGenerator({ rate: 0 });
  const follow = followPool(rt.store, 'sentries', load, 300);
  load.start();
  t.after(() => {
    follow.stop();
    load.stop();
  });

  const browser = await launchBrowser(t, chromium);
  const page = await browser.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => {
    // Chromium logs every non-2xx fetch. A 409 is the controller's answer to a write it took
    // and refused (a snapshot skipped for want of a spare sentry), which the page shows as
    // "Not taken: …"; anything else is an error of the page.
    if (m.type() === 'error' && !/status of 409 \(Conflict\)/.test(m.text())) pageErrors.push(m.text());
  });

  // 1. The overview lists the pools of the running setup.
  await page.goto(api.url);
  await until(
    page,
    'both pool cards, the sentries with 2 ready nodes',
    `document.querySelector('[data-pool="validator"]') !== null &&
     /\\b2\\s*ready/.test(document.querySelector('.pool-card[data-pool="sentries"]')?.innerText ?? '')`,
    90_000,
  );
  const cards = await page.$$eval('.pool-card', (els) => els.map((e) => e.getAttribute('data-pool')));
  assert.deepEqual(cards, ['validator', 'sentries']);
  await until(
    page,
    'a size sparkline with points in every pool card',
    `[...document.querySelectorAll('.pool-card')].every((c) =>
      Number(c.querySelector('.sparkline')?.dataset.points ?? 0) > 0 && c.querySelector('.sparkline canvas') !== null)`,
  );
  assert.match(
    (await page.textContent('.pool-card[data-pool="sentries"]')) ?? '',
    /min 1[\s\S]*capacity 2[\s\S]*max 6/,
  );

  // 2. Load: the pool scales up; the chart shows the larger size, the timeline the reason.
  load.setRate(60);
  await page.click('.pool-card[data-pool="sentries"] h3 a');
  await until(page, 'the pool page', `document.querySelector('#chart-size') !== null`);
  await waitFor(
    'a scale-up decision in the store',
    async () => (await rt.store.listDecisions({ pool: 'sentries' })).some((d) => d.decision === 'scale-up'),
    90_000,
  );
  await until(
    page,
    'the chart to show 3 or more ready nodes and a scale-up marker',
    `(() => {
      const caption = document.querySelector('#chart-size figcaption')?.innerText ?? '';
      const m = /now (\\d+) ready/.exec(caption);
      return m !== null && Number(m[1]) >= 3 && document.querySelector('#chart-size .marker-up') !== null;
    })()`,
    90_000,
  );
  // The traffic that drives it, in its own units, beside the rule's metric.
  assert.match(
    (await page.textContent('figure[data-traffic="nodes:simnode_offered_load_tx_per_second"]')) ?? '',
    /Traffic: offered load now [\d.,]+ tx\/s/,
  );
  await until(
    page,
    'the timeline to show the scale-up with its reason',
    `[...document.querySelectorAll('.decision-item[data-decision="scale-up"]')].some((e) =>
      /Scaled up/.test(e.innerText) && /simnode_utilization_ratio = [\\d.]+ > 0\\.7 → \\+1/.test(e.innerText))`,
  );
  const markerTitle = await page.$eval('#chart-size .marker-up', (e) => e.getAttribute('title') ?? '');
  assert.match(markerTitle, /Scaled up/);
  // The pool's join figures: no snapshot yet, so its sentries joined from the network, measured
  // create to ready as the store holds it; the next join would restore the pool's snapshot.
  await until(
    page,
    'the join figures',
    `/^network \\d+\\.\\d s$/.test(document.querySelector('.join-way[data-way="network"]')?.innerText ?? '')`,
  );
  const joins = (await rt.store.getPool('sentries'))?.joins;
  assert.ok(joins?.network, 'a network join measured');
  assert.match(
    (await page.textContent('.join-figures')) ?? '',
    /create to ready · snapshot not measured · network \d+\.\d s · next: snapshot \(bootstrap\.snapshots\)/,
  );
  const view = (await (await fetch(`${api.url}/api/v1/pools/sentries`)).json()) as {
    joins: {
      last: { way: string; ms: number; node: string; timedOut: boolean }[];
      next: { way: string };
      ways: string[];
    };
  };
  assert.equal(view.joins.next.way, 'snapshot');
  // A simnode never joins by state sync: only the ways the pool allows are shown.
  assert.deepEqual(view.joins.ways, ['snapshot', 'network']);
  assert.ok(
    view.joins.last.some((f) => f.way === 'network' && !f.timedOut && f.ms > 0),
    JSON.stringify(view.joins),
  );
  await browser.screenshot(page, 'pool');

  // Each ready node's own line beside the aggregate the rule read: one legend entry per node.
  await page.check('#each-node');
  const readyIds = async () =>
    (await rt.store.listNodes({ pool: 'sentries' }))
      .filter((n) => n.state === 'ready')
      .map((n) => n.id)
      .sort();
  const chartNodes = `[...document.querySelectorAll('figure[data-metric="nodes:simnode_utilization_ratio"] .u-legend .u-series .u-label')]
      .map((e) => e.textContent).filter((t) => t.startsWith('sentries-')).sort()`;
  let ready: string[] = [];
  let shown: string[] = [];
  await waitFor(
    'a line for each ready node, and none for another',
    async () => {
      ready = await readyIds();
      shown = (await page.evaluate(chartNodes)) as string[];
      // A line is a node seen ready in the last hour: every ready node has one.
      return ready.length >= 3 && ready.every((id) => shown.includes(id));
    },
    60_000,
  );
  assert.ok(
    shown.every((id) => id.startsWith('sentries-')),
    `only sentries' lines: ${shown.join(', ')}`,
  );
  assert.match(page.url(), /[?&]nodes=1\b/, 'the per-node view is in the link');
  const legend = await page.$$eval(
    'figure[data-metric="nodes:simnode_utilization_ratio"] .u-legend .u-series .u-label',
    (els) => els.map((e) => e.textContent),
  );
  assert.ok(legend.includes("avg (the rule's reading)"), 'the aggregate stays beside the node lines');
  await browser.screenshot(page, 'pool-each-node');
  await page.uncheck('#each-node');

  // 3. Pause from the page, reached with Tab and pressed with Enter.
  await page.focus('body');
  let reached = false;
  for (let i = 0; i < 80 && !reached; i++) {
    await page.keyboard.press('Tab');
    reached = await page.evaluate(`document.activeElement?.id === 'pause-toggle'`);
  }
  assert.ok(reached, 'the Pause button is reachable from the keyboard');
  assert.equal((await page.textContent('#pause-toggle')) ?? '', 'Pause');
  await page.keyboard.press('Enter');
  await until(
    page,
    'the page to show the pool paused',
    `document.querySelector('#pause-toggle')?.innerText === 'Resume' &&
     /paused by dashboard at/i.test(document.querySelector('.pool-head')?.innerText ?? '')`,
  );
  const state = await rt.store.getPool('sentries');
  assert.equal(state?.paused, true);
  const pause = (await rt.store.listActions({ pool: 'sentries' })).find((a) => a.kind === 'pause');
  assert.ok(pause, 'the pause is recorded as an action');
  assert.match(pause.caller, /^dashboard at (127\.0\.0\.1|::ffff:127\.0\.0\.1)$/);
  assert.equal(pause.outcome, 'succeeded');
  const pausedAt = pause.startedAt;
  const sizeAtPause = (await rt.store.listNodes({ pool: 'sentries' })).length;
  assert.ok(sizeAtPause < 6, `room to grow under max 6 (${sizeAtPause} nodes)`);

  // Much more load while paused: the rule fires but nothing scales.
  load.setRate(400);
  await waitFor(
    'utilization above the threshold while paused, for several ticks',
    () => {
      const points = observed.telemetry.series.points('sentries', pausedAt + 500);
      return points.filter((p) => (p.values[0] ?? 0) > 0.7).length >= 8;
    },
    60_000,
  );
  // The pause is applied within a tick whose observation came just before it: every decision
  // from the first one that says "paused" on must hold.
  const all = await rt.store.listDecisions({ pool: 'sentries' });
  const first = all.findIndex((d) => d.reasons.some((r) => /paused by dashboard at/.test(r.text)));
  assert.ok(first >= 0, 'the controller records that it holds because the pool is paused');
  const decisions = all.slice(first);
  assert.deepEqual(
    decisions.filter((d) => d.decision !== 'hold').map((d) => d.decision),
    [],
    'nothing but holds while paused',
  );
  assert.ok(decisions.every((d) => d.reasons.some((r) => /paused by dashboard at/.test(r.text))));
  const creates = (await rt.store.listActions({ pool: 'sentries', since: pausedAt })).filter(
    (a) => a.kind === 'create',
  );
  assert.deepEqual(creates, [], 'no node created while paused');
  assert.equal((await rt.store.listNodes({ pool: 'sentries' })).length, sizeAtPause);
  load.setRate(30);
  await until(
    page,
    'the paused hold in the timeline',
    `/Holding/.test(document.querySelector('.timeline')?.innerText ?? '')`,
  );
  await browser.screenshot(page, 'pool-paused');

  // 4. The other pages, each with what it is for; a snapshot asked from the page.
  await page.keyboard.press('1');
  await until(
    page,
    'the overview',
    `document.querySelector('.pool-card[data-pool="sentries"] .badge.paused') !== null`,
  );
  await browser.screenshot(page, 'overview');

  await page.keyboard.press('3');
  await until(
    page,
    'the nodes table',
    `document.querySelectorAll('table.nodes tbody tr').length >= ${sizeAtPause + 1}`,
  );
  const nodesText = (await page.textContent('table.nodes')) ?? '';
  assert.match(nodesText, /validator-[0-9a-f]+/);
  assert.match(nodesText, /connected/);
  await browser.screenshot(page, 'nodes');

  await page.keyboard.press('4');
  await until(
    page,
    'the decisions timeline',
    `document.querySelectorAll('#timeline .timeline-item').length > 5`,
  );
  assert.match(
    (await page.textContent('#timeline')) ?? '',
    /by dashboard at/,
    'the pause shows with its caller',
  );
  await browser.screenshot(page, 'decisions');

  await page.keyboard.press('5');
  await until(page, 'the snapshot set', `document.querySelector('[data-set="sentry-snapshots"]') !== null`);
  // A snapshot waits, and is skipped with why after a while, as long as the pool has no ready
  // sentry to spare (the paused pool's sentries may still be catching up after the overload):
  // ask again once the answer has come, as an operator would, until one is taken. (Asking while a request is
  // open is refused with 409, which the page would report as an error.)
  const listed = `document.querySelectorAll('[data-set="sentry-snapshots"] tbody tr').length >= 1`;
  for (let attempt = 1; ; attempt++) {
    await page.click('[data-set="sentry-snapshots"] button');
    await until(
      page,
      'the page to have its answer',
      `document.querySelector('[data-set="sentry-snapshots"] button')?.disabled === false`,
      60_000,
    );
    await waitFor(
      'the snapshot request answered',
      async () => {
        const asked = (await rt.store.openRequests()).filter((r) => r.kind === 'snapshot-create');
        return asked.length === 0;
      },
      // The controller keeps a request open while the pool cannot spare a node, for up to
      // REQUEST_PATIENCE_MS (3 minutes), before it answers why not.
      240_000,
    );
    if ((await rt.snapshotStores.get('sentry-snapshots')!.list('sentry-snapshots')).length > 0) break;
    if (attempt >= 6) throw new Error('six snapshot requests, none taken');
  }
  await until(page, 'a snapshot listed', listed, 60_000);
  const snap = (await rt.store.listActions({ pool: 'sentries' })).find((a) => a.kind === 'snapshot');
  assert.ok(snap, 'the snapshot is an action');
  await browser.screenshot(page, 'snapshots');

  await page.keyboard.press('6');
  await until(page, 'the validator card', `document.querySelector('.validator-card') !== null`);
  const validators = (await page.textContent('main')) ?? '';
  assert.match(validators, /height/);
  assert.match(validators, /Failover/);
  assert.match(validators, /No validator pool has failover in the config/);
  await browser.screenshot(page, 'validators');

  assert.deepEqual(pageErrors, [], 'no error in the page');
});
