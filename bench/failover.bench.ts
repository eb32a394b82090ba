// Validator failover speed with the default detection settings (poll 2 s, unreachable 10 s,
// stalled 30 s, 5 missed commits) on a real four-validator CometBFT chain (500 ms blocks):
// the guarded validator is SIGKILLed, and the benchmark times death → the down alert at a
// webhook, and death → a standby restored from a snapshot and caught up. Target: the alert
// within 15 s (tenderduty's default node-down alert comes after 3 minutes).
//
// stdout: one JSON line per run, then a summary line with medians. Progress goes to stderr.
// RAMPART_BENCH_RUNS sets the number of runs per scenario (default 3; `--quick`: 1).
// Scenarios: `defaults`; `unreachable-only` (missedBlocks 100): on this chain's 500 ms blocks
// 5 missed commits come within 3 s, so the defaults alert on missed blocks; with 6 s blocks
// the 10 s unreachable rule comes first, which the second scenario shows alone.

import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { loadConfigFile } from '../src/config/load.ts';
import { Controller } from '../src/controller/controller.ts';
import { readFailover } from '../src/failover/failover-state.ts';
import { createRuntime } from '../src/runtime/runtime.ts';
import { startFailoverBed } from '../test/support/failover-bed.ts';
import { makeFleet } from '../test/support/fleet.ts';

const BENCH = 'failover';
const QUICK = process.argv.includes('--quick') || process.env.RAMPART_BENCH_QUICK === '1';
const RUNS = QUICK ? 1 : Number(process.env.RAMPART_BENCH_RUNS ?? 3);

async function until<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  ms: number,
): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const v = await check();
    if (v) return v;
    await sleep(100);
  }
  throw new Error(`timed out after ${ms / 1000} s waiting for ${what}`);
}

async function run(
  scenario: string,
  detect: string | undefined,
  i: number,
): Promise<{ alertS: number; standbyS: number }> {
  const bed = await startFailoverBed();
  const fleet = makeFleet(bed.config(detect));
  const controller = new Controller({
    runtime: createRuntime(loadConfigFile(fleet.configFile).config),
    log: pino({ level: 'silent' }),
  });
  try {
    await controller.start();
    const rt = await fleet.inspect();
    process.stderr.write(`${scenario} run ${i + 1}: waiting for the validator, sentries and a snapshot…\n`);
    await until(
      'a healthy guarded validator, two sentries and a snapshot',
      async () =>
        (await rt.store.listNodes({ pool: 'sentries' })).filter((n) => n.state === 'ready').length === 2 &&
        (await rt.snapshotStores.get('chain')!.list('chain')).length > 0 &&
        (await readFailover(rt.store, 'validator')).address !== undefined,
      240_000,
    );
    const validator = (await rt.store.listNodes({ pool: 'validator' }))[0]!;
    const instance = (await rt.providers.get('here')!.list()).find(
      (x) => x.nodeId === validator.id && x.running,
    )!;
    process.kill(Number(instance.id.split(':')[0]), 'SIGKILL');
    const killedAt = Date.now();
    const alert = await until(
      'the down alert',
      () => bed.hooked.find((h) => h.body.status === 'firing' && h.body.severity === 'critical'),
      120_000,
    );
    await until(
      'a ready standby',
      async () => (await rt.store.listNodes({ pool: 'standby' })).some((n) => n.state === 'ready'),
      300_000,
    );
    const result = { alertS: (alert.at - killedAt) / 1000, standbyS: (Date.now() - killedAt) / 1000 };
    process.stdout.write(`${JSON.stringify({ bench: BENCH, scenario, run: i + 1, ...result })}\n`);
    return result;
  } finally {
    await controller.stop().catch(() => undefined);
    await fleet.cleanup().catch(() => undefined);
    await bed.cleanup();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const SCENARIOS: [string, string | undefined][] = [
  ['defaults', undefined],
  ['unreachable-only', '{ missedBlocks: 100 }'],
];
for (const [scenario, detect] of SCENARIOS) {
  const runs: { alertS: number; standbyS: number }[] = [];
  for (let i = 0; i < RUNS; i++) runs.push(await run(scenario, detect, i));
  process.stdout.write(
    `${JSON.stringify({
      bench: BENCH,
      scenario,
      summary: true,
      runs: RUNS,
      medianDeathToAlertS: median(runs.map((r) => r.alertS)),
      medianDeathToSyncedStandbyS: median(runs.map((r) => r.standbyS)),
      targetAlertS: 15,
      tenderdutyDefaultAlertS: 180,
    })}\n`,
  );
}
