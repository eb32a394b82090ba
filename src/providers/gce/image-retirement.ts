// Which baked images go once a new one is made: all but the newest `keep` ready ones. An image
// still being made is never touched; with `deprecate`, one already deprecated is not again.

export interface BakedImage {
  readonly name: string;
  /** ms since the epoch. */
  readonly createdAt: number;
  /** The snapshot it was made from (deleted with it). */
  readonly snapshot?: string | undefined;
  readonly deprecated: boolean;
  readonly ready: boolean;
}

/** The images to delete or deprecate, oldest last; `images` in any order. */
export function imagesToRetire(
  images: readonly BakedImage[],
  keep: number,
  retire: 'delete' | 'deprecate',
): BakedImage[] {
  const ready = images
    .filter((i) => i.ready)
    .sort((a, b) => b.createdAt - a.createdAt || b.name.localeCompare(a.name));
  const live = ready.filter((i) => !i.deprecated);
  // Deprecated images count as gone already: `keep` counts only those new instances may boot.
  const beyond = live.slice(Math.max(1, keep));
  if (retire === 'deprecate') return beyond;
  return [...beyond, ...ready.filter((i) => i.deprecated)];
}
