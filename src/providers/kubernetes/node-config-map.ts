// The ConfigMap Rampart owns beside a StatefulSet (workload.configMap): what the pods read
// when they start — each replica's Rampart node id under `node-<ordinal>`, and the node
// kind's settings for its pods (a sentry's validator peers). Created when missing; only the
// keys written change, by merge patch, so two writers of different keys never collide.

import { type KubeClient, KubeError, kubePath } from '../../kube/kube-client.ts';

/** The key holding the Rampart node id of the replica of `ordinal` (its moniker, for CometBFT). */
export const nodeKey = (ordinal: number) => `node-${ordinal}`;

export class NodeConfigMap {
  readonly #client: KubeClient;
  readonly #namespace: string;
  readonly #name: string;
  readonly #labels: Record<string, string>;

  constructor(client: KubeClient, namespace: string, name: string, labels: Record<string, string>) {
    this.#client = client;
    this.#namespace = namespace;
    this.#name = name;
    this.#labels = labels;
  }

  get #path(): string {
    return kubePath('', 'v1', 'configmaps', this.#namespace, this.#name);
  }

  /** Its data now (empty when it does not exist). */
  async read(): Promise<Record<string, string>> {
    const cm = await this.#client.find<{ metadata: { name: string }; data?: Record<string, string> }>(
      this.#path,
    );
    return cm?.data ?? {};
  }

  /** Sets the keys given (a null removes one), creating the ConfigMap if it is missing. */
  async write(data: Readonly<Record<string, string | null>>): Promise<void> {
    try {
      await this.#client.mergePatch(this.#path, { data });
      return;
    } catch (e) {
      if (!(e instanceof KubeError && e.status === 404)) throw e;
    }
    const kept = Object.fromEntries(Object.entries(data).filter(([, v]) => v !== null));
    try {
      await this.#client.create(kubePath('', 'v1', 'configmaps', this.#namespace), {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: {
          name: this.#name,
          labels: { 'app.kubernetes.io/managed-by': 'rampart', ...this.#labels },
        },
        data: kept,
      });
    } catch (e) {
      // Made by another writer between the two calls: patch that one.
      if (!(e instanceof KubeError && e.status === 409)) throw e;
      await this.#client.mergePatch(this.#path, { data });
    }
  }
}
