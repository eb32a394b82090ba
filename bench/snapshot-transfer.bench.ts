// How fast a snapshot's bytes move, old pipeline against new in the same run, alternating:
// into a directory store and back (against a plain `cp` of the same files, the floor), and
// through S3 on moto (plain and zstd). The data dir is shaped like a CometBFT sentry's:
// goleveldb tables of 2 MiB, 47 % of the bytes in data/tx_index.db, transaction-like content
// (random base64), so compression gains what it would on a real chain of such transactions.
//
// "old" is the pipeline before issue 21, kept here verbatim in spirit: one file after the
// other through 64 KiB stream chunks hashed on the main thread, S3 objects as one GET/PUT.
//
// stdout: one JSON line per figure, then a summary. Knobs (env): RAMPART_BENCH_MB (snapshot
// size, default 1170), RAMPART_BENCH_RUNS (default 3), RAMPART_BENCH_S3_PARALLEL (the S3
// store's `parallel`, default 4). `--quick`: 200 MB, one run, no S3.

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { TestContext } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DirectorySnapshotStore } from '../src/snapshots/directory-store.ts';
import { type SnapshotFile, type SnapshotManifest, snapshotId } from '../src/snapshots/manifest.ts';
import { S3SnapshotStore } from '../src/snapshots/s3-store.ts';
import { copyIntoStore, restoreSource } from '../src/snapshots/snapshot-files.ts';
import { skipUnlessInstalled, startMoto } from '../test/support/servers.ts';

const BENCH = 'snapshot-transfer';
const QUICK = process.argv.includes('--quick') || process.env.RAMPART_BENCH_QUICK === '1';
const envNumber = (name: string, fallback: number) => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
};
const MB = QUICK ? 200 : envNumber('RAMPART_BENCH_MB', 1170);
const RUNS = QUICK ? 1 : envNumber('RAMPART_BENCH_RUNS', 3);
const TABLE = 2 << 20;
const r3 = (x: number) => Number(x.toFixed(3));
const since = (t: number) => (performance.now() - t) / 1000;
const t0Bench = performance.now();
const log = (msg: string) => process.stderr.write(`[${BENCH} +${since(t0Bench).toFixed(0)}s] ${msg}\n`);
const emit = (figure: string, fields: Record<string, unknown>) =>
  console.log(JSON.stringify({ bench: BENCH, figure, ...fields, loadavg1: r3(loadavg()[0]!) }));
const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? Number.NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** A CometBFT-shaped data dir of about `mb` MB; returns the relative paths. */
function makeDataDir(dir: string, mb: number): string[] {
  const share: [string, number][] = [
    ['data/tx_index.db', 0.47],
    ['data/blockstore.db', 0.45],
    ['data/state.db', 0.05],
    ['data/application.db', 0.03],
  ];
  const files: string[] = [];
  for (const [db, part] of share) {
    mkdirSync(path.join(dir, db), { recursive: true });
    const n = Math.max(1, Math.round((mb * 1e6 * part) / TABLE));
    for (let i = 0; i < n; i++) {
      const rel = `${db}/${String(i).padStart(6, '0')}.ldb`;
      // Transaction-like: key=base64(random) records.
      writeFileSync(path.join(dir, rel), randomBytes((TABLE * 3) / 4).toString('base64url'));
      files.push(rel);
    }
    writeFileSync(path.join(dir, db, 'MANIFEST-000002'), randomBytes(300));
    files.push(`${db}/MANIFEST-000002`);
  }
  return files;
}

// -- The old pipeline (before issue 21) --------------------------------------------------------

function oldHashing() {
  const hash = createHash('sha256');
  let size = 0;
  const t = new Transform({
    transform(chunk: Buffer, _e, done) {
      hash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  return Object.assign(t, { digest: () => ({ sha256: hash.digest('hex'), size }) });
}

async function oldCopyInto(
  put: (rel: string, body: Readable, size: number) => Promise<void>,
  dataDir: string,
  rels: readonly string[],
  sizes: readonly number[],
): Promise<SnapshotFile[]> {
  const out: SnapshotFile[] = [];
  for (const [i, rel] of rels.entries()) {
    const h = oldHashing();
    await put(rel, createReadStream(path.join(dataDir, rel)).pipe(h), sizes[i]!);
    out.push({ path: rel, ...h.digest() });
  }
  return out;
}

async function oldRestore(get: (rel: string) => Promise<Readable>, m: SnapshotManifest, dir: string) {
  for (const f of m.files) {
    const dest = path.join(dir, f.path);
    await mkdir(path.dirname(dest), { recursive: true });
    const h = oldHashing();
    await pipeline(await get(f.path), h, createWriteStream(dest));
    const got = h.digest();
    if (got.sha256 !== f.sha256 || got.size !== f.size) throw new Error(`${f.path}: checksum`);
  }
}

// -----------------------------------------------------------------------------------------------

const cleanups: (() => Promise<void>)[] = [];

async function main(): Promise<void> {
  const root = await mkdtemp(path.join(tmpdir(), 'rampart-bench-xfer-'));
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  const data = path.join(root, 'node');
  const rels = makeDataDir(data, MB);
  const { statSync } = await import('node:fs');
  const sizes = rels.map((r) => statSync(path.join(data, r)).size);
  const total = sizes.reduce((a, b) => a + b, 0);
  log(`data dir: ${(total / 1e6).toFixed(0)} MB in ${rels.length} files; ${RUNS} run(s) each`);
  const manifestOf = (set: string, id: string, files: SnapshotFile[], extra = {}): SnapshotManifest => ({
    version: 1,
    id,
    set,
    createdAt: Date.now(),
    sourcePool: 'p',
    sourceNode: 'n',
    nodeKind: 'cometbft',
    chainId: 'c',
    height: 1,
    appHash: 'A',
    totalBytes: total,
    files,
    ...extra,
  });
  const mbps = (s: number) => r3(total / 1e6 / s);
  const series: Record<string, number[]> = {};
  const record = (name: string, seconds: number, run: number) => {
    series[name] = [...(series[name] ?? []), seconds];
    emit(name, { run, seconds: r3(seconds), mbPerS: mbps(seconds), bytes: total });
    log(`${name} ${run}: ${seconds.toFixed(2)} s (${mbps(seconds)} MB/s)`);
  };

  // -- Directory store: take (copy in) and restore, old and new alternating, and cp ----------
  const dirStore = new DirectorySnapshotStore(path.join(root, 'store'));
  let manifest: SnapshotManifest | undefined;
  for (let run = 1; run <= RUNS; run++) {
    for (const which of run % 2 ? ['old', 'new'] : ['new', 'old']) {
      const id = snapshotId(Date.now(), `${which}${run}`);
      const t = performance.now();
      const files =
        which === 'old'
          ? await oldCopyInto(
              async (rel, body) => {
                const dest = dirStore.localFile('set', id, rel);
                await mkdir(path.dirname(dest), { recursive: true });
                await pipeline(body, createWriteStream(dest));
              },
              data,
              rels,
              sizes,
            )
          : await copyIntoStore(dirStore, 'set', id, data, rels);
      record(`dir-take-${which}`, since(t), run);
      const m = manifestOf('set', id, files);
      await dirStore.putManifest(m);
      if (manifest) await dirStore.remove('set', manifest.id);
      manifest = m;
    }
  }
  const m = manifest!;
  const filesDir = path.dirname(dirStore.localFile('set', m.id, 'x'));
  for (let run = 1; run <= RUNS; run++) {
    const order = run % 2 ? ['cp', 'old', 'new'] : ['new', 'old', 'cp'];
    for (const which of order) {
      const dest = path.join(root, `restore-${which}-${run}`);
      const t = performance.now();
      if (which === 'cp') await cp(filesDir, dest, { recursive: true });
      else if (which === 'old')
        await oldRestore(async (rel) => createReadStream(dirStore.localFile('set', m.id, rel)), m, dest);
      else await restoreSource(dirStore, m).restoreInto(dest);
      record(`dir-restore-${which}`, since(t), run);
      await rm(dest, { recursive: true, force: true });
    }
  }

  // -- S3 on moto: take and restore, old (one GET/PUT per file, in turn), new, new with zstd --
  const skip = QUICK ? 'quick run' : skipUnlessInstalled('moto_server');
  if (!skip) {
    process.env.AWS_ACCESS_KEY_ID = 'test';
    process.env.AWS_SECRET_ACCESS_KEY = 'test';
    const scope = {
      skip: () => undefined,
      after: (fn: () => Promise<void>) => cleanups.push(fn),
    } as unknown as TestContext;
    // startMoto waits on unref'd timers: something must keep the process alive meanwhile.
    const keepAlive = setInterval(() => undefined, 1000);
    const moto = (await startMoto(scope).finally(() => clearInterval(keepAlive)))!;
    const client = new S3Client({ endpoint: moto.url, region: 'us-east-1', forcePathStyle: true });
    await client.send(new CreateBucketCommand({ Bucket: 'rampart-bench' }));
    const parallel = envNumber('RAMPART_BENCH_S3_PARALLEL', 4);
    const plain = new S3SnapshotStore({ bucket: 'rampart-bench', prefix: 'plain/', parallel }, client);
    const zstd = new S3SnapshotStore(
      { bucket: 'rampart-bench', prefix: 'zstd/', compression: 'zstd', parallel },
      client,
    );
    const s3m: Record<string, SnapshotManifest> = {};
    // Takes: old into its own prefix (as the plain new one reads), new plain, new zstd.
    for (const which of ['old', 'new', 'zstd'] as const) {
      const id = snapshotId(Date.now(), which);
      const t = performance.now();
      const store = which === 'zstd' ? zstd : plain;
      const files =
        which === 'old'
          ? await oldCopyInto(
              async (rel, body, size) => {
                await client.send(
                  new PutObjectCommand({
                    Bucket: 'rampart-bench',
                    Key: `plain/set/${id}/files/${rel}`,
                    Body: body,
                    ContentLength: size,
                  }),
                );
              },
              data,
              rels,
              sizes,
            )
          : await copyIntoStore(store, 'set', id, data, rels);
      record(`s3-take-${which}`, since(t), 1);
      s3m[which] = manifestOf('set', id, files, which === 'zstd' ? { compression: 'zstd' } : {});
      await store.putManifest(s3m[which]!);
    }
    for (let run = 1; run <= RUNS; run++) {
      const order = run % 2 ? ['old', 'new', 'zstd', 'dir'] : ['dir', 'zstd', 'new', 'old'];
      for (const which of order) {
        const dest = path.join(root, `s3-restore-${which}-${run}`);
        const t = performance.now();
        if (which === 'old') {
          const sm = s3m.new!;
          await oldRestore(
            async (rel) =>
              (
                await client.send(
                  new GetObjectCommand({ Bucket: 'rampart-bench', Key: `plain/set/${sm.id}/files/${rel}` }),
                )
              ).Body as Readable,
            sm,
            dest,
          );
        } else if (which === 'dir') await restoreSource(dirStore, m).restoreInto(dest);
        else await restoreSource(which === 'zstd' ? zstd : plain, s3m[which]!).restoreInto(dest);
        record(`s3-restore-${which === 'dir' ? 'dir-same-run' : which}`, since(t), run);
        await rm(dest, { recursive: true, force: true });
      }
    }
  } else log(`S3: skipped (${skip})`);

  const med = Object.fromEntries(Object.entries(series).map(([k, v]) => [k, r3(median(v))]));
  const ratio = (a: string, b: string) => (med[a] && med[b] ? r3(med[a]! / med[b]!) : null);
  console.log(
    JSON.stringify({
      bench: BENCH,
      quick: QUICK,
      bytes: total,
      files: rels.length,
      runs: RUNS,
      medianS: med,
      ratios: {
        dirRestoreOldOverNew: ratio('dir-restore-old', 'dir-restore-new'),
        dirRestoreNewOverCp: ratio('dir-restore-new', 'dir-restore-cp'),
        dirTakeOldOverNew: ratio('dir-take-old', 'dir-take-new'),
        s3RestoreOldOverNew: ratio('s3-restore-old', 's3-restore-new'),
        s3RestoreNewOverDir: ratio('s3-restore-new', 's3-restore-dir-same-run'),
        s3RestoreZstdOverPlain: ratio('s3-restore-zstd', 's3-restore-new'),
        s3TakeZstdOverPlain: ratio('s3-take-zstd', 's3-take-new'),
      },
      loadavg: loadavg().map(r3),
      elapsedS: r3(since(t0Bench)),
    }),
  );
}

try {
  await main();
} catch (e) {
  log(`failed: ${(e as Error).stack ?? String(e)}`);
  process.exitCode = 1;
} finally {
  // Servers' stops wait on unref'd timers: keep the process alive until all are done.
  const keepAlive = setInterval(() => undefined, 1000);
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  clearInterval(keepAlive);
}
