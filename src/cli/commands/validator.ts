// `rampart validator status -c FILE [--pool P] [--key-dir DIR] [--json]`: the validator, its
// standby, the last signed height and what promote would check right now (a dry run); --json:
// one document, { validators: [{ pool, failover, validators, standbys, promoteDryRun }] }.
// `rampart validator promote -c FILE --pool P --to NODE --key-dir DIR [--old-powered-off]
// [--dry-run]`: the operator's promotion. With a controller running it is asked of it (it
// alone acts); without one, this command takes leadership and promotes itself.

import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config, PoolConfig } from '../../config/schema.ts';
import { readFailover } from '../../failover/failover-state.ts';
import {
  PROMOTE_REQUEST,
  type PromoteRequest,
  type PromoteReview,
  promoteValidator,
  reviewPromotion,
} from '../../failover/promote.ts';
import { createRuntime, type Runtime } from '../../runtime/runtime.ts';
import { loadConfigFrom, UsageError } from '../args.ts';
import { createLogger } from '../log.ts';
import { runningControllers } from '../running.ts';

export type ValidatorVerb = 'status' | 'promote';

export interface ValidatorFlags {
  readonly config?: string | undefined;
  /** The validator pool; promote needs it. status: default every pool with failover. */
  readonly pool?: string | undefined;
  /** promote: the standby node to promote. */
  readonly to?: string | undefined;
  /** The operator's folder holding priv_validator_key.json. */
  readonly keyDir?: string | undefined;
  /** promote: the old validator's machine is confirmed powered off. */
  readonly oldPoweredOff?: boolean | undefined;
  /** promote: run every check, change nothing. */
  readonly dryRun?: boolean | undefined;
  /** status: one JSON document. */
  readonly json?: boolean | undefined;
}

export async function validator(verb: ValidatorVerb, flags: ValidatorFlags): Promise<number> {
  const { config } = loadConfigFrom(flags);
  const guarded = config.pools.filter((p) => p.failover !== undefined);
  if (guarded.length === 0) throw new UsageError('rampart validator: no pool of the config has failover');
  const pools = flags.pool === undefined ? guarded : guarded.filter((p) => p.name === flags.pool);
  if (pools.length === 0)
    throw new UsageError(
      `rampart validator: no validator pool "${flags.pool}" with failover (pools: ${guarded.map((p) => p.name).join(', ')})`,
    );
  const keyDir = flags.keyDir === undefined ? undefined : path.resolve(flags.keyDir);
  if (verb === 'status') return status(config, pools, keyDir, flags.json === true);
  if (flags.pool === undefined || flags.to === undefined || keyDir === undefined)
    throw new UsageError(
      'rampart validator promote needs --pool, --to and --key-dir\nrun rampart validator promote --help for usage',
    );
  const req: PromoteRequest = {
    pool: flags.pool,
    to: flags.to,
    keyDir,
    oldPoweredOff: flags.oldPoweredOff === true,
    caller: `${operator()} (rampart validator promote)`,
  };
  return flags.dryRun ? dryRun(config, req) : promote(config, req);
}

function operator(): string {
  try {
    return process.env.USER ?? userInfo().username;
  } catch {
    return 'operator';
  }
}

async function withStore<T>(config: Config, fn: (rt: Runtime) => Promise<T>): Promise<T> {
  const rt = createRuntime(config);
  await rt.store.open();
  try {
    return await fn(rt);
  } finally {
    await rt.coordination.close();
    await rt.store.close();
  }
}

async function status(config: Config, pools: PoolConfig[], keyDir: string | undefined, json: boolean) {
  return withStore(config, async (rt) => {
    const documents: unknown[] = [];
    for (const pool of pools) {
      const f = await readFailover(rt.store, pool.name);
      const standbyPool = pool.failover!.standbyPool;
      const standbys = standbyPool ? await rt.store.listNodes({ pool: standbyPool }) : [];
      const target = f.signer ? undefined : (standbys.find((n) => n.state === 'ready') ?? standbys[0]);
      const review = target
        ? await reviewPromotion(rt, {
            pool: pool.name,
            to: target.id,
            keyDir,
            oldPoweredOff: false,
            caller: 'dry run',
          })
        : undefined;
      const validators = await rt.store.listNodes({ pool: pool.name, all: true });
      if (json) {
        documents.push({ pool: pool.name, failover: f, validators, standbys, promoteDryRun: review });
        continue;
      }
      const poll = f.lastPoll;
      const lines = [
        `${pool.name}: ${f.detect.status.toUpperCase()} since ${new Date(f.detect.since).toISOString()}`,
        `  signer      ${f.signer ? `${f.signer.node} (promoted into ${f.signer.pool})` : validators.map((n) => `${n.id} ${n.state}`).join(', ') || 'none'}`,
        `  address     ${f.address ?? 'not seen yet'}`,
        `  last poll   ${poll ? `${new Date(poll.at).toISOString()}: ${poll.reachable ? `height ${poll.height}` : 'unreachable'}, network ${poll.networkHeight ?? '?'}` : 'none'}`,
        `  last signed ${f.lastSignedSeen ?? 'not seen'}`,
        `  fenced      ${f.fenced.length ? `${f.fenced.join(', ')} (never started again by Rampart)` : 'none'}`,
        `  standby     ${standbyPool ? `${standbyPool}: ${standbys.map((n) => `${n.id} ${n.state}`).join(', ') || 'none'}` : 'no standbyPool configured'}`,
      ];
      for (const t of f.transitions.slice(-5))
        lines.push(`  ${new Date(t.at).toISOString()}  ${t.from} → ${t.to}: ${t.summary}`);
      if (review) lines.push(`  promote ${target!.id} now? ${describe(review)}`);
      else if (!f.signer) lines.push('  promote: no standby node to promote');
      process.stdout.write(`${lines.join('\n')}\n`);
    }
    if (json) process.stdout.write(`${JSON.stringify({ validators: documents })}\n`);
    return 0;
  });
}

function describe(review: PromoteReview): string {
  return `${review.ok ? 'every check passes' : 'would be refused'}\n${review.checks
    .map((c) => `    ${c.ok ? 'ok    ' : 'FAILED'} ${c.name}: ${c.detail}`)
    .join('\n')}`;
}

async function dryRun(config: Config, req: PromoteRequest): Promise<number> {
  return withStore(config, async (rt) => {
    const review = await reviewPromotion(rt, req);
    process.stdout.write(`dry run: promote ${req.to} for ${req.pool}: ${describe(review)}\n`);
    return review.ok ? 0 : 1;
  });
}

async function promote(config: Config, req: PromoteRequest): Promise<number> {
  const running = (await runningControllers(config)).find((c) => c.leading);
  if (running !== undefined) return askController(config, req, running.who);
  const rt = createRuntime(config);
  await rt.store.open();
  const leadership = await rt.coordination.campaign(`rampart validator promote (pid ${process.pid})`);
  const log = createLogger({ level: config.controller.log.level });
  try {
    const result = await promoteValidator(
      rt,
      {
        term: leadership.term,
        log,
        guard: () => {
          if (leadership.lost.aborted) throw new Error('leadership lost');
        },
      },
      req,
    );
    process.stdout.write(`${result.detail}\n${result.review.checks.length ? describe(result.review) : ''}\n`);
    return result.ok ? 0 : 1;
  } finally {
    await leadership.resign();
    await rt.coordination.close();
    await rt.store.close();
  }
}

async function askController(config: Config, req: PromoteRequest, who: string): Promise<number> {
  return withStore(config, async (rt) => {
    const id = `r-${randomBytes(4).toString('hex')}`;
    await rt.store.addRequest({
      id,
      at: Date.now(),
      kind: PROMOTE_REQUEST,
      body: { pool: req.pool, to: req.to, keyDir: req.keyDir, oldPoweredOff: req.oldPoweredOff },
      caller: req.caller,
    });
    process.stderr.write(
      `asked the running controller (${who}) to promote ${req.to} for ${req.pool}; waiting…\n`,
    );
    for (;;) {
      const r = await rt.store.getRequest(id);
      if (r?.outcome) {
        process.stdout.write(`${r.detail ?? r.outcome}\n`);
        return r.outcome === 'done' ? 0 : 1;
      }
      await sleep(300);
    }
  });
}
