// Makes every file path in a validated config absolute, against the config file's folder:
// the fields each slice marks as paths (config-kit `filePath`, `programPath`), wherever
// they are. No slice's fields are named here.

import path from 'node:path';
import type { z } from 'zod';
import { filePaths } from '../config-kit/fields.ts';

type Def = Record<string, unknown> & { type: string };

/** `value` (as `schema` made it) with its path fields resolved from `baseDir`, in place. */
export function resolveFilePaths<T>(schema: z.core.$ZodType, value: T, baseDir: string): T {
  const resolve = (p: string) => (path.isAbsolute(p) ? p : path.resolve(baseDir, p));
  return walk(schema, value, resolve) as T;
}

function walk(schema: z.core.$ZodType, value: unknown, resolve: (p: string) => string): unknown {
  const marked = filePaths.get(schema);
  if (marked && typeof value === 'string')
    return marked.when === 'always' || value.includes('/') ? resolve(value) : value;
  const def = schema._zod.def as unknown as Def;
  switch (def.type) {
    case 'optional':
    case 'default':
    case 'prefault':
    case 'nullable':
    case 'readonly':
      return walk(def.innerType as z.core.$ZodType, value, resolve);
    case 'pipe':
      // A transformed object keeps the fields it was read from (alerts, rules).
      return walk(def.in as z.core.$ZodType, value, resolve);
    case 'object': {
      if (value === null || typeof value !== 'object') return value;
      const fields = value as Record<string, unknown>;
      for (const [key, field] of Object.entries(def.shape as Record<string, z.core.$ZodType>))
        if (fields[key] !== undefined) fields[key] = walk(field, fields[key], resolve);
      return value;
    }
    case 'union': {
      if (typeof def.discriminator !== 'string' || value === null || typeof value !== 'object') return value;
      const kind = (value as Record<string, unknown>)[def.discriminator];
      const chosen = (def.options as z.core.$ZodType[]).find((o) => {
        const shape = (o._zod.def as unknown as { shape?: Record<string, z.core.$ZodType> }).shape;
        return (
          (shape?.[def.discriminator as string]?._zod.def as unknown as { values?: unknown[] })
            ?.values?.[0] === kind
        );
      });
      return chosen ? walk(chosen, value, resolve) : value;
    }
    case 'array':
      return Array.isArray(value)
        ? value.map((item) => walk(def.element as z.core.$ZodType, item, resolve))
        : value;
    default:
      return value;
  }
}
