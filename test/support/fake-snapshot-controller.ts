// A FAKE CSI snapshot controller for the Kubernetes test bed: no CSI driver runs here, so
// nothing would ever make a VolumeSnapshot ready. This marks each VolumeSnapshot of a
// namespace readyToUse (through the status subresource, as the real controller does),
// unless it is paused — then snapshots stay not ready, as with a stuck driver.

import type { KubeControlPlane } from './kube.ts';

interface Snapshot {
  metadata: { name: string };
  status?: { readyToUse?: boolean };
}

export function fakeSnapshotController(
  kube: KubeControlPlane,
  namespace: string,
): { stop(): void; pause(paused: boolean): void; readied: string[] } {
  let stopped = false;
  let paused = false;
  const readied: string[] = [];
  const base = `/apis/snapshot.storage.k8s.io/v1/namespaces/${namespace}/volumesnapshots`;
  const round = async () => {
    const list = await kube.ok<{ items: Snapshot[] }>('GET', base);
    for (const s of list.items) {
      if (paused || s.status?.readyToUse) continue;
      await kube.ok('PATCH', `${base}/${s.metadata.name}/status`, {
        contentType: 'application/merge-patch+json',
        body: { status: { readyToUse: true, creationTime: new Date().toISOString(), restoreSize: '1Gi' } },
      });
      readied.push(s.metadata.name);
    }
  };
  const loop = async () => {
    while (!stopped) {
      await round().catch(() => undefined);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  void loop();
  return {
    stop: () => {
      stopped = true;
    },
    pause: (p) => {
      paused = p;
    },
    readied,
  };
}
