// `rampart load -c FILE --rate N [--pool P] [--duration D]`: offers load to a pool's ready
// nodes (their RPC), following the pool as it grows and shrinks. Ctrl-C stops it.

import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../../config/schema.ts';
import { parseDuration } from '../../core/duration.ts';
import { LoadGenerator } from '../../nodes/simnode/load-generator.ts';
import { createStore } from '../../runtime/runtime.ts';
import type { Store } from '../../store/store.ts';
import { configFlag, loadConfigFrom, parseFlags, UsageError } from '../args.ts';
import { untilStopSignal } from '../signals.ts';

export async function load(argv: string[]): Promise<number> {
  const flags = parseFlags('load', argv, {
    ...configFlag,
    rate: { type: 'string', short: 'r' },
    pool: { type: 'string', short: 'p' },
    duration: { type: 'string', short: 'd' },
  });
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
  const store = createStore(config);
  await store.open();
  const generator = new LoadGenerator({ rate });
  const follow = followPool(store, pool, generator);
  generator.start();
  process.stdout.write(
    `offering ${rate} tx/s to the ready nodes of ${pool}${duration ? ` for ${flags.duration}` : ''}; Ctrl-C stops\n`,
  );
  await Promise.race([untilStopSignal(), ...(duration ? [sleep(duration)] : [])]);
  follow.stop();
  generator.stop();
  const s = generator.stats();
  process.stdout.write(`sent ${s.sent}, answered ${s.succeeded}, failed ${s.failed}, dropped ${s.dropped}\n`);
  await store.close();
  return 0;
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
): { stop(): void } {
  const refresh = async () => {
    const nodes = await store.listNodes({ pool });
    generator.setTargets(
      nodes
        .filter((n) => n.state === 'ready' && n.host && n.ports?.rpc)
        .map((n) => `http://${n.host}:${n.ports!.rpc}`),
    );
  };
  // A refresh that fails (a store closing under it) leaves the targets as they were.
  void refresh().catch(() => undefined);
  const timer = setInterval(() => void refresh().catch(() => undefined), everyMs);
  return { stop: () => clearInterval(timer) };
}
