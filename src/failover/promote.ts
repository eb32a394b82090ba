// The operator's promotion: signing moves from a dead validator to a synced standby, only
// when every guard passes (the double-sign guard lives here). Guards are read-only and are
// what `rampart validator status` shows as the dry run; promote re-checks them under the
// promotion lock, then acts as one recorded action. Nothing else in Rampart moves a key.

import { existsSync } from 'node:fs';
import path from 'node:path';
import type { PoolConfig } from '../config/schema.ts';
import { isCometbftNode } from '../nodes/cometbft/config.ts';
import { addUnique, editPeerLists } from '../nodes/cometbft/peer-lists.ts';
import { p2pAddress, peerAddress, status } from '../nodes/cometbft/rpc.ts';
import {
  highestPoint,
  installSigner,
  keyAddress,
  readSigningState,
  type SigningPoint,
} from '../nodes/cometbft/signing-state.ts';
import type { NodeAddress } from '../nodes/node-kind.ts';
import type { Instance } from '../providers/provider.ts';
import { type ActContext, runAction } from '../runtime/action-journal.ts';
import { addressOf, withInstance } from '../runtime/node-records.ts';
import type { Runtime } from '../runtime/runtime.ts';
import type { RequestRecord, StoredNode } from '../store/store.ts';
import { highestNode, lastSignedCommit, recentSignatures } from './chain-view.ts';
import { readFailover, updateFailover } from './failover-state.ts';
import { sentryAddresses } from './monitor.ts';

export interface PromoteRequest {
  /** The validator pool whose signing moves. */
  readonly pool: string;
  /** The standby node that becomes the validator. */
  readonly to: string;
  /**
   * Folder holding the operator's priv_validator_key.json (and, if kept, priv_validator_state.json).
   * Absent only for a dry run that does not check the key (`rampart validator status`).
   */
  readonly keyDir?: string | undefined;
  /** The operator states the old validator's machine is powered off (when no provider can confirm it). */
  readonly oldPoweredOff: boolean;
  /** Who asked, for the audit log. */
  readonly caller: string;
}

export interface PromoteCheck {
  readonly name:
    | 'request'
    | 'old-fenced'
    | 'old-silent'
    | 'standby-caught-up'
    | 'key'
    | 'signing-state'
    | 'double-sign-check';
  readonly ok: boolean;
  readonly detail: string;
}

export interface PromoteReview {
  readonly ok: boolean;
  readonly checks: readonly PromoteCheck[];
  /** The signing state promote would install: the highest of every known one. */
  readonly install?: SigningPoint | undefined;
}

/** The request kind `rampart validator promote` queues for the acting controller. */
export const PROMOTE_REQUEST = 'validator-promote';

/** A queued promotion as the controller reads it; the caller is the request's. */
export function promoteRequestFrom(r: RequestRecord): PromoteRequest {
  const b = r.body;
  return {
    pool: String(b.pool ?? ''),
    to: String(b.to ?? ''),
    keyDir: typeof b.keyDir === 'string' ? b.keyDir : undefined,
    oldPoweredOff: b.oldPoweredOff === true,
    caller: r.caller,
  };
}

const TIMEOUT_MS = 2000;
/** How far back the chain is searched for the key's last signature. */
const SEARCH_BACK = 300;

/** Every guard, read-only: what promote would check right now. */
/** What a review reads: the config, the store and the providers' listings. */
export type PromoteView = Pick<Runtime, 'config' | 'store' | 'providers'>;

export async function reviewPromotion(rt: PromoteView, req: PromoteRequest): Promise<PromoteReview> {
  const checks: PromoteCheck[] = [];
  const done = (install?: SigningPoint): PromoteReview => ({
    ok: checks.every((c) => c.ok),
    checks,
    install,
  });
  const pool = rt.config.pools.find((p) => p.name === req.pool);
  if (!pool?.failover || !isCometbftNode(pool.node)) {
    checks.push({
      name: 'request',
      ok: false,
      detail: `pool "${req.pool}" is not a validator pool with failover`,
    });
    return done();
  }
  const target = await rt.store.getNode(req.to);
  const standbyPool = rt.config.pools.find((p) => p.name === target?.pool);
  if (!target || target.state === 'gone' || standbyPool?.role !== 'standby') {
    checks.push({
      name: 'request',
      ok: false,
      detail: `node "${req.to}" is not a live node of a standby pool${target ? ` (it is ${target.state} in ${target.pool})` : ''}`,
    });
    return done();
  }
  const provider = rt.providers.get(target.provider);
  if (!provider?.stop || !provider.start) {
    checks.push({
      name: 'request',
      ok: false,
      detail: `provider ${target.provider} cannot stop and start ${req.to} in place, which promotion needs`,
    });
    return done();
  }
  const failover = await readFailover(rt.store, pool.name);
  if (failover.signer?.node === req.to) {
    checks.push({ name: 'request', ok: false, detail: `${req.to} already signs for ${pool.name}` });
    return done();
  }
  checks.push({
    name: 'request',
    ok: true,
    detail: `promote ${req.to} (${target.pool}) to sign for ${pool.name}`,
  });

  // The key, and the identity it signs as.
  let address = failover.address;
  if (req.keyDir === undefined)
    checks.push({ name: 'key', ok: false, detail: 'not checked: give the key folder (--key-dir)' });
  else {
    const keyFile = path.join(req.keyDir, 'priv_validator_key.json');
    try {
      const inKey = await keyAddress(keyFile);
      if (address && address !== inKey)
        checks.push({
          name: 'key',
          ok: false,
          detail: `${keyFile} is the key of ${inKey}, not of the guarded validator ${address}`,
        });
      else checks.push({ name: 'key', ok: true, detail: `${keyFile}: validator ${inKey}` });
      address = inKey;
    } catch (e) {
      checks.push({ name: 'key', ok: false, detail: (e as Error).message });
    }
  }

  // The old signer: every node that signed for this pool, but the target.
  const old = await oldSigners(rt, pool, failover.signer?.node, req.to);
  const running = new Set<string>();
  for (const [name, provider] of rt.providers)
    for (const i of await provider.list().catch(() => []))
      if (i.running && old.some((n) => n.id === i.nodeId && n.provider === name)) running.add(i.nodeId);
  if (running.size > 0)
    checks.push({
      name: 'old-fenced',
      ok: false,
      detail: `the old validator still runs: ${[...running].join(', ')} (stop it first; Rampart will not)`,
    });
  else if (old.length > 0 && old.every((n) => n.provider !== undefined))
    checks.push({
      name: 'old-fenced',
      ok: true,
      detail: `the provider shows ${old.map((n) => n.id).join(', ')} stopped`,
    });
  else
    checks.push({
      name: 'old-fenced',
      ok: req.oldPoweredOff,
      detail: req.oldPoweredOff
        ? 'the operator states the old validator is powered off'
        : 'no provider can confirm the old validator is stopped: pass --old-powered-off once it is',
    });

  // The chain: the key signed nothing recently, and the standby is caught up.
  const sentries = await sentryAddresses(rt, pool.name);
  const view = await highestNode(sentries, TIMEOUT_MS);
  const window = Math.max(pool.failover.fenceBlocks, pool.node.doubleSignCheckHeight);
  let chainPoint: SigningPoint | undefined;
  if (!view) {
    checks.push({ name: 'old-silent', ok: false, detail: 'no sentry answers: cannot read the chain' });
    checks.push({
      name: 'standby-caught-up',
      ok: false,
      detail: 'no sentry answers: the network height is unknown',
    });
  } else {
    if (address) {
      try {
        const signed = await recentSignatures(view.node, view.height, address, window, TIMEOUT_MS);
        const last = signed.indexOf(true);
        checks.push({
          name: 'old-silent',
          ok: last < 0,
          detail:
            last < 0
              ? `${address} signed none of the last ${window} blocks (to height ${view.height - 1})`
              : `${address} signed block ${view.height - 1 - last}, within the last ${window}: something still signs with this key`,
        });
        const lastSigned = await lastSignedCommit(view.node, view.height, address, SEARCH_BACK, TIMEOUT_MS);
        if (lastSigned) chainPoint = { height: lastSigned.height, round: lastSigned.round, step: 3 };
      } catch (e) {
        checks.push({
          name: 'old-silent',
          ok: false,
          detail: `cannot read commits: ${(e as Error).message}`,
        });
      }
    } else checks.push({ name: 'old-silent', ok: false, detail: 'the key address is unknown' });
    try {
      const s = await status(recordedAddress(target), TIMEOUT_MS);
      const lag = view.height - s.height;
      const ok = !s.catchingUp && lag <= pool.node.maxLagBlocks;
      checks.push({
        name: 'standby-caught-up',
        ok,
        detail: `${req.to} at height ${s.height} of ${view.height}${s.catchingUp ? ', catching up' : ''} (allowed lag ${pool.node.maxLagBlocks})`,
      });
    } catch (e) {
      checks.push({
        name: 'standby-caught-up',
        ok: false,
        detail: `${req.to} does not answer: ${(e as Error).message}`,
      });
    }
  }

  // The signing state: never lower than the key's own, the old node's, or the chain's.
  let install: SigningPoint | undefined;
  try {
    const fromKeyDir =
      req.keyDir === undefined
        ? undefined
        : await readSigningState(path.join(req.keyDir, 'priv_validator_state.json'));
    const fromOld = pool.node.home
      ? await readSigningState(path.join(pool.node.home, 'data', 'priv_validator_state.json'))
      : undefined;
    const known = [fromKeyDir, fromOld, chainPoint].filter((p) => p !== undefined);
    install = highestPoint(known);
    const show = (p: SigningPoint | undefined) => (p ? `${p.height}/${p.round}/${p.step}` : 'none');
    checks.push({
      name: 'signing-state',
      ok: true,
      detail: `installs ${show(install)} (height/round/step): the highest of the key dir's ${show(fromKeyDir)}, the old node's ${show(fromOld)}, the chain's last signature ${chainPoint ? show(chainPoint) : `none in the last ${SEARCH_BACK} blocks`}`,
    });
  } catch (e) {
    checks.push({ name: 'signing-state', ok: false, detail: (e as Error).message });
  }
  checks.push({
    name: 'double-sign-check',
    ok: pool.node.doubleSignCheckHeight > 0,
    detail:
      pool.node.doubleSignCheckHeight > 0
        ? `the new validator starts with double_sign_check_height ${pool.node.doubleSignCheckHeight}`
        : 'doubleSignCheckHeight is 0: set it above 0 before promoting',
  });
  return done(install);
}

/**
 * Promotes under the pool's promotion lock, re-checking every guard first; refuses, changing
 * nothing, when one fails. One recorded action (kind promote) with who asked and what was
 * checked. Returns the review and what was done.
 */
export async function promoteValidator(
  rt: Runtime,
  ctx: ActContext,
  req: PromoteRequest,
): Promise<{ ok: boolean; review: PromoteReview; detail: string }> {
  const lock = await rt.coordination.tryLock(`promote/${req.pool}`, req.caller);
  if (!lock)
    return {
      ok: false,
      review: { ok: false, checks: [] },
      detail: `another promotion of ${req.pool} is in progress`,
    };
  try {
    const review = await reviewPromotion(rt, req);
    const summary = review.checks.map((c) => `${c.ok ? 'ok' : 'FAILED'} ${c.name}: ${c.detail}`).join('; ');
    if (!review.ok || !review.install || req.keyDir === undefined) {
      await rt.store.recordEvent(
        {
          at: Date.now(),
          pool: req.pool,
          node: req.to,
          severity: 'warning',
          text: `promotion refused (${req.caller}): ${summary}`,
        },
        ctx.term,
      );
      return {
        ok: false,
        review,
        detail: `refused: ${review.checks
          .filter((c) => !c.ok)
          .map((c) => `${c.name}: ${c.detail}`)
          .join('; ')}`,
      };
    }
    const pool = rt.config.pools.find((p) => p.name === req.pool)!;
    const target = (await rt.store.getNode(req.to))!;
    const provider = rt.providers.get(target.provider)!;
    const install = review.install;
    const keyDir = req.keyDir;
    let detail = '';
    await runAction(
      rt,
      ctx,
      {
        pool: target.pool,
        kind: 'promote',
        nodeId: target.id,
        cause: `signing for ${req.pool} moves to ${target.id}`,
        caller: req.caller,
        detail: { checks: review.checks.map((c) => `${c.ok ? 'ok' : 'FAILED'} ${c.name}: ${c.detail}`) },
      },
      async () => {
        const instance = (await provider.list()).find((i) => i.nodeId === target.id && i.running);
        if (!instance?.dataDir)
          throw new Error(`${target.id} has no running instance with a data dir to promote`);
        const sentries = await sentryP2p(await sentryAddresses(rt, req.pool));
        ctx.guard();
        await provider.stop!(instance);
        await installSigner({
          home: instance.dataDir,
          keyFile: path.join(keyDir, 'priv_validator_key.json'),
          state: install,
          sentries,
          doubleSignCheckHeight: isCometbftNode(pool.node) ? pool.node.doubleSignCheckHeight : 0,
        });
        const started = await provider.start!(instance);
        await rt.store.putNode(
          { ...withInstance(target, started), registered: true, updatedAt: Date.now() },
          ctx.term,
        );
        // The sentries' own lists now name the new validator (read at their next start; live,
        // the new validator dials them: CometBFT has no RPC to change a running node's lists).
        const newId = (await waitForStatus(recordedAddress(target, started))).id;
        const oldIds = await oldNodeIds(rt, pool, newId);
        const sentryHomes = await sentryDataDirs(rt, req.pool);
        for (const home of sentryHomes)
          await editPeerLists(home, (l) => {
            l.persistent = l.persistent.filter((p) => !oldIds.some((id) => p.startsWith(`${id}@`)));
            l.privateIds = l.privateIds.filter((id) => !oldIds.includes(id));
            l.unconditional = l.unconditional.filter((id) => !oldIds.includes(id));
            addUnique(l.persistent, peerAddress(newId, started));
            addUnique(l.privateIds, newId);
            addUnique(l.unconditional, newId);
          });
        // Sentries in pods read theirs from the platform (a ConfigMap): rewritten likewise.
        const podPools = await publishToSentryPods(rt, req.pool, recordedAddress(target, started));
        // Who signs now, and who must never sign again.
        const old = await oldSigners(rt, pool, (await readFailover(rt.store, req.pool)).signer?.node, req.to);
        await updateFailover(rt.store, req.pool, ctx.term, (current) => ({
          ...current,
          signer: { pool: target.pool, node: target.id, since: Date.now() },
          fenced: [...new Set([...current.fenced, ...old.map((n) => n.id)])],
        }));
        // The standby pool now holds the signer: never scaled or replaced until an operator says so.
        const state = await rt.store.getPool(target.pool);
        if (state)
          await rt.store.putPool(
            { ...state, paused: true, pausedBy: `promote: ${target.id} signs for ${req.pool}` },
            ctx.term,
          );
        detail = `${target.id} signs for ${req.pool} from signing state ${install.height}/${install.round}/${install.step}; fenced ${old.map((n) => n.id).join(', ') || 'nothing'}; sentries rewired: ${sentryHomes.length}${podPools.length > 0 ? `; pod settings rewritten for ${podPools.join(', ')}` : ''}`;
        return detail;
      },
    );
    await rt.store.recordEvent(
      {
        at: Date.now(),
        pool: req.pool,
        node: req.to,
        severity: 'critical',
        text: `promoted by ${req.caller}: ${detail}. Checks: ${summary}`,
      },
      ctx.term,
    );
    return { ok: true, review, detail };
  } finally {
    await lock.release();
  }
}

/** Nodes that signed (or may have signed) for the pool, but the target. */
async function oldSigners(
  rt: PromoteView,
  pool: PoolConfig,
  signer: string | undefined,
  target: string,
): Promise<StoredNode[]> {
  const nodes = (await rt.store.listNodes({ pool: pool.name, all: true })).filter(
    (n) => n.state !== 'gone' || n.instanceId !== undefined,
  );
  if (signer && signer !== target) {
    const s = await rt.store.getNode(signer);
    if (s) nodes.push(s);
  }
  return nodes.filter((n) => n.id !== target);
}

/** The CometBFT node ids the old signer was seen with: the sentries' lists name it so. */
async function oldNodeIds(rt: Runtime, pool: PoolConfig, newId: string): Promise<string[]> {
  const failover = await readFailover(rt.store, pool.name);
  return (failover.nodeIds ?? []).filter((id) => id !== newId);
}

async function sentryDataDirs(rt: Runtime, validatorPool: string): Promise<string[]> {
  const out: string[] = [];
  for (const p of rt.config.pools.filter((x) => x.node.validatorPool === validatorPool))
    for (const n of await rt.store.listNodes({ pool: p.name }))
      if (n.dataDir && existsSync(path.join(n.dataDir, 'config', 'config.toml'))) out.push(n.dataDir);
  return out;
}

/**
 * The sentry pools of `validatorPool` whose pods read their settings from the platform (the
 * ConfigMap of a StatefulSet): those settings now name `validator`. Running pods read them at
 * their next start; until then the new validator dials them (its persistent peers).
 */
async function publishToSentryPods(
  rt: Runtime,
  validatorPool: string,
  validator: NodeAddress,
): Promise<string[]> {
  const out: string[] = [];
  for (const p of rt.config.pools.filter((x) => x.node.validatorPool === validatorPool)) {
    const provider = rt.providers.get(p.provider);
    const kind = rt.nodeKind(p.name);
    if (!provider?.publishNodeConfig || !kind.podConfig) continue;
    await provider.publishNodeConfig(
      await kind.podConfig({ role: p.role, upstream: [validator], options: p.node }),
    );
    out.push(p.name);
  }
  return out;
}

async function sentryP2p(sentries: readonly NodeAddress[]): Promise<string[]> {
  const out: string[] = [];
  for (const s of sentries)
    try {
      out.push(await p2pAddress(s, TIMEOUT_MS));
    } catch {
      // A sentry that does not answer is left out; the others carry the validator.
    }
  if (out.length === 0) throw new Error('no sentry answers: the new validator would have no peers');
  return out;
}

async function waitForStatus(node: NodeAddress) {
  for (let i = 0; ; i++)
    try {
      return await status(node, TIMEOUT_MS);
    } catch (e) {
      if (i >= 60) throw new Error(`${node.id} did not answer after its promotion: ${(e as Error).message}`);
      await new Promise((r) => setTimeout(r, 500));
    }
}

/** A node's address as recorded (or as its instance has it); a node without one cannot be promoted. */
function recordedAddress(n: StoredNode, instance?: Instance): NodeAddress {
  const a = addressOf(n, instance);
  if (!a) throw new Error(`${n.id} has no recorded address`);
  return a;
}
