// Test support for whole-controller tests: a temporary config and data folder, the CLI run
// as a real child process, and polling with a deadline (never a timed assertion).

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { loadConfigFile } from '../../src/config/load.ts';
import { createRuntime, type Runtime } from '../../src/runtime/runtime.ts';

export const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

/**
 * Node's on-disk compile cache for the controllers tests spawn: a crash-safety case starts three
 * and each spends about 2 s compiling src/ and the cloud SDKs before it acts; the cache cuts
 * that by a third. Node keys it by source hash and its own version, so a stale entry is never
 * used; NODE_COMPILE_CACHE set by the caller wins.
 */
const COMPILE_CACHE = process.env.NODE_COMPILE_CACHE ?? path.join(tmpdir(), 'rampart-node-compile-cache');

export interface Fleet {
  readonly dir: string;
  readonly configFile: string;
  /** A runtime over the same config, for inspecting store and provider (opened store). */
  inspect(): Promise<Runtime>;
  cleanup(): Promise<void>;
}

/** What tests vary in the fast fleet: everything else is the same small, quick fleet. */
export interface FastFleetOptions {
  /** YAML for `controller.store` and `controller.coordination` (default: SQLite, embedded). */
  readonly storeYaml?: string;
  readonly scaleUpCooldown?: string;
  readonly scaleDownPeriod?: string;
  /** Scale down while utilization is below this. Default 0.2. */
  readonly scaleDownBelow?: number;
  readonly failTolerance?: number;
  readonly joinTimeout?: string;
  /** Blocks per second a sentry catches up. Default 2000 (a sentry is ready at once). */
  readonly sentrySyncRate?: number;
  /** Height the validator's chain starts at. Default 0. */
  readonly validatorStartHeight?: number;
  /** YAML appended after the pools (e.g. a `snapshots:` section). */
  readonly extra?: string;
  /** YAML lines appended to the sentries pool, indented 4 (e.g. its `traffic:`). */
  readonly sentriesExtra?: string;
}

/** A fast local fleet: validator + sentries, intervals in hundreds of ms. */
export function fastFleetConfig(
  sentries: { min: number; capacity: number; max: number; warm?: number },
  o: FastFleetOptions = {},
): string {
  return `version: 1
controller:
  evaluationInterval: 300ms
${o.storeYaml ?? '  store: { kind: sqlite, path: state.db }'}
metrics:
  - { name: nodes, kind: scrape, staleAfter: 5s, timeout: 1s }
providers:
  - { name: here, kind: local, dataDir: nodes }
pools:
  - name: validator
    role: validator
    provider: here
    node: { kind: simnode, blockTimeMs: 200${o.validatorStartHeight ? `, startHeight: ${o.validatorStartHeight}` : ''} }
    health: { checkInterval: 300ms }
  - name: sentries
    role: sentry
    provider: here
    node: { kind: simnode, validatorPool: validator, txCapacity: 20, syncRate: ${o.sentrySyncRate ?? 2000} }
    size: { min: ${sentries.min}, capacity: ${sentries.capacity}, max: ${sentries.max}${sentries.warm === undefined ? '' : `, warm: ${sentries.warm}`} }
    scaleUp:
      cooldown: ${o.scaleUpCooldown ?? '1s'}
      rules: [ { metric: "nodes:simnode_utilization_ratio", comparator: ">", threshold: 0.7, step: 1 } ]
    scaleDown:
      period: ${o.scaleDownPeriod ?? '1s'}
      lockAttemptPeriod: 100ms
      rules: [ { metric: "nodes:simnode_utilization_ratio", comparator: "<", threshold: ${o.scaleDownBelow ?? 0.2} } ]
    health: { checkInterval: 300ms, failTolerance: ${o.failTolerance ?? 20}, joinRetries: 3, joinTimeout: ${o.joinTimeout ?? '60s'} }
${o.sentriesExtra ?? ''}
${o.extra ?? ''}`;
}

export function makeFleet(configText: string): Fleet {
  const dir = mkdtempSync(path.join(tmpdir(), 'rampart-fleet-'));
  const configFile = path.join(dir, 'rampart.yaml');
  writeFileSync(configFile, configText);
  const opened: Runtime[] = [];
  return {
    dir,
    configFile,
    inspect: async () => {
      const rt = createRuntime(loadConfigFile(configFile).config);
      await rt.store.open();
      opened.push(rt);
      return rt;
    },
    cleanup: async () => {
      for (const rt of opened) await rt.store.close().catch(() => undefined);
      // Whatever a test left running goes: every node process of this fleet, all at once (a
      // cloud's delete waits for its operation: one after the other they added up to seconds).
      const rt = createRuntime(loadConfigFile(configFile).config);
      await Promise.all(
        [...rt.providers.values()].map(async (provider) => {
          const left = await provider.list();
          await Promise.all(left.map((i) => provider.destroy(i).catch(() => undefined)));
        }),
      );
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface CliRun {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function runCli(args: string[], env: Record<string, string> = {}): CliRun {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, NODE_COMPILE_CACHE: COMPILE_CACHE, RAMPART_LOG_FORMAT: 'json', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, output: () => out, exited };
}

/**
 * What a controller printed, for a failure message: its last warnings and errors first, each
 * whole (a state change every tick can push them out of a plain tail), then the tail.
 */
export function controllerOutput(output: string): string {
  const serious = output
    .split('\n')
    .filter((l) => /"level":(40|50|60)/.test(l))
    .slice(-8)
    .map((l) => (l.length > 2000 ? `${l.slice(0, 2000)}…` : l));
  return `${serious.length ? `last warnings and errors:\n${serious.join('\n')}\n` : ''}tail:\n${output.slice(-3000)}`;
}

/** Polls `check` until it returns a truthy value; fails with `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T> | T, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await sleep(150);
  }
  throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
}

/**
 * Runs `rampart up` until it kills itself at `point` (RAMPART_CRASH_AT); fails if it exits any
 * other way or has not got there within `timeoutMs`.
 */
export async function crashAt(configFile: string, point: string, timeoutMs = 60_000): Promise<void> {
  const run = runCli(['up', '-c', configFile], { RAMPART_CRASH_AT: point });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    run.child.kill('SIGKILL');
  }, timeoutMs);
  const { signal } = await run.exited;
  clearTimeout(timer);
  assert.ok(
    !timedOut,
    `controller never reached ${point} within ${timeoutMs / 1000} s; output:\n${controllerOutput(run.output())}`,
  );
  assert.equal(
    signal,
    'SIGKILL',
    `controller should have crashed at ${point}; output:\n${controllerOutput(run.output())}`,
  );
}

/** Runs `rampart up` until `settled` holds while it leads, then stops it with SIGTERM (it must exit 0). */
export async function runUntil(
  configFile: string,
  what: string,
  settled: () => Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const run = runCli(['up', '-c', configFile]);
  try {
    await waitFor(
      what,
      async () => {
        if (run.child.exitCode !== null) throw new Error(`controller exited: ${run.output()}`);
        // Settled only counts once this controller leads: its signal handlers are in place.
        return run.output().includes('"msg":"leading"') && settled();
      },
      timeoutMs,
    );
  } catch (e) {
    run.child.kill('SIGKILL');
    throw new Error(`${(e as Error).message}\ncontroller output:\n${controllerOutput(run.output())}`);
  }
  run.child.kill('SIGTERM');
  const { code } = await run.exited;
  assert.equal(code, 0, `controller should stop cleanly; output:\n${controllerOutput(run.output())}`);
}
