// Loads a config file: YAML with a position for every node, schema validation, cross-field
// checks, and every error as `file:line:col path: what was wrong (what is allowed)`.

import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import {
  type Alias,
  type Document,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  visit,
} from 'yaml';
import { z } from 'zod';
import { redactUrl, redactUrls } from '../core/url-secrets.ts';
import { configParts } from './config-parts.ts';
import { type ConfigPath, crossCheck } from './cross-checks.ts';
import { resolveFilePaths } from './file-paths.ts';
import { type Config, configSchema } from './schema.ts';

export interface ConfigIssue {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** Field path as people write it: pools[0].scaleUp.rules[1].comparator */
  readonly field: string;
  readonly message: string;
}

/** Largest config file read, in bytes: a config is a page or two; a bigger file is refused unparsed. */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/** Longest string a config may hold, in characters (a boot script, a token); longer ones are refused. */
export const MAX_CONFIG_STRING = 64 * 1024;
/**
 * Most alias expansions a config may have (yaml's `maxAliasCount`): far more than anchors
 * for shared settings need, far fewer than an alias bomb's billions.
 */
const MAX_ALIAS_COUNT = 100;

export class ConfigError extends Error {
  readonly issues: readonly ConfigIssue[];
  /** URLs in the messages lose their credentials, query values and tokens: errors reach logs and CI output. */
  constructor(issues: readonly ConfigIssue[]) {
    const scrubbed = issues.map((i) => ({ ...i, message: redactUrls(i.message) }));
    super(scrubbed.map(formatIssue).join('\n'));
    this.name = 'ConfigError';
    this.issues = scrubbed;
  }
}

/** `file:line:col field: message`; an issue with the file as a whole (line 0) is `file: message`. */
export function formatIssue(i: ConfigIssue): string {
  if (i.line === 0) return `${i.file}: ${i.message}`;
  return `${i.file}:${i.line}:${i.column} ${i.field || '(top level)'}: ${i.message}`;
}

export interface LoadedConfig {
  readonly config: Config;
  /** Absolute path of the file it came from. */
  readonly file: string;
  /** Folder relative paths in the config are resolved against. */
  readonly baseDir: string;
}

/** Reads and validates a config file. Throws ConfigError listing every problem. */
export function loadConfigFile(file: string): LoadedConfig {
  let text: string;
  try {
    // Refused before it is read: parsing and validating take many times a file's size.
    const { size } = statSync(file);
    if (size > MAX_CONFIG_BYTES) throw tooLarge(file, size);
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    const err = e as NodeJS.ErrnoException;
    throw new ConfigError([
      {
        file,
        line: 0,
        column: 0,
        field: '',
        message: err.code === 'ENOENT' ? 'no such file' : `cannot be read: ${err.message}`,
      },
    ]);
  }
  return parseConfigText(text, file);
}

/**
 * Validates config text; `file` is only used in messages and to resolve relative paths.
 * Every check runs on whatever parsed, and all their errors come at once, by line.
 */
export function parseConfigText(text: string, file: string): LoadedConfig {
  const size = Buffer.byteLength(text, 'utf8');
  if (size > MAX_CONFIG_BYTES) throw tooLarge(file, size);
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number) => lineCounter.linePos(offset);
  // Any YAML error (a duplicate key too) leaves no document to check further.
  if (doc.errors.length > 0) {
    const duplicates = duplicateKeys(doc, file, at);
    throw new ConfigError(
      byPosition(
        doc.errors.map((e) => {
          const duplicate = e.code === 'DUPLICATE_KEY' && duplicates.find((d) => d.offset === e.pos[0]);
          if (duplicate) return duplicate.issue;
          const pos = at(e.pos[0]);
          return {
            file,
            line: pos.line,
            column: pos.col,
            field: '',
            message: `YAML: ${firstLine(e.message)}`,
          };
        }),
      ),
    );
  }
  const data = toData(doc, file, at);
  const place = (d: Described) => locate(doc.contents, d, file, at);
  const tooLong = longStrings(data);
  if (tooLong.length > 0) throw new ConfigError(tooLong.map(place));

  const parsed = configSchema.safeParse(data ?? {}, { reportInput: true });
  const refusals = parsed.success
    ? []
    : parsed.error.issues.flatMap((issue) => describeZodIssue(issue, data));
  // The cross-checks judge what the schema accepted, so they never repeat its errors.
  const refused = (p: ConfigPath) => refusals.some((r) => startsWith(p, r.path));
  const cross = crossCheck(
    parsed.success ? parsed.data : configParts(data ?? {}),
    refused,
    path.dirname(path.resolve(file)),
  ).filter((c) => !refusals.some((r) => r.path.length === c.path.length && startsWith(c.path, r.path)));
  const issues = [...refusals.map(place), ...cross.map(place)];
  if (issues.length > 0 || !parsed.success) throw new ConfigError(byPosition(issues));

  const abs = path.resolve(file);
  const baseDir = path.dirname(abs);
  const config = parsed.data;
  resolveFilePaths(configSchema, config, baseDir);
  return { config, file: abs, baseDir };
}

/** Issues in reading order: by line, then column; issues with the file as a whole first. */
function byPosition(issues: readonly ConfigIssue[]): ConfigIssue[] {
  return [...issues].sort((a, b) => a.line - b.line || a.column - b.column);
}

/** Whether `path` is `prefix` or lies inside it. */
function startsWith(path: ConfigPath, prefix: ConfigPath): boolean {
  return prefix.length <= path.length && prefix.every((k, i) => path[i] === k);
}

/**
 * Every key written again in the same mapping, at the repeat, naming the key and the line
 * it was first written on; `offset` is where yaml reports the error it replaces.
 */
function duplicateKeys(
  doc: Document.Parsed,
  file: string,
  at: (offset: number) => { line: number; col: number },
): { offset: number; issue: ConfigIssue }[] {
  const out: { offset: number; issue: ConfigIssue }[] = [];
  visit(doc, {
    Map(_key, map, ancestors) {
      const first = new Map<unknown, Node>();
      for (const pair of map.items) {
        if (!isScalar(pair.key) || pair.key.range === undefined || pair.key.range === null) continue;
        const seen = first.get(pair.key.value);
        if (seen === undefined) {
          first.set(pair.key.value, pair.key);
          continue;
        }
        const offset = pair.key.range[0];
        const pos = at(offset);
        const key = String(pair.key.value);
        out.push({
          offset,
          issue: {
            file,
            line: pos.line,
            column: pos.col,
            field: formatPath([...dataPath([...ancestors, map]), key]),
            message: `YAML: Map keys must be unique: "${key}" is also on line ${at(seen.range?.[0] ?? 0).line} (write it once)`,
          },
        });
      }
    },
  });
  return out;
}

function tooLarge(file: string, bytes: number): ConfigError {
  const size = bytes >= 10_000_000 ? `${(bytes / 1_000_000).toFixed(1)} MB` : `${bytes} bytes`;
  return new ConfigError([
    {
      file,
      line: 0,
      column: 0,
      field: '',
      message: `${size} is larger than the ${MAX_CONFIG_BYTES / 1024 / 1024} MiB a config may be`,
    },
  ]);
}

/**
 * The document as plain data. An alias bomb (aliases of aliases, expanding to billions of
 * values) is refused at the first alias past MAX_ALIAS_COUNT, with its line and field.
 */
function toData(doc: Document.Parsed, file: string, at: (offset: number) => { line: number; col: number }) {
  // yaml throws from inside the alias it refuses, without naming it: each alias notes, as
  // the error passes through it, that it was the first to see it.
  let refused: { alias: Alias; field: string } | undefined;
  visit(doc, {
    Alias(_key, alias, ancestors) {
      const toJSON = alias.toJSON.bind(alias);
      alias.toJSON = (arg, ctx) => {
        try {
          return toJSON(arg, ctx);
        } catch (e) {
          refused ??= { alias, field: formatPath(dataPath([...ancestors, alias])) };
          throw e;
        }
      };
    },
  });
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) as unknown;
  } catch (e) {
    if (refused === undefined) throw e;
    const pos = at(refused.alias.range?.[0] ?? 0);
    const excessive = /excessive alias count/i.test((e as Error).message);
    throw new ConfigError([
      {
        file,
        line: pos.line,
        column: pos.col,
        field: refused.field,
        message: excessive
          ? `YAML: alias *${refused.alias.source} expands aliases of aliases more than ${MAX_ALIAS_COUNT} times (an alias bomb): write the values out, or alias less`
          : `YAML: alias *${refused.alias.source}: ${firstLine((e as Error).message)}`,
      },
    ]);
  }
}

/** The data path of the last node of `ancestors` (as visit gives them, the document first). */
function dataPath(ancestors: readonly unknown[]): (string | number)[] {
  const out: (string | number)[] = [];
  for (let i = 0; i < ancestors.length - 1; i++) {
    const parent = ancestors[i];
    const child = ancestors[i + 1];
    if (isPair(parent) && parent.value === child && isScalar(parent.key)) out.push(String(parent.key.value));
    else if (isSeq(parent)) out.push(parent.items.indexOf(child as never));
  }
  return out;
}

/** Every string longer than MAX_CONFIG_STRING, and where it is. */
function longStrings(data: unknown, at: (string | number)[] = []): Described[] {
  if (typeof data === 'string')
    return data.length > MAX_CONFIG_STRING
      ? [
          {
            path: at,
            message: `a text of ${data.length} characters is longer than the ${MAX_CONFIG_STRING} a config string may be`,
          },
        ]
      : [];
  if (Array.isArray(data)) return data.flatMap((v, i) => longStrings(v, [...at, i]));
  if (data !== null && typeof data === 'object')
    return Object.entries(data).flatMap(([k, v]) => [
      ...(k.length > MAX_CONFIG_STRING
        ? [
            {
              path: at,
              message: `a key of ${k.length} characters is longer than the ${MAX_CONFIG_STRING} a config string may be`,
            },
          ]
        : []),
      ...longStrings(v, [...at, k]),
    ]);
  return [];
}

interface Described {
  readonly path: readonly (string | number)[];
  readonly message: string;
  /** For unknown keys: the key itself is located, not its parent. */
  readonly key?: string;
}

/**
 * The one place a schema error gets its words: the field, the value written and what is
 * allowed. A message the schema gives is used; zod's own ("Invalid input") never is.
 */
function describeZodIssue(issue: z.core.$ZodIssue, data: unknown): Described[] {
  const p = issue.path.filter((k): k is string | number => typeof k !== 'symbol');
  const value = valueAt(data, p);
  // A header's value is a credential as often as not: an error names the field, not the value.
  const show = isSecretField(p) ? () => 'the value (not shown: header values may be secrets)' : showValue;
  const own = ownMessage(issue);
  switch (issue.code) {
    case 'unrecognized_keys': {
      const allowed = allowedKeys(p, data);
      return issue.keys.map((key) => ({
        path: [...p, key],
        key,
        message: `unknown field "${key}"${allowed ? ` (allowed here: ${allowed.join(', ')})` : ''}`,
      }));
    }
    case 'invalid_value': {
      const allowed =
        issue.values.length === 1
          ? show(issue.values[0])
          : `one of ${issue.values.map((v) => String(v)).join(' ')}`;
      if (value === undefined) return [{ path: p, message: `is required: ${allowed}` }];
      return [{ path: p, message: `${show(value)} is not ${allowed}` }];
    }
    case 'invalid_type': {
      const allowed = own ?? typeName(issue.expected);
      if (value === undefined) return [{ path: p, message: `is required (${allowed})` }];
      return [{ path: p, message: `${show(value)} is not ${allowed}` }];
    }
    case 'invalid_union': {
      const disc = (issue as { discriminator?: string }).discriminator;
      if (disc) {
        const unionPath = p[p.length - 1] === disc ? p.slice(0, -1) : p;
        const options = discriminatorOptions(unionPath, disc);
        const v = valueAt(data, [...unionPath, disc]);
        return [
          {
            path: [...unionPath, disc],
            message: `${v === undefined ? 'is required' : `${show(v)} is not known`}${options ? `: one of ${options.join(', ')}` : ''}`,
          },
        ];
      }
      return [{ path: p, message: `${show(value)} is not ${own ?? 'any of the forms allowed here'}` }];
    }
    case 'too_small':
      return [
        {
          path: p,
          message: `${show(value)} is too small: must be ${own ?? bound('at least', 'more than', issue)}`,
        },
      ];
    case 'too_big':
      return [
        {
          path: p,
          message: `${show(value)} is too big: must be ${own ?? bound('at most', 'less than', issue)}`,
        },
      ];
    case 'invalid_format':
      if (issue.format === 'url' && typeof value === 'string')
        // A URL that is not one may still hold a password or a token: it is shown without them.
        return [
          {
            path: p,
            message: `${JSON.stringify(redactUrl(value))} is not an http(s) URL such as https://host:9093/path`,
          },
        ];
      return [{ path: p, message: `${show(value)} ${own ? `is not ${own}` : formatRule(issue)}` }];
    case 'invalid_key': {
      // A record's key (a port name, a header name): the key is shown and located, never its value.
      const key = p[p.length - 1];
      const inner = issue.issues[0];
      const allowed = inner && ownMessage(inner);
      return [
        {
          path: p,
          key: String(key),
          message: `the key ${JSON.stringify(String(key))} is not ${allowed ?? 'allowed here'}`,
        },
      ];
    }
    case 'not_multiple_of':
      return [{ path: p, message: `${show(value)} is not a multiple of ${issue.divisor}` }];
    default:
      return [{ path: p, message: own ?? `${show(value)} is not allowed here` }];
  }
}

/** The issue's message if the schema wrote it; undefined if it is zod's default wording. */
function ownMessage(issue: z.core.$ZodIssue): string | undefined {
  const fallback = ZOD_WORDING.localeError(issue as unknown as z.core.$ZodRawIssue);
  return issue.message === (typeof fallback === 'string' ? fallback : fallback?.message)
    ? undefined
    : issue.message;
}
const ZOD_WORDING = z.locales.en();

/** A type zod expected, as a person writes it in YAML. */
function typeName(type: string): string {
  const names: Record<string, string> = {
    int: 'a whole number',
    boolean: 'true or false',
    object: 'a mapping (key: value)',
    array: 'a list',
    nonoptional: 'a value',
  };
  return names[type] ?? article(type);
}

/** `at least 3`, `more than 0`, `at least 1 item`, `at most 255 characters`. */
function bound(
  inclusive: string,
  exclusive: string,
  issue: { origin: string; inclusive?: boolean; minimum?: unknown; maximum?: unknown },
): string {
  const limit = Number(issue.minimum ?? issue.maximum);
  const unit =
    issue.origin === 'array' || issue.origin === 'set'
      ? ` item${limit === 1 ? '' : 's'}`
      : issue.origin === 'string'
        ? ` character${limit === 1 ? '' : 's'}`
        : '';
  return `${issue.inclusive === false ? exclusive : inclusive} ${limit}${unit}`;
}

/** What a string must look like, for a format check the schema gave no words for. */
function formatRule(issue: z.core.$ZodIssueInvalidStringFormat): string {
  const i = issue as z.core.$ZodIssueInvalidStringFormat & {
    prefix?: string;
    suffix?: string;
    includes?: string;
    pattern?: string;
  };
  if (i.format === 'starts_with') return `does not start with ${JSON.stringify(i.prefix)}`;
  if (i.format === 'ends_with') return `does not end with ${JSON.stringify(i.suffix)}`;
  if (i.format === 'includes') return `does not include ${JSON.stringify(i.includes)}`;
  if (i.format === 'regex') return `does not match ${i.pattern}`;
  return `is not ${article(i.format)}`;
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/** Fields whose values an error never quotes: alert receivers' headers. */
function isSecretField(p: readonly (string | number)[]): boolean {
  return p[0] === 'alerts' && p[1] === 'receivers' && p[3] === 'headers' && p.length > 4;
}

/** Longest value an error quotes, in characters; a longer one is cut, saying how long it is. */
const SHOWN_MAX = 120;

function showValue(v: unknown): string {
  if (typeof v === 'string') {
    const text = v.includes('://') ? redactUrl(v) : v;
    return text.length > SHOWN_MAX
      ? `${JSON.stringify(text.slice(0, SHOWN_MAX))}… (${text.length} characters)`
      : JSON.stringify(text);
  }
  if (v === undefined) return '(nothing)';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return String(v);
}

function valueAt(data: unknown, p: readonly (string | number)[]): unknown {
  let cur = data;
  for (const k of p) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[k];
  }
  return cur;
}

/** Walks the zod schema along a data path, through wrappers and discriminated unions. */
function schemaAt(p: readonly (string | number)[], data: unknown): z.core.$ZodType | undefined {
  let schema = configSchema as unknown as z.core.$ZodType;
  const unwrap = (s: z.core.$ZodType, d: unknown): z.core.$ZodType => {
    for (let guard = 0; guard < 20; guard++) {
      const def = s._zod.def as unknown as Record<string, unknown> & { type: string };
      if (['optional', 'default', 'prefault', 'nullable', 'readonly'].includes(def.type))
        s = def.innerType as z.core.$ZodType;
      else if (def.type === 'pipe') s = def.in as z.core.$ZodType;
      else if (def.type === 'union' && typeof def.discriminator === 'string') {
        const want = (d as Record<string, unknown> | undefined)?.[def.discriminator];
        const match = (def.options as z.core.$ZodType[]).find(
          (o) => discriminatorValue(o, def.discriminator as string) === want,
        );
        if (!match) return s;
        s = match;
      } else return s;
    }
    return s;
  };
  let cur: unknown = data;
  schema = unwrap(schema, cur);
  for (const k of p) {
    const def = schema._zod.def as unknown as Record<string, unknown> & { type: string };
    cur = (cur as Record<string | number, unknown> | undefined)?.[k];
    if (def.type === 'object') {
      const next = (def.shape as Record<string, z.core.$ZodType>)[String(k)];
      if (!next) return undefined;
      schema = unwrap(next, cur);
    } else if (def.type === 'array') schema = unwrap(def.element as z.core.$ZodType, cur);
    else return undefined;
  }
  return schema;
}

function discriminatorValue(option: z.core.$ZodType, disc: string): unknown {
  const def = option._zod.def as unknown as { shape?: Record<string, z.core.$ZodType> };
  const lit = def.shape?.[disc]?._zod.def as unknown as { values?: unknown[] } | undefined;
  return lit?.values?.[0];
}

function allowedKeys(p: readonly (string | number)[], data: unknown): string[] | undefined {
  const s = schemaAt(p, data);
  const def = s?._zod.def as unknown as { type: string; shape?: Record<string, unknown> } | undefined;
  return def?.type === 'object' && def.shape ? Object.keys(def.shape) : undefined;
}

function discriminatorOptions(p: readonly (string | number)[], disc: string): string[] | undefined {
  let s = configSchema as unknown as z.core.$ZodType;
  // Walk to the union itself: schemaAt stops at an unmatched union and returns it.
  s = schemaAt(p, undefined) ?? s;
  const def = s._zod.def as unknown as { type: string; options?: z.core.$ZodType[] };
  if (def.type !== 'union' || !def.options) return undefined;
  return def.options.map((o) => String(discriminatorValue(o, disc)));
}

/** Finds the YAML node closest to a path and returns the issue with its position. */
function locate(
  root: Node | null,
  d: Described,
  file: string,
  at: (offset: number) => { line: number; col: number },
): ConfigIssue {
  let node: Node | null = root;
  let offset = root?.range?.[0] ?? 0;
  const steps = d.key !== undefined ? d.path.slice(0, -1) : d.path;
  for (const k of steps) {
    if (isMap(node)) {
      const pair = node.items.find((it) => isScalar(it.key) && it.key.value === k);
      if (!pair) break;
      const keyNode = pair.key as Node;
      offset = keyNode.range?.[0] ?? offset;
      node = (pair.value as Node | null) ?? null;
      if (node?.range) offset = node.range[0];
    } else if (isSeq(node) && typeof k === 'number') {
      const item = node.items[k] as Node | undefined;
      if (!item) break;
      node = item;
      if (item.range) offset = item.range[0];
    } else break;
  }
  if (d.key !== undefined && isMap(node)) {
    const pair = node.items.find((it) => isScalar(it.key) && it.key.value === d.key);
    const keyNode = pair?.key as Node | undefined;
    if (keyNode?.range) offset = keyNode.range[0];
  }
  const pos = at(offset);
  return { file, line: pos.line, column: pos.col, field: formatPath(d.path), message: d.message };
}

export function formatPath(p: readonly (string | number)[]): string {
  let out = '';
  for (const k of p) out += typeof k === 'number' ? `[${k}]` : out === '' ? k : `.${k}`;
  return out;
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}
