// What every command shares: the config it reads (-c, else $RAMPART_CONFIG, else ./rampart.yaml),
// the usage error, and the exit-code policy (reportFailure).

import { existsSync } from 'node:fs';
import { ConfigError, type LoadedConfig, loadConfigFile } from '../config/load.ts';
import { StoreBehindFleetError } from '../controller/fleet-ownership.ts';
import { StoreUnusableError } from '../store/store.ts';
import { DEFAULT_CONFIG } from './defaults.ts';

/** The operator asked for something that cannot be done as asked: exit 2, nothing changed. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Loads the config named by -c (default $RAMPART_CONFIG, then ./rampart.yaml). */
export function loadConfigFrom(flags: { config?: string | undefined }): LoadedConfig {
  const fromEnv = process.env.RAMPART_CONFIG;
  const file = flags.config ?? (fromEnv || undefined) ?? DEFAULT_CONFIG;
  try {
    return loadConfigFile(file);
  } catch (e) {
    if (!(e instanceof ConfigError) || existsSync(file)) throw e;
    const hint =
      flags.config !== undefined
        ? `check the path given with -c (relative to ${process.cwd()}), or write a starting config there with rampart init -o ${file}`
        : fromEnv
          ? `$RAMPART_CONFIG names it: set $RAMPART_CONFIG to your config, or pass -c FILE`
          : `no -c FILE given and $RAMPART_CONFIG is not set, so rampart read ./${DEFAULT_CONFIG}: pass -c FILE (--config FILE), set $RAMPART_CONFIG, or write a starting ./${DEFAULT_CONFIG} with rampart init`;
    throw new UsageError(`${e.message}\n${hint}`);
  }
}

/** A whole number ≥ `min` given as a flag's value, or a UsageError naming the flag. */
export function wholeNumber(command: string, flag: string, value: string, min = 1): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < min)
    throw new UsageError(`rampart ${command}: ${flag} takes a whole number ≥ ${min}, not "${value}"`);
  return n;
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
