// Rampart's logger: JSON lines (pino) for machines; on a terminal one readable line per event
// (time, level, message, the event's fields). Fields that may hold secrets are redacted before
// anything is written, in either form.

import { writeSync } from 'node:fs';
import pino, { type Logger } from 'pino';

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

/**
 * Text on a terminal, JSON lines otherwise. RAMPART_LOG_FORMAT=json or =text forces one;
 * `pretty` (tests) overrides both.
 */
export function createLogger(opts: { level?: string; pretty?: boolean } = {}): Logger {
  const level = opts.level ?? process.env.RAMPART_LOG_LEVEL ?? 'info';
  const options = { level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' }, base: undefined };
  const format = process.env.RAMPART_LOG_FORMAT;
  const text = opts.pretty ?? (format === 'text' || (format !== 'json' && process.stderr.isTTY === true));
  if (!text) return pino(options, pino.destination({ fd: 2, sync: true }));
  const color = process.stderr.isTTY === true && !process.env.NO_COLOR;
  // pino has redacted and serialized the event; each JSON line becomes one text line.
  return pino(options, {
    write: (line: string) => {
      writeSync(2, `${formatLogLine(line, { color })}\n`);
    },
  });
}

const LEVELS: Record<number, { name: string; color: string }> = {
  10: { name: 'TRACE', color: '90' },
  20: { name: 'DEBUG', color: '90' },
  30: { name: 'INFO', color: '32' },
  40: { name: 'WARN', color: '33' },
  50: { name: 'ERROR', color: '31' },
  60: { name: 'FATAL', color: '35' },
};

/**
 * One pino JSON line as one line of text: `HH:MM:SS LEVEL message key=value …`. A value with
 * spaces or quotes is JSON-quoted, an object is compact JSON, an error shows its message.
 * Line breaks in the message or values are escaped, so one event is always one line.
 */
export function formatLogLine(json: string, opts: { color?: boolean } = {}): string {
  let event: Record<string, unknown>;
  try {
    event = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.trimEnd();
  }
  const { time, level, msg, ...fields } = event;
  const at = typeof time === 'number' ? new Date(time) : new Date();
  const clock = [at.getHours(), at.getMinutes(), at.getSeconds()]
    .map((n) => String(n).padStart(2, '0'))
    .join(':');
  const lv = LEVELS[Number(level)] ?? { name: String(level ?? '?').toUpperCase(), color: '0' };
  const paint = (code: string, s: string) => (opts.color ? `\x1b[${code}m${s}\x1b[0m` : s);
  const parts = [paint('90', clock), paint(lv.color, lv.name.padEnd(5)), oneLine(String(msg ?? ''))];
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    parts.push(`${paint('36', key)}=${showValue(value)}`);
  }
  return parts.filter((p) => p !== '').join(' ');
}

function showValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"'=]+$/.test(value) ? value : JSON.stringify(value);
  if (value !== null && typeof value === 'object' && 'message' in value && 'stack' in value)
    return JSON.stringify(String((value as { message: unknown }).message));
  if (value !== null && typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

function oneLine(s: string): string {
  return s.replace(/\r?\n/g, '\\n');
}
