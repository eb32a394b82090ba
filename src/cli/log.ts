// Rampart's logger: JSON lines (pino) for machines, readable lines on a terminal. Fields
// that may hold secrets are redacted before anything is written.

import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

/** Paths pino removes from every log line: credentials never reach the logs. */
export const REDACTED_PATHS = [
  'token',
  '*.token',
  'password',
  '*.password',
  'secret',
  '*.secret',
  '*.secretAccessKey',
  '*.sessionToken',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'credentials',
  '*.credentials',
];

export function createLogger(opts: { level?: string; pretty?: boolean } = {}): Logger {
  const level = opts.level ?? process.env.RAMPART_LOG_LEVEL ?? 'info';
  const options = { level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' }, base: undefined };
  const wantPretty =
    opts.pretty ?? (process.stderr.isTTY === true && process.env.RAMPART_LOG_FORMAT !== 'json');
  if (wantPretty)
    return pino(
      options,
      pretty({
        colorize: true,
        sync: true,
        destination: 2,
        translateTime: 'HH:MM:ss',
        ignore: 'pid,hostname',
      }),
    );
  return pino(options, pino.destination({ fd: 2, sync: true }));
}
