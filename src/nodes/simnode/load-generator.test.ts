// Tests of the demo's load: LoadProfile's schedule (pure) and LoadGenerator's sending, splitting
// and failure counting against local HTTP servers.

import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { LoadGenerator, LoadProfile } from './load-generator.ts';

const DEADLINE_MS = 20_000;

describe('LoadProfile', () => {
  const demo = [
    { at: 0, rate: 60 },
    { at: 20, rate: 400 },
    { at: 80, rate: 400 },
    { at: 90, rate: 60 },
  ];

  test('interpolates linearly between points and holds flat at the ends', () => {
    const profile = new LoadProfile(demo);
    assert.equal(profile.rateAt(0), 60);
    assert.equal(profile.rateAt(10), 230);
    assert.equal(profile.rateAt(20), 400);
    assert.equal(profile.rateAt(50), 400);
    assert.equal(profile.rateAt(85), 230);
    assert.equal(profile.rateAt(90), 60);
    assert.equal(profile.rateAt(1_000), 60);
    assert.equal(profile.rateAt(-5), 60);
  });

  test('loops over the last point when asked', () => {
    const profile = new LoadProfile(demo, { loop: true });
    assert.equal(profile.period, 90);
    assert.equal(profile.rateAt(100), profile.rateAt(10));
    assert.equal(profile.rateAt(90 * 3 + 85), 230);
    assert.equal(profile.rateAt(180), 60);
  });

  test('holds the first rate before a late first point; a repeated time is a step', () => {
    const step = new LoadProfile([
      { at: 5, rate: 10 },
      { at: 10, rate: 10 },
      { at: 10, rate: 100 },
      { at: 20, rate: 100 },
    ]);
    assert.equal(step.rateAt(0), 10);
    assert.equal(step.rateAt(9.99), 10);
    assert.equal(step.rateAt(10), 100);
    assert.equal(new LoadProfile([{ at: 0, rate: 7 }], { loop: true }).rateAt(123), 7);
  });

  test('refuses schedules that make no sense', () => {
    assert.throws(() => new LoadProfile([]), /at least one point/);
    assert.throws(() => new LoadProfile([{ at: 0, rate: -1 }]), /rate/);
    assert.throws(() => new LoadProfile([{ at: Number.NaN, rate: 1 }]), /at must be/);
    assert.throws(
      () =>
        new LoadProfile([
          { at: 10, rate: 1 },
          { at: 5, rate: 1 },
        ]),
      /comes before/,
    );
  });
});

describe('LoadGenerator', () => {
  const servers: Server[] = [];
  const generators: LoadGenerator[] = [];
  after(() => {
    for (const g of generators) g.stop();
    for (const s of servers) s.close();
  });

  /** A node stand-in that counts broadcast_tx_async calls and answers with `status`. */
  async function target(status: number): Promise<{ url: string; count: () => number }> {
    let count = 0;
    const server = createServer((req, res) => {
      if (req.url?.startsWith('/broadcast_tx_async?tx=0x')) count += 1;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end('{"jsonrpc":"2.0","id":-1,"result":{}}');
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, count: () => count };
  }

  async function waitFor(what: string, check: () => boolean): Promise<void> {
    const deadline = Date.now() + DEADLINE_MS;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  test('splits the load evenly over the targets and counts failures', async () => {
    const a = await target(200);
    const b = await target(200);
    const broken = await target(500);
    const generator = new LoadGenerator({ targets: [a.url, b.url, broken.url], rate: 300, tickMs: 20 });
    generators.push(generator);
    generator.start();
    await waitFor('90 requests', () => generator.stats().sent >= 90);
    generator.setRate(0);
    await waitFor('requests in flight to settle', () => generator.stats().inFlight === 0);
    const stats = generator.stats();
    assert.equal(stats.sent, stats.succeeded + stats.failed, JSON.stringify(stats));
    assert.ok(Math.abs(a.count() - b.count()) <= 1, `split ${a.count()} / ${b.count()}`);
    assert.ok(Math.abs(a.count() - broken.count()) <= 1, `split ${a.count()} / ${broken.count()}`);
    assert.equal(stats.failed, broken.count(), 'every HTTP 500 counts as failed');
    assert.deepEqual(stats.failures, { 'HTTP 500': stats.failed }, 'each failure counted by its reason');
    assert.equal(stats.succeeded, a.count() + b.count());
    assert.equal(stats.rate, 0);

    generator.setTargets([a.url]);
    const before = a.count();
    const bBefore = b.count();
    generator.setRate(200);
    await waitFor('load on the new target set', () => a.count() >= before + 10);
    assert.equal(b.count(), bBefore, 'a removed target gets nothing');
    generator.stop();
  });

  test('drops load when there is no target or the concurrency cap is reached, and counts it', async () => {
    const idle = new LoadGenerator({ rate: 500, tickMs: 20 });
    generators.push(idle);
    idle.start();
    await waitFor('dropped load without targets', () => idle.stats().dropped >= 20);
    assert.equal(idle.stats().sent, 0);
    idle.stop();

    const stuck = createServer(() => {});
    servers.push(stuck);
    await new Promise<void>((r) => stuck.listen(0, '127.0.0.1', r));
    const capped = new LoadGenerator({
      targets: [`http://127.0.0.1:${(stuck.address() as AddressInfo).port}`],
      rate: 500,
      maxInFlight: 4,
      requestTimeoutMs: 200,
      tickMs: 20,
    });
    generators.push(capped);
    capped.start();
    await waitFor('failures from timeouts and drops at the cap', () => {
      const s = capped.stats();
      return s.failed >= 4 && s.dropped >= 20;
    });
    assert.ok(capped.stats().inFlight <= 4);
    capped.stop();
  });

  test('follows a profile', () => {
    const generator = new LoadGenerator({ profile: new LoadProfile([{ at: 0, rate: 42 }]) });
    assert.equal(generator.stats().rate, 42);
    generator.setProfile(undefined);
    generator.setRate(5);
    assert.equal(generator.currentRate(), 5);
    assert.throws(() => generator.setRate(-1), /rate/);
    assert.throws(() => generator.setTargets(['not a url']), /not a URL/);
    generator.stop();
  });
});
