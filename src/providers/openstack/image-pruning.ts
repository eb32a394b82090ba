// Which baked Glance images go once a new one is active: the shared rule
// (src/providers/image-retirement.ts) with Glance's statuses — `active` is ready, `killed`
// failed, `queued`/`saving`/`uploading`/`importing` a bake in progress.

import { type BakedImageState, imagesToDelete } from '../image-retirement.ts';

export interface GlanceImage {
  readonly id: string;
  readonly name: string;
  readonly status: string;
  /** ms since the epoch. */
  readonly createdAt: number;
}

/** Statuses of an image on its way to active: a bake may still be waiting for it. */
const IN_PROGRESS: ReadonlySet<string> = new Set(['queued', 'saving', 'uploading', 'importing']);

function glanceState(i: GlanceImage): BakedImageState {
  if (i.status === 'active') return 'ready';
  if (i.status === 'killed') return 'failed';
  return IN_PROGRESS.has(i.status) ? 'in-progress' : 'gone';
}

/**
 * The images to delete, newest first; `images` in any order, `inUse` ids servers or creates
 * hold. `stale`: an image still in progress this long after its creation (ms), seen at `now`,
 * was given up by its bake.
 */
export function imagesToPrune(
  images: readonly GlanceImage[],
  keep: number,
  inUse: ReadonlySet<string>,
  stale: { readonly now: number; readonly afterMs: number },
): GlanceImage[] {
  return imagesToDelete(images, keep, inUse, stale, glanceState);
}
