// Reads and sets keys in CometBFT's config.toml without disturbing the rest of the file:
// its comments and layout stay as CometBFT wrote them. Only the flat `key = value` lines
// CometBFT uses are handled (strings, numbers, booleans); that is all Rampart changes.

export type TomlValue = string | number | boolean;

const SECTION = /^\s*\[([A-Za-z0-9_.-]+)\]\s*(#.*)?$/;
const KEY = /^(\s*)([A-Za-z0-9_-]+)(\s*=\s*)(.*?)(\s*#.*)?$/;

function render(v: TomlValue): string {
  if (typeof v === 'string') return JSON.stringify(v);
  return String(v);
}

function parseValue(raw: string): TomlValue {
  const t = raw.trim();
  if (t.startsWith('"')) return JSON.parse(t) as string;
  if (t === 'true' || t === 'false') return t === 'true';
  const n = Number(t);
  return Number.isFinite(n) ? n : t;
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
    const k = KEY.exec(line);
    if (k && k[2] === key) return parseValue(k[4]!);
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
    const k = KEY.exec(line);
    const want = pending.get(current);
    if (k && want?.has(k[2]!)) {
      out.push(`${k[1]}${k[2]}${k[3]}${render(want.get(k[2]!)!)}${k[5] ?? ''}`);
      want.delete(k[2]!);
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
