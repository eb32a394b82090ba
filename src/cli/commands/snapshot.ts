// `rampart snapshot create|list|verify|prune -c FILE --set NAME`. create and prune are
// actions: with a controller running they are asked of it (it alone acts); without one,
// this command takes leadership and does them itself. `list --json`: one document,
// { sets: [{ name, location, snapshots: […], incomplete: […] }] }.

import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config, SnapshotSetConfig } from '../../config/schema.ts';
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
}

export async function snapshot(verb: SnapshotVerb, flags: SnapshotFlags): Promise<number> {
  const { config } = loadConfigFrom(flags);
  if (config.snapshots.length === 0)
    throw new UsageError('rampart snapshot: the config defines no snapshot sets');
  const sets = pickSets(config, flags.set, verb === 'list');
  switch (verb) {
    case 'list':
      return list(config, sets, flags.json === true);
    case 'verify':
      return verify(config, sets[0]!, flags.id);
    case 'create':
    case 'prune':
      return act(config, sets[0]!, verb);
  }
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

async function list(config: Config, sets: SnapshotSetConfig[], json: boolean): Promise<number> {
  const rt = createRuntime(config);
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
  if (json) process.stdout.write(`${JSON.stringify({ sets: listed })}\n`);
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

async function act(config: Config, set: SnapshotSetConfig, verb: 'create' | 'prune'): Promise<number> {
  const running = (await runningControllers(config)).find((c) => c.leading);
  if (running !== undefined) return askController(config, set, verb, running.who);
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

async function askController(
  config: Config,
  set: SnapshotSetConfig,
  verb: 'create' | 'prune',
  who: string,
): Promise<number> {
  const store = createStore(config);
  await store.open();
  try {
    const id = `r-${randomBytes(4).toString('hex')}`;
    await store.addRequest({
      id,
      at: Date.now(),
      kind: `snapshot-${verb}`,
      body: { set: set.name },
      caller: `${process.env.USER ?? 'operator'} (rampart snapshot ${verb})`,
    });
    process.stderr.write(
      `asked the running controller (${who}) to ${verb} a snapshot of ${set.name}; waiting…\n`,
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
