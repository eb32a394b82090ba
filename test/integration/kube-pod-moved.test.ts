// A registered sentry whose address changes — a StatefulSet pod recreated on another pod IP —
// leaves the validator's lists at its old address and is registered again at its new one, as
// actions. The fleet is held in memory (a fake provider whose instance the test moves, and a
// node kind that records addresses); the store and the controller are the real ones.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { Controller } from '../../src/controller/controller.ts';
import type { NodeAddress } from '../../src/nodes/node-kind.ts';
import { memoryFleet } from '../support/fake-memory-fleet.ts';

async function started(controller: Controller): Promise<void> {
  const first = controller.nextTick();
  await controller.start();
  await first;
}

test('a registered node that moves is deregistered at its old address and registered at its new one (at once if ready, else once ready)', async () => {
  const fleet = memoryFleet();
  after(() => fleet.cleanup());
  // What the validator's lists would hold: node id → host, as register and deregister leave them.
  const lists = new Map<string, string>();
  const calls: string[] = [];
  const { kind } = fleet;
  const register = kind.register.bind(kind);
  const deregister = kind.deregister.bind(kind);
  kind.register = async (node: NodeAddress, upstream: NodeAddress) => {
    calls.push(`register ${node.id} ${node.host}`);
    lists.set(node.id, node.host);
    await register(node, upstream);
  };
  kind.deregister = async (node: NodeAddress, upstream: NodeAddress) => {
    calls.push(`deregister ${node.id} ${node.host}`);
    // As the CometBFT kind matches: by address, so only the entry at that address goes.
    if (lists.get(node.id) === node.host) lists.delete(node.id);
    await deregister(node, upstream);
  };
  const rt = fleet.runtime();
  const controller = fleet.controller(rt);
  kind.ready.add('validator');
  await started(controller);
  try {
    for (let i = 0; i < 4; i++) {
      for (const n of await rt.store.listNodes()) kind.ready.add(n.id);
      await controller.tick();
    }
    const [sentry] = await rt.store.listNodes({ pool: 'sentries' });
    assert.equal(sentry?.registered, true);
    assert.equal(lists.get(sentry.id), '127.0.0.1');

    // Its pod is recreated on another IP.
    const instance = [...fleet.provider.instances.values()].find((i) => i.nodeId === sentry.id)!;
    fleet.provider.instances.set(instance.id, { ...instance, host: '127.0.0.9' });
    calls.length = 0;
    await controller.tick();
    assert.deepEqual(calls, [`deregister ${sentry.id} 127.0.0.1`, `register ${sentry.id} 127.0.0.9`]);
    assert.equal(lists.get(sentry.id), '127.0.0.9', 'only the new address is listed');
    const moved = (await rt.store.listNodes({ pool: 'sentries' }))[0]!;
    assert.deepEqual([moved.host, moved.registered], ['127.0.0.9', true]);
    const actions = (await rt.store.listActions({ pool: 'sentries' })).filter(
      (a) => a.kind === 'register' && a.nodeId === sentry.id,
    );
    assert.ok(
      actions.some((a) =>
        /address changed from 127\.0\.0\.1 \(rpc 1\) to 127\.0\.0\.9 \(rpc 1\)/.test(a.cause),
      ),
      actions.map((a) => a.cause).join('; '),
    );

    // Unchanged afterwards: no more (de)registration.
    calls.length = 0;
    await controller.tick();
    assert.deepEqual(calls, []);

    // Moved again, and not ready at its new address: out of the lists now, back once ready.
    kind.ready.delete(sentry.id);
    fleet.provider.instances.set(instance.id, { ...instance, host: '127.0.0.10' });
    await controller.tick();
    assert.deepEqual(calls, [`deregister ${sentry.id} 127.0.0.9`]);
    assert.equal(lists.has(sentry.id), false);
    const waiting = (await rt.store.listNodes({ pool: 'sentries' }))[0]!;
    assert.deepEqual([waiting.host, waiting.registered], ['127.0.0.10', false]);
    kind.ready.add(sentry.id);
    await controller.tick();
    assert.equal(lists.get(sentry.id), '127.0.0.10');
  } finally {
    await controller.stop();
  }
});
