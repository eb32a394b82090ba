// What a plugin is, as the config sees it: the slice of the config its entries are written
// in (a strict object whose `kind` names the plugin), how it is built from an entry, and
// what the config-wide checks ask of it. Each plugin kind's registry lists its plugins; the
// config schema is composed from those lists.

import { z } from 'zod';
import type { ScaleRule } from '../core/policy.ts';

/** A slice: a strict object whose `kind` is one literal. */
export type KindSchema = z.ZodObject<{ kind: z.ZodLiteral<string> } & z.core.$ZodLooseShape>;

/** One plugin of a kind: the slice its entries are written in, and how one is built. */
export interface Plugin<S extends KindSchema = KindSchema, Deps = never, Built = unknown> {
  readonly config: S;
  create(entry: z.output<S>, deps: Deps): Built;
}

/** The `kind` a slice stands for. */
export function kindOf(schema: KindSchema): string {
  return schema.shape.kind.value;
}

type Slices<T extends readonly { readonly config: KindSchema }[]> = {
  -readonly [K in keyof T]: T[K]['config'];
};

/** The config of one plugin kind: the union of its plugins' slices, told apart by `kind`. */
export function unionOf<
  const T extends readonly [{ readonly config: KindSchema }, ...{ readonly config: KindSchema }[]],
>(plugins: T) {
  return z.discriminatedUnion('kind', plugins.map((p) => p.config) as unknown as Slices<T>);
}

/** The plugin an entry's `kind` names; a kind nobody registered is refused, never guessed. */
export function pluginOf<P extends { readonly config: KindSchema }>(
  plugins: readonly P[],
  kind: string,
  what: string,
): P {
  const plugin = plugins.find((p) => kindOf(p.config) === kind);
  if (!plugin)
    throw new Error(
      `unknown ${what} kind ${JSON.stringify(kind)}: expected one of ${plugins.map((p) => kindOf(p.config)).join(', ')}`,
    );
  return plugin;
}

/** Builds a plugin's entry with the plugin its kind names. */
export function createFrom<E extends { readonly kind: string }, Deps, Built>(
  plugins: readonly { readonly config: KindSchema; create(entry: never, deps: Deps): Built }[],
  entry: E,
  deps: Deps,
  what: string,
): Built {
  const plugin = pluginOf(plugins, entry.kind, what);
  return (plugin.create as unknown as (e: E, d: Deps) => Built).call(plugin, entry, deps);
}

// ---- What the config-wide checks hand a plugin ----

export type ConfigPath = readonly (string | number)[];

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

/** Where a check reports, and what the schema refused (an absent field may be a refused one). */
export interface CheckContext {
  add(path: ConfigPath, message: string): void;
  refused(path: ConfigPath): boolean;
}

/** What the checks of a plugin may read of a pool, whatever its plugins. */
export interface PoolView {
  readonly name?: string | undefined;
  readonly role?: string | undefined;
  readonly provider?: string | undefined;
  readonly node?:
    | { readonly kind?: string | undefined; readonly validatorPool?: string | undefined }
    | undefined;
  readonly size?:
    | {
        readonly min?: number | undefined;
        readonly capacity?: number | undefined;
        readonly max?: number | undefined;
      }
    | undefined;
  readonly scaleIn?: { readonly select?: string | undefined } | undefined;
  readonly bootstrap?: { readonly snapshots?: string | undefined } | undefined;
}

/** What the checks of a plugin may read of a snapshot set. */
export interface SnapshotSetView {
  readonly name?: string | undefined;
  readonly store?: { readonly kind?: string | undefined } | undefined;
}

/** What the checks of a plugin may read of another provider. */
export interface ProviderView {
  readonly name?: string | undefined;
  readonly kind?: string | undefined;
}

/** A pool, as a plugin serving it checks it against the rest of the config. */
export interface PoolCheck<E> extends CheckContext {
  /** The plugin's own entry (the pool's node, or the provider serving the pool). */
  readonly entry: Parts<E>;
  readonly pool: PoolView;
  readonly pools: readonly (PoolView | undefined)[];
  /** The pool's index in `pools`. */
  readonly index: number;
  /** `pools[i]…`, for a field of this pool. */
  at(...rest: (string | number)[]): ConfigPath;
  /** The provider serving the pool, if defined, and where it is. */
  readonly provider: ProviderView | undefined;
  readonly providerPath: ConfigPath | undefined;
  /** Whether the providers section was read (else a provider's absence says nothing). */
  readonly providersKnown: boolean;
  /** The set `bootstrap.snapshots` names, if defined. */
  readonly set: SnapshotSetView | undefined;
  /** The index of the first pool this pool's provider serves. */
  readonly firstServed: number;
  /** The node kinds Rampart can run and wire as a StatefulSet's pods (besides kube-pod). */
  readonly podKinds: readonly string[];
}

/** A URL Rampart connects to, for `controller.api.requireTls`: its path inside the entry. */
export interface Connection {
  readonly path: ConfigPath;
  readonly url: string | undefined;
  /**
   * Where the URL comes from when the entry does not give it (a kubeconfig): read when a config
   * file is loaded, relative paths from its folder. Undefined result: nothing to judge there
   * (the file is missing or unreadable, which the connection itself reports).
   */
  readonly resolve?:
    | ((baseDir: string) => { readonly url: string; readonly from: string } | undefined)
    | undefined;
}

/** A provider, as it checks itself against the other providers and the pools. */
export interface ProviderCheck<E> extends CheckContext {
  readonly entry: Parts<E>;
  /** `providers[i]…`, for a field of this provider. */
  at(...rest: (string | number)[]): ConfigPath;
  readonly index: number;
  readonly providers: readonly (ProviderView | undefined)[];
  readonly pools: readonly (PoolView | undefined)[];
  /** The provider kinds whose machines can be a Kubernetes node pool's Nodes. */
  readonly machineKinds: readonly string[];
}
