// Load traces: offered load over time, read from CSV `time_s,load`. Each row's load holds
// until the next row; the last row holds as long as the gap before it. Pure apart from loadTrace.

import { readFileSync } from 'node:fs';
import path from 'node:path';

/** A load trace: piecewise-constant offered load in work units per second. */
export interface Trace {
  /** Name shown in scores: the file name without `.csv`. */
  readonly name: string;
  /** Row start times, seconds, strictly increasing. */
  readonly times: Float64Array;
  /** Offered load from each row's time until the next, units/s. */
  readonly loads: Float64Array;
  /** When the trace ends, seconds. */
  readonly end: number;
}

/** A trace file that cannot be used: the message names file, line and what is wrong. */
export class TraceError extends Error {
  readonly file: string;
  /** 1-based line, or 0 when the problem is the file as a whole. */
  readonly line: number;
  constructor(file: string, line: number, what: string) {
    super(`${file}${line > 0 ? `:${line}` : ''}: ${what}`);
    this.name = 'TraceError';
    this.file = file;
    this.line = line;
  }
}

const HEADER = 'time_s,load';

/**
 * Parses CSV text: an optional `time_s,load` header, then one `time,load` row per line.
 * Blank lines and lines starting with # are skipped. Times are seconds, strictly increasing,
 * not negative; loads are units/s, not negative. At least two rows.
 */
export function parseTraceCsv(text: string, file: string, name = traceName(file)): Trace {
  const times: number[] = [];
  const loads: number[] = [];
  const lines = text.split(/\r?\n/);
  let sawData = false;
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (!sawData && line.replace(/\s+/g, '').toLowerCase() === HEADER) {
      sawData = true;
      continue;
    }
    sawData = true;
    const fields = line.split(',').map((f) => f.trim());
    if (fields.length !== 2)
      throw new TraceError(
        file,
        lineNo,
        `expected 2 fields (${HEADER}), found ${fields.length}: "${truncate(line)}"`,
      );
    const [timeText, loadText] = fields as [string, string];
    const time = parseNumber(timeText);
    if (time === undefined) throw new TraceError(file, lineNo, `time_s "${timeText}" is not a number`);
    if (time < 0) throw new TraceError(file, lineNo, `time_s ${timeText} is negative`);
    const load = parseNumber(loadText);
    if (load === undefined) throw new TraceError(file, lineNo, `load "${loadText}" is not a number`);
    if (load < 0) throw new TraceError(file, lineNo, `load ${loadText} is negative (units/s offered)`);
    const previous = times[times.length - 1];
    if (previous !== undefined && time <= previous)
      throw new TraceError(
        file,
        lineNo,
        `time_s ${timeText} is not after the previous row's ${previous} (times must increase)`,
      );
    times.push(time);
    loads.push(load);
  }
  if (times.length < 2)
    throw new TraceError(
      file,
      0,
      `a trace needs at least two rows of ${HEADER}, found ${times.length === 0 ? 'none' : 'one'}`,
    );
  const n = times.length;
  const end = times[n - 1]! + (times[n - 1]! - times[n - 2]!);
  return { name, times: Float64Array.from(times), loads: Float64Array.from(loads), end };
}

/** Reads a trace file; errors name the file and line. */
export function loadTrace(file: string): Trace {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new TraceError(file, 0, err.code === 'ENOENT' ? 'no such file' : `cannot be read: ${err.message}`);
  }
  return parseTraceCsv(text, file);
}

/** Builds a trace from arrays (the generator's output). */
export function makeTrace(name: string, times: readonly number[], loads: readonly number[]): Trace {
  const text = [HEADER, ...times.map((t, i) => `${t},${loads[i]}`)].join('\n');
  return parseTraceCsv(text, name, name);
}

/** The trace as CSV text, with its header. */
export function formatTraceCsv(trace: Trace): string {
  const rows = [HEADER];
  for (let i = 0; i < trace.times.length; i++)
    rows.push(`${formatValue(trace.times[i]!)},${formatValue(trace.loads[i]!)}`);
  return `${rows.join('\n')}\n`;
}

/** Index of the row in force at time t (the last row starting at or before t; 0 before the start). */
export function rowAt(trace: Trace, t: number): number {
  const times = trace.times;
  let lo = 0;
  let hi = times.length - 1;
  if (t < times[0]!) return 0;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (times[mid]! <= t) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Offered load at time t, units/s. */
export function loadAt(trace: Trace, t: number): number {
  return trace.loads[rowAt(trace, t)]!;
}

/** The largest load anywhere in the trace, units/s. */
export function peakLoad(trace: Trace): number {
  let peak = 0;
  for (const v of trace.loads) if (v > peak) peak = v;
  return peak;
}

function traceName(file: string): string {
  return path.basename(file).replace(/\.csv$/i, '');
}

function parseNumber(text: string): number | undefined {
  if (text === '' || !/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

function formatValue(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Number(v.toFixed(3)));
}

function truncate(s: string): string {
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
