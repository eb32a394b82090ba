// Which baked Glance images go once a new one is active: all but the newest `keep` active ones,
// never one a server still boots from or a create in flight was given. An image not yet active
// (queued, saving: a bake in progress) is never touched.

export interface GlanceImage {
  readonly id: string;
  readonly name: string;
  readonly status: string;
  /** ms since the epoch. */
  readonly createdAt: number;
}

/** The images to delete, oldest last; `images` in any order, `inUse` ids servers or creates hold. */
export function imagesToPrune(
  images: readonly GlanceImage[],
  keep: number,
  inUse: ReadonlySet<string>,
): GlanceImage[] {
  const active = images
    .filter((i) => i.status === 'active')
    .sort((a, b) => b.createdAt - a.createdAt || b.name.localeCompare(a.name));
  return active.slice(Math.max(1, keep)).filter((i) => !inUse.has(i.id));
}
