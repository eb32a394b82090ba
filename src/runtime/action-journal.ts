// The action journal: every action stores its intent before it runs and its outcome after,
// under the leadership term, so a controller killed at any point can be reconciled on restart.
// Shared by the controller's loop and failover's promotion.

import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Lock } from '../coordination/coordination.ts';
import type { ActionIntent, ActionKind } from '../store/store.ts';
import type { Runtime } from './runtime.ts';

/**
 * Fault injection for the crash-safety tests: when RAMPART_CRASH_AT names this point, the
 * process kills itself on the spot (SIGKILL: no cleanup, exactly like a power cut).
 */
export function crashPoint(name: string): void {
  if (process.env.RAMPART_CRASH_AT === name) process.kill(process.pid, 'SIGKILL');
}

/** A short random id: node and action ids are made of these. */
export function shortId(): string {
  return randomBytes(4).toString('hex');
}

export interface ActContext {
  readonly term: number;
  readonly log: Logger;
  /** Throws when this controller must no longer act. Called before every provider call. */
  guard(): void;
}

/**
 * `ctx`, whose guard also refuses once `lock` is lost: the work the lock serialises stops
 * before its next provider call, as it does when leadership is lost.
 */
export function guardedByLock(ctx: ActContext, lock: Lock, who: string): ActContext {
  return {
    ...ctx,
    guard: () => {
      ctx.guard();
      if (lock.lost.aborted) {
        const why = (lock.lost.reason as Error | undefined)?.message ?? `lock ${lock.name} lost`;
        throw new Error(`${why}: ${who} stops acting`);
      }
    },
  };
}

/** Runs one action with its intent stored before and its outcome after. */
export async function runAction(
  rt: Runtime,
  ctx: ActContext,
  a: {
    pool: string;
    kind: ActionKind;
    nodeId?: string | undefined;
    cause: string;
    detail?: Record<string, unknown>;
    /** Who asked (a request's caller). Default `controller`. */
    caller?: string | undefined;
  },
  body: (actionId: string) => Promise<string | undefined>,
  id = `a-${shortId()}`,
): Promise<void> {
  const intent: ActionIntent = {
    id,
    term: ctx.term,
    pool: a.pool,
    kind: a.kind,
    nodeId: a.nodeId,
    cause: a.cause,
    caller: a.caller ?? 'controller',
    startedAt: Date.now(),
    detail: a.detail,
  };
  await rt.store.beginAction(intent);
  crashPoint(`${a.kind}:after-intent`);
  let detail: string | undefined;
  try {
    ctx.guard();
    detail = await body(id);
  } catch (e) {
    const message = (e as Error).message;
    await rt.store.finishAction(id, 'failed', message, ctx.term, Date.now()).catch(() => undefined);
    throw e;
  }
  await rt.store.finishAction(id, 'succeeded', detail, ctx.term, Date.now());
}
