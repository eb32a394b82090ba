// Which baked AMIs go once a new one boots, and which of the family's EBS snapshots no AMI
// uses any more. Pure: the AMI baking (ami-baking.ts) lists, this decides, it deletes.

export interface BakedAmi {
  readonly id: string;
  readonly name: string;
  /** ms since the epoch. */
  readonly createdAt: number;
  /** State `available`: one still `pending` is a bake in flight, never touched. */
  readonly available: boolean;
  /** The EBS snapshots it was registered from (its tag and its block device mappings). */
  readonly snapshots: readonly string[];
}

/**
 * The AMIs to deregister, newest first: every available one beyond the newest `keep` (at least
 * one is kept), except those a launch template version in use boots (`inUse`).
 */
export function amisToRetire(
  amis: readonly BakedAmi[],
  keep: number,
  inUse: ReadonlySet<string>,
): BakedAmi[] {
  const available = amis
    .filter((a) => a.available)
    .sort((a, b) => b.createdAt - a.createdAt || b.name.localeCompare(a.name));
  return available.slice(Math.max(1, keep)).filter((a) => !inUse.has(a.id));
}

/**
 * The family's completed snapshots that no remaining AMI was registered from: those of retired
 * AMIs, and those left by a bake that died between its snapshot and its AMI. A snapshot still
 * pending is left for the next sweep.
 */
export function snapshotsToDelete(
  snapshots: readonly { readonly id: string; readonly completed: boolean }[],
  remaining: readonly BakedAmi[],
): string[] {
  const used = new Set(remaining.flatMap((a) => a.snapshots));
  return snapshots.filter((s) => s.completed && !used.has(s.id)).map((s) => s.id);
}

/** A launch template version new instances follow as it changes: $Default or $Latest. */
export function floatingVersion(version: string): boolean {
  return version === '$Default' || version === '$Latest';
}
