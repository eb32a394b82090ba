// What a valid config holds, in a few words: `rampart validate` says it after "valid".

import type { Config } from './schema.ts';

/** `2 pools, 1 provider, 1 metric source`: each count with its noun in the right number. */
export function describeConfig(config: Pick<Config, 'pools' | 'providers' | 'metrics'>): string {
  return [
    count(config.pools.length, 'pool', 'pools'),
    count(config.providers.length, 'provider', 'providers'),
    count(config.metrics.length, 'metric source', 'metric sources'),
  ].join(', ');
}

function count(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}
