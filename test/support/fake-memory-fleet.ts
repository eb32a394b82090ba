// A fleet held in memory, for controller tests that must choose exactly when a node turns ready:
// a provider whose instances are records in a map (FakeMemoryProvider) and a node kind whose
// probe answers what the test says (FakeScriptedKind). Both are fakes, named as such; the
// store and the coordination around them are the real SQLite and embedded ones.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { loadConfigFile } from '../../src/config/load.ts';
import { Controller } from '../../src/controller/controller.ts';
import type { NodeAddress, NodeKind } from '../../src/nodes/node-kind.ts';
import type { CreateRequest, Instance, Provider } from '../../src/providers/provider.ts';
import { createRuntime, type Runtime } from '../../src/runtime/runtime.ts';

export class FakeMemoryProvider implements Provider {
  readonly name = 'here';
  readonly kind = 'fake-memory';
  readonly instances = new Map<string, Instance>();
  #next = 1;

  async list(): Promise<Instance[]> {
    return [...this.instances.values()];
  }

  async create(req: CreateRequest): Promise<Instance> {
    const instance: Instance = {
      id: `mem-${this.#next++}`,
      nodeId: req.nodeId,
      pool: req.pool,
      actionId: req.actionId,
      term: req.term,
      host: '127.0.0.1',
      ports: { rpc: 1 },
      running: true,
      createdAt: Date.now(),
    };
    this.instances.set(instance.id, instance);
    return instance;
  }

  async destroy(instance: Instance): Promise<void> {
    this.instances.delete(instance.id);
  }
}

/** A node kind whose readiness the test decides, and which records who is wired to whom. */
export class FakeScriptedKind implements NodeKind {
  readonly kind = 'fake-scripted';
  readonly capabilities = { joinsOneAtATime: false, holdsSigningState: false, stateSync: 'never' as const };
  readonly portNames = ['rpc'];
  /** Node ids that probe ready; every other running node is still catching up. */
  readonly ready = new Set<string>();
  /** Upstream id → ids registered with it (what a validator's persistent peers would hold). */
  readonly wired = new Map<string, Set<string>>();

  processSpec(): never {
    throw new Error('FakeScriptedKind runs no process');
  }

  metricsUrl(): undefined {
    return undefined;
  }

  async probe(node: NodeAddress) {
    const ready = this.ready.has(node.id);
    return { reachable: true, ready, healthy: true, catchingUp: !ready, height: ready ? 10 : 1 };
  }

  async register(node: NodeAddress, upstream: NodeAddress): Promise<void> {
    if (!this.wired.has(upstream.id)) this.wired.set(upstream.id, new Set());
    this.wired.get(upstream.id)!.add(node.id);
  }

  async deregister(node: NodeAddress, upstream: NodeAddress): Promise<void> {
    this.wired.get(upstream.id)?.delete(node.id);
  }

  async connectedPeers(upstream: NodeAddress): Promise<string[]> {
    return [...(this.wired.get(upstream.id) ?? [])];
  }
}

export interface MemoryFleet {
  readonly dir: string;
  readonly provider: FakeMemoryProvider;
  readonly kind: FakeScriptedKind;
  /** A new runtime on the same store file, provider and kind (a controller restart). */
  runtime(storeFile?: string): Runtime;
  /** A controller that ticks only when told (`tick()`): its own loop waits an hour. */
  controller(runtime: Runtime, opts?: { adopt?: boolean }): Controller;
  cleanup(): void;
}

/**
 * A validator and a sentry pool (min 1, capacity 1 unless given, max 3, newest removed first)
 * on the fake provider, with intervals so long that nothing happens between the test's own ticks.
 */
export function memoryFleet(opts: { capacity?: number } = {}): MemoryFleet {
  const dir = mkdtempSync(path.join(tmpdir(), 'rampart-memory-fleet-'));
  const configFile = path.join(dir, 'rampart.yaml');
  writeFileSync(
    configFile,
    `version: 1
controller:
  evaluationInterval: 1h
  store: { kind: sqlite, path: state.db }
providers:
  - { name: here, kind: local, dataDir: nodes }
pools:
  - name: validator
    role: validator
    provider: here
    node: { kind: simnode }
    health: { checkInterval: 1h }
  - name: sentries
    role: sentry
    provider: here
    node: { kind: simnode, validatorPool: validator }
    size: { min: 1, capacity: ${opts.capacity ?? 1}, max: 3 }
    scaleDown: { period: 0s, lockAttemptPeriod: 0s }
    scaleIn: { select: newest }
    health: { checkInterval: 1h, joinTimeout: 1h }
`,
  );
  const provider = new FakeMemoryProvider();
  const kind = new FakeScriptedKind();
  const log = pino({ level: 'silent' });
  return {
    dir,
    provider,
    kind,
    runtime(storeFile) {
      let config = loadConfigFile(configFile).config;
      if (storeFile)
        config = {
          ...config,
          controller: { ...config.controller, store: { kind: 'sqlite', path: storeFile } },
        };
      return {
        ...createRuntime(config),
        providers: new Map([['here', provider]]),
        nodeKind: () => kind,
      };
    },
    controller(runtime, opts = {}) {
      return new Controller({ runtime, log, adopt: opts.adopt });
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
