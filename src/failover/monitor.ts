// The failover monitor: polls each guarded validator on its own interval, apart from the
// scaling loop, judges it with detect.ts from its RPC and from the chain as its sentries see
// it, records every transition with its evidence, alerts, and asks for the standby. It never
// touches a key: the standby it asks for is a plain, non-signing full node.

import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Alert, AlertSeverity } from '../alerts/alert.ts';
import type { PoolConfig } from '../config/schema.ts';
import { status } from '../nodes/cometbft/rpc.ts';
import type { NodeAddress } from '../nodes/node-kind.ts';
import type { ActContext } from '../runtime/action-journal.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { sleepUnless } from '../runtime/sleep-unless.ts';
import type { StoredNode } from '../store/store.ts';
import { highestNode, recentSignatures } from './chain-view.ts';
import { observeValidator, type Transition, type ValidatorPoll } from './detect.ts';
import { type FailoverState, readFailover, updateFailover } from './failover-state.ts';

export interface AlertSink {
  send(alert: Alert): void;
}

type FailoverConfig = NonNullable<PoolConfig['failover']>;

export class FailoverMonitor {
  readonly #rt: Runtime;
  readonly #log: Logger;
  readonly #alerts: AlertSink | undefined;

  constructor(rt: Runtime, log: Logger, alerts?: AlertSink) {
    this.#rt = rt;
    this.#log = log;
    this.#alerts = alerts;
  }

  /** Pools it guards. */
  get pools(): PoolConfig[] {
    return this.#rt.config.pools.filter((p) => p.failover !== undefined);
  }

  /** Polls every guarded pool until `until` aborts (leadership lost or stopping). */
  async run(ctx: ActContext, until: AbortSignal): Promise<void> {
    await Promise.all(this.pools.map((p) => this.#guard(p, ctx, until)));
  }

  async #guard(pool: PoolConfig, ctx: ActContext, until: AbortSignal): Promise<void> {
    const cfg = pool.failover!;
    while (!until.aborted) {
      const started = Date.now();
      try {
        await this.#pollOnce(pool, cfg, await readFailover(this.#rt.store, pool.name), ctx, until);
      } catch (e) {
        if (until.aborted) return;
        this.#log.warn({ pool: pool.name, err: e }, 'failover poll failed; polling again');
      }
      const wait = Math.max(0, cfg.detect.pollInterval - (Date.now() - started));
      await sleepUnless(wait, until);
    }
  }

  async #pollOnce(
    pool: PoolConfig,
    cfg: FailoverConfig,
    state: FailoverState,
    ctx: ActContext,
    signal: AbortSignal,
  ): Promise<FailoverState> {
    const at = Date.now();
    const timeoutMs = Math.min(2000, Math.max(500, cfg.detect.pollInterval));
    const signer = await signerAddress(this.#rt, pool.name, state);
    // Nothing to guard yet: no validator node, or one that has never been ready (being
    // bootstrapped). Failover judges a validator once it has run; a start that never comes
    // up is the node's own failure, recorded by the loop.
    if (!signer?.everReady) return state;
    const poll: { -readonly [K in keyof ValidatorPoll]: ValidatorPoll[K] } = { at, reachable: false };
    let address = state.address;
    let nodeIds = state.nodeIds;
    let watchedFrom = state.watchedFrom;
    try {
      const s = await status(signer.address, timeoutMs, signal);
      poll.reachable = true;
      poll.height = s.height;
      watchedFrom ??= s.height;
      if (s.validatorAddress && s.votingPower > 0) {
        address = s.validatorAddress;
        if (!state.nodeIds?.includes(s.id)) nodeIds = [...(state.nodeIds ?? []), s.id].slice(-5);
      }
    } catch (e) {
      poll.error = shortError(e);
    }
    // The network's view: the sentries' heights, and the commits from the highest of them.
    const sentries = await sentryAddresses(this.#rt, pool.name);
    const best = await highestNode(sentries, timeoutMs, signal);
    if (best) {
      poll.networkHeight = best.height;
      if (address)
        try {
          poll.signed = await recentSignatures(
            best.node,
            best.height,
            address,
            cfg.detect.missedBlocks,
            timeoutMs,
            signal,
            watchedFrom,
          );
        } catch (e) {
          this.#log.debug({ pool: pool.name, err: shortError(e) }, 'could not read recent commits');
        }
    }

    const settings = {
      unreachableForMs: cfg.detect.unreachableFor,
      heightStalledForMs: cfg.detect.heightStalledFor,
      missedBlocks: cfg.detect.missedBlocks,
    };
    const { state: detect, transition } = observeValidator(state.detect, poll, settings);
    let next: FailoverState = {
      ...state,
      detect,
      address,
      nodeIds,
      watchedFrom,
      // The signatures too (newest first, from networkHeight − 1): the dashboard's signed and
      // missed blocks.
      lastPoll: {
        at,
        reachable: poll.reachable,
        height: poll.height,
        networkHeight: poll.networkHeight,
        signed: poll.signed,
      },
      lastSignedSeen:
        poll.signed?.[0] === true && poll.networkHeight !== undefined
          ? poll.networkHeight - 1
          : state.lastSignedSeen,
    };
    if (transition) next = await this.#onTransition(pool, cfg, next, transition, signer?.node, ctx);
    ctx.guard();
    // Only the monitor's own fields: a promotion may have moved the signer meanwhile.
    const polled = next;
    return updateFailover(this.#rt.store, pool.name, ctx.term, (current) => ({
      ...current,
      detect: polled.detect,
      address: polled.address,
      nodeIds: polled.nodeIds,
      watchedFrom: polled.watchedFrom,
      lastPoll: polled.lastPoll,
      lastSignedSeen: polled.lastSignedSeen,
      episodeStartedAt: polled.episodeStartedAt,
      standby: polled.standby,
      transitions: polled.transitions,
    }));
  }

  async #onTransition(
    pool: PoolConfig,
    cfg: FailoverConfig,
    state: FailoverState,
    t: Transition,
    node: string | undefined,
    ctx: ActContext,
  ): Promise<FailoverState> {
    const severity: AlertSeverity = t.to === 'down' ? 'critical' : t.to === 'suspect' ? 'warning' : 'info';
    const episodeStartedAt = t.from === 'healthy' ? t.at : (state.episodeStartedAt ?? t.at);
    let did = '';
    let standby = state.standby;
    if (t.to === 'down' && cfg.standbyPool) {
      standby = await this.#requestStandby(pool, cfg.standbyPool, 1, `${pool.name} down`);
      did = `; standby requested in pool ${cfg.standbyPool} (non-signing, from the newest snapshot)`;
    }
    if (t.to === 'recovered' && t.from === 'down' && cfg.standbyPool) {
      if (cfg.onRecovery === 'remove') {
        standby = await this.#requestStandby(pool, cfg.standbyPool, 0, `${pool.name} recovered`);
        did = `; standby in pool ${cfg.standbyPool} will be removed (onRecovery: remove)`;
      } else did = `; standby in pool ${cfg.standbyPool} kept synced (onRecovery: keep)`;
    }
    const text = `${t.summary}${did}`;
    await this.#rt.store.recordEvent(
      { at: t.at, pool: pool.name, node, severity: severity === 'info' ? 'info' : severity, text },
      ctx.term,
    );
    this.#log[t.to === 'down' ? 'error' : t.to === 'suspect' ? 'warn' : 'info'](
      { pool: pool.name, node, from: t.from, to: t.to, evidence: t.evidence },
      text,
    );
    this.#alerts?.send({
      key: `validator-down/${pool.name}`,
      name: 'RampartValidatorDown',
      severity: t.to === 'recovered' ? (t.from === 'down' ? 'critical' : 'warning') : severity,
      status: t.to === 'recovered' ? 'resolved' : 'firing',
      pool: pool.name,
      node,
      summary: text,
      description:
        t.to === 'recovered'
          ? 'The validator signs and advances again.'
          : 'Rampart never moves keys: if the validator stays down, fence it and promote the standby (docs/failover-runbook.md).',
      evidence: t.evidence,
      startsAt: episodeStartedAt,
      endsAt: t.to === 'recovered' ? t.at : undefined,
    });
    return {
      ...state,
      standby,
      episodeStartedAt: t.to === 'recovered' ? undefined : episodeStartedAt,
      transitions: [...state.transitions, { at: t.at, from: t.from, to: t.to, summary: text }].slice(-50),
    };
  }

  /** Asks the acting controller (this one, next tick) for a standby pool size; recorded with its caller. */
  async #requestStandby(
    pool: PoolConfig,
    standbyPool: string,
    size: number,
    why: string,
  ): Promise<FailoverState['standby']> {
    const id = `failover-${randomBytes(4).toString('hex')}`;
    await this.#rt.store.addRequest({
      id,
      at: Date.now(),
      kind: 'pool-size',
      body: { pool: standbyPool, size },
      caller: `failover of ${pool.name} (${why})`,
    });
    return { pool: standbyPool, size, request: id, at: Date.now() };
  }
}

/** The node that signs for the pool now: the promoted one, else the pool's own node. */
async function signerAddress(
  rt: Runtime,
  pool: string,
  state: FailoverState,
): Promise<{ node: string; address: NodeAddress; everReady: boolean } | undefined> {
  let node: StoredNode | undefined;
  if (state.signer) node = await rt.store.getNode(state.signer.node);
  else
    node = (await rt.store.listNodes({ pool, all: true }))
      .filter((n) => n.state !== 'gone' && n.host !== undefined && !state.fenced.includes(n.id))
      .sort((a, b) => b.createdAt - a.createdAt)[0];
  if (!node?.host || !node.ports) return undefined;
  return {
    node: node.id,
    address: { id: node.id, host: node.host, ports: node.ports },
    everReady: node.readyAt !== undefined,
  };
}

/** Ready sentries of the validator's sentry pools. */
export async function sentryAddresses(
  rt: Pick<Runtime, 'config' | 'store'>,
  validatorPool: string,
): Promise<NodeAddress[]> {
  const out: NodeAddress[] = [];
  for (const p of rt.config.pools.filter((x) => x.node.validatorPool === validatorPool))
    for (const n of await rt.store.listNodes({ pool: p.name }))
      if (n.state === 'ready' && n.host && n.ports) out.push({ id: n.id, host: n.host, ports: n.ports });
  return out;
}

function shortError(e: unknown): string {
  const err = e as Error & { cause?: { code?: string } };
  return err.cause?.code ?? (err.name === 'TimeoutError' ? 'timeout' : err.message);
}
