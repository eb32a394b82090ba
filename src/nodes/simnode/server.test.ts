// Tests of the simnode process: chain progress, catch-up, peering, load metrics, persistence
// and shutdown, against real processes on loopback.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SERVER = fileURLToPath(new URL('./server.ts', import.meta.url));
const DEADLINE_MS = 20_000;

interface Simnode {
  readonly proc: ChildProcess;
  readonly rpc: string;
  readonly rpcPort: number;
  readonly metrics: string;
  readonly startLine: string;
  readonly exited: Promise<number | null>;
  stderr: string;
}

const running = new Set<ChildProcess>();
const tmpRoot = mkdtempSync(join(tmpdir(), 'simnode-test-'));

after(() => {
  for (const proc of running) proc.kill('SIGKILL');
  rmSync(tmpRoot, { recursive: true, force: true });
});

function dataDir(name: string): string {
  return join(tmpRoot, name);
}

function run(args: readonly string[]): { proc: ChildProcess; exited: Promise<number | null> } {
  const proc = spawn(process.execPath, [SERVER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(proc);
  const exited = new Promise<number | null>((resolve) =>
    proc.once('exit', (code) => {
      running.delete(proc);
      resolve(code);
    }),
  );
  return { proc, exited };
}

/** Starts a simnode (ports 0 unless given) and waits for its start line. */
async function startSimnode(id: string, role: string, extra: readonly string[] = []): Promise<Simnode> {
  const args = ['--id', id, '--role', role, '--data-dir', dataDir(id)];
  if (!extra.includes('--rpc-port')) args.push('--rpc-port', '0');
  if (!extra.includes('--metrics-port')) args.push('--metrics-port', '0');
  const { proc, exited } = run([...args, ...extra]);
  let stdout = '';
  let stderr = '';
  proc.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const startLine = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`simnode ${id} printed no start line; stderr: ${stderr}`)),
      10_000,
    );
    proc.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const nl = stdout.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(stdout.slice(0, nl));
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`simnode ${id} exited with ${code} before starting; stderr: ${stderr}`));
    });
  });
  const rpc = /rpc=(\S+)/.exec(startLine)?.[1];
  const metrics = /metrics=(\S+)/.exec(startLine)?.[1];
  assert.ok(rpc && metrics, `start line lacks rpc= or metrics=: ${startLine}`);
  const node: Simnode = { proc, rpc, rpcPort: Number(new URL(rpc).port), metrics, startLine, exited, stderr };
  proc.stderr?.on('data', (chunk: Buffer) => {
    node.stderr += chunk.toString();
  });
  return node;
}

interface RpcAnswer {
  readonly status: number;
  readonly body: {
    result?: Record<string, unknown>;
    error?: { code: number; message: string; data: string };
  };
}

async function rpcGet(base: string, path: string): Promise<RpcAnswer> {
  const res = await fetch(base + path, { signal: AbortSignal.timeout(2_000) });
  return { status: res.status, body: (await res.json()) as RpcAnswer['body'] };
}

interface Status {
  readonly id: string;
  readonly height: number;
  readonly catchingUp: boolean;
}

async function status(node: Simnode): Promise<Status> {
  const { body } = await rpcGet(node.rpc, '/status');
  const result = body.result as {
    node_info: { id: string };
    sync_info: { latest_block_height: string; catching_up: boolean };
  };
  assert.equal(typeof result.sync_info.latest_block_height, 'string', 'latest_block_height is a string');
  return {
    id: result.node_info.id,
    height: Number(result.sync_info.latest_block_height),
    catchingUp: result.sync_info.catching_up,
  };
}

async function peerIds(node: Simnode): Promise<string[]> {
  const { body } = await rpcGet(node.rpc, '/net_info');
  const result = body.result as {
    n_peers: string;
    peers: { node_info: { id: string }; remote_ip: string }[];
  };
  assert.equal(Number(result.n_peers), result.peers.length, 'n_peers matches the peers listed');
  return result.peers.map((p) => p.node_info.id);
}

async function metric(node: Simnode, name: string): Promise<number> {
  const text = await (await fetch(node.metrics, { signal: AbortSignal.timeout(2_000) })).text();
  const line = text.split('\n').find((l) => l.startsWith(name + '{') || l.startsWith(name + ' '));
  assert.ok(line, `metric ${name} missing from ${node.metrics}`);
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** Polls until `check` returns a value other than undefined, or fails saying what was awaited. */
async function waitFor<T>(what: string, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + DEADLINE_MS;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
}

function dialQuery(peers: readonly string[]): string {
  return `/dial_peers?persistent=true&unconditional=true&peers=${encodeURIComponent(JSON.stringify(peers))}`;
}

describe('simnode chain', () => {
  test('a validator produces blocks', async () => {
    const v = await startSimnode('chain-v0', 'validator', ['--block-time-ms', '50']);
    const first = await status(v);
    assert.equal(first.catchingUp, false);
    await waitFor('validator height to grow by 5', async () =>
      (await status(v)).height >= first.height + 5 ? true : undefined,
    );
  });

  test('a sentry catches up; one restored from a snapshot applies fewer blocks', async () => {
    const v = await startSimnode('chain-v1', 'validator', [
      '--block-time-ms',
      '50',
      '--start-height',
      '3000',
    ]);
    const follow = ['--chain-source', v.rpc, '--sync-rate', '1000', '--block-time-ms', '50'];
    const fresh = await startSimnode('chain-fresh', 'sentry', [...follow, '--start-height', '0']);
    const restored = await startSimnode('chain-restored', 'sentry', [...follow, '--start-height', '2950']);
    assert.match(restored.startLine, /height=2950/);

    const sawCatchingUp = await waitFor('fresh sentry to report catching up', async () => {
      const s = await status(fresh);
      return s.catchingUp && s.height < 3000 ? s : undefined;
    });
    assert.ok(sawCatchingUp.height < 3000);

    const caughtUp = (node: Simnode) => async () => {
      const s = await status(node);
      return s.catchingUp ? undefined : s;
    };
    const freshDone = await waitFor('fresh sentry to catch up', caughtUp(fresh));
    const restoredDone = await waitFor('restored sentry to catch up', caughtUp(restored));
    const tip = (await status(v)).height;
    assert.ok(
      freshDone.height >= 3000 && restoredDone.height >= 3000,
      'both reached the restored chain height',
    );
    assert.ok(tip - freshDone.height >= -1, 'a follower never runs ahead of the validator');
    const appliedFresh = freshDone.height - 0;
    const appliedRestored = restoredDone.height - 2950;
    assert.ok(
      appliedRestored < appliedFresh,
      `restored sentry applied ${appliedRestored} blocks, fresh one ${appliedFresh}`,
    );
  });

  test('a follower whose chain source is gone reports catching up and keeps its height', async () => {
    const v = await startSimnode('lost-v', 'validator', ['--block-time-ms', '50']);
    const s = await startSimnode('lost-s', 'sentry', ['--chain-source', v.rpc, '--block-time-ms', '50']);
    await waitFor('sentry to follow', async () => ((await status(s)).catchingUp ? undefined : true));
    v.proc.kill('SIGTERM');
    await v.exited;
    const stuck = await waitFor('sentry to report catching up without a tip', async () => {
      const st = await status(s);
      return st.catchingUp ? st : undefined;
    });
    assert.ok(stuck.height > 0, 'the sentry kept the height it had');
  });
});

describe('simnode peers', () => {
  test('dial_peers links both sides; unsafe_remove_peer unlinks them', async () => {
    const v = await startSimnode('peer-v', 'validator', ['--block-time-ms', '50']);
    const s = await startSimnode('peer-s', 'sentry', ['--chain-source', v.rpc, '--block-time-ms', '50']);
    const dial = await rpcGet(v.rpc, dialQuery([`peer-s@127.0.0.1:${s.rpcPort}`]));
    assert.equal(dial.status, 200, JSON.stringify(dial.body));
    assert.ok(dial.body.result, 'dial_peers answered a result');

    await waitFor('validator to list the sentry', async () =>
      (await peerIds(v)).includes('peer-s') ? true : undefined,
    );
    await waitFor('sentry to list the validator', async () =>
      (await peerIds(s)).includes('peer-v') ? true : undefined,
    );
    const again = await rpcGet(v.rpc, dialQuery([`peer-s@127.0.0.1:${s.rpcPort}`]));
    assert.equal(again.status, 200, 'dialing the same peer again is fine');
    assert.deepEqual(await peerIds(v), ['peer-s']);

    const removed = await rpcGet(v.rpc, '/unsafe_remove_peer?id=peer-s');
    assert.equal(removed.status, 200, JSON.stringify(removed.body));
    assert.deepEqual(await peerIds(v), []);
    await waitFor('sentry to drop the validator', async () =>
      (await peerIds(s)).length === 0 ? true : undefined,
    );
    const twice = await rpcGet(v.rpc, '/unsafe_remove_peer?id=peer-s');
    assert.equal(twice.status, 200, 'removing an absent peer is fine');
  });

  test('bad input gets a JSON-RPC error and the node keeps serving', async () => {
    const v = await startSimnode('bad-v', 'validator');
    const cases: [path: string, httpStatus: number, code: number][] = [
      ['/dial_peers?peers=notjson', 400, -32602],
      ['/dial_peers?peers=%7B%7D', 400, -32602],
      ['/dial_peers?peers=%5B%22no-port%22%5D', 400, -32602],
      ['/dial_peers?peers=%5B%5D', 400, -32602],
      ['/dial_peers', 400, -32602],
      [`/dial_peers?peers=${encodeURIComponent('["bad-v@127.0.0.1:1"]')}`, 400, -32602],
      ['/dial_peers?persistent=maybe&peers=%5B%22a%40127.0.0.1%3A1%22%5D', 400, -32602],
      ['/unsafe_remove_peer', 400, -32602],
      ['/broadcast_tx_async', 400, -32602],
      ['/no_such_method', 404, -32601],
      ['/%zz?%%', 404, -32601],
    ];
    for (const [path, httpStatus, code] of cases) {
      const answer = await rpcGet(v.rpc, path);
      assert.equal(answer.status, httpStatus, `${path}: ${JSON.stringify(answer.body)}`);
      assert.equal(answer.body.error?.code, code, `${path}: ${JSON.stringify(answer.body)}`);
      assert.ok(answer.body.error?.data, `${path}: the error says what was wrong`);
    }
    const health = await rpcGet(v.rpc, '/health');
    assert.equal(health.status, 200);
    assert.deepEqual(health.body.result, {});
    assert.deepEqual(await peerIds(v), [], 'no bad dial added a peer');
  });
});

describe('simnode load', () => {
  test('offered load raises utilization and lowers CPU idle', async () => {
    const s = await startSimnode('load-s', 'full', ['--tx-capacity', '20']);
    assert.equal(await metric(s, 'simnode_utilization_ratio'), 0);
    assert.ok((await metric(s, 'node_cpu_idle_percent')) > 95);
    const peersBefore = await metric(s, 'cometbft_p2p_peers');
    const bytesBefore = await metric(s, 'cometbft_p2p_peer_receive_bytes_total');

    for (let batch = 0; batch < 10; batch++) {
      const answers = await Promise.all(
        Array.from({ length: 10 }, (_, i) => rpcGet(s.rpc, `/broadcast_tx_async?tx=0x${batch}${i}`)),
      );
      for (const a of answers) assert.equal(typeof a.body.result?.hash, 'string', JSON.stringify(a.body));
    }
    const sync = await rpcGet(s.rpc, '/broadcast_tx_sync?tx=%22hello%22');
    assert.equal(sync.body.result?.code, 0);

    assert.ok((await metric(s, 'simnode_utilization_ratio')) >= 0.5);
    assert.ok((await metric(s, 'node_cpu_idle_percent')) < 60);
    assert.ok((await metric(s, 'simnode_offered_load_tx_per_second')) >= 10);
    assert.ok((await metric(s, 'cometbft_p2p_peers')) > peersBefore, 'load brings simulated inbound peers');
    assert.ok((await metric(s, 'cometbft_p2p_peer_receive_bytes_total')) >= bytesBefore + 101 * 250);
    assert.ok((await metric(s, 'cometbft_mempool_size')) > 0);

    const text = await (await fetch(s.metrics)).text();
    for (const name of [
      'cometbft_consensus_height',
      'cometbft_p2p_peers',
      'cometbft_p2p_peer_receive_bytes_total',
      'cometbft_blocksync_syncing',
      'cometbft_mempool_size',
      'node_cpu_idle_percent',
      'simnode_offered_load_tx_per_second',
      'simnode_utilization_ratio',
    ]) {
      assert.match(text, new RegExp(`^# HELP ${name} `, 'm'));
      assert.match(text, new RegExp(`^# TYPE ${name} (gauge|counter)$`, 'm'));
    }
    assert.match(text, /^cometbft_consensus_height\{chain_id="rampart-sim"\} \d+$/m);
  });
});

describe('simnode lifecycle', () => {
  test('SIGTERM exits 0; a restart resumes the persisted height and peers', async () => {
    const s = await startSimnode('life-s', 'sentry');
    const v = await startSimnode('life-v', 'validator', ['--block-time-ms', '50']);
    await rpcGet(v.rpc, dialQuery([`life-s@127.0.0.1:${s.rpcPort}`]));
    await waitFor('validator to list the sentry', async () =>
      (await peerIds(v)).includes('life-s') ? true : undefined,
    );
    const before = await waitFor('validator to reach height 10', async () => {
      const st = await status(v);
      return st.height >= 10 ? st : undefined;
    });

    v.proc.kill('SIGTERM');
    assert.equal(await v.exited, 0, `validator exit code; stderr: ${v.stderr}`);
    const chain = JSON.parse(readFileSync(join(dataDir('life-v'), 'chain.json'), 'utf8'));
    assert.ok(chain.height >= before.height, `persisted height ${chain.height} >= ${before.height}`);
    assert.equal(chain.chainId, 'rampart-sim');
    assert.equal(typeof chain.appHash, 'string');
    const saved = JSON.parse(readFileSync(join(dataDir('life-v'), 'peers.json'), 'utf8'));
    assert.deepEqual(
      saved.peers.map((p: { id: string }) => p.id),
      ['life-s'],
    );

    const again = await startSimnode('life-v', 'validator', ['--block-time-ms', '50']);
    assert.match(again.startLine, new RegExp(`height=${chain.height}$`));
    assert.ok((await status(again)).height >= chain.height);
    await waitFor('restarted validator to list its persisted peer', async () =>
      (await peerIds(again)).includes('life-s') ? true : undefined,
    );

    again.proc.kill('SIGINT');
    assert.equal(await again.exited, 0, 'SIGINT exits 0 too');
  });

  test('a data dir of another chain is refused', async () => {
    const first = await startSimnode('other-chain', 'validator', ['--chain-id', 'chain-a']);
    first.proc.kill('SIGTERM');
    assert.equal(await first.exited, 0);
    const { proc, exited } = run([
      ...['--id', 'other-chain', '--role', 'validator', '--data-dir', dataDir('other-chain')],
      ...['--rpc-port', '0', '--metrics-port', '0', '--chain-id', 'chain-b'],
    ]);
    let stderr = '';
    proc.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    assert.equal(await exited, 1);
    assert.match(stderr, /chain-a.*chain-b/);
  });

  test('unknown or missing flags exit 2 with a clear message', async () => {
    const cases: [args: string[], message: RegExp][] = [
      [['--id', 'x', '--role', 'validator', '--bogus', '1'], /--bogus.*Known flags/],
      [
        ['--role', 'validator', '--rpc-port', '0', '--metrics-port', '0', '--data-dir', '/tmp/x'],
        /--id is required/,
      ],
      [
        ['--id', 'x', '--role', 'king', '--rpc-port', '0', '--metrics-port', '0', '--data-dir', '/tmp/x'],
        /--role/,
      ],
      [
        ['--id', 'x', '--role', 'full', '--rpc-port', 'abc', '--metrics-port', '0', '--data-dir', '/tmp/x'],
        /rpc-port/,
      ],
    ];
    for (const [args, message] of cases) {
      const { proc, exited } = run(args);
      let stderr = '';
      let stdout = '';
      proc.stderr?.on('data', (c: Buffer) => {
        stderr += c.toString();
      });
      proc.stdout?.on('data', (c: Buffer) => {
        stdout += c.toString();
      });
      assert.equal(await exited, 2, `${args.join(' ')}: ${stderr}`);
      assert.match(stderr, message);
      assert.equal(stdout, '', 'nothing on stdout');
    }
  });
});
