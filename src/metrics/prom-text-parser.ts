// Parser for the Prometheus text exposition format 0.0.4, the body a node's /metrics serves.
// Built for scrape loops: one pass over the text, no regex per line, and unwanted names skipped early.

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

const METRIC_TYPES: ReadonlySet<string> = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export interface ParsedSample {
  readonly name: string;
  /** Label values are unescaped. Samples without labels share one frozen empty object. */
  readonly labels: Readonly<Record<string, string>>;
  /** May be NaN or ±Infinity: the format allows them and a parser must not judge. */
  readonly value: number;
  /** The optional exposition timestamp, ms since the epoch. */
  readonly timestampMs?: number | undefined;
}

/** A malformed line. Lines are numbered from 1, counting every `\n` in the body. */
export interface ParseError {
  readonly line: number;
  readonly message: string;
}

export interface ParseOptions {
  /**
   * Keep only samples with these exact names (e.g. `x_bucket`, not the family `x`). Lines of
   * other metrics are dropped after reading their name, unchecked: a malformed line of a metric
   * nobody asked for is not reported.
   */
  readonly names?: Iterable<string> | undefined;
  /** Errors recorded in `errors` at most (the rest are only counted in `errorCount`). Default 100. */
  readonly maxErrors?: number | undefined;
}

export interface ParseResult {
  readonly samples: ParsedSample[];
  /** The first `maxErrors` malformed lines. A malformed line never stops the parse. */
  readonly errors: ParseError[];
  /** All malformed lines, recorded or not. */
  readonly errorCount: number;
  /** `# TYPE` per metric family (with `names`, only the families of wanted names). */
  readonly types: Map<string, MetricType>;
  /** `# HELP` per metric family, unescaped (with `names`, only the families of wanted names). */
  readonly help: Map<string, string>;
}

const NO_LABELS: Readonly<Record<string, string>> = Object.freeze({});

// Character classes, indexed by char code < 128.
const NAME_START = 1; // [a-zA-Z_:]
const NAME_CHAR = 2; // [a-zA-Z0-9_:]
const LABEL_START = 4; // [a-zA-Z_]
const LABEL_CHAR = 8; // [a-zA-Z0-9_]
const NUMBER_CHAR = 16; // [0-9.eE+-]
const CLASS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  const letter = /[a-zA-Z]/.test(ch);
  const digit = /[0-9]/.test(ch);
  if (letter || ch === '_' || ch === ':') CLASS[c]! |= NAME_START | NAME_CHAR;
  if (digit) CLASS[c]! |= NAME_CHAR | LABEL_CHAR | NUMBER_CHAR;
  if (letter || ch === '_') CLASS[c]! |= LABEL_START | LABEL_CHAR;
  if ('.eE+-'.includes(ch)) CLASS[c]! |= NUMBER_CHAR;
}

const SPACE = 32;
const TAB = 9;
const CR = 13;
const HASH = 35;
const QUOTE = 34;
const BACKSLASH = 92;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;
const COMMA = 44;
const EQUALS = 61;

/**
 * A standalone copy of a name. V8 returns longer substrings as views into the whole body; a name
 * kept for comparison on every following line reads faster as a plain string, and a sample's name
 * should not keep a whole body alive. Names are [a-zA-Z0-9_:], so the JSON round trip is exact.
 */
function compactCopy(name: string): string {
  return JSON.parse(JSON.stringify(name)) as string;
}

/** The char code at `i`, or -1 at the end of the line. */
function codeAt(text: string, i: number, end: number): number {
  return i < end ? text.charCodeAt(i) : -1;
}

/** Index of the first character from `i` that is not a space or tab. */
function skipBlanks(text: string, from: number, end: number): number {
  let i = from;
  while (i < end) {
    const c = text.charCodeAt(i);
    if (c !== SPACE && c !== TAB) break;
    i++;
  }
  return i;
}

/** Index of the first space or tab from `i`: the end of a token. */
function tokenEnd(text: string, from: number, end: number): number {
  let i = from;
  while (i < end) {
    const c = text.charCodeAt(i);
    if (c === SPACE || c === TAB) break;
    i++;
  }
  return i;
}

function classOf(c: number): number {
  return c < 128 ? CLASS[c]! : 0;
}

/** Reads a float as Prometheus does (Go's strconv.ParseFloat, hex floats aside); undefined if it is not one. */
function parseFloatToken(token: string): number | undefined {
  let plain = true;
  for (let k = 0; k < token.length; k++) {
    if ((classOf(token.charCodeAt(k)) & NUMBER_CHAR) === 0) {
      plain = false;
      break;
    }
  }
  if (plain) {
    const n = Number(token);
    return Number.isNaN(n) ? undefined : n;
  }
  switch (token.toLowerCase()) {
    case 'nan':
      return Number.NaN;
    case 'inf':
    case '+inf':
    case 'infinity':
    case '+infinity':
      return Number.POSITIVE_INFINITY;
    case '-inf':
    case '-infinity':
      return Number.NEGATIVE_INFINITY;
    default:
      return undefined;
  }
}

function parseTimestampToken(token: string): number | undefined {
  let k = token.charCodeAt(0) === 45 || token.charCodeAt(0) === 43 ? 1 : 0;
  if (k === token.length) return undefined;
  for (; k < token.length; k++) {
    const c = token.charCodeAt(k);
    if (c < 48 || c > 57) return undefined;
  }
  const n = Number(token);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** The family a sample name belongs to, so `# TYPE x histogram` is kept when `x_bucket` is wanted. */
function familiesOf(names: Iterable<string>): Set<string> {
  const families = new Set<string>();
  for (const name of names) {
    families.add(name);
    for (const suffix of ['_bucket', '_sum', '_count', '_total', '_created', '_info']) {
      if (name.endsWith(suffix)) families.add(name.slice(0, -suffix.length));
    }
  }
  return families;
}

/**
 * Incremental parser: feed the body in chunks as it arrives (`push`), then `end()`. A line split
 * across chunks is carried over. `parsePrometheusText` is the one-shot form.
 */
export class PrometheusTextParser {
  readonly #wanted: ReadonlySet<string> | undefined;
  readonly #wantedFamilies: ReadonlySet<string> | undefined;
  readonly #maxErrors: number;
  readonly #samples: ParsedSample[] = [];
  readonly #errors: ParseError[] = [];
  readonly #types = new Map<string, MetricType>();
  readonly #help = new Map<string, string>();
  #errorCount = 0;
  #line = 0;
  #pending = '';
  #ended = false;
  // Per chunk: where the next backslash is, so a label value is scanned for escapes only when
  // one can be inside it, without rescanning the rest of the body for every value.
  #nextBackslash = -1;
  // Names repeat on consecutive lines (a family's series are grouped); reusing the previous
  // string avoids an allocation and a hash per line.
  #lastName = '';
  #lastNameWanted = false;
  // Set by #parseLabels: the labels read, or undefined after a malformed label set.
  #labels: Record<string, string> | undefined;
  // The previous line's label names by position: consecutive series of a family repeat them,
  // and a reused string needs no allocation or interning as a property key.
  readonly #labelNames: string[] = [];

  constructor(options: ParseOptions = {}) {
    if (options.names !== undefined) {
      this.#wanted = new Set(options.names);
      this.#wantedFamilies = familiesOf(this.#wanted);
    }
    this.#maxErrors = options.maxErrors ?? 100;
  }

  push(chunk: string): void {
    if (this.#ended) throw new Error('PrometheusTextParser: push() after end()');
    let pos = 0;
    if (this.#pending !== '') {
      const nl = chunk.indexOf('\n');
      // No newline yet: keep accumulating without rescanning what is pending.
      if (nl < 0) {
        this.#pending += chunk;
        return;
      }
      // Only the split line is joined: concatenating whole chunks would make the parser read
      // through a rope, about twice as slow as a flat string.
      const line = this.#pending + chunk.slice(0, nl);
      this.#pending = '';
      this.#nextBackslash = -1;
      this.#parseLine(line, 0, line.length);
      pos = nl + 1;
    }
    this.#nextBackslash = -1;
    for (;;) {
      const nl = chunk.indexOf('\n', pos);
      if (nl < 0) break;
      this.#parseLine(chunk, pos, nl);
      pos = nl + 1;
    }
    this.#pending = pos === 0 ? chunk : chunk.slice(pos);
  }

  end(): ParseResult {
    if (!this.#ended) {
      this.#ended = true;
      // The format wants a final newline; a body without one is still read to its last byte.
      if (this.#pending !== '') {
        const text = this.#pending;
        this.#pending = '';
        this.#nextBackslash = -1;
        this.#parseLine(text, 0, text.length);
      }
    }
    return {
      samples: this.#samples,
      errors: this.#errors,
      errorCount: this.#errorCount,
      types: this.#types,
      help: this.#help,
    };
  }

  #error(message: string): void {
    this.#errorCount++;
    if (this.#errors.length < this.#maxErrors) this.#errors.push({ line: this.#line, message });
  }

  #parseLine(text: string, start: number, lineEnd: number): void {
    this.#line++;
    let end = lineEnd;
    if (end > start && text.charCodeAt(end - 1) === CR) end--;
    let i = start;
    let c = 0;
    i = skipBlanks(text, i, end);
    c = codeAt(text, i, end);
    if (i === end) return;
    if (c === HASH) {
      this.#parseComment(text, i + 1, end);
      return;
    }

    const nameStart = i;
    if ((classOf(c) & NAME_START) === 0) {
      this.#error(`expected a metric name, found ${JSON.stringify(text.slice(i, Math.min(end, i + 20)))}`);
      return;
    }
    // Most lines repeat the previous line's name: recognise it without scanning char by char.
    const last = this.#lastName;
    let same = false;
    if (c === last.charCodeAt(0) && text.startsWith(last, nameStart)) {
      i = nameStart + last.length;
      same = i >= end || (classOf(text.charCodeAt(i)) & NAME_CHAR) === 0;
    }
    if (!same) {
      i = nameStart + 1;
      while (i < end && (classOf(text.charCodeAt(i)) & NAME_CHAR) !== 0) i++;
    }
    let name: string;
    if (same) {
      if (!this.#lastNameWanted) return;
      name = last;
    } else {
      name = compactCopy(text.slice(nameStart, i));
      this.#lastName = name;
      this.#lastNameWanted = this.#wanted === undefined || this.#wanted.has(name);
      if (!this.#lastNameWanted) return;
    }

    i = skipBlanks(text, i, end);
    c = codeAt(text, i, end);
    let labels = NO_LABELS;
    if (i < end && c === OPEN_BRACE) {
      i = this.#parseLabels(text, i + 1, end, name);
      if (this.#labels === undefined) return;
      labels = this.#labels;
      c = codeAt(text, i, end);
      if (c !== SPACE && c !== TAB) {
        this.#error(i >= end ? `${name}: no value` : `${name}: expected a space before the value`);
        return;
      }
    } else if (i === end) {
      this.#error(`${name}: no value`);
      return;
    } else if (i === nameStart + name.length) {
      this.#error(`${name}: unexpected ${JSON.stringify(text[i])} after the metric name`);
      return;
    }

    i = skipBlanks(text, i, end);
    c = codeAt(text, i, end);
    const valueStart = i;
    // Counters and many gauges are plain integers: read those digits directly, exactly (up to
    // 15 digits a double holds every integer), and leave everything else to parseFloatToken.
    let integer = 0;
    let digits = 0;
    while (i < end) {
      c = text.charCodeAt(i);
      if (c < 48 || c > 57) break;
      integer = integer * 10 + (c - 48);
      i++;
      digits++;
    }
    let value: number | undefined;
    if (digits > 0 && digits <= 15 && (i === end || c === SPACE || c === TAB)) {
      value = integer;
    } else {
      i = tokenEnd(text, i, end);
      const valueToken = text.slice(valueStart, i);
      value = parseFloatToken(valueToken);
      if (value === undefined) {
        this.#error(`${name}: ${JSON.stringify(valueToken)} is not a number`);
        return;
      }
    }

    i = skipBlanks(text, i, end);
    c = codeAt(text, i, end);
    let timestampMs: number | undefined;
    if (i < end) {
      const tsStart = i;
      i = tokenEnd(text, i, end);
      const tsToken = text.slice(tsStart, i);
      timestampMs = parseTimestampToken(tsToken);
      if (timestampMs === undefined) {
        this.#error(`${name}: timestamp ${JSON.stringify(tsToken)} is not an integer of milliseconds`);
        return;
      }
      i = skipBlanks(text, i, end);
      c = codeAt(text, i, end);
      if (i < end) {
        this.#error(`${name}: unexpected text after the timestamp`);
        return;
      }
    }
    this.#samples.push({ name, labels, value, timestampMs });
  }

  /** Reads `label="value",...}` from just after `{`; sets #labels (undefined on error). */
  #parseLabels(text: string, from: number, end: number, name: string): number {
    this.#labels = undefined;
    let labels: Record<string, string> | undefined;
    let i = from;
    let c = 0;
    let count = 0;
    for (;;) {
      i = skipBlanks(text, i, end);
      c = codeAt(text, i, end);
      if (i >= end) {
        this.#error(`${name}: label set has no closing }`);
        return i;
      }
      if (c === CLOSE_BRACE) {
        i++;
        break;
      }
      const labelStart = i;
      if ((classOf(c) & LABEL_START) === 0) {
        this.#error(`${name}: expected a label name or }, found ${JSON.stringify(text[i])}`);
        return i;
      }
      const slot = count++;
      let label = this.#labelNames[slot] ?? '';
      let same = false;
      if (c === label.charCodeAt(0) && text.startsWith(label, labelStart)) {
        i = labelStart + label.length;
        same = i >= end || (classOf(text.charCodeAt(i)) & LABEL_CHAR) === 0;
      }
      if (!same) {
        i = labelStart + 1;
        while (i < end && (classOf(text.charCodeAt(i)) & LABEL_CHAR) !== 0) i++;
        label = compactCopy(text.slice(labelStart, i));
        this.#labelNames[slot] = label;
      }
      i = skipBlanks(text, i, end);
      c = codeAt(text, i, end);
      if (i >= end || c !== EQUALS) {
        this.#error(`${name}: expected = after label ${label}`);
        return i;
      }
      i++;
      i = skipBlanks(text, i, end);
      c = codeAt(text, i, end);
      if (i >= end || c !== QUOTE) {
        this.#error(`${name}: the value of label ${label} must be in double quotes`);
        return i;
      }
      i++;
      const close = text.indexOf('"', i);
      if (close < 0 || close >= end) {
        this.#error(`${name}: unterminated value for label ${label}`);
        return end;
      }
      if (this.#nextBackslash < i) {
        const b = text.indexOf('\\', i);
        this.#nextBackslash = b < 0 ? Number.POSITIVE_INFINITY : b;
      }
      let value: string;
      if (this.#nextBackslash > close) {
        value = text.slice(i, close);
        i = close + 1;
      } else {
        const unescaped = this.#readEscapedValue(text, i, end, name, label);
        if (unescaped === undefined) return i;
        value = unescaped.value;
        i = unescaped.next;
      }
      if (labels === undefined) labels = {};
      else if (Object.hasOwn(labels, label)) {
        this.#error(`${name}: label ${label} appears twice`);
        return i;
      }
      if (label === '__proto__')
        Object.defineProperty(labels, label, { value, enumerable: true, writable: true });
      else labels[label] = value;
      i = skipBlanks(text, i, end);
      c = codeAt(text, i, end);
      if (i < end && c === COMMA) {
        i++;
      } else if (i < end && c === CLOSE_BRACE) {
        i++;
        break;
      } else {
        this.#error(`${name}: expected , or } after label ${label}`);
        return i;
      }
    }
    this.#labels = labels ?? (NO_LABELS as Record<string, string>);
    return i;
  }

  #readEscapedValue(
    text: string,
    from: number,
    end: number,
    name: string,
    label: string,
  ): { value: string; next: number } | undefined {
    let value = '';
    let runStart = from;
    let i = from;
    while (i < end) {
      const c = text.charCodeAt(i);
      if (c === QUOTE) return { value: value + text.slice(runStart, i), next: i + 1 };
      if (c === BACKSLASH) {
        const next = i + 1 < end ? text.charCodeAt(i + 1) : -1;
        let replacement: string;
        if (next === BACKSLASH) replacement = '\\';
        else if (next === QUOTE) replacement = '"';
        else if (next === 110 /* n */) replacement = '\n';
        else {
          this.#error(
            `${name}: label ${label} has an invalid escape \\${next < 0 ? '' : String.fromCharCode(next)}`,
          );
          return undefined;
        }
        value += text.slice(runStart, i) + replacement;
        i += 2;
        runStart = i;
      } else i++;
    }
    this.#error(`${name}: unterminated value for label ${label}`);
    return undefined;
  }

  /** `# HELP name text`, `# TYPE name type`, or any other comment (ignored). */
  #parseComment(text: string, from: number, end: number): void {
    let i = skipBlanks(text, from, end);
    const keywordStart = i;
    i = tokenEnd(text, i, end);
    const keywordLength = i - keywordStart;
    if (keywordLength !== 4) return;
    const isHelp = text.startsWith('HELP', keywordStart);
    if (!isHelp && !text.startsWith('TYPE', keywordStart)) return;
    const keyword = isHelp ? 'HELP' : 'TYPE';

    i = skipBlanks(text, i, end);
    const nameStart = i;
    i = tokenEnd(text, i, end);
    const name = text.slice(nameStart, i);
    if (this.#wantedFamilies !== undefined && !this.#wantedFamilies.has(name)) return;
    if (!isMetricName(name)) {
      this.#error(`# ${keyword}: ${JSON.stringify(name)} is not a metric name`);
      return;
    }

    if (isHelp) {
      // One separator after the name; the rest of the line, spaces included, is the doc string.
      if (i < end) i++;
      if (this.#help.has(name)) {
        this.#error(`# HELP ${name} appears twice`);
        return;
      }
      this.#help.set(name, unescapeHelp(text.slice(i, end)));
      return;
    }
    i = skipBlanks(text, i, end);
    const typeStart = i;
    i = tokenEnd(text, i, end);
    const type = text.slice(typeStart, i);
    i = skipBlanks(text, i, end);
    if (!METRIC_TYPES.has(type) || i < end) {
      this.#error(
        `# TYPE ${name}: ${JSON.stringify(text.slice(typeStart, end))} is not one of ${[...METRIC_TYPES].join(', ')}`,
      );
      return;
    }
    if (this.#types.has(name)) {
      this.#error(`# TYPE ${name} appears twice`);
      return;
    }
    this.#types.set(name, type as MetricType);
  }
}

/**
 * The series that appear more than once among `samples` (the same name and label set, in any
 * label order; a label with an empty value is no label, as in Prometheus), each named once as
 * seriesName writes it, at most `limit` of them. The format
 * holds one sample per series and Prometheus refuses a scrape that repeats one; the parser keeps
 * every sample and leaves the refusal to its caller, which checks only the samples it kept
 * (a full parse of a large body would pay for a key per line; the scrape source's few do not).
 */
export function findDuplicateSeries(samples: readonly ParsedSample[], limit = 10): string[] {
  // Keyed by a hash of the series, not by a string of it: building and hashing a string per
  // sample costs more than parsing the line did. Equal hashes are compared label by label.
  const byHash = new Map<number, ParsedSample | ParsedSample[]>();
  const duplicates = new Map<ParsedSample, string>();
  for (const s of samples) {
    if (duplicates.size >= limit) break;
    const hash = seriesHash(s);
    const seen = byHash.get(hash);
    if (seen === undefined) {
      byHash.set(hash, s);
      continue;
    }
    const list = Array.isArray(seen) ? seen : [seen];
    const first = list.find((other) => sameSeries(other, s));
    if (first === undefined) {
      list.push(s);
      if (!Array.isArray(seen)) byHash.set(hash, list);
    } else if (!duplicates.has(first)) duplicates.set(first, seriesName(s));
  }
  return [...duplicates.values()];
}

/** FNV-1a over a string, continuing from `hash`. */
function fnv(hash: number, text: string): number {
  let h = hash;
  for (let k = 0; k < text.length; k++) h = Math.imul(h ^ text.charCodeAt(k), 16777619);
  return h;
}

/** A hash of a series that does not depend on the order its labels were written in. */
function seriesHash(sample: ParsedSample): number {
  let h = fnv(2166136261, sample.name);
  const labels = sample.labels;
  if (labels === NO_LABELS) return h;
  for (const k in labels) {
    const v = labels[k]!;
    if (v === '') continue;
    // Each pair hashed on its own and added: a sum is the same in any order.
    const pair = fnv(fnv(2166136261, k) ^ 0x3d, v);
    h = (h + Math.imul(pair ^ (pair >>> 15), 0x2c1b3c6d)) | 0;
  }
  return h;
}

function sameSeries(a: ParsedSample, b: ParsedSample): boolean {
  if (a.name !== b.name) return false;
  const valueIn = (labels: Readonly<Record<string, string>>, k: string) =>
    Object.hasOwn(labels, k) ? labels[k]! : '';
  for (const k in a.labels) if (valueIn(b.labels, k) !== a.labels[k]) return false;
  for (const k in b.labels) if (valueIn(a.labels, k) !== b.labels[k]) return false;
  return true;
}

/**
 * A series as people read it: `name{a="1",b="x\\"y"}`, labels sorted by name, values escaped as
 * the format writes them, labels with an empty value left out.
 */
export function seriesName(sample: Pick<ParsedSample, 'name' | 'labels'>): string {
  const labels = sample.labels;
  if (labels === NO_LABELS) return sample.name;
  const keys = Object.keys(labels).filter((k) => labels[k] !== '');
  if (keys.length === 0) return sample.name;
  if (keys.length > 1) keys.sort();
  let out = `${sample.name}{`;
  for (let k = 0; k < keys.length; k++) {
    const v = labels[keys[k]!]!;
    const escaped = /[\\"\n]/.test(v) ? v.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`)) : v;
    out += `${k === 0 ? '' : ','}${keys[k]}="${escaped}"`;
  }
  return `${out}}`;
}

function isMetricName(name: string): boolean {
  if (name.length === 0 || (classOf(name.charCodeAt(0)) & NAME_START) === 0) return false;
  for (let k = 1; k < name.length; k++) if ((classOf(name.charCodeAt(k)) & NAME_CHAR) === 0) return false;
  return true;
}

/** HELP text escapes `\\` and `\n`; any other backslash is kept as written. */
function unescapeHelp(raw: string): string {
  if (!raw.includes('\\')) return raw;
  return raw.replace(/\\([\\n])/g, (_, ch: string) => (ch === 'n' ? '\n' : '\\'));
}

/**
 * Parses a whole exposition body. Never throws on content: malformed lines are skipped and
 * reported in `errors` with their line numbers, every other line is still read.
 */
export function parsePrometheusText(text: string, options?: ParseOptions): ParseResult {
  const parser = new PrometheusTextParser(options);
  parser.push(text);
  return parser.end();
}
