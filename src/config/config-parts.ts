// The parts of a config the schema accepts, each judged on its own: the cross-checks read a
// config that did not validate as a whole, and so judge whatever did.

import { z } from 'zod';
import type { ScaleRule } from '../core/policy.ts';
import { type Config, configSchema } from './schema.ts';

/**
 * A value as the schema makes it (defaults filled in, durations in ms), with every field
 * the schema refused left out: any field may be absent, and any list item.
 * A rule that did not validate is not yet a ScaleRule: only its metric is read.
 */
export type Parts<T> = T extends ScaleRule
  ? { readonly metric?: string | undefined }
  : T extends readonly (infer E)[]
    ? readonly (Parts<E> | undefined)[]
    : T extends object
      ? { readonly [K in keyof T]?: Parts<T[K]> | undefined }
      : T;

export type ConfigParts = Parts<Config>;

/** What the schema accepts of `data` (the config file as plain data). */
export function configParts(data: unknown): ConfigParts {
  return (partsOf(configSchema, data) ?? {}) as ConfigParts;
}

type Def = Record<string, unknown> & { type: string };

/** `value` as `schema` makes it; where that fails, the parts of it that pass; undefined if none. */
function partsOf(schema: z.core.$ZodType, value: unknown): unknown {
  const whole = z.safeParse(schema, value);
  if (whole.success) return whole.data;
  const def = schema._zod.def as unknown as Def;
  switch (def.type) {
    case 'optional':
    case 'default':
    case 'prefault':
    case 'nullable':
    case 'readonly':
      return partsOf(def.innerType as z.core.$ZodType, value);
    case 'pipe': {
      // Refused after its input passed (a refinement of the result): nothing of it is known.
      const input = def.in as z.core.$ZodType;
      return z.safeParse(input, value).success ? undefined : partsOf(input, value);
    }
    case 'object':
      return fieldsOf(def.shape as Record<string, z.core.$ZodType>, value);
    case 'union':
      return typeof def.discriminator === 'string'
        ? variantOf(def.options as z.core.$ZodType[], def.discriminator, value)
        : undefined;
    case 'array':
      return Array.isArray(value)
        ? value.map((item) => partsOf(def.element as z.core.$ZodType, item))
        : undefined;
    default:
      return undefined;
  }
}

/** Each field on its own: one refused field leaves the others known. */
function fieldsOf(
  shape: Record<string, z.core.$ZodType>,
  value: unknown,
): Record<string, unknown> | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(shape)) {
    const part = partsOf(field, (value as Record<string, unknown>)[key]);
    if (part !== undefined) out[key] = part;
  }
  return out;
}

/**
 * The variant its discriminator names; with a kind that names none, the fields every
 * variant has (a metric source's name), each as some variant accepts it.
 */
function variantOf(options: z.core.$ZodType[], discriminator: string, value: unknown): unknown {
  const shapes = options.map(
    (o) => (o._zod.def as unknown as { shape?: Record<string, z.core.$ZodType> }).shape,
  );
  const kind = (value as Record<string, unknown> | null | undefined)?.[discriminator];
  const chosen = shapes.findIndex(
    (shape) => (shape?.[discriminator]?._zod.def as unknown as { values?: unknown[] })?.values?.[0] === kind,
  );
  if (chosen >= 0) return partsOf(options[chosen]!, value);
  if (value === null || typeof value !== 'object' || shapes.some((s) => s === undefined)) return undefined;
  const common = Object.keys(shapes[0]!).filter(
    (key) => key !== discriminator && shapes.every((s) => s![key] !== undefined),
  );
  const out: Record<string, unknown> = {};
  for (const key of common) {
    const written = (value as Record<string, unknown>)[key];
    for (const shape of shapes) {
      const part = partsOf(shape![key]!, written);
      if (part !== undefined) {
        out[key] = part;
        break;
      }
    }
  }
  return out;
}
