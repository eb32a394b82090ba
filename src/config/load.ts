// Loads a config file: YAML with a position for every node, schema validation, cross-field
// checks, and every error as `file:line:col path: what was wrong (what is allowed)`.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import type { z } from 'zod';
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

export class ConfigError extends Error {
  readonly issues: readonly ConfigIssue[];
  constructor(issues: readonly ConfigIssue[]) {
    super(issues.map(formatIssue).join('\n'));
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

export function formatIssue(i: ConfigIssue): string {
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
    text = readFileSync(file, 'utf8');
  } catch (e) {
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
  const data = doc.toJS({ maxAliasCount: 100 }) as unknown;
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

interface Described {
  readonly path: readonly (string | number)[];
  readonly message: string;
  /** For unknown keys: the key itself is located, not its parent. */
  readonly key?: string;
}

function describeZodIssue(issue: z.core.$ZodIssue, data: unknown): Described[] {
  const p = issue.path.filter((k): k is string | number => typeof k !== 'symbol');
  const value = valueAt(data, p);
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
      return [{ path: p, message: `${show(value)} is not ${issue.message}` }];
    default:
      return [{ path: p, message: issue.message }];
  }
}

function article(type: string): string {
  if (type === 'int') return 'an integer';
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
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
