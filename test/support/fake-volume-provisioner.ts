// A FAKE volume provisioner for the Kubernetes test bed: kwok runs no storage driver, and
// the scheduler's VolumeBinding plugin places a pod only once its claims are bound. This
// binds every Pending claim of a namespace to a hostPath PersistentVolume made for it
// (claimRef), which the real PV controller in kube-controller-manager then binds. No data
// is ever written. Paused, claims stay Pending and their pods unscheduled, as with a slow
// storage backend.

import type { KubeControlPlane } from './kube.ts';

interface Claim {
  metadata: { name: string; namespace: string; uid: string };
  spec: {
    accessModes?: string[];
    resources?: { requests?: { storage?: string } };
    storageClassName?: string;
  };
  status?: { phase?: string };
}

export interface FakeVolumeProvisioner {
  stop(): void;
  /** While paused, no claim is bound. */
  pause(paused: boolean): void;
}

export function fakeVolumeProvisioner(kube: KubeControlPlane, namespace: string): FakeVolumeProvisioner {
  const made = new Set<string>();
  let stopped = false;
  let paused = false;
  const round = async () => {
    const claims = await kube.ok<{ items: Claim[] }>(
      'GET',
      `/api/v1/namespaces/${namespace}/persistentvolumeclaims`,
    );
    for (const c of claims.items) {
      if (paused || c.status?.phase !== 'Pending' || made.has(c.metadata.uid)) continue;
      made.add(c.metadata.uid);
      const r = await kube.request('POST', '/api/v1/persistentvolumes', {
        body: {
          apiVersion: 'v1',
          kind: 'PersistentVolume',
          metadata: { name: `fake-${c.metadata.uid}` },
          spec: {
            capacity: { storage: c.spec.resources?.requests?.storage ?? '1Gi' },
            accessModes: c.spec.accessModes ?? ['ReadWriteOnce'],
            // Retain: the PV controller could not delete a hostPath volume (no provisioner runs).
            persistentVolumeReclaimPolicy: 'Retain',
            storageClassName: c.spec.storageClassName ?? '',
            hostPath: { path: `/tmp/fake-pv/${c.metadata.uid}` },
            claimRef: { namespace, name: c.metadata.name, uid: c.metadata.uid },
          },
        },
      });
      if (r.status !== 201 && r.status !== 409) made.delete(c.metadata.uid);
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
  };
}
