// The failover monitor's loop against a FAKE CometBFT RPC (a validator's /status, a sentry's
// /status and /commit, served here): an outage asks for a standby; a recovery then keeps it
// (onRecovery: keep) or asks for its removal (onRecovery: remove), each step an event and an
// alert. The real-chain path runs in test/integration/failover.test.ts.

import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import pino from 'pino';
import { waitFor } from '../../test/support/fleet.ts';
import type { Alert } from '../alerts/alert.ts';
import { parseConfigText } from '../config/load.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { SqliteStore } from '../store/sqlite-store.ts';
import type { StoredNode } from '../store/store.ts';
import { FailoverMonitor } from './monitor.ts';

const VALIDATOR = 'AB12CD34EF56AB12CD34EF56AB12CD34EF56AB12';
const servers: Server[] = [];
after(() => {
  for (const s of servers) s.close();
});

/**
 * One chain seen by a fake validator and a fake sentry: a block every `blockMs` (50 ms). A
 * validator that `joinsAt` a height signed no commit below it.
 */
async function fakeChain(o: { blockMs?: number; joinsAt?: number } = {}) {
  const t0 = Date.now();
  const chain = { validatorUp: true, signing: true };
  const height = () => Math.floor((Date.now() - t0) / (o.blockMs ?? 50)) + 10;
  const serve = async (answer: (path: string) => unknown): Promise<number> => {
    const server = createServer((req, res) => {
      const result = answer(req.url ?? '/');
      if (result === undefined) return req.socket.destroy();
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ jsonrpc: '2.0', id: -1, result }));
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return (server.address() as AddressInfo).port;
  };
  const status = (id: string, h: number, validator: boolean) => ({
    node_info: { id, moniker: id, network: 'fake-1' },
    sync_info: { latest_block_height: String(h), catching_up: false, latest_app_hash: 'AA' },
    validator_info: validator
      ? { address: VALIDATOR, voting_power: '10' }
      : { address: 'FF', voting_power: '0' },
  });
  const validatorPort = await serve((path) =>
    !chain.validatorUp ? undefined : path.startsWith('/status') ? status('val-id', height(), true) : {},
  );
  const sentryPort = await serve((path) => {
    if (path.startsWith('/status')) return status('sentry-id', height(), false);
    const h = Number(new URL(path, 'http://x').searchParams.get('height'));
    return {
      signed_header: {
        commit: {
          height: String(h),
          round: 0,
          signatures: [
            chain.signing && chain.validatorUp && h >= (o.joinsAt ?? 0)
              ? { block_id_flag: 2, validator_address: VALIDATOR }
              : { block_id_flag: 1, validator_address: '' },
          ],
        },
      },
    };
  });
  return { chain, validatorPort, sentryPort, height };
}

const node = (id: string, pool: string, rpc: number): StoredNode => ({
  id,
  pool,
  provider: 'here',
  state: 'ready',
  createdAt: 1,
  readyAt: 2,
  joinStartedAt: 1,
  joinAttempts: 0,
  failMarker: 0,
  actionId: 'a',
  registered: true,
  updatedAt: 2,
  host: '127.0.0.1',
  ports: { rpc, p2p: 1, metrics: 2 },
});

/**
 * A failover monitor over `configText`, its store holding the validator and one sentry on the
 * fake chain's ports; `stop()` ends it and closes the store.
 */
async function monitorOn(configText: string, ports: { validatorPort: number; sentryPort: number }) {
  const { config } = parseConfigText(configText, '/tmp/rampart-monitor-test.yaml');
  const store = new SqliteStore(':memory:');
  await store.open();
  const term = await store.newTerm('test');
  await store.putNode(node('validator-0', 'validator', ports.validatorPort), term);
  await store.putNode(node('sentries-0', 'sentries', ports.sentryPort), term);
  const alerts: Alert[] = [];
  const monitor = new FailoverMonitor({ config, store } as unknown as Runtime, pino({ level: 'silent' }), {
    send: (a) => void alerts.push(a),
  });
  const abort = new AbortController();
  let running: Promise<void> | undefined;
  return {
    store,
    alerts,
    start() {
      running = monitor.run({ term, log: pino({ level: 'silent' }), guard: () => undefined }, abort.signal);
    },
    async stop() {
      abort.abort();
      await running;
      await store.close();
    },
  };
}

for (const onRecovery of ['remove', 'keep'] as const)
  test(`outage asks for a standby; recovery with onRecovery: ${onRecovery} ${onRecovery === 'remove' ? 'asks for its removal' : 'keeps it'}`, async () => {
    const { chain, validatorPort, sentryPort } = await fakeChain();
    const { store, alerts, start, stop } = await monitorOn(
      `version: 1
providers: [ { name: here, kind: local } ]
pools:
  - name: validator
    role: validator
    provider: here
    node: { kind: cometbft, home: /nonexistent/validator-home }
    failover:
      detect: { pollInterval: 100ms, unreachableFor: 400ms, heightStalledFor: 2s, missedBlocks: 3 }
      standbyPool: standby
      onRecovery: ${onRecovery}
  - { name: sentries, role: sentry, provider: here, node: { kind: cometbft, validatorPool: validator }, size: { min: 1, capacity: 1, max: 2 } }
  - { name: standby, role: standby, provider: here, node: { kind: cometbft, peerPool: sentries }, size: { min: 0, capacity: 0, max: 1 } }
`,
      { validatorPort, sentryPort },
    );
    start();
    try {
      const standbySizes = async () =>
        (await store.openRequests())
          .filter((r) => r.kind === 'pool-size')
          .map((r) => [r.body.size, r.caller]);
      // Healthy: it learns the validator's address and asks for nothing.
      await waitFor('the validator seen signing', async () =>
        (await store.getFailover('validator'))?.body.lastSignedSeen !== undefined ? true : undefined,
      );
      assert.deepEqual(await standbySizes(), []);

      chain.validatorUp = false;
      await waitFor('a standby asked for', async () =>
        (await standbySizes()).length > 0 ? true : undefined,
      );
      assert.deepEqual(await standbySizes(), [[1, 'failover of validator (validator down)']]);
      assert.ok(alerts.some((a) => a.status === 'firing' && a.severity === 'critical'));

      chain.validatorUp = true;
      const recovered = (await waitFor('the recovery event', async () =>
        (await store.listEvents({ pool: 'validator' })).find((e) => /validator is back/.test(e.text)),
      ))!;
      if (onRecovery === 'remove') {
        assert.match(recovered.text, /standby in pool standby will be removed \(onRecovery: remove\)/);
        assert.deepEqual(await standbySizes(), [
          [1, 'failover of validator (validator down)'],
          [0, 'failover of validator (validator recovered)'],
        ]);
      } else {
        assert.match(recovered.text, /standby in pool standby kept synced \(onRecovery: keep\)/);
        assert.deepEqual(await standbySizes(), [[1, 'failover of validator (validator down)']]);
      }
      const last = alerts.at(-1)!;
      assert.deepEqual([last.status, last.key], ['resolved', 'validator-down/validator']);
      const state = (await store.getFailover('validator'))!.body as { standby?: { size: number } };
      assert.equal(state.standby?.size, onRecovery === 'remove' ? 0 : 1);
    } finally {
      await stop();
    }
  });

test('a validator just started is not suspect for the commits below the height it was first seen at', async () => {
  // Blocks slower than polls: without the rule, two polls in a row would see the commit
  // before the validator joined as missed.
  const { validatorPort, sentryPort, height } = await fakeChain({ blockMs: 400, joinsAt: 12 });
  const { store, alerts, start, stop } = await monitorOn(
    `version: 1
providers: [ { name: here, kind: local } ]
pools:
  - name: validator
    role: validator
    provider: here
    node: { kind: cometbft, home: /nonexistent/validator-home }
    failover:
      detect: { pollInterval: 100ms, unreachableFor: 10s, heightStalledFor: 10s, missedBlocks: 3 }
  - { name: sentries, role: sentry, provider: here, node: { kind: cometbft, validatorPool: validator }, size: { min: 1, capacity: 1, max: 2 } }
`,
    { validatorPort, sentryPort },
  );
  // The monitor first reaches the validator once it has joined (Rampart has just started it).
  await waitFor('the validator to join', () => (height() >= 12 ? true : undefined), 20_000);
  start();
  try {
    await waitFor(
      'the validator seen signing after it joined',
      async () => {
        const f = (await store.getFailover('validator'))?.body;
        return f?.lastSignedSeen !== undefined && (f.watchedFrom as number) >= 12 ? true : undefined;
      },
      20_000,
    );
    assert.deepEqual(
      alerts.map((a) => a.summary),
      [],
      'no alert for the commits before it was first seen',
    );
    const f = (await store.getFailover('validator'))!.body as { detect: { status: string } };
    assert.equal(f.detect.status, 'healthy');
  } finally {
    await stop();
  }
});
