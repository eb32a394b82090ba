// `rampart pool pause|resume POOL` and `rampart pool size POOL N|auto`: the API's pool writes
// from the command line. Refused here with the API's own messages when they cannot run;
// otherwise queued as a request for the acting controller (recorded with the caller, `cli
// user@host`), and this command waits until the controller has taken it. With no controller
// running the request waits in the store for the next `rampart up`, and the command says so.

import { randomBytes } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { type PoolRequestKind, poolRequestRefusal } from '../../controller/pool-requests.ts';
import { formatDuration, parseDuration } from '../../core/duration.ts';
import { createStore, storeExists, storeFileOf } from '../../runtime/runtime.ts';
import type { RequestRecord, Store } from '../../store/store.ts';
import { loadConfigFrom, UsageError } from '../args.ts';
import { DEFAULT_REQUEST_WAIT } from '../defaults.ts';
import { controllerPresence } from '../running.ts';

export type PoolVerb = 'pause' | 'resume' | 'size';

/** Time between two looks at whether the controller still runs, ms. */
const PRESENCE_EVERY_MS = 2000;

export interface PoolFlags {
  readonly config?: string | undefined;
  /** Longest wait for the controller to take the request, e.g. 30s. Default 2m. */
  readonly wait?: string | undefined;
  /** One JSON document: the request as it ended (or as it waits). */
  readonly json?: boolean | undefined;
}

/** `auto` → null (automatic sizing); anything else as a number, for the API's own check. */
export function sizeArgument(text: string): number | null {
  if (text === 'auto') return null;
  return text.trim() === '' ? Number.NaN : Number(text);
}

/** Who asked, as requests record it: `cli user@host`. */
export function cliCaller(): string {
  let user = process.env.USER ?? 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (a container's arbitrary uid): $USER, else unknown.
  }
  return `cli ${user}@${hostname()}`;
}

export async function pool(
  verb: PoolVerb,
  poolName: string,
  size: string | undefined,
  flags: PoolFlags,
): Promise<number> {
  const { config } = loadConfigFrom(flags);
  const kind: PoolRequestKind = `pool-${verb}`;
  const body: Record<string, unknown> = { pool: poolName };
  if (verb === 'size') body.size = sizeArgument(size ?? '');
  const refusal = poolRequestRefusal(config, kind, body);
  if (refusal) {
    const hint =
      verb === 'size' && refusal.message.startsWith('size must be')
        ? `\n(on the command line: a number, or auto for automatic sizing, e.g. rampart pool size ${poolName} auto)`
        : '';
    throw new UsageError(`rampart pool ${verb}: ${refusal.message}${hint}`);
  }
  const waitMs = parseDuration(flags.wait ?? DEFAULT_REQUEST_WAIT);
  if (waitMs === undefined)
    throw new UsageError(`rampart pool ${verb}: --wait ${flags.wait}: not a duration (e.g. 30s, 5m)`);
  if (!storeExists(config)) {
    process.stderr.write(
      `no state yet at ${storeFileOf(config)}: no controller has run on this store; start one with rampart up\n`,
    );
    return 1;
  }
  const store = createStore(config);
  await store.open();
  try {
    const request: RequestRecord = {
      id: `r-${randomBytes(6).toString('hex')}`,
      at: Date.now(),
      kind,
      body,
      caller: cliCaller(),
    };
    await store.addRequest(request);
    const presence = await controllerPresence(config, store);
    const what = `${verb} ${poolName}${verb === 'size' ? ` ${size}` : ''}`;
    if (presence.running === false) {
      report(
        flags,
        request,
        `recorded request ${request.id} (${what}); no controller is running on this store: the next rampart up takes it first`,
      );
      return 0;
    }
    if (!flags.json)
      process.stderr.write(
        `asked the running controller${presence.controllers.length ? ` (${presence.controllers.map((c) => c.who).join(', ')})` : ''} to ${what} (request ${request.id}); waiting…\n`,
      );
    return await awaitOutcome(config, store, request, waitMs, flags);
  } finally {
    await store.close();
  }
}

async function awaitOutcome(
  config: Parameters<typeof controllerPresence>[0],
  store: Store,
  request: RequestRecord,
  waitMs: number,
  flags: PoolFlags,
): Promise<number> {
  const deadline = Date.now() + waitMs;
  let lookedAt = Date.now();
  for (;;) {
    const r = await store.getRequest(request.id);
    if (r?.outcome === 'done') {
      report(flags, r, r.detail ?? 'done');
      return 0;
    }
    if (r?.outcome === 'failed') {
      report(flags, r, `refused by the controller: ${r.detail ?? 'failed'}`, true);
      return 1;
    }
    if (Date.now() >= deadline) {
      report(
        flags,
        r ?? request,
        `the controller has not taken request ${request.id} within ${formatDuration(waitMs)} (busy with a long action, or standing by): it stays queued; rampart history shows when it is done`,
        true,
      );
      return 1;
    }
    if (Date.now() - lookedAt >= PRESENCE_EVERY_MS) {
      lookedAt = Date.now();
      if ((await controllerPresence(config, store)).running === false) {
        report(
          flags,
          r ?? request,
          `the controller stopped before taking request ${request.id}: it waits in the store for the next rampart up`,
          true,
        );
        return 1;
      }
    }
    await sleep(200);
  }
}

function report(flags: PoolFlags, request: RequestRecord, message: string, failed = false): void {
  if (flags.json) process.stdout.write(`${JSON.stringify({ request, message })}\n`);
  else (failed ? process.stderr : process.stdout).write(`${message}\n`);
}
