// A small client for the part of etcd's v3 API that manages a cluster's membership, over
// etcd's own JSON gateway (`POST /v3/cluster/member/*`, `/v3/maintenance/*`, `GET /health`).
// Every call names the one member it asks: a probe must reach exactly that member, which
// the pooled gRPC client (it picks any endpoint) cannot promise.

/** One entry of the cluster's member list. */
export interface Member {
  /** etcd's member id: a uint64, kept as the decimal string the gateway sends. */
  readonly id: string;
  /** Empty until the member has started and published its name. */
  readonly name: string;
  readonly peerURLs: readonly string[];
  /** Empty until the member has started. */
  readonly clientURLs: readonly string[];
  readonly isLearner: boolean;
}

/** What one member says of itself (`/v3/maintenance/status`). */
export interface MemberStatus {
  readonly memberId: string;
  /** Member id of the leader it follows; "0" when it knows none. */
  readonly leader: string;
  /** Raft index it has committed (the leader's is the cluster's). */
  readonly raftIndex: number;
  /** Raft index it has applied. */
  readonly raftAppliedIndex: number;
  /** Key-value store revision. */
  readonly revision: number;
  readonly isLearner: boolean;
}

/** An error etcd answered with (its gRPC code and message), or a failed HTTP call. */
export class EtcdApiError extends Error {
  /** gRPC status code etcd gave, when it answered: 5 not found, 9 failed precondition, 14 unavailable. */
  readonly code: number | undefined;
  constructor(message: string, code?: number) {
    super(message);
    this.name = 'EtcdApiError';
    this.code = code;
  }
}

interface RawMember {
  ID?: string;
  name?: string;
  peerURLs?: string[];
  clientURLs?: string[];
  isLearner?: boolean;
}

const member = (m: RawMember): Member => ({
  id: String(m.ID ?? '0'),
  name: m.name ?? '',
  peerURLs: m.peerURLs ?? [],
  clientURLs: m.clientURLs ?? [],
  isLearner: m.isLearner === true,
});

async function post(
  clientUrl: string,
  path: string,
  body: Record<string, unknown>,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<Record<string, unknown>> {
  const url = `${clientUrl}${path}`;
  const signals = [AbortSignal.timeout(timeoutMs), ...(signal ? [signal] : [])];
  let res: Response;
  let parsed: Record<string, unknown>;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.any(signals),
    });
    parsed = (await res.json()) as Record<string, unknown>;
  } catch (e) {
    throw new EtcdApiError(`${url}: ${(e as Error).message}`);
  }
  if (typeof parsed.error === 'string' || !res.ok)
    throw new EtcdApiError(
      `${url}: ${String(parsed.message ?? parsed.error ?? `HTTP ${res.status}`)}`,
      typeof parsed.code === 'number' ? parsed.code : undefined,
    );
  return parsed;
}

/** The membership calls against one member, each bounded by `timeoutMs`. */
export interface MembersApi {
  readonly clientUrl: string;
  list(signal?: AbortSignal): Promise<Member[]>;
  /** Adds a member by its peer URL; returns it and the member list after the add. */
  add(peerUrl: string, learner: boolean): Promise<{ added: Member; members: Member[] }>;
  remove(memberId: string): Promise<void>;
  promote(memberId: string): Promise<void>;
  /** Asks this member, which must be the leader, to hand leadership to `memberId`. */
  moveLeader(memberId: string): Promise<void>;
  status(signal?: AbortSignal): Promise<MemberStatus>;
  /** `/health`: true when the member has a leader, no alarm, and serves a read through raft. */
  healthy(signal?: AbortSignal): Promise<boolean>;
}

export function membersApi(clientUrl: string, timeoutMs: number): MembersApi {
  return {
    clientUrl,
    async list(signal) {
      const r = await post(clientUrl, '/v3/cluster/member/list', {}, timeoutMs, signal);
      return ((r.members as RawMember[] | undefined) ?? []).map(member);
    },
    async add(peerUrl, learner) {
      const r = await post(
        clientUrl,
        '/v3/cluster/member/add',
        { peerURLs: [peerUrl], isLearner: learner },
        timeoutMs,
      );
      return {
        added: member(r.member as RawMember),
        members: ((r.members as RawMember[] | undefined) ?? []).map(member),
      };
    },
    async remove(memberId) {
      await post(clientUrl, '/v3/cluster/member/remove', { ID: memberId }, timeoutMs);
    },
    async promote(memberId) {
      await post(clientUrl, '/v3/cluster/member/promote', { ID: memberId }, timeoutMs);
    },
    async moveLeader(memberId) {
      await post(clientUrl, '/v3/maintenance/transfer-leadership', { targetID: memberId }, timeoutMs);
    },
    async status(signal) {
      const r = await post(clientUrl, '/v3/maintenance/status', {}, timeoutMs, signal);
      const header = (r.header ?? {}) as Record<string, unknown>;
      return {
        memberId: String(header.member_id ?? '0'),
        leader: String(r.leader ?? '0'),
        raftIndex: Number(r.raftIndex ?? 0),
        raftAppliedIndex: Number(r.raftAppliedIndex ?? 0),
        revision: Number(header.revision ?? 0),
        isLearner: r.isLearner === true,
      };
    },
    async healthy(signal) {
      try {
        const signals = [AbortSignal.timeout(timeoutMs), ...(signal ? [signal] : [])];
        const res = await fetch(`${clientUrl}/health`, { signal: AbortSignal.any(signals) });
        const body = (await res.json()) as { health?: unknown };
        return res.ok && String(body.health) === 'true';
      } catch {
        return false;
      }
    },
  };
}
