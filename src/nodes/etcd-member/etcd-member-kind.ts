// Node kind `etcd-member` (seed 003's members): each node is one member of the pool's own
// etcd cluster, named by its Rampart node id.
//
// - Bootstrapping: the pool's first member (no other live member) starts a new cluster.
//   Every later one is added with `member add` — as a raft learner by default, so that a
//   member added but not yet started or caught up never counts against quorum — and started
//   with `--initial-cluster-state=existing` and the initial cluster the add returned. Members
//   join one at a time: etcd allows one learner at a time, and the controller creates no
//   member while another is joining.
// - Ready: started, `/health` true, a voting member (a learner is promoted by the controller
//   once it is within `maxLagEntries` raft entries of the leader), and within that many
//   entries of the leader's committed index.
// - Leaving: `member remove` before the process is stopped. A live voting member is taken
//   out only if at least `minMembers` voting members stay and every one of them is healthy;
//   a leader hands its leadership to the most caught-up other member first. A learner, a
//   member that never started, or one that does not answer at all is removed whatever the
//   size: it adds nothing to the cluster's fault tolerance, and a dead voter raises quorum.
// - Crash safety: entries no running node accounts for (a controller killed between `member
//   add` and the start, a member whose process died, a failed join) are removed — before a
//   new member is added, and on every tick through `membership.pending` — once they are
//   confirmed dead (never started, or not answering). A rejoin removes its own old entry first.
// Calls go to etcd's JSON gateway, one named member at a time (members-api.ts).

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { NodeProbe } from '../../core/types.ts';
import type {
  ClusterMembership,
  LaunchContext,
  MembershipStep,
  NodeAddress,
  NodeKind,
  ProbeContext,
  ProcessSpec,
} from '../node-kind.ts';
import {
  describeEntry,
  entryOf,
  initialClusterFor,
  type PoolMemberRef,
  removalRefusal,
  unaccountedEntries,
} from './cluster-view.ts';
import type { EtcdMemberOptions } from './config.ts';
import { EtcdApiError, type Member, type MemberStatus, type MembersApi, membersApi } from './members-api.ts';

export type { EtcdMemberOptions };

/** How a new member starts, written by prepare into its data dir and read by processSpec. */
interface JoinPlan {
  readonly initialCluster: string;
  readonly state: 'new' | 'existing';
  readonly token: string;
}

const JOIN_FILE = 'rampart-join.json';
/**
 * etcd refuses a membership change ("unhealthy cluster") until its leader has been connected
 * to every voting member for its health interval, 5 s: a member counts as ready only this
 * long after its process started, so the next member's add is not refused.
 */
const SETTLE_MS = 6000;
/** gRPC NOT_FOUND: the member is not (or no longer) in the cluster. */
const NOT_FOUND = 5;

export function etcdBinary(options: { binary?: string | undefined }): string {
  return options.binary ?? process.env.RAMPART_ETCD ?? '/usr/bin/etcd';
}

const clientUrlOf = (n: { host: string; ports: Readonly<Record<string, number>> }) =>
  `http://${n.host}:${n.ports.client}`;
const peerUrlOf = (n: { host: string; ports: Readonly<Record<string, number>> }) =>
  `http://${n.host}:${n.ports.peer}`;
const refOf = (n: NodeAddress): PoolMemberRef => ({ id: n.id, peerUrl: peerUrlOf(n) });

export function createEtcdMemberKind(o: EtcdMemberOptions): NodeKind {
  const binary = etcdBinary(o);
  const apiAt = (clientUrl: string): MembersApi => membersApi(clientUrl, o.timeout);
  const apiOfNode = (n: NodeAddress) => apiAt(clientUrlOf(n));
  const apiOfEntry = (m: Member) => (m.clientURLs[0] ? apiAt(m.clientURLs[0]) : undefined);

  /** The member list from whichever of `nodes` answers first (a learner cannot answer it). */
  async function reachCluster(
    nodes: readonly NodeAddress[],
    signal?: AbortSignal,
  ): Promise<{ api: MembersApi; members: Member[] }> {
    if (nodes.length === 0) throw new Error('no running member to ask');
    try {
      return await Promise.any(
        nodes.map(async (n) => {
          const api = apiOfNode(n);
          return { api, members: await api.list(signal) };
        }),
      );
    } catch (e) {
      const errors = (e as AggregateError).errors?.map((x: Error) => x.message) ?? [(e as Error).message];
      throw new Error(`no member answers the member list (${errors.join('; ')})`);
    }
  }

  /** Entries that are dead for sure: never started, or not answering a status call. */
  async function deadOnes(entries: readonly Member[], signal?: AbortSignal): Promise<Member[]> {
    const verdicts = await Promise.all(
      entries.map(async (m) => {
        const api = apiOfEntry(m);
        if (!api) return true;
        return api.status(signal).then(
          () => false,
          () => true,
        );
      }),
    );
    return entries.filter((_, i) => verdicts[i]);
  }

  /** The leader's own status, found through any voting member that answers. */
  async function leaderStatus(members: readonly Member[], signal?: AbortSignal): Promise<MemberStatus> {
    for (const m of members.filter((x) => !x.isLearner)) {
      const api = apiOfEntry(m);
      if (!api) continue;
      try {
        const st = await api.status(signal);
        if (st.leader === st.memberId) return st;
        const leader = members.find((x) => x.id === st.leader);
        const leaderApi = leader && apiOfEntry(leader);
        if (leaderApi) return await leaderApi.status(signal);
      } catch {
        // Ask the next one.
      }
    }
    throw new Error('no member knows a reachable leader');
  }

  async function removeEntry(api: MembersApi, id: string): Promise<boolean> {
    try {
      await api.remove(id);
      return true;
    } catch (e) {
      if (e instanceof EtcdApiError && e.code === NOT_FOUND) return false;
      throw e;
    }
  }

  /** Process start of each member (by its metrics address), read once from its /metrics. */
  const startedAt = new Map<string, number>();
  /** How long the member's process has run, ms; undefined when its /metrics does not say. */
  async function upFor(node: NodeAddress, signal?: AbortSignal): Promise<number | undefined> {
    const key = `${node.id}@${node.host}:${node.ports.metrics}`;
    let start = startedAt.get(key);
    if (start === undefined) {
      try {
        const signals = [AbortSignal.timeout(o.timeout), ...(signal ? [signal] : [])];
        const text = await (
          await fetch(`http://${node.host}:${node.ports.metrics}/metrics`, {
            signal: AbortSignal.any(signals),
          })
        ).text();
        const m = /^process_start_time_seconds\s+(\S+)/m.exec(text);
        if (!m) return undefined;
        start = Number(m[1]) * 1000;
        if (startedAt.size > 1000) startedAt.clear();
        startedAt.set(key, start);
      } catch {
        return undefined;
      }
    }
    return Date.now() - start;
  }

  const membership: ClusterMembership = {
    async pending(nodes, signal) {
      if (nodes.length === 0) return [];
      let cluster: { members: Member[] };
      try {
        cluster = await reachCluster(nodes, signal);
      } catch {
        return [];
      }
      const steps: MembershipStep[] = [];
      for (const m of await deadOnes(unaccountedEntries(cluster.members, nodes.map(refOf)), signal))
        steps.push({
          kind: 'remove-stale',
          memberId: m.id,
          why: `member ${describeEntry(m)} belongs to no running node of the pool and does not answer: removing it so that it never counts against quorum`,
        });
      const learners = cluster.members.filter((m) => m.isLearner && m.clientURLs.length > 0);
      if (learners.length === 0) return steps;
      const leader = await leaderStatus(cluster.members, signal).catch(() => undefined);
      if (!leader) return steps;
      for (const l of learners) {
        const node = nodes.find((n) => n.id === l.name);
        const st =
          node &&
          (await apiOfNode(node)
            .status(signal)
            .catch(() => undefined));
        if (!node || !st) continue;
        const lag = Math.max(0, leader.raftIndex - st.raftAppliedIndex);
        if (lag <= o.maxLagEntries)
          steps.push({
            kind: 'promote',
            memberId: l.id,
            nodeId: node.id,
            why: `learner ${node.id} is ${lag} raft entries behind the leader (at most ${o.maxLagEntries}): promoting it to a voting member`,
          });
      }
      return steps;
    },

    async apply(step, nodes) {
      const { api } = await reachCluster(nodes);
      if (step.kind === 'promote') {
        try {
          await api.promote(step.memberId);
        } catch (e) {
          // Promoting a member that is already voting: done (a step taken twice).
          if (/can only promote a learner member$/.test((e as Error).message))
            return `${step.nodeId ?? step.memberId} is already a voting member`;
          throw e;
        }
        return `promoted ${step.nodeId ?? 'it'} (member ${step.memberId}) to a voting member`;
      }
      return (await removeEntry(api, step.memberId))
        ? `removed stale member ${step.memberId}`
        : `member ${step.memberId} was already gone`;
    },

    async leave(node, others, { pool }) {
      let cluster: { api: MembersApi; members: Member[] };
      try {
        cluster = await reachCluster([...others, node]);
      } catch (e) {
        throw new Error(`pool ${pool}: cannot take member ${node.id} out: ${(e as Error).message}; kept it`);
      }
      const entry = entryOf(cluster.members, refOf(node));
      if (!entry) return `${node.id} is no member of the cluster (already removed)`;
      let via = cluster.api;
      let handedOver = '';
      const voters = cluster.members.filter((m) => !m.isLearner);
      const self = entry.isLearner
        ? undefined
        : await apiOfNode(node)
            .status()
            .catch(() => undefined);
      if (self) {
        // A live voting member: it counts towards the cluster's fault tolerance.
        const rest = voters.filter((m) => m.id !== entry.id);
        const health = await Promise.all(
          rest.map(async (m) => ({ m, ok: (await apiOfEntry(m)?.healthy()) ?? false })),
        );
        const refusal = removalRefusal({
          pool,
          nodeId: node.id,
          voters: voters.length,
          minMembers: o.minMembers,
          unhealthyOthers: health.filter((h) => !h.ok).map((h) => describeEntry(h.m)),
        });
        if (refusal) throw new Error(refusal);
        via = apiOfEntry(rest[0]!)!;
        if (self.leader === entry.id) {
          // Hand leadership to the most caught-up member first: a graceful transfer, not an election.
          const statuses = await Promise.all(
            rest.map(async (m) => ({
              m,
              st: await apiOfEntry(m)!
                .status()
                .catch(() => undefined),
            })),
          );
          const target = statuses
            .filter((s) => s.st !== undefined)
            .sort((a, b) => b.st!.raftAppliedIndex - a.st!.raftAppliedIndex)[0]?.m;
          if (target) {
            try {
              await apiOfNode(node).moveLeader(target.id);
              handedOver = `; leadership handed to ${target.name || target.id} first`;
            } catch {
              // etcd moves leadership itself when its leader is removed: a short election.
            }
          }
        }
      } else if (via.clientUrl === clientUrlOf(node)) {
        // Ask a member that stays, when one answers.
        via = (await reachCluster(others).catch(() => undefined))?.api ?? via;
      }
      try {
        if (!(await removeEntry(via, entry.id)))
          return `${node.id} is no member of the cluster (already removed)`;
      } catch (e) {
        throw new Error(
          `pool ${pool}: member remove of ${node.id} (member ${entry.id}) failed: ${(e as Error).message}; kept it`,
        );
      }
      const left = voters.filter((m) => m.id !== entry.id).length;
      return `member remove ${node.id} (id ${entry.id}${entry.isLearner ? ', a learner' : self ? '' : ', not answering'})${handedOver}: ${left} voting member(s) left`;
    },
  };

  return {
    kind: 'etcd-member',
    capabilities: { joinsOneAtATime: true, holdsSigningState: false, stateSync: 'never' },
    portNames: ['client', 'peer', 'metrics'],

    async prepare(ctx: LaunchContext): Promise<void> {
      const siblings = ctx.siblings;
      if (siblings === undefined)
        throw new Error(
          `etcd member ${ctx.nodeId}: the pool's other members are not known; refusing to start a cluster of its own`,
        );
      const self: PoolMemberRef = { id: ctx.nodeId, peerUrl: peerUrlOf(ctx) };
      const token = `rampart-${ctx.pool}-${ctx.nodeId}`;
      let join: JoinPlan;
      if (siblings.length === 0) {
        join = { initialCluster: `${ctx.nodeId}=${self.peerUrl}`, state: 'new', token };
      } else {
        let cluster: { api: MembersApi; members: Member[] };
        try {
          cluster = await reachCluster(siblings);
        } catch (e) {
          throw new Error(`pool ${ctx.pool}: cannot add member ${ctx.nodeId}: ${(e as Error).message}`);
        }
        // This node's own entry from an earlier attempt, and dead entries no running node
        // accounts for: they would block the add (one learner at a time) or cost quorum.
        const own = cluster.members.filter((m) => m.name === self.id || m.peerURLs.includes(self.peerUrl));
        const dead = await deadOnes(
          unaccountedEntries(cluster.members, siblings.map(refOf)).filter((m) => !own.includes(m)),
        );
        for (const m of [...own, ...dead]) await removeEntry(cluster.api, m.id);
        const gone = new Set([...own, ...dead].map((m) => m.id));
        const joining = cluster.members.find(
          (m) => !gone.has(m.id) && (m.isLearner || m.clientURLs.length === 0),
        );
        if (joining)
          throw new Error(
            `pool ${ctx.pool}: member ${describeEntry(joining)} is still joining; etcd members join one at a time, so ${ctx.nodeId} is not added now`,
          );
        let added: { added: Member; members: Member[] } | undefined;
        // Refused while the leader's links to the members are younger than 5 s (a member just
        // joined or restarted): asked again until that has passed.
        for (const deadline = Date.now() + SETTLE_MS + 2000; !added; ) {
          try {
            added = await cluster.api.add(self.peerUrl, o.learner);
          } catch (e) {
            if (/unhealthy cluster/.test((e as Error).message) && Date.now() < deadline) {
              await sleep(500);
              continue;
            }
            throw new Error(`pool ${ctx.pool}: member add of ${ctx.nodeId} failed: ${(e as Error).message}`);
          }
        }
        join = {
          initialCluster: initialClusterFor(added.members, added.added, ctx.nodeId),
          state: 'existing',
          token,
        };
      }
      mkdirSync(ctx.dataDir, { recursive: true });
      writeFileSync(path.join(ctx.dataDir, JOIN_FILE), `${JSON.stringify(join, null, 2)}\n`);
    },

    processSpec(ctx: LaunchContext): ProcessSpec {
      const file = path.join(ctx.dataDir, JOIN_FILE);
      let join: JoinPlan;
      try {
        join = JSON.parse(readFileSync(file, 'utf8')) as JoinPlan;
      } catch (e) {
        throw new Error(
          `etcd member ${ctx.nodeId}: ${file}: ${(e as Error).message} (prepare must run first)`,
        );
      }
      const client = clientUrlOf(ctx);
      const peer = peerUrlOf(ctx);
      return {
        command: binary,
        args: [
          `--name=${ctx.nodeId}`,
          `--data-dir=${path.join(ctx.dataDir, 'data')}`,
          `--listen-client-urls=${client}`,
          `--advertise-client-urls=${client}`,
          `--listen-peer-urls=${peer}`,
          `--initial-advertise-peer-urls=${peer}`,
          `--listen-metrics-urls=http://${ctx.host}:${ctx.ports.metrics}`,
          `--initial-cluster=${join.initialCluster}`,
          `--initial-cluster-state=${join.state}`,
          `--initial-cluster-token=${join.token}`,
          '--logger=zap',
          '--log-level=warn',
          ...o.extraArgs,
        ],
      };
    },

    metricsUrl: (node) =>
      node.ports.metrics ? `http://${node.host}:${node.ports.metrics}/metrics` : undefined,

    async probe(node: NodeAddress, ctx: ProbeContext): Promise<NodeProbe> {
      const api = apiOfNode(node);
      let st: MemberStatus;
      try {
        st = await api.status(ctx.signal);
      } catch (e) {
        return {
          reachable: false,
          ready: false,
          healthy: false,
          detail: `unreachable: ${(e as Error).message}`,
        };
      }
      const height = st.revision;
      if (st.isLearner)
        return {
          reachable: true,
          height,
          catchingUp: true,
          ready: false,
          healthy: true,
          detail: `learner at raft index ${st.raftAppliedIndex}: promoted once within ${o.maxLagEntries} entries of the leader`,
        };
      if (!(await api.healthy(ctx.signal)))
        return {
          reachable: true,
          height,
          ready: false,
          healthy: false,
          detail: '/health is not true (no leader, an alarm, or no quorum)',
        };
      let members: Member[];
      try {
        members = await api.list(ctx.signal);
      } catch (e) {
        return { reachable: true, height, ready: false, healthy: false, detail: (e as Error).message };
      }
      const me = members.find((m) => m.id === st.memberId);
      if (me?.name !== node.id)
        return {
          reachable: true,
          height,
          ready: false,
          healthy: false,
          detail: `${api.clientUrl} answers as member ${me?.name ? `"${me.name}"` : st.memberId}, not ${node.id}`,
        };
      const peers = members.filter((m) => m.id !== me.id && m.clientURLs.length > 0).length;
      let lag = 0;
      if (st.leader !== st.memberId) {
        const leader = members.find((m) => m.id === st.leader);
        const leaderApi = leader && apiOfEntry(leader);
        let leaderIndex: number;
        try {
          if (!leaderApi) throw new Error(`leader ${st.leader} is not a started member`);
          leaderIndex = (await leaderApi.status(ctx.signal)).raftIndex;
        } catch (e) {
          return {
            reachable: true,
            height,
            peers,
            ready: false,
            healthy: true,
            detail: `cannot compare with the leader: ${(e as Error).message}`,
          };
        }
        lag = Math.max(0, leaderIndex - st.raftAppliedIndex);
      }
      const behind = lag > o.maxLagEntries;
      const up = behind ? undefined : await upFor(node, ctx.signal);
      const settling = up !== undefined && up < SETTLE_MS;
      return {
        reachable: true,
        height,
        peers,
        catchingUp: behind,
        ready: !behind && !settling,
        healthy: true,
        detail: behind
          ? `behind the leader by ${lag} raft entries (more than ${o.maxLagEntries})`
          : settling
            ? `caught up, started ${Math.round(up / 1000)}s ago: ready ${SETTLE_MS / 1000}s after its start, once etcd accepts the next membership change`
            : undefined,
      };
    },

    // etcd members have no upstream: joining and leaving their cluster is `membership`.
    async register(): Promise<void> {},
    async deregister(): Promise<void> {},
    async connectedPeers(): Promise<string[]> {
      return [];
    },

    membership,
  };
}
