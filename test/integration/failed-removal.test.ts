// A removal whose provider call fails for good (the cloud said no, the call timed out) leaves its
// node deleting with no action running. The running controller tries it again: the node goes,
// its process stops, and the pool scales in again afterwards instead of waiting for a restart.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import pino from 'pino';
import { loadConfigFile } from '../../src/config/load.ts';
import { Controller } from '../../src/controller/controller.ts';
import { createRuntime } from '../../src/runtime/runtime.ts';
import { fastFleetConfig, makeFleet, waitFor } from '../support/fleet.ts';

const fleet = makeFleet(fastFleetConfig({ min: 1, capacity: 3, max: 4 }));
after(() => fleet.cleanup());

test('a removal whose destroy failed is tried again by the running controller', async () => {
  const runtime = createRuntime(loadConfigFile(fleet.configFile).config);
  const provider = runtime.providers.get('here')!;
  const destroy = provider.destroy.bind(provider);
  let refusals = 0;
  let refuse = false;
  provider.destroy = async (i, removal) => {
    if (refuse && i.pool === 'sentries') {
      refuse = false;
      refusals++;
      throw new Error('injected: the provider refused the deletion for good');
    }
    await destroy(i, removal);
  };
  const controller = new Controller({ runtime, log: pino({ level: 'silent' }) });
  await controller.start();
  after(() => controller.stop());
  const rt = await fleet.inspect();
  const sentries = async () => await rt.store.listNodes({ pool: 'sentries' });
  await waitFor(
    'three ready sentries',
    async () => (await sentries()).filter((n) => n.state === 'ready' && n.registered).length === 3,
  );

  // Down to 1 by hand: two removals, the first one's deletion refused once.
  refuse = true;
  await rt.store.addRequest({
    id: 'r-size',
    at: Date.now(),
    kind: 'pool-size',
    body: { pool: 'sentries', size: 1 },
    caller: 'test',
  });
  await waitFor(
    'one sentry left, the others gone with their processes',
    async () => {
      const left = await sentries();
      const running = (await provider.list()).filter((i) => i.pool === 'sentries' && i.running);
      return left.length === 1 && left[0]!.state === 'ready' && running.length === 1;
    },
    90_000,
  );
  assert.equal(refusals, 1, 'the deletion was refused once');
  const removals = (await rt.store.listActions({ pool: 'sentries', limit: 100 })).filter(
    (a) => a.kind === 'remove',
  );
  const failed = removals.filter((a) => a.outcome === 'failed');
  assert.equal(failed.length, 1, 'one removal failed');
  assert.match(failed[0]!.outcomeDetail ?? '', /refused the deletion for good/);
  const again = removals.filter((a) => a.nodeId === failed[0]!.nodeId && a.outcome === 'succeeded');
  assert.equal(again.length, 1, 'the failed removal was tried again, once, and succeeded');
  assert.match(again[0]!.cause, /tried again: left deleting/);
  assert.equal(removals.filter((a) => a.outcome === 'succeeded').length, 2, 'both removals done');
});
