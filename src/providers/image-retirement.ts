// Which baked images go after a bake, on clouds where an image is deleted (Glance, Azure's
// managed images): all but the newest `keep` ready ones, and those a bake gave up on — failed,
// or still being made twice the bake timeout after their creation; never one a machine boots
// from or a create in flight was given. One still being made within that time is left: its
// bake may be waiting for it. Each cloud says how its statuses read (`stateOf`).

/** How a cloud's image status reads for retirement. `gone`: being deleted already. */
export type BakedImageState = 'ready' | 'failed' | 'in-progress' | 'gone';

export interface RetirableImage {
  /** The id a machine's boot image names (compared without case). */
  readonly id: string;
  readonly name: string;
  /** ms since the epoch. */
  readonly createdAt: number;
}

/**
 * The images to delete, newest first; `images` in any order, `inUse` the ids machines or
 * creates hold. `stale`: an image still in progress this long after its creation (ms), seen
 * at `now`, was given up by its bake.
 */
export function imagesToDelete<T extends RetirableImage>(
  images: readonly T[],
  keep: number,
  inUse: ReadonlySet<string>,
  stale: { readonly now: number; readonly afterMs: number },
  stateOf: (image: T) => BakedImageState,
): T[] {
  const newestFirst = (a: T, b: T) => b.createdAt - a.createdAt || b.name.localeCompare(a.name);
  const held = new Set([...inUse].map((id) => id.toLowerCase()));
  const ready = images.filter((i) => stateOf(i) === 'ready').sort(newestFirst);
  const abandoned = images.filter((i) => {
    const state = stateOf(i);
    return state === 'failed' || (state === 'in-progress' && stale.now - i.createdAt > stale.afterMs);
  });
  return [...ready.slice(Math.max(1, keep)), ...abandoned]
    .sort(newestFirst)
    .filter((i) => !held.has(i.id.toLowerCase()));
}
