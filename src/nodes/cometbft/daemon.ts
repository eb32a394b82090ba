// What runs a `cometbft` node: bare CometBFT with its built-in app, or a chain daemon
// (gaiad and other Cosmos SDK daemons) that embeds CometBFT and the application in one
// process, with an app.toml beside config.toml. How each makes a home, starts, and takes
// settings from the environment.

import { accessSync, constants, realpathSync } from 'node:fs';
import path from 'node:path';
import { KNOWN_CHAIN_DAEMONS } from './config.ts';

export interface Daemon {
  /** Its name, for messages: cometbft, gaiad, … */
  readonly name: string;
  /** True for a chain daemon: the application runs in-process and app.toml holds its settings. */
  readonly appToml: boolean;
  /** Arguments that make a home. */
  initArgs(moniker: string, chainId: string, home: string): string[];
  /** Arguments that start the node from its home (Rampart's node flags follow them). */
  startArgs(home: string): string[];
  /**
   * Prefix of the environment variables that set config.toml keys at start
   * (`<PREFIX>_P2P_MAX_NUM_INBOUND_PEERS`): CMT for CometBFT; a Cosmos SDK daemon reads them
   * under its executable's own name (the SDK's server context binds viper to it).
   */
  readonly envPrefix: string;
}

const fill = (args: readonly string[], values: Readonly<Record<string, string>>) =>
  args.map((a) => a.replace(/\{(moniker|chainId|home)\}/g, (whole, k: string) => values[k] ?? whole));

/** The Cosmos SDK's own `init` and `start`, which every SDK daemon inherits. */
const SDK_INIT = ['init', '{moniker}', '--chain-id', '{chainId}', '--home', '{home}'];
const SDK_START = ['start', '--home', '{home}'];

/** The file a command name or path runs: its real path (symlinks resolved), or itself. */
function executableOf(binary: string): string {
  const candidates = binary.includes('/')
    ? [binary]
    : (process.env.PATH ?? '').split(path.delimiter).map((d) => path.join(d, binary));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return realpathSync(c);
    } catch {
      // Not here: the next one.
    }
  }
  return binary;
}

export interface DaemonOptions {
  readonly daemon?:
    | { readonly init: string[]; readonly start: string[]; readonly appToml: boolean }
    | undefined;
}

/**
 * The daemon `binary` is, from the config's `daemon` block or else its name: a known Cosmos
 * SDK daemon (KNOWN_CHAIN_DAEMONS), else CometBFT (what `binary` has always meant).
 */
export function resolveDaemon(binary: string, o: DaemonOptions): Daemon {
  const executable = executableOf(binary);
  const name = path.basename(executable);
  const sdk = o.daemon ?? (name !== 'cometbft' && KNOWN_CHAIN_DAEMONS.includes(name) ? undefined : null);
  if (sdk === null)
    return {
      name,
      appToml: false,
      initArgs: (_moniker, _chainId, home) => ['init', '--home', home],
      startArgs: (home) => ['start', '--home', home],
      envPrefix: 'CMT',
    };
  const init = sdk?.init ?? SDK_INIT;
  const start = sdk?.start ?? SDK_START;
  const appToml = sdk?.appToml ?? true;
  return {
    name,
    appToml,
    initArgs: (moniker, chainId, home) => fill(init, { moniker, chainId, home }),
    startArgs: (home) => fill(start, { home }),
    // viper upper-cases the prefix; the SDK takes it from os.Executable(), symlinks resolved.
    envPrefix: appToml ? name.toUpperCase().replace(/[^A-Z0-9]/g, '_') : 'CMT',
  };
}
