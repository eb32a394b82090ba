// Test support for Rampart replicas on etcd: a fast simnode fleet config on the etcd store
// and coordination, `rampart up` replicas as child processes, and what their logs say.

import { randomBytes } from 'node:crypto';
import type { Provider } from '../../src/providers/provider.ts';
import { type CliRun, fastFleetConfig, runCli, waitFor } from './fleet.ts';

export interface EtcdFleetOptions {
  readonly endpoints: readonly string[];
  readonly leaseTtl?: string;
  readonly sentries: { min: number; capacity: number; max: number };
  readonly scaleUpCooldown?: string;
  readonly scaleDownPeriod?: string;
  readonly failTolerance?: number;
  /** etcd call timeout. */
  readonly timeout?: string;
  readonly scaleDownBelow?: number;
  /** YAML appended after the pools (e.g. a `snapshots:` section). */
  readonly extra?: string;
}

/** Like fastFleetConfig, on etcd: a validator and a sentry pool, intervals in hundreds of ms. */
export function etcdFleetConfig(o: EtcdFleetOptions): string {
  const prefix = `/rampart-test/${randomBytes(6).toString('hex')}/`;
  return fastFleetConfig(o.sentries, {
    storeYaml: `  store:
    kind: etcd
    endpoints: [${o.endpoints.join(', ')}]
    prefix: ${prefix}
    timeout: ${o.timeout ?? '2s'}
  coordination: { kind: etcd, leaseTtl: ${o.leaseTtl ?? '3s'} }`,
    scaleUpCooldown: o.scaleUpCooldown,
    scaleDownPeriod: o.scaleDownPeriod,
    failTolerance: o.failTolerance,
    scaleDownBelow: o.scaleDownBelow,
    extra: o.extra,
  });
}

export interface Replica {
  readonly name: string;
  readonly run: CliRun;
  /** Terms this replica logged as leading, in order. */
  terms(): number[];
  /** Whether its last word on leadership was that it leads. */
  leading(): boolean;
  /** Log lines (parsed JSON) whose message matches. */
  logged(msg: RegExp): Record<string, unknown>[];
  readonly alive: boolean;
}

/** Starts `rampart up` as a replica; its JSON log lines are parsed on demand. */
export function startReplica(name: string, configFile: string): Replica {
  const run = runCli(['up', '-c', configFile]);
  const lines = () =>
    run
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => {
        try {
          return JSON.parse(l) as Record<string, unknown>;
        } catch {
          return {};
        }
      });
  return {
    name,
    run,
    terms: () =>
      lines()
        .filter((l) => l.msg === 'leading')
        .map((l) => Number(l.term)),
    leading: () => {
      const events = lines().filter(
        (l) => l.msg === 'leading' || /^not leading any more/.test(String(l.msg)),
      );
      return events.at(-1)?.msg === 'leading';
    },
    logged: (msg) => lines().filter((l) => typeof l.msg === 'string' && msg.test(l.msg)),
    get alive() {
      return run.child.exitCode === null && run.child.signalCode === null;
    },
  };
}

/** SIGTERM (a clean stop) or SIGKILL, and waits for the exit. */
export async function stopReplica(r: Replica, signal: NodeJS.Signals = 'SIGTERM') {
  if (!r.alive) return r.run.exited;
  r.run.child.kill(signal);
  return r.run.exited;
}

/**
 * Watches a provider's processes at every poll of `until`: never two instances of one node,
 * never more sentry processes than `maxSentries`. A timeout's message carries `context()`.
 */
export function watchedFleet(
  provider: Provider,
  maxSentries: number,
  context: () => Promise<string> | string,
) {
  const violations: string[] = [];
  const check = async () => {
    const running = (await provider.list()).filter((i) => i.running);
    const perNode = new Map<string, number>();
    for (const i of running) perNode.set(i.nodeId, (perNode.get(i.nodeId) ?? 0) + 1);
    for (const [node, n] of perNode) if (n > 1) violations.push(`${node} runs ${n} instances`);
    const sentries = running.filter((i) => i.pool === 'sentries').length;
    if (sentries > maxSentries) violations.push(`${sentries} sentry processes > max ${maxSentries}`);
  };
  const until = async <T>(what: string, fn: () => Promise<T> | T, ms = 60_000): Promise<T> => {
    try {
      return await waitFor(
        what,
        async () => {
          await check();
          return fn();
        },
        ms,
      );
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${await context()}`);
    }
  };
  return { violations, until };
}
