// The `kubernetes` metric source: CPU and memory from the resource metrics API
// (metrics.k8s.io, served by metrics-server), per pod (kube-pod nodes) or per Node
// (kube-node nodes), read through the API server in one or two lists per collect.

import type { Sample } from '../core/types.ts';
import type { KubeClient } from '../kube/kube-client.ts';
import type { CollectError, CollectResult, MetricSource, MetricTarget } from './metric-source.ts';
import { refsForSource } from './source-refs.ts';

export interface KubernetesMetricsOptions {
  readonly name: string;
  readonly client: KubeClient;
  /** Per list call, ms. Default 2000. */
  readonly timeoutMs?: number | undefined;
}

type Usage = { readonly cpu?: string; readonly memory?: string };

interface MetricsItem {
  readonly metadata: { readonly name: string; readonly namespace?: string };
  readonly timestamp?: string;
  readonly window?: string;
  /** NodeMetrics. */
  readonly usage?: Usage;
  /** PodMetrics: one entry per container. */
  readonly containers?: readonly { readonly name: string; readonly usage?: Usage }[];
}

const RESOURCES = ['cpu', 'memory'] as const;
type Resource = (typeof RESOURCES)[number];

const API = '/apis/metrics.k8s.io/v1beta1';

/**
 * Each ref is `name:cpu` (cores) or `name:memory` (bytes). A pod item maps to the target
 * whose node id, host or alias is `namespace/pod`, else the pod's plain name (pod names can
 * repeat across namespaces: the kubernetes provider gives its instances both aliases, so the
 * namespaced match wins); a Node item maps by its name. Nodes are listed only when some
 * target has no pod. A failed list is one error for the whole source and no samples; a
 * target without an item has no sample, so the decision holds. `at` is the item's timestamp.
 */
export class KubernetesMetricsSource implements MetricSource {
  readonly kind = 'kubernetes';
  readonly name: string;
  readonly #client: KubeClient;
  readonly #timeoutMs: number;

  constructor(options: KubernetesMetricsOptions) {
    this.name = options.name;
    this.#client = options.client;
    this.#timeoutMs = options.timeoutMs ?? 2000;
  }

  async collect(
    refs: readonly string[],
    targets: readonly MetricTarget[],
    signal?: AbortSignal,
  ): Promise<CollectResult> {
    const { refs: accepted, errors } = refsForSource(this.name, refs);
    const wanted: { ref: string; resource: Resource }[] = [];
    for (const r of accepted) {
      if ((RESOURCES as readonly string[]).includes(r.expr))
        wanted.push({ ref: r.ref, resource: r.expr as Resource });
      else
        errors.push({
          message: `"${r.ref}": the resource metrics API has cpu (cores) and memory (bytes), not "${r.expr}"`,
        });
    }
    const samples: Sample[] = [];
    if (wanted.length === 0 || targets.length === 0) return { samples, errors };

    // Every name a target goes by → its node id; a name two targets share maps to neither.
    const byName = new Map<string, string | null>();
    const add = (key: string, nodeId: string) => {
      const had = byName.get(key);
      byName.set(key, had === undefined || had === nodeId ? nodeId : null);
    };
    for (const t of targets) {
      add(t.nodeId, t.nodeId);
      add(t.host, t.nodeId);
      for (const a of t.aliases ?? []) add(a, t.nodeId);
    }

    const matched = new Set<string>();
    const emit = (item: MetricsItem, nodeId: string, usage: Record<Resource, number>) => {
      const at = item.timestamp ? Date.parse(item.timestamp) : Date.now();
      matched.add(nodeId);
      for (const w of wanted) samples.push({ ref: w.ref, node: nodeId, value: usage[w.resource], at });
    };

    const pods = await this.#list('pods', signal, errors);
    if (pods === undefined) return { samples, errors };
    for (const item of pods) {
      const ns = item.metadata.namespace;
      const nodeId =
        (ns === undefined ? undefined : byName.get(`${ns}/${item.metadata.name}`)) ??
        byName.get(item.metadata.name);
      if (!nodeId || matched.has(nodeId)) continue;
      const usage = { cpu: 0, memory: 0 };
      try {
        for (const c of item.containers ?? []) {
          usage.cpu += parseCpu(c.usage?.cpu ?? '0');
          usage.memory += parseBytes(c.usage?.memory ?? '0');
        }
      } catch (e) {
        errors.push({ target: nodeId, message: `pod ${ns}/${item.metadata.name}: ${(e as Error).message}` });
        continue;
      }
      emit(item, nodeId, usage);
    }

    if (targets.some((t) => !matched.has(t.nodeId))) {
      const nodes = await this.#list('nodes', signal, errors);
      for (const item of nodes ?? []) {
        const nodeId = byName.get(item.metadata.name);
        if (!nodeId || matched.has(nodeId)) continue;
        try {
          emit(item, nodeId, {
            cpu: parseCpu(item.usage?.cpu ?? '0'),
            memory: parseBytes(item.usage?.memory ?? '0'),
          });
        } catch (e) {
          errors.push({ target: nodeId, message: `node ${item.metadata.name}: ${(e as Error).message}` });
        }
      }
    }
    return { samples, errors };
  }

  async #list(
    resource: 'pods' | 'nodes',
    signal: AbortSignal | undefined,
    errors: CollectError[],
  ): Promise<MetricsItem[] | undefined> {
    try {
      const r = await this.#client.request<{ items?: MetricsItem[] }>('GET', `${API}/${resource}`, {
        signal,
        timeoutMs: this.#timeoutMs,
      });
      return r.body?.items ?? [];
    } catch (e) {
      errors.push({ message: `${resource} from metrics.k8s.io: ${(e as Error).message}` });
      return undefined;
    }
  }
}

const DECIMAL: Readonly<Record<string, number>> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};
const BINARY: Readonly<Record<string, number>> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** A Kubernetes quantity (`250m`, `1500000n`, `128Mi`, `1e9`, `1G`) as a plain number. */
export function parseQuantity(text: string): number {
  const m = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$/.exec(
    text.trim(),
  );
  if (!m) throw new Error(`"${text}" is not a Kubernetes quantity`);
  const base = Number(m[1]);
  if (m[2] !== undefined) return Number(`${m[1]}${m[2]}`);
  const suffix = m[3] ?? '';
  return base * (BINARY[suffix] ?? DECIMAL[suffix]!);
}

/** CPU in cores. */
export function parseCpu(text: string): number {
  return parseQuantity(text);
}

/** Memory in bytes (whole bytes: a fraction of a byte is rounded up, as Kubernetes does). */
export function parseBytes(text: string): number {
  return Math.ceil(parseQuantity(text));
}
