// `rampart snapshot create|list|verify|prune -c FILE --set NAME`. create and prune are
// actions: with a controller running they are asked of it (it alone acts); without one,
// this command takes leadership and does them itself. `--images POOL` instead of `--set`:
// the machine images baked from a pool whose provider bakes them (providers[].images), made
// (`create`) or listed. `list --json`: one document, { sets: [{ name, location, snapshots:
// […], incomplete: […] }], images: [{ pool, provider, keep, images: [{ name, id, createdAt }] }] }.

import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config, PoolConfig, SnapshotSetConfig } from '../../config/schema.ts';
import { observe } from '../../controller/observe.ts';
import { SnapshotJobs } from '../../controller/snapshot-jobs.ts';
import { createRuntime, createStore, type Runtime } from '../../runtime/runtime.ts';
import { pruneSnapshots, verifySnapshot } from '../../snapshots/snapshot-files.ts';
import { loadConfigFrom, UsageError } from '../args.ts';
import { createLogger } from '../log.ts';
import { byteProgress } from '../progress.ts';
import { runningControllers } from '../running.ts';

export type SnapshotVerb = 'create' | 'list' | 'verify' | 'prune';

export interface SnapshotFlags {
  readonly config?: string | undefined;
  /** The snapshot set; needed when the config has more than one (list: default every set). */
  readonly set?: string | undefined;
  /** verify: the snapshot to check. Default the newest complete one. */
  readonly id?: string | undefined;
  /** list: one JSON document. */
  readonly json?: boolean | undefined;
  /** create, list: the pool whose machine images are meant, instead of a snapshot set. */
  readonly images?: string | undefined;
}

export async function snapshot(verb: SnapshotVerb, flags: SnapshotFlags): Promise<number> {
  const { config } = loadConfigFrom(flags);
  // Only where images matter: a runtime's providers are built to learn which bake them.
  const rt =
    flags.images !== undefined || verb === 'list' || config.snapshots.length === 0
      ? createRuntime(config)
      : undefined;
  const baking = rt ? imagePools(config, rt) : [];
  if (rt && flags.images !== undefined) {
    if (flags.set !== undefined)
      throw new UsageError('rampart snapshot: give --set (a snapshot set) or --images (a pool), not both');
    if (verb === 'verify' || verb === 'prune')
      throw new UsageError(
        `rampart snapshot ${verb}: images are not files to ${verb}; each bake retires the images beyond the provider's keep`,
      );
    const pool = baking.find((p) => p.name === flags.images);
    if (!pool)
      throw new UsageError(
        `rampart snapshot: pool "${flags.images}" is not on a provider that bakes images (${baking.length ? `pools with images: ${baking.map((p) => p.name).join(', ')}` : 'none in the config: providers[].images'})`,
      );
    return verb === 'list' ? list(rt, [], [pool], flags.json === true) : act(config, { pool }, 'create');
  }
  if (rt && config.snapshots.length === 0) {
    if (verb === 'list' && baking.length > 0) return list(rt, [], baking, flags.json === true);
    throw new UsageError(
      `rampart snapshot: the config defines no snapshot sets${baking.length ? ` (images: --images ${baking.map((p) => p.name).join('|')})` : ''}`,
    );
  }
  const sets = pickSets(config, flags.set, verb === 'list');
  switch (verb) {
    case 'list':
      return list(
        rt ?? createRuntime(config),
        sets,
        flags.set === undefined ? baking : [],
        flags.json === true,
      );
    case 'verify':
      return verify(config, sets[0]!, flags.id);
    case 'create':
    case 'prune':
      return act(config, { set: sets[0]! }, verb);
  }
}

/** Pools whose provider bakes machine images. */
function imagePools(config: Config, rt: Runtime): PoolConfig[] {
  return config.pools.filter((p) => rt.providers.get(p.provider)?.images !== undefined);
}

function pickSets(config: Config, name: string | undefined, all: boolean): SnapshotSetConfig[] {
  if (name !== undefined) {
    const set = config.snapshots.find((s) => s.name === name);
    if (!set)
      throw new UsageError(
        `rampart snapshot: no set "${name}" (sets: ${config.snapshots.map((s) => s.name).join(', ')})`,
      );
    return [set];
  }
  if (all || config.snapshots.length === 1) return config.snapshots;
  throw new UsageError(
    `rampart snapshot: name the set with --set (sets: ${config.snapshots.map((s) => s.name).join(', ')})`,
  );
}

async function list(
  rt: Runtime,
  sets: SnapshotSetConfig[],
  imagePools: PoolConfig[],
  json: boolean,
): Promise<number> {
  const listed: unknown[] = [];
  for (const set of sets) {
    const store = rt.snapshotStores.get(set.name)!;
    const complete = await store.list(set.name);
    const incomplete = await store.listIncomplete(set.name);
    listed.push({
      name: set.name,
      location: store.location,
      snapshots: complete.map((m) => ({ ...m, files: m.files.length })),
      incomplete,
    });
    if (json) continue;
    process.stdout.write(`${set.name} (${store.location}, from ${set.from}, keep ${set.keep}):\n`);
    if (complete.length === 0) process.stdout.write('  no complete snapshot\n');
    for (const m of complete)
      process.stdout.write(
        `  ${m.id}  height ${m.height}  ${(m.totalBytes / 1048576).toFixed(1)} MiB  ${m.files.length} files  from ${m.sourceNode}  ${new Date(m.createdAt).toISOString()}\n`,
      );
    for (const id of incomplete) process.stdout.write(`  ${id}  incomplete (no manifest: never restored)\n`);
  }
  const images: unknown[] = [];
  for (const pool of imagePools) {
    const provider = rt.providers.get(pool.provider)!;
    const baking = provider.images!;
    const baked = await baking.list();
    images.push({
      pool: pool.name,
      provider: provider.name,
      providerKind: provider.kind,
      everyMs: baking.everyMs ?? null,
      keep: baking.keep,
      images: baked.map((i) => ({ name: i.name, id: i.id ?? null, createdAt: i.createdAt })),
    });
    if (json) continue;
    const every = baking.everyMs ? `every ${baking.everyMs / 1000}s` : 'on demand only';
    process.stdout.write(
      `images of ${pool.name} (${provider.kind} provider ${provider.name}, ${every}, keep ${baking.keep}):\n`,
    );
    if (baked.length === 0) process.stdout.write('  no image baked yet\n');
    for (const [n, i] of baked.entries())
      process.stdout.write(
        `  ${i.name}${i.id && i.id !== i.name ? `  ${i.id}` : ''}  ${new Date(i.createdAt).toISOString()}${n === 0 ? '  newest: new nodes boot it' : ''}\n`,
      );
  }
  if (json) process.stdout.write(`${JSON.stringify({ sets: listed, images })}\n`);
  return 0;
}

async function verify(config: Config, set: SnapshotSetConfig, id: string | undefined): Promise<number> {
  const rt = createRuntime(config);
  const store = rt.snapshotStores.get(set.name)!;
  const all = await store.list(set.name);
  const m = id === undefined ? all[0] : all.find((x) => x.id === id);
  if (!m)
    throw new UsageError(
      `rampart snapshot verify: ${id ? `no complete snapshot ${id}` : 'no complete snapshot'} in ${set.name}`,
    );
  const progress = byteProgress(`verifying ${m.id}`);
  try {
    await verifySnapshot(store, m, progress);
  } catch (e) {
    progress.done();
    process.stderr.write(`${(e as Error).message}\n`);
    return 1;
  }
  progress.done();
  process.stdout.write(`${m.id}: ${m.files.length} files, ${m.totalBytes} bytes, every checksum matches\n`);
  return 0;
}

/** What an action is on: a snapshot set, or the images of a pool. */
type Target = { readonly set: SnapshotSetConfig } | { readonly pool: PoolConfig };

async function act(config: Config, target: Target, verb: 'create' | 'prune'): Promise<number> {
  const running = (await runningControllers(config)).find((c) => c.leading);
  if (running !== undefined) return askController(config, target, verb, running.who);
  const rt = createRuntime(config);
  await rt.store.open();
  const leadership = await rt.coordination.campaign(`rampart snapshot ${verb} (pid ${process.pid})`);
  const log = createLogger({ level: config.controller.log.level });
  const ctx = {
    term: leadership.term,
    log,
    guard: () => {
      if (leadership.lost.aborted) throw new Error('leadership lost');
    },
  };
  try {
    if ('pool' in target) return await bakeNow(rt, target.pool, ctx);
    const { set } = target;
    if (verb === 'prune') {
      const removed = await pruneSnapshots(rt.snapshotStores.get(set.name)!, set.name, set.keep);
      process.stdout.write(removed.length ? `pruned ${removed.join(', ')}\n` : 'nothing to prune\n');
      return 0;
    }
    return await createNow(rt, set, ctx);
  } finally {
    await leadership.resign();
    await rt.coordination.close();
    await rt.store.close();
  }
}

async function createNow(
  rt: Runtime,
  set: SnapshotSetConfig,
  ctx: Parameters<SnapshotJobs['start']>[2],
): Promise<number> {
  const progress = byteProgress(`snapshot of ${set.name}`);
  const jobs = new SnapshotJobs(rt, progress);
  const { job } = await jobs.start(set, await observe(rt), ctx, 'requested by the operator');
  const outcome = await job;
  progress.done();
  // Clear the source's maintenance mark and record its restarted instance.
  await jobs.applyFinished(await observe(rt), ctx);
  process.stdout.write(`${outcome.detail}\n`);
  return outcome.ok ? 0 : 1;
}

/** Bakes an image of `pool` now, this process leading (no controller runs). */
async function bakeNow(
  rt: Runtime,
  pool: PoolConfig,
  ctx: Parameters<SnapshotJobs['start']>[2],
): Promise<number> {
  const jobs = new SnapshotJobs(rt);
  process.stderr.write(`baking an image of pool ${pool.name} (its source node is stopped meanwhile)…\n`);
  const { job } = await jobs.bakeNow(pool, await observe(rt), ctx, 'requested by the operator');
  const outcome = await job;
  // Clear the source's maintenance mark and record its restarted instance.
  await jobs.applyFinished(await observe(rt), ctx);
  process.stdout.write(`${outcome.detail}\n`);
  return outcome.ok ? 0 : 1;
}

async function askController(
  config: Config,
  target: Target,
  verb: 'create' | 'prune',
  who: string,
): Promise<number> {
  const store = createStore(config);
  await store.open();
  try {
    const id = `r-${randomBytes(4).toString('hex')}`;
    const images = 'pool' in target;
    await store.addRequest({
      id,
      at: Date.now(),
      kind: images ? 'image-create' : `snapshot-${verb}`,
      body: images ? { pool: target.pool.name } : { set: target.set.name },
      caller: `${process.env.USER ?? 'operator'} (rampart snapshot ${verb}${images ? ' --images' : ''})`,
    });
    process.stderr.write(
      `asked the running controller (${who}) to ${images ? `bake an image of pool ${target.pool.name}` : `${verb} a snapshot of ${target.set.name}`}; waiting…\n`,
    );
    for (;;) {
      const r = await store.getRequest(id);
      if (r?.outcome) {
        process.stdout.write(`${r.detail ?? r.outcome}\n`);
        return r.outcome === 'done' ? 0 : 1;
      }
      await sleep(500);
    }
  } finally {
    await store.close();
  }
}
