// Reads and sets keys in CometBFT's config.toml without disturbing the rest of the file:
// its comments and layout stay as CometBFT wrote them. Only the flat `key = value` lines
// CometBFT uses are handled (strings, numbers, booleans); that is all Rampart changes. A
// value is read as TOML reads it: a `#` inside a quoted string is text, not a comment.

export type TomlValue = string | number | boolean;

const SECTION = /^\s*\[([A-Za-z0-9_.-]+)\]\s*(#.*)?$/;
const KEY = /^(\s*)([A-Za-z0-9_-]+)(\s*=\s*)/;

/** A `key = value` line, split so that the value can be replaced and the rest kept. */
interface KeyLine {
  readonly indent: string;
  readonly key: string;
  /** ` = ` as written. */
  readonly equals: string;
  /** The value as written: a quoted string with its quotes, or a bare word. */
  readonly raw: string;
  /** What follows the value: white space and a comment, as written. */
  readonly rest: string;
}

/** Splits a `key = value  # comment` line; undefined for any other line. */
function parseKeyLine(line: string): KeyLine | undefined {
  const k = KEY.exec(line);
  if (!k) return undefined;
  const start = k[0].length;
  const end = valueEnd(line, start);
  const raw = line.slice(start, end).trimEnd();
  return { indent: k[1]!, key: k[2]!, equals: k[3]!, raw, rest: line.slice(start + raw.length) };
}

/**
 * Where the value starting at `from` ends: after a string's closing quote (`"…"` with
 * backslash escapes, `'…'` literal), else at the first `#` outside quotes (an array of
 * strings), else at the end of the line.
 */
function valueEnd(line: string, from: number): number {
  const isString = line[from] === '"' || line[from] === "'";
  let quote: string | undefined;
  for (let i = from; i < line.length; i++) {
    const c = line[i];
    if (quote === undefined) {
      if (c === '#') return i;
      if (c === '"' || c === "'") quote = c;
    } else if (quote === '"' && c === '\\') i++;
    else if (c === quote) {
      if (isString) return i + 1;
      quote = undefined;
    }
  }
  return line.length;
}

function render(v: TomlValue): string {
  // JSON's escapes (\" \\ \n \t \uXXXX …) are all TOML basic-string escapes.
  if (typeof v === 'string') return JSON.stringify(v);
  return String(v);
}

const ESCAPES: Readonly<Record<string, string>> = {
  b: '\b',
  t: '\t',
  n: '\n',
  f: '\f',
  r: '\r',
  e: '\x1b',
  '"': '"',
  '\\': '\\',
};

/** A TOML basic string's content with its escapes resolved (\uXXXX and \UXXXXXXXX included). */
function unescapeBasic(body: string): string {
  return body.replace(/\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)/g, (whole, e: string) => {
    if (e.length > 1) {
      const code = Number.parseInt(e.slice(1), 16);
      return code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return ESCAPES[e] ?? whole;
  });
}

function parseValue(raw: string): TomlValue {
  const t = raw.trim();
  if (t.length >= 2 && t.startsWith('"') && t.endsWith('"')) return unescapeBasic(t.slice(1, -1));
  if (t.length >= 2 && t.startsWith("'") && t.endsWith("'")) return t.slice(1, -1);
  if (t === 'true' || t === 'false') return t === 'true';
  const n = Number(t);
  return t !== '' && Number.isFinite(n) ? n : t;
}

/** `section` is '' for the keys before the first [section]. */
export function getTomlValue(text: string, section: string, key: string): TomlValue | undefined {
  let current = '';
  for (const line of text.split('\n')) {
    const s = SECTION.exec(line);
    if (s) {
      current = s[1]!;
      continue;
    }
    if (current !== section) continue;
    const k = parseKeyLine(line);
    if (k?.key === key) return parseValue(k.raw);
  }
  return undefined;
}

/**
 * Sets keys in sections, replacing the existing line or adding one at the end of the
 * section (or a new section at the end of the file). Returns the new text.
 */
export function setTomlValues(
  text: string,
  values: Readonly<Record<string, Readonly<Record<string, TomlValue>>>>,
): string {
  const lines = text.split('\n');
  const pending = new Map(Object.entries(values).map(([s, kv]) => [s, new Map(Object.entries(kv))]));
  let current = '';
  const out: string[] = [];
  const flush = (section: string) => {
    const left = pending.get(section);
    if (!left) return;
    // Keep a blank line before the next section where the file had one.
    let insertAt = out.length;
    while (insertAt > 0 && out[insertAt - 1]!.trim() === '') insertAt--;
    const added = [...left].map(([k, v]) => `${k} = ${render(v)}`);
    out.splice(insertAt, 0, ...added);
    pending.delete(section);
  };
  for (const line of lines) {
    const s = SECTION.exec(line);
    if (s) {
      flush(current);
      current = s[1]!;
      out.push(line);
      continue;
    }
    const k = parseKeyLine(line);
    const want = pending.get(current);
    if (k && want?.has(k.key)) {
      out.push(`${k.indent}${k.key}${k.equals}${render(want.get(k.key)!)}${k.rest}`);
      want.delete(k.key);
      continue;
    }
    out.push(line);
  }
  flush(current);
  for (const [section, kv] of pending) {
    if (kv.size === 0) continue;
    if (section !== '') out.push('', `[${section}]`);
    for (const [k, v] of kv) out.push(`${k} = ${render(v)}`);
  }
  return out.join('\n');
}

/** CometBFT's comma-separated lists (persistent_peers, private_peer_ids, …). */
export function splitList(v: TomlValue | undefined): string[] {
  return typeof v === 'string' && v.trim() !== ''
    ? v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : [];
}
