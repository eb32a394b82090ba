// `rampart load -c FILE --rate N [--burst M --every P --burst-for B] [--pool P] [--duration D]`:
// offers load to a pool's ready nodes (their RPC), following the pool as it grows and shrinks;
// with --burst, periodic bursts on top of the base rate. Ctrl-C stops it; the summary says why
// requests failed, the most common reasons first. On a Cosmos SDK chain (gaiad), `--bank-send
// --key-file K --gas-price P` sends real signed bank transfers instead (bank-send-load.ts).

import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../../config/schema.ts';
import { formatDuration, parseDuration } from '../../core/duration.ts';
import { type BroadcastStats, startBankSendLoad } from '../../nodes/cometbft/bank-send-load.ts';
import { type Account, accountFromHex } from '../../nodes/cometbft/cosmos-tx.ts';
import { LoadGenerator, LoadProfile, type LoadStats } from '../../nodes/simnode/load-generator.ts';
import { createStore } from '../../runtime/runtime.ts';
import type { Store } from '../../store/store.ts';
import { loadConfigFrom, UsageError } from '../args.ts';
import { untilStopSignal } from '../signals.ts';

export interface LoadFlags {
  readonly config?: string | undefined;
  /** Offered load, transactions per second over the whole pool. Required. */
  readonly rate?: string | undefined;
  /** Default: the first sentry pool. */
  readonly pool?: string | undefined;
  /** Default: until Ctrl-C. */
  readonly duration?: string | undefined;
  /** Offered load during each burst, tx/s (periodic mode, with every and burstFor). */
  readonly burst?: string | undefined;
  /** Time from the start of one burst to the next. */
  readonly every?: string | undefined;
  /** How long each burst lasts; less than every. */
  readonly burstFor?: string | undefined;
  /** Signed bank sends on a Cosmos SDK chain instead of the demo's transactions. */
  readonly bankSend?: boolean | undefined;
  /** --bank-send: the sending account's secp256k1 secret, 64 hex digits. */
  readonly keyFile?: string | undefined;
  /** --bank-send: the fee per unit of gas with its denomination, e.g. 0.005uatom. */
  readonly gasPrice?: string | undefined;
  /** --bank-send: the chain's address prefix. Default cosmos. */
  readonly prefix?: string | undefined;
}

/** `0.005uatom` → 0.005 per gas in uatom (the coins sent are 1 of the same denomination). */
export function parseGasPrice(text: string | undefined): { price: number; denom: string } {
  const m = /^(\d+(?:\.\d+)?)([a-zA-Z][a-zA-Z0-9/:._-]{1,127})$/.exec(text ?? '');
  if (!m)
    throw new UsageError(
      `rampart load: --bank-send needs --gas-price, the fee per unit of gas with its denomination, e.g. --gas-price 0.005uatom${text === undefined ? '' : ` (got "${text}")`}`,
    );
  return { price: Number(m[1]), denom: m[2]! };
}

/** The sending account from --key-file; neither an error nor a log ever holds the secret. */
function sendingAccount(flags: LoadFlags): Account {
  if (flags.keyFile === undefined)
    throw new UsageError(
      "rampart load: --bank-send needs --key-file, a file holding the sending account's secret as 64 hex digits (gaiad keys export NAME --unarmored-hex --unsafe)",
    );
  let text: string;
  try {
    text = readFileSync(flags.keyFile, 'utf8');
  } catch (e) {
    throw new UsageError(
      `rampart load: --key-file ${flags.keyFile}: ${(e as NodeJS.ErrnoException).code ?? 'unreadable'}`,
    );
  }
  try {
    return accountFromHex(text, flags.prefix ?? 'cosmos');
  } catch (e) {
    throw new UsageError(`rampart load: --key-file ${flags.keyFile}: ${(e as Error).message}`);
  }
}

/** A burst every `periodMs`, `burstMs` long, at the end of each period: base rate first. */
export function burstProfile(base: number, burst: number, periodMs: number, burstMs: number): LoadProfile {
  const period = periodMs / 1000;
  const quiet = (periodMs - burstMs) / 1000;
  return new LoadProfile(
    [
      { at: 0, rate: base },
      { at: quiet, rate: base },
      { at: quiet, rate: burst },
      { at: period, rate: burst },
    ],
    { loop: true },
  );
}

/** The periodic mode's profile from the flags; undefined without --burst. */
function periodicProfile(flags: LoadFlags, base: number): LoadProfile | undefined {
  const given = [flags.burst, flags.every, flags.burstFor].filter((f) => f !== undefined).length;
  if (given === 0) return undefined;
  if (given < 3)
    throw new UsageError(
      "rampart load: periodic load takes all of --burst (tx/s), --every (the period) and --burst-for (each burst's length), e.g. --burst 300 --every 3m --burst-for 40s",
    );
  const burst = Number(flags.burst);
  if (!Number.isFinite(burst) || burst < 0)
    throw new UsageError(`rampart load: --burst "${flags.burst}" is not a rate in tx/s (a number >= 0)`);
  const every = parseDuration(flags.every!);
  const burstFor = parseDuration(flags.burstFor!);
  if (every === undefined || every <= 0)
    throw new UsageError(`rampart load: --every "${flags.every}" is not a duration more than 0 such as 3m`);
  if (burstFor === undefined || burstFor <= 0 || burstFor >= every)
    throw new UsageError(
      `rampart load: --burst-for "${flags.burstFor}" must be a duration more than 0 and less than --every (${flags.every})`,
    );
  return burstProfile(base, burst, every, burstFor);
}

export async function load(flags: LoadFlags): Promise<number> {
  const { config } = loadConfigFrom(flags);
  const rate = Number(flags.rate);
  if (flags.rate === undefined || !Number.isFinite(rate) || rate < 0)
    throw new UsageError(
      'rampart load: --rate takes the offered load in transactions per second, e.g. --rate 300',
    );
  const pool = loadTargetPool(config, flags.pool);
  const duration = flags.duration === undefined ? undefined : parseDuration(flags.duration);
  if (flags.duration !== undefined && duration === undefined)
    throw new UsageError(`rampart load: --duration "${flags.duration}" is not a duration such as 30s or 5m`);
  const profile = periodicProfile(flags, rate);
  if (flags.bankSend) {
    if (profile)
      throw new UsageError(
        'rampart load: --bank-send offers a steady --rate; --burst, --every and --burst-for are not for it',
      );
    return bankSends(config, flags, pool, rate, duration);
  }
  const store = createStore(config);
  await store.open();
  const generator = new LoadGenerator({ rate });
  const follow = followPool(store, pool, generator);
  // The first offer goes to the nodes the store lists, not to none while it is being read.
  await follow.ready;
  generator.start();
  if (profile) generator.setProfile(profile);
  const what = profile
    ? `${rate} tx/s with a burst of ${flags.burst} tx/s for ${flags.burstFor} every ${flags.every} (the first after ${formatDuration(profile.points[1]!.at * 1000)})`
    : `${rate} tx/s`;
  process.stdout.write(
    `offering ${what} to the ready nodes of ${pool}${duration ? ` for ${flags.duration}` : ''}; Ctrl-C stops\n`,
  );
  await Promise.race([untilStopSignal(), ...(duration ? [sleep(duration)] : [])]);
  // Nothing more is sent; what is in flight is answered (or times out) and counted.
  generator.setProfile(undefined);
  generator.setRate(0);
  const settleBy = Date.now() + 3000;
  while (generator.stats().inFlight > 0 && Date.now() < settleBy) await sleep(50);
  follow.stop();
  generator.stop();
  process.stdout.write(`${loadSummary(generator.stats())}\n`);
  await store.close();
  return 0;
}

/**
 * Signed bank sends from the key file's account at `rate`, to one ready node of the pool at a
 * time (one mempool sees the sequence in order), moving to another when it leaves the pool.
 */
async function bankSends(
  config: Config,
  flags: LoadFlags,
  pool: string,
  rate: number,
  duration: number | undefined,
): Promise<number> {
  const { price, denom } = parseGasPrice(flags.gasPrice);
  const from = sendingAccount(flags);
  const store = createStore(config);
  await store.open();
  try {
    const readyNodes = async () =>
      (await store.listNodes({ pool }))
        .filter((n) => n.state === 'ready' && n.host && n.ports?.rpc)
        .map((n) => `http://${n.host}:${n.ports!.rpc}`);
    const first = (await readyNodes())[0];
    if (!first) {
      process.stderr.write(`rampart load: pool ${pool} has no ready node to send to\n`);
      return 1;
    }
    const status = (await (await fetch(`${first}/status`, { signal: AbortSignal.timeout(5000) })).json()) as {
      result: { node_info: { network: string } };
    };
    const chainId = status.result.node_info.network;
    const load = await startBankSendLoad({ rpcUrl: first, chainId, from, denom, gasPrice: price, rate });
    process.stdout.write(
      `sending ${rate} bank sends/s from ${from.address} on ${chainId} through the ready nodes of ${pool}${duration ? ` for ${flags.duration}` : ''}; Ctrl-C stops\n`,
    );
    const follow = setInterval(() => {
      void readyNodes()
        .then((ready) => {
          if (ready.length > 0 && !ready.includes(load.sender.target)) load.sender.target = ready[0]!;
        })
        .catch(() => undefined);
    }, 1000);
    await Promise.race([untilStopSignal(), ...(duration ? [sleep(duration)] : [])]);
    clearInterval(follow);
    process.stdout.write(`${bankSendSummary(await load.stop())}\n`);
    return 0;
  } finally {
    await store.close();
  }
}

/** `accepted 380, rejected 2 (last: account sequence mismatch, expected 41, got 43)`. */
export function bankSendSummary(s: BroadcastStats): string {
  return `accepted ${s.accepted}, rejected ${s.rejected}${s.rejected > 0 ? ` (last: ${s.lastRejection})` : ''}`;
}

/** Reasons named in the summary; the rest are counted together. */
const REASONS_SHOWN = 3;

/** `sent 100, answered 75, failed 25 (20 connection refused, 5 HTTP 500: mempool is full), dropped 0`. */
export function loadSummary(s: LoadStats): string {
  const reasons = Object.entries(s.failures).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const shown = reasons.slice(0, REASONS_SHOWN).map(([why, n]) => `${n} ${why}`);
  const rest = reasons.slice(REASONS_SHOWN).reduce((sum, [, n]) => sum + n, 0);
  if (rest > 0) shown.push(`${rest} for ${reasons.length - REASONS_SHOWN} other reason(s)`);
  const why = shown.length > 0 ? ` (${shown.join(', ')})` : '';
  const dropped = s.dropped > 0 ? ' (not sent: no ready node, or too many requests unanswered)' : '';
  return `sent ${s.sent}, answered ${s.succeeded}, failed ${s.failed}${why}, dropped ${s.dropped}${dropped}`;
}

/** The pool to load: the one named, else the first sentry pool. */
export function loadTargetPool(config: Config, name: string | undefined): string {
  if (name !== undefined) {
    if (!config.pools.some((p) => p.name === name))
      throw new UsageError(
        `rampart load: no pool "${name}" (pools: ${config.pools.map((p) => p.name).join(', ')})`,
      );
    return name;
  }
  const sentry =
    config.pools.find((p) => p.role === 'sentry') ?? config.pools.find((p) => p.role !== 'validator');
  if (!sentry) throw new UsageError('rampart load: the config has no pool to load; name one with --pool');
  return sentry.name;
}

/** Points the generator at the pool's ready nodes, refreshed from the store every `everyMs` (default 1 s). */
export function followPool(
  store: Store,
  pool: string,
  generator: LoadGenerator,
  everyMs = 1000,
): { readonly ready: Promise<void>; stop(): void } {
  const refresh = async () => {
    const nodes = await store.listNodes({ pool });
    generator.setTargets(
      nodes
        .filter((n) => n.state === 'ready' && n.host && n.ports?.rpc)
        .map((n) => `http://${n.host}:${n.ports!.rpc}`),
    );
  };
  // A refresh that fails (a store closing under it) leaves the targets as they were.
  const ready = refresh().catch(() => undefined);
  const timer = setInterval(() => void refresh().catch(() => undefined), everyMs);
  return { ready, stop: () => clearInterval(timer) };
}
