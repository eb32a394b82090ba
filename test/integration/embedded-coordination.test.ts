// Embedded coordination (one controller per SQLite store file, through a lock beside it)
// passes the coordination contract. The lock is the kernel's: a holder killed with SIGKILL
// leaves nothing that refuses the next one (not even as PID 1 of a container, where the next
// controller is pid 1 again), a live holder is refused by pid and name, and of candidates
// racing for a lock whose holder died exactly one wins.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { Coordination } from '../../src/coordination/coordination.ts';
import { EmbeddedCoordination, lockHolder } from '../../src/coordination/embedded.ts';
import { SqliteStore } from '../../src/store/sqlite-store.ts';
import { coordinationContract } from '../contracts/coordination.contract.ts';
import { CLI, waitFor } from '../support/fleet.ts';

const dir = mkdtempSync(join(tmpdir(), 'rampart-embedded-coordination-'));
const opened: { coordination: Coordination; store: SqliteStore }[] = [];
const children: ChildProcess[] = [];
after(async () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const { coordination, store } of opened.reverse()) {
    await coordination.close();
    await store.close();
  }
  rmSync(dir, { recursive: true, force: true });
});

/** A replica on the store file `<group>.db`: its own connection, the lock file beside it. */
async function replica(group: string): Promise<EmbeddedCoordination> {
  const path = join(dir, `${group}.db`);
  const store = new SqliteStore(path);
  await store.open();
  const coordination = new EmbeddedCoordination(store, `${path}.lock`);
  opened.push({ coordination, store });
  return coordination;
}

coordinationContract('embedded', {
  replica,
  whileAnotherLeads: 'is-refused',
  locksAcrossReplicas: false,
  standByMs: 0,
});

/**
 * A process that campaigns for the lock of `lockFile` as `name` once it reads a line (its
 * store stands in: the lock is under test, not the store's terms), prints what came of it
 * as a JSON line, and holds what it took until its stdin ends.
 */
function candidate(lockFile: string, name: string) {
  const embedded = pathToFileURL(join(import.meta.dirname, '../../src/coordination/embedded.ts')).href;
  const script = `
    import { createInterface } from 'node:readline';
    import { EmbeddedCoordination } from ${JSON.stringify(embedded)};
    const [lockFile, name] = process.argv.slice(1);
    const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
    const c = new EmbeddedCoordination({ newTerm: async () => 1 }, lockFile);
    console.log(JSON.stringify({ ready: true }));
    await lines.next();
    try {
      await c.campaign(name);
      console.log(JSON.stringify({ took: true }));
    } catch (e) {
      console.log(JSON.stringify({ took: false, error: e.message }));
    }
    await lines.next();
    process.exit(0);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, lockFile, name], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.push(child);
  const said: Record<string, unknown>[] = [];
  createInterface({ input: child.stdout! }).on('line', (l) => said.push(JSON.parse(l)));
  const saying = (key: string) => waitFor(`${name} to say ${key}`, () => said.find((s) => key in s), 30_000);
  return {
    child,
    ready: () => saying('ready'),
    go: () => child.stdin!.write('go\n'),
    result: async () => (await saying('took')) as { took: boolean; error?: string },
  };
}

/** Starts a candidate, lets it take the lock, and kills it (SIGKILL: no cleanup at all). */
async function killedHolder(lockFile: string): Promise<void> {
  const holder = candidate(lockFile, 'the-killed-one');
  await holder.ready();
  holder.go();
  assert.deepEqual(await holder.result(), { took: true });
  assert.equal(lockHolder(lockFile)?.pid, holder.child.pid, 'the holder is known by its pid');
  const gone = new Promise((r) => holder.child.once('exit', r));
  holder.child.kill('SIGKILL');
  await gone;
}

test('a lock whose holder was killed is taken; a live holder is refused by pid and name; resign frees it', async () => {
  const lockFile = join(dir, 'stale.db.lock');
  await killedHolder(lockFile);
  assert.equal(lockHolder(lockFile), undefined, 'a killed holder holds nothing');
  const c = await replica('stale');
  const leadership = await c.campaign('next');
  const held = lockHolder(lockFile);
  assert.equal(held?.holder, 'next');
  assert.equal(held?.pid, process.pid);
  assert.equal(JSON.parse(readFileSync(lockFile, 'utf8')).pid, process.pid, 'the record names the holder');
  const rival = await replica('stale');
  await assert.rejects(
    rival.campaign('rival'),
    new RegExp(`another controller \\(pid ${process.pid}, next\\) is running on this store; lock file `),
  );
  await leadership.resign();
  assert.equal(lockHolder(lockFile), undefined, 'resign frees the lock');
  assert.equal(existsSync(lockFile), false, 'and removes its record');
});

test('a lock file of an older Rampart (a pid and a name) left by a crash is no obstacle', async () => {
  const lockFile = join(dir, 'older.db.lock');
  // Written by a controller that ran as pid 1 of a container: pid 1 is alive here too.
  writeFileSync(lockFile, '1\nrampart up on sentry-0 (pid 1)\n');
  assert.equal(lockHolder(lockFile), undefined);
  const leadership = await (await replica('older')).campaign('upgraded');
  assert.equal(lockHolder(lockFile)?.holder, 'upgraded');
  await leadership.resign();
});

test('candidates racing for a lock whose holder was killed: exactly one takes it, the others are refused naming it', async () => {
  const lockFile = join(dir, 'race.db.lock');
  await killedHolder(lockFile);
  const racers = Array.from({ length: 6 }, (_, i) => candidate(lockFile, `racer-${i}`));
  for (const r of racers) await r.ready();
  // All at once: each is only waiting for its line.
  for (const r of racers) r.go();
  const results = await Promise.all(racers.map((r) => r.result()));
  const winners = results.flatMap((r, i) => (r.took ? [i] : []));
  assert.equal(winners.length, 1, `one winner, not ${JSON.stringify(results)}`);
  const winner = racers[winners[0]!]!;
  const holder = lockHolder(lockFile);
  assert.equal(holder?.pid, winner.child.pid, 'the lock names the winner');
  for (const r of results)
    if (!r.took)
      assert.match(
        r.error ?? '',
        new RegExp(
          `another controller \\(pid ${winner.child.pid}, ${holder?.holder}\\) is running on this store`,
        ),
      );
  for (const r of racers) r.child.stdin!.end();
});

/** The pid (in this namespace) of the one child of `parent`: the controller unshare started. */
function childOf(parent: number): number {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === parent) return Number(entry);
    } catch {
      // Gone meanwhile.
    }
  }
  throw new Error(`process ${parent} has no child`);
}

const unshareMissing = (() => {
  if (process.getuid?.() !== 0) return 'needs root for a PID namespace';
  const r = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', '--kill-child', 'true']);
  return r.status === 0 ? false : `unshare --pid --fork --mount-proc fails here: ${r.stderr}`;
})();

test('a controller that ran as PID 1 (a container) and was killed leads again as PID 1', {
  skip: unshareMissing,
}, async () => {
  const config = join(dir, 'pid1.yaml');
  writeFileSync(
    config,
    `version: 1
controller:
  evaluationInterval: 500ms
  store: { kind: sqlite, path: pid1/state.db }
  api: { listen: "127.0.0.1:0" }
metrics:
  - { name: nodes, kind: scrape }
providers:
  - { name: here, kind: local, dataDir: pid1/nodes }
pools:
  - name: workers
    role: worker
    provider: here
    node: { kind: simnode }
    size: { min: 0, capacity: 0, max: 1 }
    scaleUp: { rules: [ { metric: "nodes:simnode_utilization_ratio", comparator: ">", threshold: 0.7 } ] }
`,
  );
  const lockFile = join(dir, 'pid1/state.db.lock');
  // `unshare --fork` runs the controller as the first process of a new PID namespace: pid 1.
  const asPid1 = () => {
    const child = spawn(
      'unshare',
      // --kill-child: the controller goes with unshare if the test gives up early.
      ['--pid', '--fork', '--mount-proc', '--kill-child', process.execPath, CLI, 'up', '-c', config],
      { env: { ...process.env, RAMPART_LOG_FORMAT: 'json' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(child);
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const leading = () =>
      Promise.race([
        waitFor('the controller to lead', () => out.includes('"msg":"leading"')),
        exited.then((code) => {
          throw new Error(`the controller exited (${code}) instead of leading`);
        }),
      ]).catch((e: Error) => {
        throw new Error(`${e.message}\n${out.slice(-3000)}`);
      });
    return { child, leading, exited, output: () => out };
  };

  const first = asPid1();
  await first.leading();
  const record = JSON.parse(readFileSync(lockFile, 'utf8'));
  assert.equal(record.pid, 1, 'the controller is pid 1 of its namespace');
  // SIGKILL it, as a container runtime would.
  process.kill(childOf(first.child.pid!), 'SIGKILL');
  await first.exited;
  assert.equal(
    JSON.parse(readFileSync(lockFile, 'utf8')).pid,
    1,
    'the killed one left its record naming pid 1',
  );

  const second = asPid1();
  await second.leading();
  assert.equal(JSON.parse(readFileSync(lockFile, 'utf8')).pid, 1, 'the new pid 1 holds the lock');
  // unshare passes no signal on: the controller is told directly.
  process.kill(childOf(second.child.pid!), 'SIGTERM');
  const code = await second.exited;
  assert.equal(code, 0, `stopped cleanly:\n${second.output().slice(-3000)}`);
});
