import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { freePort, freePorts } from './free-ports.ts';

const ephemeralFrom = Number(
  readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0],
);

test('ports are drawn below the ephemeral range, all different, none of the taken ones', async () => {
  const taken = new Set<number>();
  for (let p = 10_000; p < 20_000; p++) taken.add(p);
  const seen = new Set<number>();
  for (let i = 0; i < 50; i++) {
    const ports = await freePorts('127.0.0.1', ['rpc', 'p2p', 'metrics'], taken);
    assert.deepEqual(Object.keys(ports), ['rpc', 'p2p', 'metrics']);
    for (const port of Object.values(ports)) {
      assert.ok(port >= 20_000 && port < ephemeralFrom, `port ${port} below ${ephemeralFrom}, not taken`);
      assert.ok(!seen.has(port), `port ${port} handed out once`);
      seen.add(port);
    }
  }
});

test('a port handed out can be bound at once', async () => {
  const port = await freePort();
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
