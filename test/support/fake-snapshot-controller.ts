// A FAKE CSI snapshot controller for the Kubernetes test bed: no CSI driver runs here, so
// nothing would ever make a VolumeSnapshot ready. This marks each VolumeSnapshot of a
// namespace readyToUse (with creationTime and restoreSize, through the status subresource,
// as the real controller does), unless it is paused — then snapshots stay not ready, as
// with a stuck driver. A snapshot whose source claim (or itself) carries the label
// `fake.rampart.dev/fail` gets a status.error instead, as a failing driver reports; one
// labelled `fake.rampart.dev/never-ready` (itself or its claim) is never made ready.

import type { KubeControlPlane } from './kube.ts';

/** Label that makes the fake fail a snapshot (on the VolumeSnapshot or on its source claim). */
export const FAKE_FAIL_LABEL = 'fake.rampart.dev/fail';
/** Label that makes the fake leave a snapshot not ready for ever (on the VolumeSnapshot or on its source claim). */
export const FAKE_NEVER_READY_LABEL = 'fake.rampart.dev/never-ready';

interface Snapshot {
  metadata: { name: string; labels?: Record<string, string>; deletionTimestamp?: string };
  spec: { source: { persistentVolumeClaimName?: string } };
  status?: { readyToUse?: boolean; error?: unknown };
}

export interface FakeSnapshotController {
  stop(): void;
  /** While paused, no snapshot becomes ready (nor fails). */
  pause(paused: boolean): void;
  /** Names of the snapshots it made ready, in order. */
  readonly readied: string[];
  /** Size it reports as status.restoreSize. Default 1Gi. */
  restoreSize: string;
}

export function fakeSnapshotController(kube: KubeControlPlane, namespace: string): FakeSnapshotController {
  let stopped = false;
  let paused = false;
  const base = `/apis/snapshot.storage.k8s.io/v1/namespaces/${namespace}/volumesnapshots`;
  const controller: FakeSnapshotController = {
    stop: () => {
      stopped = true;
    },
    pause: (p) => {
      paused = p;
    },
    readied: [],
    restoreSize: '1Gi',
  };
  /** The labels that steer the fake: the snapshot's own over its source claim's. */
  const steering = async (s: Snapshot): Promise<Record<string, string>> => {
    const claim = s.spec.source.persistentVolumeClaimName;
    let claimLabels: Record<string, string> = {};
    if (claim) {
      const c = await kube.request<{ metadata: { labels?: Record<string, string> } }>(
        'GET',
        `/api/v1/namespaces/${namespace}/persistentvolumeclaims/${claim}`,
      );
      if (c.status === 200) claimLabels = c.body.metadata.labels ?? {};
    }
    return { ...claimLabels, ...s.metadata.labels };
  };
  const round = async () => {
    const list = await kube.ok<{ items: Snapshot[] }>('GET', base);
    for (const s of list.items) {
      if (paused || s.status?.readyToUse || s.status?.error || s.metadata.deletionTimestamp) continue;
      const labels = await steering(s);
      if (labels[FAKE_NEVER_READY_LABEL] !== undefined) continue;
      const fail = labels[FAKE_FAIL_LABEL];
      const now = new Date().toISOString();
      await kube.ok('PATCH', `${base}/${s.metadata.name}/status`, {
        contentType: 'application/merge-patch+json',
        body: fail
          ? { status: { readyToUse: false, error: { message: `fake driver: ${fail}`, time: now } } }
          : { status: { readyToUse: true, creationTime: now, restoreSize: controller.restoreSize } },
      });
      if (!fail) controller.readied.push(s.metadata.name);
    }
  };
  const loop = async () => {
    while (!stopped) {
      await round().catch(() => undefined);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  void loop();
  return controller;
}
