// Tests of the simnode node kind: launch specs, and probe / register / deregister /
// connectedPeers against real simnode processes launched from those specs.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { freePort } from '../../../test/support/servers.ts';
import type { NodeProbe } from '../../core/types.ts';
import type { LaunchContext, NodeAddress } from '../node-kind.ts';
import { createSimnodeKind, simnodeKind } from './simnode-kind.ts';

const DEADLINE_MS = 20_000;
const running = new Set<ChildProcess>();
const tmpRoot = mkdtempSync(join(tmpdir(), 'simnode-kind-test-'));

after(() => {
  for (const proc of running) proc.kill('SIGKILL');
  rmSync(tmpRoot, { recursive: true, force: true });
});

function launchContext(
  nodeId: string,
  role: string,
  ports: Record<string, number>,
  upstream: NodeAddress[] = [],
  options: Record<string, unknown> = {},
): LaunchContext {
  return {
    nodeId,
    pool: `${role}s`,
    role,
    host: '127.0.0.1',
    ports,
    dataDir: join(tmpRoot, nodeId),
    upstream,
    options: { kind: 'simnode', ...options },
  };
}

/** Launches a node the way the local provider does: from the kind's process spec. */
async function launch(
  nodeId: string,
  role: string,
  upstream: NodeAddress[] = [],
  options: Record<string, unknown> = {},
): Promise<NodeAddress> {
  const ports = { rpc: await freePort(), metrics: await freePort() };
  const spec = simnodeKind.processSpec(launchContext(nodeId, role, ports, upstream, options));
  const proc = spawn(spec.command, [...spec.args], { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(proc);
  let stderr = '';
  proc.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  await new Promise<void>((resolve, reject) => {
    proc.stdout?.once('data', () => resolve());
    proc.once('exit', (code) => {
      running.delete(proc);
      reject(new Error(`${nodeId} exited with ${code}: ${stderr}`));
    });
  });
  return { id: nodeId, host: '127.0.0.1', ports };
}

async function waitForProbe(
  what: string,
  node: NodeAddress,
  role: string,
  accept: (p: NodeProbe) => boolean,
  tipHeight?: number,
): Promise<NodeProbe> {
  const deadline = Date.now() + DEADLINE_MS;
  let last: NodeProbe | undefined;
  while (Date.now() < deadline) {
    last = await simnodeKind.probe(node, { role, tipHeight });
    if (accept(last)) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}; last probe: ${JSON.stringify(last)}`);
}

async function waitForPeers(what: string, upstream: NodeAddress, accept: (ids: string[]) => boolean) {
  const deadline = Date.now() + DEADLINE_MS;
  let last: string[] = [];
  while (Date.now() < deadline) {
    last = await simnodeKind.connectedPeers(upstream);
    if (accept(last)) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}; last peers: ${JSON.stringify(last)}`);
}

describe('simnode processSpec', () => {
  test('runs server.ts under this node with flags from the context and options', () => {
    const validator: NodeAddress = { id: 'v0', host: '127.0.0.1', ports: { rpc: 26657, metrics: 26660 } };
    const spec = simnodeKind.processSpec(
      launchContext('s1', 'sentry', { rpc: 31000, metrics: 31001 }, [validator], {
        blockTimeMs: 500,
        syncRate: 300,
        txCapacity: 80,
        startHeight: 1200,
        chainId: 'demo-1',
      }),
    );
    assert.equal(spec.command, process.execPath);
    const [script, ...flags] = spec.args;
    assert.ok(script && isAbsolute(script) && script.endsWith('server.ts'), `script path ${script}`);
    const flag = (name: string) => flags[flags.indexOf(name) + 1];
    assert.equal(flag('--id'), 's1');
    assert.equal(flag('--role'), 'sentry');
    assert.equal(flag('--host'), '127.0.0.1');
    assert.equal(flag('--rpc-port'), '31000');
    assert.equal(flag('--metrics-port'), '31001');
    assert.equal(flag('--data-dir'), join(tmpRoot, 's1'));
    assert.equal(flag('--chain-source'), 'http://127.0.0.1:26657');
    assert.equal(flag('--block-time-ms'), '500');
    assert.equal(flag('--sync-rate'), '300');
    assert.equal(flag('--tx-capacity'), '80');
    assert.equal(flag('--start-height'), '1200');
    assert.equal(flag('--chain-id'), 'demo-1');
    assert.ok(!flags.includes('--kind'), 'the kind key is not a flag');
  });

  test('a node without upstream gets no chain source; unsupported roles and bad options are refused', () => {
    const spec = simnodeKind.processSpec(launchContext('v9', 'validator', { rpc: 1, metrics: 2 }));
    assert.ok(!spec.args.includes('--chain-source'));
    assert.throws(
      () => simnodeKind.processSpec(launchContext('w', 'worker', { rpc: 1, metrics: 2 })),
      /worker/,
    );
    assert.throws(
      () =>
        simnodeKind.processSpec(launchContext('x', 'full', { rpc: 1, metrics: 2 }, [], { syncRate: 'fast' })),
      /syncRate/,
    );
    assert.throws(() => simnodeKind.processSpec(launchContext('y', 'full', { rpc: 1 })), /metrics/);
  });

  test('metricsUrl points at /metrics on the metrics port', () => {
    assert.equal(
      simnodeKind.metricsUrl({ id: 'a', host: '10.0.0.5', ports: { rpc: 1, metrics: 9100 } }),
      'http://10.0.0.5:9100/metrics',
    );
    assert.deepEqual(simnodeKind.portNames, ['rpc', 'metrics']);
  });
});

describe('simnode probe and wiring', () => {
  test('a sentry is ready once caught up (it follows its chain source), and wiring shows on both sides', async () => {
    const validator = await launch('kv', 'validator', [], { blockTimeMs: 50 });
    const ready = await waitForProbe('validator ready', validator, 'validator', (p) => p.ready);
    assert.equal(ready.reachable, true);
    assert.equal(ready.healthy, true);
    assert.equal(typeof ready.height, 'number');

    const sentry = await launch('ks', 'sentry', [validator], { blockTimeMs: 50 });
    const unwired = await waitForProbe(
      'sentry caught up before any wiring',
      sentry,
      'sentry',
      (p) => !p.catchingUp,
    );
    assert.equal(unwired.ready, true, 'a caught-up sentry is ready: registration follows readiness');
    assert.equal(unwired.peers, 0);

    await simnodeKind.register(sentry, validator);
    await simnodeKind.register(sentry, validator);
    await waitForPeers('validator to list the sentry', validator, (ids) => ids.includes('ks'));
    const wired = await waitForProbe(
      'sentry to see the validator',
      sentry,
      'sentry',
      (p) => p.ready && p.peers === 1,
    );
    assert.equal(wired.peers, 1);
    assert.equal(wired.detail, undefined);

    const behind = await simnodeKind.probe(sentry, { role: 'sentry', tipHeight: (wired.height ?? 0) + 100 });
    assert.equal(behind.ready, false);
    assert.match(behind.detail ?? '', /^behind: height \d+ of \d+ \(more than 5 blocks\)$/);

    await simnodeKind.deregister(sentry, validator);
    await simnodeKind.deregister(sentry, validator);
    assert.deepEqual(await simnodeKind.connectedPeers(validator), []);
    const dropped = await waitForProbe('sentry to lose its peer', sentry, 'sentry', (p) => p.peers === 0);
    assert.equal(dropped.ready, true, 'still caught up: unwiring does not make it unready');
  });

  test('a sentry far behind is reported as catching up', async () => {
    const validator = await launch('kv2', 'validator', [], { blockTimeMs: 50, startHeight: 100_000 });
    const sentry = await launch('ks2', 'sentry', [validator], { syncRate: 10 });
    const probe = await waitForProbe(
      'sentry catching up with a known tip',
      sentry,
      'sentry',
      (p) => /of \d+/.test(p.detail ?? ''),
      100_000,
    );
    assert.equal(probe.ready, false);
    assert.equal(probe.catchingUp, true);
    assert.match(probe.detail ?? '', /^catching up: height \d+ of 100000$/);
  });

  test('a node that is not there is unreachable, and probing it does not throw', async () => {
    const port = await freePort();
    const absent: NodeAddress = { id: 'ghost', host: '127.0.0.1', ports: { rpc: port, metrics: port } };
    const probe = await simnodeKind.probe(absent, { role: 'sentry' });
    assert.equal(probe.reachable, false);
    assert.equal(probe.ready, false);
    assert.equal(probe.healthy, false);
    assert.match(probe.detail ?? '', /^unreachable: .*ECONNREFUSED/);

    const aborted = await simnodeKind.probe(absent, { role: 'sentry', signal: AbortSignal.abort() });
    assert.equal(aborted.reachable, false);
    const noPort = await simnodeKind.probe({ id: 'np', host: '127.0.0.1', ports: {} }, { role: 'sentry' });
    assert.equal(noPort.reachable, false);

    await assert.rejects(
      simnodeKind.register(absent, absent),
      /register ghost with ghost: GET http.*ECONNREFUSED/,
    );
    await assert.rejects(simnodeKind.connectedPeers(absent), /ghost/);
  });

  test('a port answering as another node is not healthy', async () => {
    const other = await launch('kother', 'full');
    const probe = await simnodeKind.probe({ ...other, id: 'expected' }, { role: 'full' });
    assert.equal(probe.reachable, true);
    assert.equal(probe.healthy, false);
    assert.match(probe.detail ?? '', /kother.*expected/);
  });

  test('a probe that does not answer in time is unreachable', async () => {
    const silent = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const address = silent.address();
    assert.ok(typeof address === 'object' && address);
    const kind = createSimnodeKind({ probeTimeoutMs: 100 });
    const probe = await kind.probe(
      { id: 'slow', host: '127.0.0.1', ports: { rpc: address.port, metrics: address.port } },
      { role: 'sentry' },
    );
    silent.close();
    assert.equal(probe.reachable, false);
    assert.match(probe.detail ?? '', /timed out/);
  });
});
