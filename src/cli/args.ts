// Command-line parsing shared by every command: strict flags, a clear message for a
// wrong one, and the config file every command but `schema` needs.

import { type ParseArgsConfig, parseArgs } from 'node:util';
import { ConfigError, type LoadedConfig, loadConfigFile } from '../config/load.ts';
import { StoreBehindFleetError } from '../controller/fleet-ownership.ts';
import { StoreUnusableError } from '../store/store.ts';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function parseFlags<T extends NonNullable<ParseArgsConfig['options']>>(
  command: string,
  argv: string[],
  options: T,
) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (e) {
    throw new UsageError(`rampart ${command}: ${(e as Error).message}`);
  }
}

export const configFlag = { config: { type: 'string', short: 'c' } } as const;
export const jsonFlag = { json: { type: 'boolean' } } as const;

/** Loads the config named by -c (default ./rampart.yaml, or $RAMPART_CONFIG). */
export function loadConfigFrom(flags: { config?: string | undefined }): LoadedConfig {
  const file = flags.config ?? process.env.RAMPART_CONFIG ?? 'rampart.yaml';
  return loadConfigFile(file);
}

/**
 * Prints what went wrong and gives the exit code: 2 for usage and config errors and a store
 * that cannot be used as it is (the operator must act before anything can work), 1 otherwise.
 */
export function reportFailure(e: unknown): number {
  if (e instanceof ConfigError) {
    process.stderr.write(
      `${e.message}\n${e.issues.length} error${e.issues.length === 1 ? '' : 's'} in the config\n`,
    );
    return 2;
  }
  if (e instanceof UsageError || e instanceof StoreBehindFleetError || e instanceof StoreUnusableError) {
    process.stderr.write(`${e instanceof UsageError ? '' : 'rampart: '}${e.message}\n`);
    return 2;
  }
  process.stderr.write(`rampart: ${(e as Error).message ?? String(e)}\n`);
  return 1;
}
