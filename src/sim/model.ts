// The simulated pool: nodes requested, pending, ready or failed, with the model's timings,
// capacity and costs. Time is seconds since the trace's start; nothing here reads a clock.

import { exponential, seededRandom } from './rng.ts';

/** The simulator's model of nodes, metrics and failures. Every field has a default. */
export interface ModelOptions {
  /** Work units per second one ready node serves. Default 100. */
  readonly nodeCapacity: number;
  /** Seconds from a request to a booted node (provisioning). Default 30. */
  readonly provisionSeconds: number;
  /** Seconds to restore the newest snapshot onto a booted node. Default 60. */
  readonly restoreSeconds: number;
  /** Seconds a booted node needs to sync from genesis when there is no snapshot. Default 21600 (6h). */
  readonly genesisSyncSeconds: number;
  /** How a new node gets its state: `snapshot` (restore) or `genesis` (sync from scratch). Default snapshot. */
  readonly bootstrap: 'snapshot' | 'genesis';
  /** Seconds between two scrapes of sim:utilization and sim:load. Default 10. */
  readonly scrapeInterval: number;
  /** Node failures per node-hour (exponential, seeded). Default 0: no failures. */
  readonly failureRate: number;
  /** Seconds after a failure at which a baseline's platform replaces the node. Default 60. */
  readonly platformReplaceSeconds: number;
  /** Seed of the failure draws. Default 1. */
  readonly seed: number;
  /**
   * Ready nodes at the start, for every policy alike. Default: enough for the trace's first
   * load at 60% utilization, within the pool's min and max.
   */
  readonly initialNodes?: number | undefined;
  /** Restored-but-idle nodes Rampart's policy keeps beside the pool (a warm pool). Default 0. */
  readonly warmPool: number;
  /** Seconds from taking a warm node to it serving. Default 10. */
  readonly warmStartSeconds: number;
  /** What a warm node costs per hour, relative to a running one. Default 1 (they run, idle). */
  readonly warmCost: number;
}

export const DEFAULT_MODEL: ModelOptions = {
  nodeCapacity: 100,
  provisionSeconds: 30,
  restoreSeconds: 60,
  genesisSyncSeconds: 21_600,
  bootstrap: 'snapshot',
  scrapeInterval: 10,
  failureRate: 0,
  platformReplaceSeconds: 60,
  seed: 1,
  initialNodes: undefined,
  warmPool: 0,
  warmStartSeconds: 10,
  warmCost: 1,
};

/** Seconds from a node's request to it serving: provisioning plus restore (or genesis sync). */
export function readyDelay(m: ModelOptions): number {
  return m.provisionSeconds + (m.bootstrap === 'genesis' ? m.genesisSyncSeconds : m.restoreSeconds);
}

export type SimNodeState = 'pending' | 'ready' | 'failed';

export interface SimNode {
  readonly id: string;
  /** When it was requested, s. */
  readonly requestedAt: number;
  /** When it serves (or would have served), s. */
  readyAt: number;
  /** When it fails, s; Infinity if it never does. */
  failAt: number;
  state: SimNodeState;
  /** When it became ready or failed, s. */
  since: number;
  /** Set once it is removed. */
  gone: boolean;
}

export interface PoolCounts {
  readonly ready: number;
  readonly pending: number;
  readonly failed: number;
}

/**
 * A pool of simulated nodes. `create` adds pending nodes that serve after the model's delay
 * (or the warm-start time while warm nodes last); `remove` takes a node away at once.
 */
export class SimPool {
  readonly model: ModelOptions;
  /** Pending nodes, by the time they become ready (earliest first). */
  readonly pending: SimNode[] = [];
  /** Ready nodes, in the order they became ready. */
  readonly ready: SimNode[] = [];
  readonly failed: SimNode[] = [];
  readonly #delay: number;
  readonly #random: () => number;
  /** Scheduled failures; an entry is void once its node is gone, failed or restarted. */
  readonly #failures = new MinHeap<{ node: SimNode; at: number }>((e) => e.at);
  /** Failed nodes a platform will replace, with when (FIFO: one constant delay). */
  readonly #replacements: { at: number; node: SimNode }[] = [];
  /** Times at which each warm slot is warm again (0 = warm now). */
  readonly #warmSlots: number[];
  readonly #replaceAfter: number | undefined;
  /** The size a platform was last told to keep (resize); replacements restore it. */
  #target: number | undefined;
  #seq = 0;
  /** Called after every change of the ready or live count. */
  onChange: ((t: number) => void) | undefined;

  constructor(
    model: ModelOptions,
    opts: { replaceFailedAfter?: number | undefined; warmPool?: number } = {},
  ) {
    this.model = model;
    this.#delay = readyDelay(model);
    this.#random = seededRandom(model.seed);
    this.#replaceAfter = opts.replaceFailedAfter;
    this.#warmSlots = Array.from({ length: opts.warmPool ?? 0 }, () => 0);
  }

  get counts(): PoolCounts {
    return { ready: this.ready.length, pending: this.pending.length, failed: this.failed.length };
  }

  /** Nodes that occupy a slot: pending, ready and failed-but-not-yet-removed. */
  get live(): number {
    return this.pending.length + this.ready.length + this.failed.length;
  }

  /** Nodes paid for per hour: every live node, plus the warm pool at its relative cost. */
  get costRate(): number {
    return this.live + this.#warmSlots.length * this.model.warmCost;
  }

  /**
   * Adds nodes that are ready at once: the pool's state when the simulation starts. They were
   * requested long before (requestedAt −Infinity), so no initialization period applies to them.
   */
  seedReady(t: number, count: number): SimNode[] {
    const out: SimNode[] = [];
    for (let i = 0; i < count; i++) {
      const node = this.#newNode(t, t, Number.NEGATIVE_INFINITY);
      node.state = 'ready';
      this.ready.push(node);
      out.push(node);
    }
    this.onChange?.(t);
    return out;
  }

  /** Requests `count` nodes at time t; each serves after the model's delay (or a warm start). */
  create(t: number, count: number): SimNode[] {
    const out: SimNode[] = [];
    for (let i = 0; i < count; i++) {
      const warm = this.#takeWarm(t);
      const node = this.#newNode(t, warm ? t + this.model.warmStartSeconds : t + this.#delay);
      this.#insertPending(node);
      out.push(node);
    }
    if (count > 0) this.onChange?.(t);
    return out;
  }

  /** Starts a node's join again from scratch (a rejoin): it serves after the full delay. */
  restart(t: number, node: SimNode): void {
    this.#detach(node);
    node.gone = false;
    node.state = 'pending';
    node.since = t;
    node.readyAt = t + this.#delay;
    node.failAt = t + exponential(this.#random, this.model.failureRate / 3600);
    if (Number.isFinite(node.failAt)) this.#failures.push({ node, at: node.failAt });
    this.#insertPending(node);
    this.onChange?.(t);
  }

  /** Removes one node at once, whatever its state. */
  remove(t: number, node: SimNode): void {
    if (node.gone) return;
    this.#detach(node);
    node.gone = true;
    this.onChange?.(t);
  }

  /**
   * Removes `count` nodes the way a platform scaling in by count does: failed ones first, then
   * pending ones (latest to serve first), then ready ones (newest first).
   */
  removeNewest(t: number, count: number): void {
    let left = count;
    while (left > 0 && this.failed.length > 0) {
      this.failed.pop()!.gone = true;
      left--;
    }
    while (left > 0 && this.pending.length > 0) {
      this.pending.pop()!.gone = true;
      left--;
    }
    while (left > 0 && this.ready.length > 0) {
      this.ready.pop()!.gone = true;
      left--;
    }
    if (left < count) this.onChange?.(t);
  }

  /**
   * Sets the pool's target size (a platform's: a failed node still holds its slot until it is
   * replaced) and creates or removes nodes to reach it.
   */
  resize(t: number, desired: number): void {
    this.#target = desired;
    const current = this.live;
    if (desired > current) this.create(t, desired - current);
    else if (desired < current) this.removeNewest(t, current - desired);
  }

  /** The next time something happens by itself (a node becomes ready, fails, is replaced). */
  nextEventAt(): number {
    let next = Number.POSITIVE_INFINITY;
    const p = this.pending[0];
    if (p) next = p.readyAt;
    this.#dropVoidFailures();
    const f = this.#failures.peekKey();
    if (f < next) next = f;
    const r = this.#replacements[0];
    if (r && r.at < next) next = r.at;
    return next;
  }

  /** Applies everything due at or before t, in time order. */
  advanceTo(t: number): void {
    let changed = false;
    for (;;) {
      this.#dropVoidFailures();
      const readyAt = this.pending[0]?.readyAt ?? Number.POSITIVE_INFINITY;
      const failAt = this.#failures.peekKey();
      const replaceAt = this.#replacements[0]?.at ?? Number.POSITIVE_INFINITY;
      const next = Math.min(readyAt, failAt, replaceAt);
      if (next > t) break;
      changed = true;
      if (failAt === next) {
        const { node } = this.#failures.pop()!;
        this.#detach(node);
        node.state = 'failed';
        node.since = failAt;
        this.failed.push(node);
        if (this.#replaceAfter !== undefined)
          this.#replacements.push({ at: failAt + this.#replaceAfter, node });
      } else if (readyAt === next) {
        const node = this.pending.shift()!;
        node.state = 'ready';
        node.since = readyAt;
        this.ready.push(node);
      } else {
        const { node } = this.#replacements.shift()!;
        if (!node.gone) {
          const want = this.#target ?? this.live;
          this.remove(replaceAt, node);
          this.create(replaceAt, Math.max(0, want - this.live));
        }
      }
    }
    if (changed) this.onChange?.(t);
  }

  #newNode(t: number, readyAt: number, requestedAt = t): SimNode {
    const node: SimNode = {
      id: `n${++this.#seq}`,
      requestedAt,
      readyAt,
      failAt: t + exponential(this.#random, this.model.failureRate / 3600),
      state: 'pending',
      since: t,
      gone: false,
    };
    if (Number.isFinite(node.failAt)) this.#failures.push({ node, at: node.failAt });
    return node;
  }

  #insertPending(node: SimNode): void {
    const list = this.pending;
    let i = list.length;
    while (i > 0 && list[i - 1]!.readyAt > node.readyAt) i--;
    list.splice(i, 0, node);
  }

  #detach(node: SimNode): void {
    const list = node.state === 'pending' ? this.pending : node.state === 'ready' ? this.ready : this.failed;
    // Removals are mostly of the newest nodes: search from the end.
    const i = list.lastIndexOf(node);
    if (i >= 0) list.splice(i, 1);
  }

  #dropVoidFailures(): void {
    for (;;) {
      const top = this.#failures.peek();
      if (!top || (!top.node.gone && top.node.state !== 'failed' && top.node.failAt === top.at)) return;
      this.#failures.pop();
    }
  }

  #takeWarm(t: number): boolean {
    const slots = this.#warmSlots;
    for (let i = 0; i < slots.length; i++)
      if (slots[i]! <= t) {
        // The warm node is used; its slot refills with a fresh node after the full delay.
        slots[i] = t + this.#delay;
        return true;
      }
    return false;
  }
}

/** A binary min-heap keyed by a number. */
class MinHeap<T> {
  readonly #items: T[] = [];
  readonly #key: (item: T) => number;
  constructor(key: (item: T) => number) {
    this.#key = key;
  }
  peek(): T | undefined {
    return this.#items[0];
  }
  peekKey(): number {
    const top = this.#items[0];
    return top === undefined ? Number.POSITIVE_INFINITY : this.#key(top);
  }
  push(item: T): void {
    const a = this.#items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.#key(a[parent]!) <= this.#key(a[i]!)) break;
      [a[parent], a[i]] = [a[i]!, a[parent]!];
      i = parent;
    }
  }
  pop(): T | undefined {
    const a = this.#items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.#key(a[l]!) < this.#key(a[m]!)) m = l;
        if (r < a.length && this.#key(a[r]!) < this.#key(a[m]!)) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i]!, a[m]!];
        i = m;
      }
    }
    return top;
  }
}
