// Which baked Glance images go once a new one is active: all but the newest `keep` active ones,
// never one a server still boots from or a create in flight was given. An image not yet active
// (queued, saving: a bake in progress) is left while a bake could still be waiting for it; one
// a bake gave up on (older than twice the bake timeout) goes, as does one Glance killed.

export interface GlanceImage {
  readonly id: string;
  readonly name: string;
  readonly status: string;
  /** ms since the epoch. */
  readonly createdAt: number;
}

/** Statuses of an image on its way to active: a bake may still be waiting for it. */
const IN_PROGRESS: ReadonlySet<string> = new Set(['queued', 'saving', 'uploading', 'importing']);

/**
 * The images to delete, oldest last; `images` in any order, `inUse` ids servers or creates
 * hold. `stale`: an image still in progress this long after its creation (ms), seen at `now`,
 * was given up by its bake.
 */
export function imagesToPrune(
  images: readonly GlanceImage[],
  keep: number,
  inUse: ReadonlySet<string>,
  stale: { readonly now: number; readonly afterMs: number },
): GlanceImage[] {
  const newestFirst = (a: GlanceImage, b: GlanceImage) =>
    b.createdAt - a.createdAt || b.name.localeCompare(a.name);
  const active = images.filter((i) => i.status === 'active').sort(newestFirst);
  const abandoned = images.filter(
    (i) => i.status === 'killed' || (IN_PROGRESS.has(i.status) && stale.now - i.createdAt > stale.afterMs),
  );
  return [...active.slice(Math.max(1, keep)), ...abandoned].sort(newestFirst).filter((i) => !inUse.has(i.id));
}
