// The commands an operator runs against a fleet, with real processes on a small local fleet:
// `status` tells a running controller from a stopped one and marks what it has not seen since;
// `pool pause|resume|size` go through the controller's request queue with the API's refusals;
// `load` says why requests failed.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, test } from 'node:test';
import { cliCaller } from '../../src/cli/commands/pool.ts';
import { loadConfigFile } from '../../src/config/load.ts';
import { type PoolRequestKind, poolRequestRefusal } from '../../src/controller/pool-requests.ts';
import {
  CLI,
  type CliRun,
  type Fleet,
  fastFleetConfig,
  makeFleet,
  runCli,
  waitFor,
} from '../support/fleet.ts';

const fleets: Fleet[] = [];
const running: CliRun[] = [];
after(async () => {
  for (const r of running) if (r.child.exitCode === null) r.child.kill('SIGKILL');
  for (const f of fleets) await f.cleanup();
});

/** Runs the CLI to its end without blocking this process (a controller runs beside it). */
function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, RAMPART_LOG_FORMAT: 'json' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

test('status, pool and load against a running, then stopped, then removed fleet', async () => {
  const fleet = makeFleet(
    fastFleetConfig(
      { min: 1, capacity: 1, max: 3 },
      { storeYaml: '  store: { kind: sqlite, path: state.db }\n  api: { listen: "127.0.0.1:0" }' },
    ),
  );
  fleets.push(fleet);
  const c = ['-c', fleet.configFile];
  const { config } = loadConfigFile(fleet.configFile);
  const rt = await fleet.inspect();

  // A running controller: status says so; nothing is marked stale.
  const up = runCli(['up', ...c]);
  running.push(up);
  await waitFor('the controller leading and a ready sentry', async () => {
    if (up.child.exitCode !== null) throw new Error(`up exited: ${up.output()}`);
    const sentries = await rt.store.listNodes({ pool: 'sentries' });
    return up.output().includes('"msg":"leading"') && sentries.some((n) => n.state === 'ready');
  });
  await waitFor('a status record of both pools', async () => (await rt.store.listPoolStatus()).length === 2);
  const live = await cli(['status', ...c]);
  assert.equal(live.code, 0, live.stderr);
  assert.match(live.stdout, new RegExp(`\\ncontroller: running \\(pid ${up.child.pid}\\)\\n`));
  assert.doesNotMatch(live.stdout, /not seen since|NOT RENEWED|gone/);

  // Pool requests: refused here with the API's own words, exit 2, nothing recorded.
  const refusals: [string[], PoolRequestKind, Record<string, unknown>][] = [
    [['pause', 'validator'], 'pool-pause', { pool: 'validator' }],
    [['resume', 'nope'], 'pool-resume', { pool: 'nope' }],
    [['size', 'sentries', '9'], 'pool-size', { pool: 'sentries', size: 9 }],
    [['size', 'sentries', 'many'], 'pool-size', { pool: 'sentries', size: Number.NaN }],
  ];
  for (const [args, kind, body] of refusals) {
    const r = await cli(['pool', ...args, ...c]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    const message = poolRequestRefusal(config, kind, body)!.message;
    assert.ok(r.stderr.startsWith(`rampart pool ${args[0]}: ${message}`), `${args.join(' ')}: ${r.stderr}`);
  }
  assert.equal((await rt.store.exportState()).requests.length, 0, 'no refused request was recorded');

  // Taken by the running controller, recorded with the caller, waited for.
  const pause = await cli(['pool', 'pause', 'sentries', ...c]);
  assert.equal(pause.code, 0, pause.stderr);
  assert.equal(pause.stdout, 'paused sentries: observed, never acted on, until resumed\n');
  assert.match(pause.stderr, /asked the running controller \(pid \d+\) to pause sentries \(request r-\w+\)/);
  const state = await rt.store.getPool('sentries');
  assert.equal(state?.paused, true);
  assert.equal(state?.pausedBy, cliCaller());
  assert.match(cliCaller(), /^cli \S+@\S+$/);
  const sized = await cli(['pool', 'size', 'sentries', '2', ...c, '--json']);
  assert.equal(sized.code, 0, sized.stderr);
  const answer = JSON.parse(sized.stdout) as {
    request: { outcome: string; caller: string };
    message: string;
  };
  assert.equal(answer.request.outcome, 'done');
  assert.equal(answer.request.caller, cliCaller());
  assert.match(answer.message, /size of sentries set by hand to 2/);
  assert.equal((await rt.store.getPool('sentries'))?.manualSize?.size, 2);
  for (const args of [
    ['size', 'sentries', 'auto'],
    ['resume', 'sentries'],
  ]) {
    const r = await cli(['pool', ...args, ...c]);
    assert.equal(r.code, 0, r.stderr);
  }
  const after = await rt.store.getPool('sentries');
  assert.equal(after?.paused, false);
  assert.equal(after?.manualSize, undefined);
  const actions = await rt.store.listActions({ pool: 'sentries', limit: 100 });
  assert.deepEqual(
    actions.filter((a) => a.caller === cliCaller()).map((a) => a.kind),
    ['pause', 'size', 'size', 'resume'],
    'each request an action recorded with its caller',
  );

  // Sized by hand to 2, then back to auto: the pool returns to its capacity of 1. Settled
  // before the controller stops, so its last record names only nodes that still run.
  await waitFor('the pool back at one sentry, recorded, nothing in flight', async () => {
    const sentries = await rt.store.listNodes({ pool: 'sentries' });
    const row = (await rt.store.listPoolStatus()).find((r) => r.pool === 'sentries');
    const recorded = (row?.body as { nodes?: unknown[] } | undefined)?.nodes ?? [];
    return sentries.length === 1 && recorded.length === 1 && (await rt.store.openActions()).length === 0;
  });

  // The controller stops; the nodes keep running. status says no controller runs, since when,
  // and marks every pool as not seen since.
  up.child.kill('SIGTERM');
  assert.equal((await up.exited).code, 0, up.output());
  const stopped = await cli(['status', ...c]);
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.match(
    stopped.stdout,
    /\nno controller is running on this store since \d{4}-\d\d-\d\dT[\d:.]+Z \(its last record, [\dms.]+ ago\); nodes as last recorded\n/,
  );
  assert.match(stopped.stdout, /sentries \(sentry, here\): .*\[\S+, recorded [\dms.]+ ago, not seen since\]/);
  assert.match(stopped.stdout, /wired {3}\(as recorded [\dms.]+ ago\)/);
  const doc = JSON.parse((await cli(['status', ...c, '--json'])).stdout) as {
    controller: { running: boolean; lastRecordAt: number };
    pools: { stale: boolean; goneNodes: string[] }[];
  };
  assert.equal(doc.controller.running, false);
  assert.ok(doc.controller.lastRecordAt > 0);
  assert.ok(doc.pools.every((p) => p.stale && p.goneNodes.length === 0));

  // A request with no controller: recorded for the next `up`, and said so.
  const queued = await cli(['pool', 'pause', 'sentries', ...c]);
  assert.equal(queued.code, 0, queued.stderr);
  assert.match(queued.stdout, /no controller is running on this store: the next rampart up takes it first/);
  assert.equal((await rt.store.openRequests()).length, 1);

  // load: the sentries' records say ready, but their processes are gone: every request fails,
  // and the summary says why.
  const provider = rt.providers.get('here')!;
  const sentryIds = new Set((await rt.store.listNodes({ pool: 'sentries' })).map((n) => n.id));
  for (const i of await provider.list()) if (sentryIds.has(i.nodeId)) await provider.destroy(i);
  const load = await cli(['load', ...c, '--rate', '40', '--duration', '1s']);
  assert.equal(load.code, 0, load.stderr);
  assert.match(load.stdout, /sent (\d+), answered 0, failed \1 \(\1 connection refused\), dropped \d+/);
  assert.ok(Number(/sent (\d+)/.exec(load.stdout)![1]) > 10, load.stdout);

  // down removes every node: status shows them gone.
  const down = await cli(['down', ...c]);
  assert.equal(down.code, 0, down.stderr);
  const gone = await cli(['status', ...c]);
  assert.match(gone.stdout, /\n {2}sentries-\S+ +gone +- +- +- {2}- {2}removed since this record\n/);
  assert.match(gone.stdout, /\n {2}validator-\S+ +gone /);
});
