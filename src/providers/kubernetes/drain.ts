// Draining a worker Node before its machine goes, as `kubectl drain` does: cordon it, evict
// its pods through the Eviction API (so PodDisruptionBudgets hold), wait until they are
// gone. A drain that cannot finish in time is undone (uncordoned) and reported per pod.

import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import { type KubeClient, KubeError, type KubeObject, kubePath } from '../../kube/kube-client.ts';

/** Annotation on a Node Rampart is draining; its value says why. Removed on uncordon. */
export const DRAINING_ANNOTATION = 'rampart.dev/draining';
/** The kubelet marks the API copies of static pods with this; they cannot be evicted. */
const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror';
/** Longest pause between two looks at the Node's pods while waiting for them to go, ms. */
const GONE_POLL_MS = 250;

export interface Pod extends KubeObject {
  readonly spec?: { readonly nodeName?: string };
  readonly status?: { readonly phase?: string };
}

interface LabelSelector {
  readonly matchLabels?: Record<string, string>;
  readonly matchExpressions?: readonly { key: string; operator: string; values?: readonly string[] }[];
}

interface PodDisruptionBudget extends KubeObject {
  readonly spec?: { readonly selector?: LabelSelector | null };
  readonly status?: {
    readonly disruptionsAllowed?: number;
    readonly currentHealthy?: number;
    readonly desiredHealthy?: number;
  };
}

export interface DrainOptions {
  readonly client: KubeClient;
  readonly node: string;
  /** Written into the draining annotation (e.g. `scale-down of node sentries-3 by rampart`). */
  readonly reason: string;
  /** Longest the whole drain may take, ms. */
  readonly timeoutMs: number;
  /** Time between two eviction attempts of a pod a disruption budget blocks, ms. */
  readonly retryMs: number;
  /** Names what the Node stands for in messages (`machine i-0abc`). */
  readonly subject: string;
  /** Someone else had cordoned the Node before: an undone drain leaves it cordoned. */
  readonly cordonedBefore?: boolean | undefined;
  readonly log?: Logger | undefined;
}

/** Pods a drain leaves alone: mirror pods, DaemonSet pods, finished pods, pods already terminating. */
export function evictable(pod: Pod): boolean {
  const m = pod.metadata;
  if (m.annotations?.[MIRROR_ANNOTATION] !== undefined) return false;
  // A DaemonSet tolerates the cordon and would put its pod right back.
  if (m.ownerReferences?.some((o) => o.kind === 'DaemonSet' && o.controller === true)) return false;
  if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return false;
  return m.deletionTimestamp === undefined;
}

/** Whether a label selector matches a set of labels; an absent selector matches nothing. */
export function selectorMatches(selector: LabelSelector | null | undefined, labels: Record<string, string>) {
  if (!selector) return false;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const value = labels[e.key];
    const within = has && (e.values ?? []).includes(value as string);
    if (e.operator === 'In' && !within) return false;
    if (e.operator === 'NotIn' && within) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

const podKey = (p: Pod) => `${p.metadata.namespace}/${p.metadata.name}`;

/** Marks the Node unschedulable, with the annotation saying why. */
export async function cordon(client: KubeClient, node: string, reason: string): Promise<void> {
  await client.mergePatch(kubePath('', 'v1', 'nodes', undefined, node), {
    metadata: { annotations: { [DRAINING_ANNOTATION]: reason } },
    spec: { unschedulable: true },
  });
}

/** Undoes `cordon` (only the annotation when the cordon was not ours); a gone Node is fine. */
export async function uncordon(client: KubeClient, node: string, keepCordoned = false): Promise<void> {
  try {
    await client.mergePatch(kubePath('', 'v1', 'nodes', undefined, node), {
      metadata: { annotations: { [DRAINING_ANNOTATION]: null } },
      ...(keepCordoned ? {} : { spec: { unschedulable: null } }),
    });
  } catch (e) {
    if (!(e instanceof KubeError && e.status === 404)) throw e;
  }
}

/** Why the PodDisruptionBudget(s) of a pod refuse its eviction, from their status. */
async function budgetsBlocking(client: KubeClient, pod: Pod): Promise<string | undefined> {
  const ns = pod.metadata.namespace ?? 'default';
  const budgets = await client.list<PodDisruptionBudget>(
    kubePath('policy', 'v1', 'poddisruptionbudgets', ns),
  );
  const mine = budgets.filter((b) => selectorMatches(b.spec?.selector, pod.metadata.labels ?? {}));
  if (mine.length === 0) return undefined;
  return mine
    .map((b) => {
      const s = b.status ?? {};
      return `PodDisruptionBudget ${ns}/${b.metadata.name} allows ${s.disruptionsAllowed ?? 0} disruptions (${s.currentHealthy ?? 0} healthy, ${s.desiredHealthy ?? 0} desired)`;
    })
    .join('; ');
}

/**
 * Cordons the Node, evicts every evictable pod on it (retrying those a disruption budget
 * blocks every `retryMs`) and waits until the evicted pods are gone. Resolves once the
 * Node holds nothing that must move; on the deadline or any refusal other than a budget,
 * uncordons the Node and throws, naming each pod still in the way and why.
 */
export async function drainNode(o: DrainOptions): Promise<void> {
  const { client, node, log } = o;
  const deadline = Date.now() + o.timeoutMs;
  const where = `drain of Node ${node} (${o.subject})`;
  await cordon(client, node, o.reason);
  log?.info({ node, reason: o.reason }, `${where}: cordoned`);
  /** Pods asked to go, by uid: waited for until no pod of that uid remains on the Node. */
  const evicted = new Map<string, string>();
  /** Pods a budget refused: when to ask again and what blocked them. */
  const blocked = new Map<string, { nextTryAt: number; why: string; key: string }>();
  try {
    for (;;) {
      const pods = await client.list<Pod>(kubePath('', 'v1', 'pods'), {
        fieldSelector: `spec.nodeName=${node}`,
      });
      const present = new Set(pods.map((p) => p.metadata.uid ?? podKey(p)));
      for (const uid of evicted.keys()) if (!present.has(uid)) evicted.delete(uid);
      for (const uid of blocked.keys()) if (!present.has(uid)) blocked.delete(uid);
      const waiting = pods.filter((p) => evictable(p) && !evicted.has(p.metadata.uid ?? podKey(p)));
      for (const pod of waiting) {
        const uid = pod.metadata.uid ?? podKey(pod);
        const before = blocked.get(uid);
        if (before && Date.now() < before.nextTryAt) continue;
        const outcome = await evict(client, pod);
        if (outcome === 'evicted') {
          blocked.delete(uid);
          evicted.set(uid, podKey(pod));
          log?.info({ node, pod: podKey(pod) }, `${where}: evicted pod ${podKey(pod)}`);
        } else {
          const why = (await budgetsBlocking(client, pod)) ?? outcome.refusal;
          blocked.set(uid, { nextTryAt: Date.now() + o.retryMs, why, key: podKey(pod) });
          // Said once per pod and reason, not at every retry.
          if (before?.why !== why)
            log?.warn({ node, pod: podKey(pod) }, `${where}: eviction of pod ${podKey(pod)} refused: ${why}`);
        }
      }
      if (evicted.size === 0 && blocked.size === 0 && waiting.length === 0) {
        log?.info({ node }, `${where}: done`);
        return;
      }
      if (Date.now() >= deadline) {
        const stuck = [
          ...[...blocked.values()].map((b) => `pod ${b.key}: ${b.why}`),
          ...[...evicted.values()].map((key) => `pod ${key}: evicted, still terminating`),
        ];
        throw new DrainTimeout(
          `${where}: gave up after ${o.timeoutMs} ms waiting for its pods to be evicted: ${stuck.join('; ')}.`,
        );
      }
      const nextTry = Math.min(...[...blocked.values()].map((b) => b.nextTryAt), Date.now() + GONE_POLL_MS);
      await delay(Math.max(10, Math.min(nextTry, deadline) - Date.now()));
    }
  } catch (e) {
    let undone = o.cordonedBefore
      ? `Node ${node} stays cordoned, as it was before the drain`
      : `Node ${node} is uncordoned and keeps serving`;
    await uncordon(client, node, o.cordonedBefore).catch((u: unknown) => {
      undone = `Node ${node} could NOT be uncordoned (${(u as Error).message}): uncordon it by hand`;
    });
    if (e instanceof DrainTimeout) throw new Error(`${e.message} ${undone}; nothing was deleted.`);
    throw new Error(`${where}: ${(e as Error).message}. ${undone}; nothing was deleted.`, { cause: e });
  }
}

/** The drain's deadline passed; its message lists what was still in the way. */
class DrainTimeout extends Error {}

/** One eviction: done (or the pod is gone already), or refused with the server's words. */
async function evict(client: KubeClient, pod: Pod): Promise<'evicted' | { refusal: string }> {
  const ns = pod.metadata.namespace ?? 'default';
  try {
    await client.create(kubePath('', 'v1', 'pods', ns, pod.metadata.name, 'eviction'), {
      apiVersion: 'policy/v1',
      kind: 'Eviction',
      metadata: { name: pod.metadata.name, namespace: ns },
      // The pod's own uid: never evict a successor that took its name.
      deleteOptions: pod.metadata.uid ? { preconditions: { uid: pod.metadata.uid } } : undefined,
    });
    return 'evicted';
  } catch (e) {
    // 404: gone already; 409: its uid precondition failed, so the pod we meant is gone.
    if (e instanceof KubeError && (e.status === 404 || e.status === 409)) return 'evicted';
    // 429: a disruption budget says not now. 500 with several budgets on one pod is a
    // misconfiguration the API reports the same way; both wait for the deadline.
    if (e instanceof KubeError && (e.status === 429 || e.status === 500)) return { refusal: e.message };
    throw e;
  }
}
