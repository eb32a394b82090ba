// Test support for Rampart replicas on etcd: a fast simnode fleet config on the etcd store
// and coordination, `rampart up` replicas as child processes, and what their logs say.

import { randomBytes } from 'node:crypto';
import { type CliRun, runCli } from './fleet.ts';

export interface EtcdFleetOptions {
  readonly endpoints: readonly string[];
  readonly leaseTtl?: string;
  readonly sentries: { min: number; capacity: number; max: number };
  readonly scaleUpCooldown?: string;
  readonly scaleDownPeriod?: string;
  readonly failTolerance?: number;
  /** etcd call timeout. */
  readonly timeout?: string;
}

/** Like fastFleetConfig, on etcd: a validator and a sentry pool, intervals in hundreds of ms. */
export function etcdFleetConfig(o: EtcdFleetOptions): string {
  const prefix = `/rampart-test/${randomBytes(6).toString('hex')}/`;
  return `version: 1
controller:
  evaluationInterval: 300ms
  store:
    kind: etcd
    endpoints: [${o.endpoints.join(', ')}]
    prefix: ${prefix}
    timeout: ${o.timeout ?? '2s'}
  coordination: { kind: etcd, leaseTtl: ${o.leaseTtl ?? '3s'} }
metrics:
  - { name: nodes, kind: scrape, staleAfter: 5s, timeout: 1s }
providers:
  - { name: here, kind: local, dataDir: nodes }
pools:
  - name: validator
    role: validator
    provider: here
    node: { kind: simnode, blockTimeMs: 200 }
    health: { checkInterval: 300ms }
  - name: sentries
    role: sentry
    provider: here
    node: { kind: simnode, validatorPool: validator, txCapacity: 20, syncRate: 2000 }
    size: { min: ${o.sentries.min}, capacity: ${o.sentries.capacity}, max: ${o.sentries.max} }
    scaleUp:
      cooldown: ${o.scaleUpCooldown ?? '1s'}
      rules: [ { metric: "nodes:simnode_utilization_ratio", comparator: ">", threshold: 0.7, step: 1 } ]
    scaleDown:
      period: ${o.scaleDownPeriod ?? '1s'}
      lockAttemptPeriod: 100ms
      rules: [ { metric: "nodes:simnode_utilization_ratio", comparator: "<", threshold: 0.2 } ]
    health: { checkInterval: 300ms, failTolerance: ${o.failTolerance ?? 20}, joinRetries: 3, joinTimeout: 60s }
`;
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
