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
import type { z } from 'zod';
import { redactUrl, redactUrls } from '../core/url-secrets.ts';
import { crossCheck } from './cross-checks.ts';
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

/** Validates config text; `file` is only used in messages and to resolve relative paths. */
export function parseConfigText(text: string, file: string): LoadedConfig {
  const size = Buffer.byteLength(text, 'utf8');
  if (size > MAX_CONFIG_BYTES) throw tooLarge(file, size);
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number) => lineCounter.linePos(offset);
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const pos = at(e.pos[0]);
        return { file, line: pos.line, column: pos.col, field: '', message: `YAML: ${firstLine(e.message)}` };
      }),
    );
  }
  const data = toData(doc, file, at);
  const tooLong = longStrings(data);
  if (tooLong.length > 0) throw new ConfigError(tooLong.map((d) => locate(doc.contents, d, file, at)));
  const parsed = configSchema.safeParse(data ?? {}, { reportInput: true });
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues
        .flatMap((issue) => describeZodIssue(issue, data))
        .map((d) => locate(doc.contents, d, file, at)),
    );
  }
  const cross = crossCheck(parsed.data);
  if (cross.length > 0) throw new ConfigError(cross.map((c) => locate(doc.contents, c, file, at)));

  const abs = path.resolve(file);
  const baseDir = path.dirname(abs);
  const config = parsed.data;
  const resolveFrom = (p: string) => (path.isAbsolute(p) ? p : path.resolve(baseDir, p));
  const store = config.controller.store;
  if (store.kind === 'sqlite') store.path = resolveFrom(store.path);
  if (store.kind === 'etcd') {
    if (store.tls?.ca !== undefined) store.tls.ca = resolveFrom(store.tls.ca);
    if (store.tls?.cert !== undefined) store.tls.cert = resolveFrom(store.tls.cert);
    if (store.tls?.key !== undefined) store.tls.key = resolveFrom(store.tls.key);
    if (store.auth !== undefined) store.auth.passwordFile = resolveFrom(store.auth.passwordFile);
  }
  const api = config.controller.api;
  if (api.tokenFile !== undefined) api.tokenFile = resolveFrom(api.tokenFile);
  if (api.tls !== undefined) api.tls = { cert: resolveFrom(api.tls.cert), key: resolveFrom(api.tls.key) };
  const resolveCluster = (c: { caFile?: string | undefined; tokenFile?: string | undefined }) => {
    if (c.caFile !== undefined) c.caFile = resolveFrom(c.caFile);
    if (c.tokenFile !== undefined) c.tokenFile = resolveFrom(c.tokenFile);
  };
  if (config.controller.coordination.kind === 'kubernetes')
    resolveCluster(config.controller.coordination.cluster);
  for (const m of config.metrics) if (m.kind === 'kubernetes') resolveCluster(m.cluster);
  for (const p of config.providers)
    if (p.kind === 'local') p.dataDir = resolveFrom(p.dataDir);
    else if (p.kind === 'kubernetes') resolveCluster(p.cluster);
  for (const p of config.pools)
    if (p.node.kind === 'cometbft') {
      if (p.node.home !== undefined) p.node.home = resolveFrom(p.node.home);
      if (p.node.genesis !== undefined) p.node.genesis = resolveFrom(p.node.genesis);
      if (p.node.binary?.includes('/')) p.node.binary = resolveFrom(p.node.binary);
    } else if (p.node.kind === 'etcd-member' && p.node.binary?.includes('/'))
      p.node.binary = resolveFrom(p.node.binary);
  for (const s of config.snapshots)
    if (s.store.kind === 'directory') s.store.path = resolveFrom(s.store.path);
  for (const r of config.alerts.receivers)
    if (r.kind === 'webhook' && r.tokenFile !== undefined) r.tokenFile = resolveFrom(r.tokenFile);
  return { config, file: abs, baseDir };
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

function describeZodIssue(issue: z.core.$ZodIssue, data: unknown): Described[] {
  const p = issue.path.filter((k): k is string | number => typeof k !== 'symbol');
  const value = valueAt(data, p);
  // A header's value is a credential as often as not: an error names the field, not the value.
  const show = isSecretField(p) ? () => 'the value (not shown: header values may be secrets)' : showValue;
  switch (issue.code) {
    case 'unrecognized_keys': {
      const allowed = allowedKeys(p, data);
      return issue.keys.map((key) => ({
        path: [...p, key],
        key,
        message: `unknown field "${key}"${allowed ? ` (allowed here: ${allowed.join(', ')})` : ''}`,
      }));
    }
    case 'invalid_value':
      return [
        {
          path: p,
          message: `${show(value)} is not ${issue.values.length === 1 ? show(issue.values[0]) : `one of ${issue.values.map((v) => String(v)).join(' ')}`}`,
        },
      ];
    case 'invalid_type':
      if (value === undefined) return [{ path: p, message: `is required (${article(issue.expected)})` }];
      return [{ path: p, message: `${show(value)} is not ${article(issue.expected)}` }];
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
      return [{ path: p, message: `${show(value)} matches none of the allowed forms: ${issue.message}` }];
    }
    case 'too_small': {
      const what =
        issue.origin === 'array' ? `at least ${issue.minimum} item(s)` : `at least ${issue.minimum}`;
      return [{ path: p, message: `${show(value)} is too small: must be ${what}` }];
    }
    case 'too_big':
      return [{ path: p, message: `${show(value)} is too big: must be at most ${issue.maximum}` }];
    case 'invalid_format':
      if (issue.format === 'url' && typeof value === 'string')
        // A URL that is not one may still hold a password or a token: it is shown without them.
        return [
          {
            path: p,
            message: `${JSON.stringify(redactUrl(value))} is not an http(s) URL such as https://host:9093/path`,
          },
        ];
      return [{ path: p, message: `${show(value)} is not ${issue.message}` }];
    default:
      return [{ path: p, message: issue.message }];
  }
}

function article(type: string): string {
  if (type === 'int') return 'an integer';
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
