// Which baked managed images go once a new one succeeded: the shared rule
// (src/providers/image-retirement.ts) with Azure's provisioning states — `Succeeded` is ready,
// `Failed` failed, `Deleting` gone, any other (Creating…) a bake in progress.

import { type BakedImageState, imagesToDelete } from '../image-retirement.ts';

export interface AzureBakedImage {
  /** The image's resource id (what a VM's storageProfile.imageReference.id holds). */
  readonly id: string;
  readonly name: string;
  /** ms since the epoch (Rampart's created-at tag). */
  readonly createdAt: number;
  /** Azure's provisioningState: Creating, Succeeded, Failed, Deleting... */
  readonly state: string;
  /** The managed snapshot it was made from (deleted with it). */
  readonly snapshot?: string | undefined;
}

function azureState(i: AzureBakedImage): BakedImageState {
  if (i.state === 'Succeeded') return 'ready';
  if (i.state === 'Failed') return 'failed';
  return i.state === 'Deleting' ? 'gone' : 'in-progress';
}

/**
 * The images to delete, newest first; `images` in any order, `inUse` the image ids VMs or
 * creates hold. `stale`: an image not succeeded this long after its creation (ms), seen at
 * `now`, was given up by its bake.
 */
export function azureImagesToRetire(
  images: readonly AzureBakedImage[],
  keep: number,
  inUse: ReadonlySet<string>,
  stale: { readonly now: number; readonly afterMs: number },
): AzureBakedImage[] {
  return imagesToDelete(images, keep, inUse, stale, azureState);
}
