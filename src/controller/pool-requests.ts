// Requests about a pool, asked of the acting controller by other processes (the HTTP API):
// pause, resume, and a size set by hand. One guard serves the API (which refuses a bad request
// before recording it) and the controller (which checks again before acting).

import type { Config } from '../config/schema.ts';
import { type ActContext, runAction } from '../runtime/action-journal.ts';
import type { Runtime } from '../runtime/runtime.ts';
import type { PoolState, RequestRecord } from '../store/store.ts';
import { emptyPoolState } from './plan-pool.ts';

export const POOL_REQUEST_KINDS = ['pool-pause', 'pool-resume', 'pool-size'] as const;
export type PoolRequestKind = (typeof POOL_REQUEST_KINDS)[number];

export function isPoolRequestKind(kind: string): kind is PoolRequestKind {
  return (POOL_REQUEST_KINDS as readonly string[]).includes(kind);
}

/** Why a pool request must be refused, in words for the caller; undefined when it may run. */
export function poolRequestRefusal(
  config: Config,
  kind: PoolRequestKind,
  body: Readonly<Record<string, unknown>>,
): { status: 400 | 404; message: string } | undefined {
  const name = body.pool;
  const pool = config.pools.find((p) => p.name === name);
  if (typeof name !== 'string' || !pool)
    return {
      status: 404,
      message: `no pool "${String(name)}" (pools: ${config.pools.map((p) => p.name).join(', ')})`,
    };
  if (pool.role === 'validator' || !pool.size)
    return {
      status: 400,
      message: `pool ${pool.name} is a validator pool: it is never scaled, so it cannot be paused, resumed or sized`,
    };
  if (kind === 'pool-size') {
    const size = body.size;
    if (size === null) return undefined;
    const { min, max } = pool.size;
    if (typeof size !== 'number' || !Number.isInteger(size))
      return { status: 400, message: `size must be a whole number of nodes, or null for automatic sizing` };
    if (size < min || size > max)
      return {
        status: 400,
        message: `size ${size} is outside the bounds of pool ${pool.name}: min ${min}, max ${max}`,
      };
  }
  return undefined;
}

/** The pool state a request leads to, and what happened in plain words. */
function applyTo(
  state: PoolState,
  r: RequestRecord,
  kind: PoolRequestKind,
): { next: PoolState; detail: string } {
  switch (kind) {
    case 'pool-pause':
      if (state.paused)
        return {
          next: state,
          detail: `${state.name} was already paused (by ${state.pausedBy ?? 'the operator'})`,
        };
      return {
        next: { ...state, paused: true, pausedBy: r.caller },
        detail: `paused ${state.name}: observed, never acted on, until resumed`,
      };
    case 'pool-resume': {
      if (!state.paused) return { next: state, detail: `${state.name} was not paused` };
      const { pausedBy: _, ...rest } = state;
      return { next: { ...rest, paused: false }, detail: `resumed ${state.name}` };
    }
    case 'pool-size': {
      const size = r.body.size;
      if (typeof size === 'number')
        return {
          next: { ...state, manualSize: { size, by: r.caller, at: r.at } },
          detail: `size of ${state.name} set by hand to ${size}: scale rules do not apply until automatic sizing is restored`,
        };
      const { manualSize, ...rest } = state;
      return {
        next: rest,
        detail: manualSize
          ? `${state.name} back to automatic sizing (was set by hand to ${manualSize.size})`
          : `${state.name} was already sized automatically`,
      };
    }
  }
}

const ACTION_KIND = { 'pool-pause': 'pause', 'pool-resume': 'resume', 'pool-size': 'size' } as const;

/** Takes every open pool request, oldest first: each one an action recorded with its caller. */
export async function applyPoolRequests(
  rt: Runtime,
  ctx: ActContext,
  /** The open requests as the tick read them. Default: read from the store. */
  open?: readonly RequestRecord[],
): Promise<void> {
  const requests = (open ?? (await rt.store.openRequests())).filter((r) => isPoolRequestKind(r.kind));
  for (const r of requests) {
    ctx.guard();
    const kind = r.kind as PoolRequestKind;
    const refusal = poolRequestRefusal(rt.config, kind, r.body);
    if (refusal) {
      await rt.store.finishRequest(r.id, 'failed', refusal.message, ctx.term, Date.now());
      continue;
    }
    const pool = String(r.body.pool);
    let detail = '';
    try {
      await runAction(
        rt,
        ctx,
        {
          pool,
          kind: ACTION_KIND[kind],
          cause: `requested by ${r.caller}`,
          caller: r.caller,
          detail: { request: r.id, ...r.body },
        },
        async () => {
          const state = (await rt.store.getPool(pool)) ?? emptyPoolState(pool);
          const change = applyTo(state, r, kind);
          if (change.next !== state) await rt.store.putPool(change.next, ctx.term);
          detail = change.detail;
          return detail;
        },
      );
    } catch (e) {
      await rt.store.finishRequest(r.id, 'failed', (e as Error).message, ctx.term, Date.now());
      continue;
    }
    await rt.store.finishRequest(r.id, 'done', detail, ctx.term, Date.now());
    ctx.log.info({ pool, request: r.id, caller: r.caller }, detail);
  }
}
