// The `kubernetes` metric source: CPU and memory from the resource metrics API
// (metrics.k8s.io, served by metrics-server), per pod or per Node, read through the API server.

import type { Sample } from '../core/types.ts';
import { type KubeClient, KubeError } from '../kube/kube-client.ts';
import { parseBytes, parseCpu } from '../kube/quantity.ts';
import { MAX_BODY_BYTES, readCappedBody } from './http-fetch.ts';
import type { CollectError, CollectResult, MetricSource, MetricTarget } from './metric-source.ts';
import { positiveOption, refsForSource } from './source-refs.ts';

export interface KubernetesMetricsOptions {
  readonly name: string;
  readonly client: KubeClient;
  /** Longest wait for one list, ms. Default 2000. */
  readonly timeoutMs?: number | undefined;
}

export const DEFAULT_KUBERNETES_METRICS_TIMEOUT_MS = 2000;
/** More namespaces than this and one list of every namespace's pods replaces a list per namespace. */
export const MAX_NAMESPACE_LISTS = 8;

const API = '/apis/metrics.k8s.io/v1beta1';
const RESOURCES = ['cpu', 'memory'] as const;
type Resource = (typeof RESOURCES)[number];

interface Usage {
  readonly cpu?: string;
  readonly memory?: string;
}

/** A NodeMetrics (`usage`) or PodMetrics (`containers`) item. */
interface MetricsItem {
  readonly metadata?: { readonly name?: string; readonly namespace?: string };
  readonly timestamp?: string;
  readonly usage?: Usage;
  readonly containers?: readonly { readonly name?: string; readonly usage?: Usage }[];
}

/** An item that fits a target, and how it is named in messages (`pod chain/sentry-1`, `Node kwok-a`). */
interface Match {
  readonly label: string;
  readonly item: MetricsItem;
  readonly pod: boolean;
}

/**
 * Each ref is `name:cpu` (cores) or `name:memory` (bytes; a pod's is the sum over its containers).
 *
 * Which item is whose: a target that has an alias `namespace/pod` (the kubernetes provider gives
 * its pods one) is that pod's and nothing else's, so a pod of the same name in another namespace
 * or a Node of that name never stands in for it. Its pods are listed per namespace
 * (`namespaces/NS/pods`, which a namespaced RoleBinding can allow), or, above
 * MAX_NAMESPACE_LISTS namespaces, in one list of all. Every other target is matched by its node
 * id, host and aliases: first against Node names (`nodes` is listed only when such a target
 * exists), then, for those no Node fits, against bare pod names in a list of all namespaces' pods;
 * a bare name that fits pods in several namespaces gives no sample and an error (give the
 * target its `namespace/pod` alias). A name several targets share, or a target several items fit,
 * gives no sample and an error: mapping it would be a guess.
 *
 * `at` is the item's `timestamp` (when metrics-server scraped it), so `staleAfter` works. A failed
 * list is one error for the whole source and no samples from it; a target no item fits has no
 * sample, so the decisions that need it hold. Never throws.
 */
export class KubernetesMetricsSource implements MetricSource {
  readonly kind = 'kubernetes';
  readonly name: string;
  readonly #client: KubeClient;
  readonly #timeoutMs: number;

  constructor(options: KubernetesMetricsOptions) {
    this.name = options.name;
    this.#client = options.client;
    this.#timeoutMs = positiveOption(
      options.timeoutMs,
      DEFAULT_KUBERNETES_METRICS_TIMEOUT_MS,
      `kubernetes metric source ${options.name}: timeoutMs`,
    );
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

    const index = indexTargets(targets);
    const matches = new Map<string, Match[]>();
    const fit = (keys: readonly string[] | undefined, match: Match) => {
      if (keys === undefined) return;
      if (keys.length > 1) {
        errors.push({
          message: `${match.label} fits nodes ${keys.join(', ')}; none gets its sample (give each node a distinct name)`,
        });
        return;
      }
      const list = matches.get(keys[0]!);
      if (list === undefined) matches.set(keys[0]!, [match]);
      else list.push(match);
    };
    const podMatch = (item: MetricsItem): Match => ({
      label: `pod ${item.metadata?.namespace}/${item.metadata?.name}`,
      item,
      pod: true,
    });

    const everyNamespace = index.namespaces.size > MAX_NAMESPACE_LISTS;
    const podPaths = everyNamespace
      ? [`${API}/pods`]
      : [...index.namespaces].map((ns) => `${API}/namespaces/${encodeURIComponent(ns)}/pods`);
    const [nodes, ...podLists] = await Promise.all([
      index.plain.size > 0 ? this.#list(`${API}/nodes`, 'Node', signal, errors) : undefined,
      ...podPaths.map((path) => this.#list(path, 'pod', signal, errors)),
    ]);
    for (const list of podLists)
      for (const item of list ?? [])
        fit(index.pods.get(`${item.metadata?.namespace}/${item.metadata?.name}`), podMatch(item));
    if (nodes === undefined) return this.#emit(matches, wanted, samples, errors);
    for (const item of nodes)
      fit(index.plain.get(item.metadata?.name ?? ''), {
        label: `Node ${item.metadata?.name}`,
        item,
        pod: false,
      });

    // Bare pod names, for the targets no Node fits. Not after a failed Node list: its targets are
    // most likely Nodes, and a second list would only double the wait.
    const unmatched = index.plainTargets.some((id) => !matches.has(id));
    if (!unmatched) return this.#emit(matches, wanted, samples, errors);
    const allPods = everyNamespace ? podLists[0] : await this.#list(`${API}/pods`, 'pod', signal, errors);
    for (const item of allPods ?? []) {
      const name = item.metadata?.name ?? '';
      // A pod some target claims by `namespace/pod` is that target's alone.
      if (index.pods.has(`${item.metadata?.namespace}/${name}`)) continue;
      const keys = index.plain.get(name);
      if (keys?.length === 1 && matches.get(keys[0]!)?.some((m) => !m.pod)) continue;
      fit(keys, podMatch(item));
    }
    return this.#emit(matches, wanted, samples, errors);
  }

  /** One sample per wanted ref of each target exactly one item fits. */
  #emit(
    matches: ReadonlyMap<string, readonly Match[]>,
    wanted: readonly { ref: string; resource: Resource }[],
    samples: Sample[],
    errors: CollectError[],
  ): CollectResult {
    for (const [nodeId, found] of matches) {
      if (found.length > 1) {
        errors.push({
          target: nodeId,
          message:
            `${found.map((m) => m.label).join(' and ')} fit node ${nodeId} alike; it gets no sample ` +
            `(give it a namespace/pod alias, or names that fit one item only)`,
        });
        continue;
      }
      const { label, item, pod } = found[0]!;
      const at = Date.parse(item.timestamp ?? '');
      if (Number.isNaN(at)) {
        errors.push({
          target: nodeId,
          message: `${label}: no valid timestamp (${item.timestamp}); no sample`,
        });
        continue;
      }
      for (const { ref, resource } of wanted) {
        try {
          samples.push({
            ref,
            node: nodeId,
            value: pod ? podUsage(item, resource) : nodeUsage(item, resource),
            at,
          });
        } catch (error) {
          errors.push({ target: nodeId, message: `${label}: ${(error as Error).message}; no ${ref} sample` });
        }
      }
    }
    return { samples, errors };
  }

  /** The list's items, or undefined after adding one error that says what failed and what to check. */
  async #list(
    path: string,
    what: 'pod' | 'Node',
    signal: AbortSignal | undefined,
    errors: CollectError[],
  ): Promise<MetricsItem[] | undefined> {
    const fail = (why: string) => {
      errors.push({
        message: `${what} metrics: ${why}; no samples from this list, the decisions that need them hold`,
      });
      return undefined;
    };
    try {
      const { body } = await this.#client.request<{ items?: unknown }>('GET', path, {
        signal,
        timeoutMs: this.#timeoutMs,
        readBody: (chunks) => readCappedBody(chunks, { maxBytes: MAX_BODY_BYTES }),
      });
      if (!Array.isArray(body?.items)) return fail(`GET ${path} answered without an items list`);
      return body.items as MetricsItem[];
    } catch (error) {
      return fail(`${(error as Error).message}${hintFor(error, what === 'pod' ? 'pods' : 'nodes')}`);
    }
  }
}

function hintFor(error: unknown, resource: 'pods' | 'nodes'): string {
  if (!(error instanceof KubeError)) return '';
  if (error.status === 403) return ` (Rampart's account needs get and list on ${resource}.metrics.k8s.io)`;
  if (error.status === 404)
    return ' (the API server does not serve metrics.k8s.io/v1beta1: is metrics-server installed?)';
  if (error.status === 503)
    return ' (the APIService v1beta1.metrics.k8s.io is not available: is metrics-server running and reachable?)';
  return '';
}

interface TargetIndex {
  /** `namespace/pod` → the node ids of the targets with that alias. */
  readonly pods: Map<string, string[]>;
  readonly namespaces: Set<string>;
  /** Node id, host and alias of every target without a `namespace/pod` alias → their node ids. */
  readonly plain: Map<string, string[]>;
  readonly plainTargets: string[];
}

/** `namespace/pod`: a namespace is a DNS label, a pod name a DNS subdomain. */
const NAMESPACED = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?\/[a-z0-9](?:[-.a-z0-9]*[a-z0-9])?$/;

function indexTargets(targets: readonly MetricTarget[]): TargetIndex {
  const index: TargetIndex = { pods: new Map(), namespaces: new Set(), plain: new Map(), plainTargets: [] };
  const add = (map: Map<string, string[]>, key: string, nodeId: string) => {
    if (key === '') return;
    const ids = map.get(key);
    if (ids === undefined) map.set(key, [nodeId]);
    else if (!ids.includes(nodeId)) ids.push(nodeId);
  };
  for (const t of targets) {
    const podNames = (t.aliases ?? []).filter((a) => NAMESPACED.test(a));
    if (podNames.length > 0) {
      for (const name of podNames) {
        add(index.pods, name, t.nodeId);
        index.namespaces.add(name.slice(0, name.indexOf('/')));
      }
      continue;
    }
    index.plainTargets.push(t.nodeId);
    add(index.plain, t.nodeId, t.nodeId);
    add(index.plain, t.host, t.nodeId);
    for (const alias of t.aliases ?? []) add(index.plain, alias, t.nodeId);
  }
  return index;
}

function nodeUsage(item: MetricsItem, resource: Resource): number {
  const text = item.usage?.[resource];
  if (text === undefined) throw new Error(`no ${resource} in its usage`);
  return resource === 'cpu' ? parseCpu(text) : parseBytes(text);
}

/** The sum over the pod's containers; a pod without containers, or one without the resource, has none. */
function podUsage(item: MetricsItem, resource: Resource): number {
  const containers = item.containers ?? [];
  if (containers.length === 0) throw new Error('no containers in its metrics');
  let sum = 0;
  for (const c of containers) {
    const text = c.usage?.[resource];
    if (text === undefined) throw new Error(`container ${c.name} has no ${resource} in its usage`);
    sum += resource === 'cpu' ? parseCpu(text) : parseBytes(text);
  }
  return sum;
}
