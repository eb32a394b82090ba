// The `netdata` metric source: reads each node's netdata agent through its shell-format
// allmetrics export (`NETDATA_SYSTEM_CPU_IDLE="89"`), one request per node.

import { isIPv6 } from 'node:net';
import type { Sample } from '../core/types.ts';
import { httpGet, MAX_BODY_BYTES, MAX_LINE_BYTES, mapLimited } from './http-fetch.ts';
import type { CollectError, CollectResult, MetricSource, MetricTarget } from './metric-source.ts';
import { positiveOption, type SelectorRef, selectorRefsForSource } from './source-refs.ts';

export interface NetdataSourceOptions {
  readonly name: string;
  /** Agent base URL with `{host}` and/or `{node}` placeholders. Default `http://{host}:19999`. */
  readonly urlTemplate?: string | undefined;
  /** Per node. Default 2000. */
  readonly timeoutMs?: number | undefined;
  /** Nodes queried at the same time at most. Default 16. */
  readonly concurrency?: number | undefined;
}

export const DEFAULT_NETDATA_URL_TEMPLATE = 'http://{host}:19999';
export const DEFAULT_NETDATA_TIMEOUT_MS = 2000;

export interface NetdataShellParse {
  /** Variables with a numeric value. */
  readonly values: Map<string, number>;
  /** Variables whose value is not a number (alarm statuses such as `CLEAR`); empty ones are not kept. */
  readonly texts: Map<string, string>;
  /** Lines that are neither blank, a comment, nor `NAME="value"`, numbered from 1. */
  readonly errors: { readonly line: number; readonly message: string }[];
}

const ASSIGNMENT = /^([A-Za-z_][A-Za-z0-9_]*)=(?:"([^"]*)"|(\S*))\s*(?:#.*)?$/;
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * Parses netdata's `allmetrics?format=shell` body. Values are rounded integers in practice, but
 * any decimal is read; an empty value is skipped (netdata writes one for a dimension with no
 * data yet). Never throws on content.
 */
export function parseNetdataShell(text: string): NetdataShellParse {
  const values = new Map<string, number>();
  const texts = new Map<string, string>();
  const errors: { line: number; message: string }[] = [];
  const lines = text.split('\n');
  for (let k = 0; k < lines.length; k++) {
    const line = lines[k]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = ASSIGNMENT.exec(line);
    if (match === null) {
      errors.push({
        line: k + 1,
        message: `not NAME="value": ${line.length > 80 ? `${line.slice(0, 80)}…` : line}`,
      });
      continue;
    }
    const name = match[1]!;
    const raw = match[2] ?? match[3] ?? '';
    if (raw === '') continue;
    if (NUMBER.test(raw)) values.set(name, Number(raw));
    else texts.set(name, raw);
  }
  return { values, texts, errors };
}

/** The agent base URL of a node: placeholders filled, URL-encoded (an IPv6 host is bracketed). */
export function netdataBaseUrl(template: string, target: MetricTarget): string {
  const host = isIPv6(target.host) ? `[${target.host}]` : encodeURIComponent(target.host);
  return template
    .replaceAll('{host}', host)
    .replaceAll('{node}', encodeURIComponent(target.nodeId))
    .replace(/\/+$/, '');
}

/**
 * Each ref is `name:VARIABLE`, a netdata shell variable such as `NETDATA_SYSTEM_CPU_IDLE`
 * (netdata variables have no labels: a ref with label matchers is an error). Every target is
 * queried; a sample's `at` is when the answer arrived.
 */
export class NetdataSource implements MetricSource {
  readonly kind = 'netdata';
  readonly name: string;
  readonly #urlTemplate: string;
  readonly #timeoutMs: number;
  readonly #concurrency: number;

  constructor(options: NetdataSourceOptions) {
    this.name = options.name;
    this.#urlTemplate = options.urlTemplate ?? DEFAULT_NETDATA_URL_TEMPLATE;
    if (!/^https?:\/\//.test(this.#urlTemplate)) {
      throw new Error(`netdata source ${options.name}: urlTemplate must start with http:// or https://`);
    }
    this.#timeoutMs = positiveOption(
      options.timeoutMs,
      DEFAULT_NETDATA_TIMEOUT_MS,
      `netdata source ${options.name}: timeoutMs`,
    );
    this.#concurrency = Math.floor(
      positiveOption(options.concurrency, 16, `netdata source ${options.name}: concurrency`),
    );
  }

  async collect(
    refs: readonly string[],
    targets: readonly MetricTarget[],
    signal?: AbortSignal,
  ): Promise<CollectResult> {
    const { refs: selectors, errors } = selectorRefsForSource(this.name, refs);
    const variables: SelectorRef[] = [];
    for (const r of selectors) {
      if (r.selector.matchers.length > 0) {
        errors.push({
          message: `"${r.ref}": netdata variables have no labels; write the bare variable name, e.g. ${r.selector.name}`,
        });
      } else variables.push(r);
    }
    const samples: Sample[] = [];
    if (variables.length === 0) return { samples, errors };
    const perTarget = await mapLimited(targets, this.#concurrency, (target) =>
      this.#read(target, variables, signal),
    );
    for (const result of perTarget) {
      for (const s of result.samples) samples.push(s);
      for (const e of result.errors) errors.push(e);
    }
    return { samples, errors };
  }

  async #read(
    target: MetricTarget,
    variables: readonly SelectorRef[],
    signal: AbortSignal | undefined,
  ): Promise<CollectResult> {
    const node = target.nodeId;
    const url = `${netdataBaseUrl(this.#urlTemplate, target)}/api/v1/allmetrics?format=shell`;
    const response = await httpGet(url, {
      timeoutMs: this.#timeoutMs,
      signal,
      accept: 'text/plain',
      limits: { maxBytes: MAX_BODY_BYTES, maxLineBytes: MAX_LINE_BYTES },
    });
    if (!response.ok) return { samples: [], errors: [{ target: node, message: response.message }] };
    const parsed = parseNetdataShell(response.body);
    const samples: Sample[] = [];
    const errors: CollectError[] = [];
    const first = parsed.errors[0];
    if (first !== undefined) {
      const count = parsed.errors.length;
      errors.push({
        target: node,
        message: `${url}: ${count} malformed line${count === 1 ? '' : 's'} skipped; line ${first.line}: ${first.message}`,
      });
    }
    for (const { ref, selector } of variables) {
      const value = parsed.values.get(selector.name);
      if (value !== undefined) samples.push({ ref, node, value, at: response.receivedAt });
      else if (parsed.texts.has(selector.name)) {
        errors.push({
          target: node,
          message: `${url}: ${selector.name} is "${parsed.texts.get(selector.name)}", not a number`,
        });
      } else errors.push({ target: node, message: `${url} has no variable ${selector.name} (yet)` });
    }
    return { samples, errors };
  }
}
