// Which baked managed images go once a new one succeeded: all but the newest `keep` succeeded
// ones, never one a VM boots from or a create in flight was given. An image still being made
// is left while its bake could still be waiting for it; one a bake gave up on (not succeeded
// twice the bake timeout after its creation) goes, as does one Azure failed.

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

/**
 * The images to delete, newest first; `images` in any order, `inUse` the image ids (lower
 * case) VMs or creates hold. `stale`: an image not succeeded this long after its creation
 * (ms), seen at `now`, was given up by its bake.
 */
export function azureImagesToRetire(
  images: readonly AzureBakedImage[],
  keep: number,
  inUse: ReadonlySet<string>,
  stale: { readonly now: number; readonly afterMs: number },
): AzureBakedImage[] {
  const newestFirst = (a: AzureBakedImage, b: AzureBakedImage) =>
    b.createdAt - a.createdAt || b.name.localeCompare(a.name);
  const ready = images.filter((i) => i.state === 'Succeeded').sort(newestFirst);
  const abandoned = images.filter(
    (i) =>
      i.state === 'Failed' ||
      (i.state !== 'Succeeded' && i.state !== 'Deleting' && stale.now - i.createdAt > stale.afterMs),
  );
  return [...ready.slice(Math.max(1, keep)), ...abandoned]
    .sort(newestFirst)
    .filter((i) => !inUse.has(i.id.toLowerCase()));
}
