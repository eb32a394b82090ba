// Takes one snapshot: read where the node stands, stop it, copy its files (never keys or
// signing state), start it again whatever happened, and only then write the manifest.

import { randomBytes } from 'node:crypto';
import type { NodeAddress, NodeKind } from '../nodes/node-kind.ts';
import type { Instance, Provider } from '../providers/provider.ts';
import { type SnapshotManifest, snapshotId } from './manifest.ts';
import { copyIntoStore, type Progress } from './snapshot-files.ts';
import type { SnapshotStore } from './snapshot-store.ts';

export interface TakeSnapshotInput {
  readonly set: string;
  readonly store: SnapshotStore;
  readonly kind: NodeKind;
  readonly provider: Provider;
  readonly pool: string;
  readonly nodeId: string;
  readonly instance: Instance;
  readonly address: NodeAddress;
  /** Paths under the data dir this set leaves out (a folder: all it holds). */
  readonly leaveOut?: readonly string[] | undefined;
  /** Called once the id is chosen, before any byte is copied (so pruning can spare it). */
  readonly onStart?: ((id: string) => void) | undefined;
  readonly onProgress?: Progress | undefined;
}

export interface TakenSnapshot {
  readonly manifest: SnapshotManifest;
  /** The source node's instance after its restart. */
  readonly instance: Instance;
}

export async function takeSnapshot(input: TakeSnapshotInput): Promise<TakenSnapshot> {
  const support = input.kind.snapshots;
  if (!support) throw new Error(`node kind ${input.kind.kind} cannot be snapshotted`);
  const { provider, instance } = input;
  if (!provider.stop || !provider.start || !instance.dataDir)
    throw new Error(`provider ${provider.name} cannot stop and restart a node for a snapshot`);
  const point = await support.describe(input.address);
  const createdAt = Date.now();
  const id = snapshotId(createdAt, randomBytes(3).toString('hex'));
  input.onStart?.(id);
  // Copies of a running node come out corrupt: the node is stopped for the copy.
  await provider.stop(instance);
  let copied: Awaited<ReturnType<typeof copyIntoStore>> | undefined;
  let copyError: unknown;
  try {
    const files = leaveOut(await support.files(instance.dataDir), input.leaveOut ?? []);
    copied = await copyIntoStore(input.store, input.set, id, instance.dataDir, files, input.onProgress);
  } catch (e) {
    copyError = e;
  }
  // Whatever happened to the copy, the source runs again.
  const restarted = await provider.start(instance);
  if (copyError || !copied) throw copyError;
  const manifest: SnapshotManifest = {
    version: 1,
    id,
    set: input.set,
    createdAt,
    sourcePool: input.pool,
    sourceNode: input.nodeId,
    nodeKind: input.kind.kind,
    chainId: point.chainId,
    height: point.height,
    appHash: point.appHash,
    totalBytes: copied.reduce((a, f) => a + f.size, 0),
    files: copied,
    ...(input.store.compression ? { compression: input.store.compression } : {}),
    ...(input.leaveOut?.length ? { leftOut: [...input.leaveOut] } : {}),
  };
  await input.store.putManifest(manifest);
  return { manifest, instance: restarted };
}

/** The files a set keeps: all but those at or under a left-out path. */
export function leaveOut(files: readonly string[], paths: readonly string[]): string[] {
  const out = paths.map((p) => p.replace(/\/+$/, ''));
  return files.filter((f) => !out.some((p) => f === p || f.startsWith(`${p}/`)));
}
