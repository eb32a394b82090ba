// Predictive scaling live: a simnode pool under periodic bursts (`rampart load`'s periodic
// profile) is grown ahead of each burst once the controller has seen a few periods, and a
// restarted controller goes on forecasting from the history it stored.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import pino from 'pino';
import { burstProfile, followPool } from '../../src/cli/commands/load.ts';
import { loadConfigFile } from '../../src/config/load.ts';
import { Controller } from '../../src/controller/controller.ts';
import { LoadGenerator } from '../../src/nodes/simnode/load-generator.ts';
import { createRuntime } from '../../src/runtime/runtime.ts';
import { makeFleet, waitFor } from '../support/fleet.ts';

/** Bursts of 60 tx/s for 20 s every 40 s over 6 tx/s: a sentry serves 20 tx/s. */
const PERIOD_MS = 40_000;
const BURST_MS = 20_000;
const BASE = 6;
const BURST = 60;

const fleet = makeFleet(`version: 1
controller:
  evaluationInterval: 500ms
  store: { kind: sqlite, path: state.db }
metrics:
  - { name: nodes, kind: scrape, staleAfter: 5s, timeout: 1s }
providers:
  - { name: here, kind: local, dataDir: nodes }
pools:
  - name: validator
    role: validator
    provider: here
    node: { kind: simnode, blockTimeMs: 200 }
    health: { checkInterval: 500ms }
  - name: sentries
    role: sentry
    provider: here
    node: { kind: simnode, validatorPool: validator, txCapacity: 20, syncRate: 2000 }
    size: { min: 1, capacity: 1, max: 6 }
    scaleUp:
      cooldown: 0s
      rules: [ { metric: "nodes:simnode_utilization_ratio", target: 0.6, tolerance: 0 } ]
    scaleDown:
      period: 1s
      lockAttemptPeriod: 100ms
      rules: [ { metric: "nodes:simnode_utilization_ratio", comparator: "<", threshold: 0.2 } ]
    health: { checkInterval: 500ms, joinRetries: 3, joinTimeout: 60s }
    scaleIn: { select: newest }
    predict: { horizon: 15s, confidence: 0.1 }
`);
after(() => fleet.cleanup());

const silent = pino({ level: 'silent' });

test('bursts are met ahead of time after a few periods, and again right after a restart', async () => {
  const config = loadConfigFile(fleet.configFile).config;
  let controller = new Controller({ runtime: createRuntime(config), log: silent });
  await controller.start();
  after(() => controller.stop());
  const rt = await fleet.inspect();

  await waitFor('one ready sentry', async () => {
    const nodes = await rt.store.listNodes({ pool: 'sentries' });
    return nodes.some((n) => n.state === 'ready' && n.registered);
  });

  const load = new LoadGenerator({ rate: BASE });
  const follow = followPool(rt.store, 'sentries', load, 300);
  load.start();
  const started = Date.now();
  load.setProfile(burstProfile(BASE, BURST, PERIOD_MS, BURST_MS));
  after(() => {
    follow.stop();
    load.stop();
  });

  /** Milliseconds from `at` until the next burst starts; negative inside a burst. */
  const untilBurst = (at: number) => {
    const inPeriod = (at - started) % PERIOD_MS;
    const quiet = PERIOD_MS - BURST_MS;
    return inPeriod < quiet ? quiet - inPeriod : -1;
  };
  /** What the predictive rule said last, for a failure's message. */
  const lastPrediction = async () =>
    (await rt.store.listDecisions({ pool: 'sentries', since: started }))
      .flatMap((d) => d.reasons.filter((r) => r.text.startsWith('predict')).map((r) => r.text))
      .slice(-3)
      .join(' | ');
  const readySentries = async () =>
    (await rt.store.listNodes({ pool: 'sentries' })).filter((n) => n.state === 'ready').length;
  /**
   * The pool just before a burst (0.5–2.5 s ahead, while the load is still at its base): at
   * least the 3 nodes the burst's 60 tx/s need, kept or brought by a forecast. At the base
   * load the reactive rules alone keep one.
   */
  const sizedAhead = async (since: number) => {
    const ahead = untilBurst(Date.now());
    if (ahead < 500 || ahead > 2500) return undefined;
    const [decision] = (await rt.store.listDecisions({ pool: 'sentries', since, limit: 1 })).slice(-1);
    const forecast = decision?.reasons.find((r) => r.code === 'forecast');
    return forecast && (await readySentries()) >= 3 ? forecast : undefined;
  };
  const fail = async (e: unknown): Promise<never> =>
    assert.fail(`${(e as Error).message}; the predictive rule said: ${await lastPrediction()}`);

  await waitFor(
    'the pool sized for a burst before it starts',
    () => sizedAhead(started),
    6 * PERIOD_MS,
  ).catch(fail);
  assert.ok(Date.now() - started >= PERIOD_MS, 'no forecast before a full period was seen');
  // What the restart must carry over: the first controller has found the period. A young
  // history (two periods, ten 10 s buckets) can first put it a bucket off; it is read again as
  // the history grows.
  const namesPeriod = async (since: number) =>
    (await rt.store.listDecisions({ pool: 'sentries', since }))
      .flatMap((d) => d.reasons)
      .find((r) => /a 40s period/.test(r.text));
  await waitFor(
    'the first controller naming the 40s period',
    () => namesPeriod(started),
    8 * PERIOD_MS,
  ).catch(fail);

  // A new controller on the same store forecasts from the history the first one stored, within
  // a period: on its own it would need two periods to find one.
  await controller.stop();
  const restarted = Date.now();
  controller = new Controller({ runtime: createRuntime(config), log: silent });
  await controller.start();
  // Knowing the period within one period of starting is the stored history's doing: alone,
  // a controller needs two periods of its own.
  const known = await waitFor(
    "the new controller's predictive rule naming the period",
    () => namesPeriod(restarted),
    PERIOD_MS,
  ).catch(fail);
  assert.match(known!.text, /^predict: /);
  await waitFor(
    'the pool sized for the next burst by the new controller',
    () => sizedAhead(restarted),
    2 * PERIOD_MS,
  ).catch(fail);
});
