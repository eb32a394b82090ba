// A CometBFT validator's signing state (data/priv_validator_state.json: the last height,
// round and step it signed) and the promotion's file work: installing the operator's key
// with a state no lower than anything that key is known to have signed. Only the operator's
// promote command calls installSigner (invariant 7); nothing here runs on its own.

import { existsSync } from 'node:fs';
import { chmod, copyFile, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTomlValues } from './config-toml.ts';

/** Height, round and step of a signature: 1 propose, 2 prevote, 3 precommit. */
export interface SigningPoint {
  readonly height: number;
  readonly round: number;
  readonly step: number;
}

export const ZERO_POINT: SigningPoint = { height: 0, round: 0, step: 0 };

/** Orders two points as CometBFT's double-sign guard does: height, then round, then step. */
export function comparePoints(a: SigningPoint, b: SigningPoint): number {
  return a.height - b.height || a.round - b.round || a.step - b.step;
}

export function highestPoint(points: readonly SigningPoint[]): SigningPoint {
  return points.reduce((best, p) => (comparePoints(p, best) > 0 ? p : best), ZERO_POINT);
}

/** Reads a priv_validator_state.json; undefined when the file does not exist. */
export async function readSigningState(file: string): Promise<SigningPoint | undefined> {
  if (!existsSync(file)) return undefined;
  let raw: { height?: unknown; round?: unknown; step?: unknown };
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: not a CometBFT signing state: ${(e as Error).message}`);
  }
  const height = Number(raw.height);
  const round = Number(raw.round);
  const step = Number(raw.step);
  if (![height, round, step].every((n) => Number.isInteger(n) && n >= 0))
    throw new Error(`${file}: height, round and step must be non-negative integers`);
  return { height, round, step };
}

/** The consensus address in a priv_validator_key.json (public; the private key is not read here). */
export async function keyAddress(keyFile: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(keyFile, 'utf8');
  } catch (e) {
    throw new Error(`${keyFile}: cannot read the validator key file: ${(e as NodeJS.ErrnoException).code}`);
  }
  let raw: { address?: unknown };
  try {
    raw = JSON.parse(text);
  } catch {
    // Never the parser's message: it quotes the text, and this text holds a private key.
    throw new Error(`${keyFile}: the validator key file is not valid JSON`);
  }
  if (typeof raw.address !== 'string' || !/^[0-9A-Fa-f]{40}$/.test(raw.address))
    throw new Error(`${keyFile}: no 40-hex-digit address in the validator key file`);
  return raw.address.toUpperCase();
}

export interface InstallSigner {
  /** The promoted node's CometBFT home. */
  readonly home: string;
  /** The operator's priv_validator_key.json. */
  readonly keyFile: string;
  /** The signing state to install (already the highest known). */
  readonly state: SigningPoint;
  /** The sentries the validator dials: id@host:port. */
  readonly sentries: readonly string[];
  readonly doubleSignCheckHeight: number;
}

/**
 * Makes a stopped full node a validator: the operator's key and the given signing state
 * (files 0600, written whole then renamed), and the validator's wiring — no peer exchange,
 * no inbound peers, the sentries as persistent, private and unconditional peers, the
 * double-sign check at start.
 */
export async function installSigner(o: InstallSigner): Promise<void> {
  if (o.doubleSignCheckHeight < 1)
    throw new Error('refusing to install a signer without double_sign_check_height > 0');
  const key = path.join(o.home, 'config', 'priv_validator_key.json');
  await copyFile(o.keyFile, `${key}.rampart-tmp`);
  await chmod(`${key}.rampart-tmp`, 0o600);
  await rename(`${key}.rampart-tmp`, key);
  const state = path.join(o.home, 'data', 'priv_validator_state.json');
  await writeFile(
    `${state}.rampart-tmp`,
    `${JSON.stringify({ height: String(o.state.height), round: o.state.round, step: o.state.step }, null, 2)}\n`,
    { mode: 0o600 },
  );
  await rename(`${state}.rampart-tmp`, state);
  const config = path.join(o.home, 'config', 'config.toml');
  const ids = o.sentries.map((s) => s.split('@')[0]!);
  const text = await readFile(config, 'utf8');
  await writeFile(
    `${config}.rampart-tmp`,
    setTomlValues(text, {
      p2p: {
        pex: false,
        persistent_peers: o.sentries.join(','),
        private_peer_ids: ids.join(','),
        unconditional_peer_ids: ids.join(','),
        max_num_inbound_peers: 0,
      },
      consensus: { double_sign_check_height: o.doubleSignCheckHeight },
    }),
  );
  await rename(`${config}.rampart-tmp`, config);
}
