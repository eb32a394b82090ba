// Bearer-token authentication for the HTTP API: the token is read from a file (never from the
// config itself), compared in constant time, and never written to a log, an error or a page.

import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** Shortest token accepted: a guessable token is no protection off loopback. */
export const MIN_TOKEN_LENGTH = 16;

/** Why the API did not start. `addressInUse`: its port is taken (the rest is configuration). */
export class ApiStartError extends Error {
  readonly addressInUse: boolean;
  constructor(message: string, addressInUse = false) {
    super(message);
    this.name = 'ApiStartError';
    this.addressInUse = addressInUse;
  }
}

/** Reads the token file: its content, surrounding whitespace and line ends removed. */
export function readTokenFile(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ApiStartError(
      `controller.api.tokenFile ${file} cannot be read (${code === 'ENOENT' ? 'no such file' : (code ?? 'unreadable')}): the API does not start without its token`,
    );
  }
  const token = text.trim();
  if (token.length < MIN_TOKEN_LENGTH)
    throw new ApiStartError(
      `controller.api.tokenFile ${file} holds ${token.length === 0 ? 'no token' : 'a token shorter than 16 characters'}: write a long random one, e.g. openssl rand -hex 32 > ${file}`,
    );
  if (/\s/.test(token))
    throw new ApiStartError(`controller.api.tokenFile ${file}: the token must be one line without spaces`);
  return token;
}

/** Compares tokens in constant time (SHA-256 digests of equal length, timingSafeEqual). */
export class BearerCheck {
  readonly #digest: Buffer;

  constructor(token: string) {
    this.#digest = createHash('sha256').update(token).digest();
  }

  /** `missing` without an Authorization bearer header, `wrong` when it does not match. */
  check(authorization: string | undefined): 'ok' | 'missing' | 'wrong' {
    const m = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization ?? '');
    if (!m) return 'missing';
    const given = createHash('sha256').update(m[1]!).digest();
    return timingSafeEqual(given, this.#digest) ? 'ok' : 'wrong';
  }
}
