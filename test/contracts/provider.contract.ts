// The contract every provider passes: instances carry the identity of the action that made
// them, the listing is the truth (also for a provider object made after a restart), destroy
// is idempotent, stop and start keep identity. Each implementation's test file calls
// providerContract with a factory (the local provider with simnode, aws on moto, a
// StatefulSet on kwok, a node pool on kwok over moto's machines).

import assert from 'node:assert/strict';
import { describe, type TestContext, test } from 'node:test';
import type { NodeKind } from '../../src/nodes/node-kind.ts';
import type { CreateRequest, Instance, Provider } from '../../src/providers/provider.ts';
import { shortId } from '../../src/runtime/action-journal.ts';

export interface ProviderHarness {
  /** A provider object over the backend; each call makes a new one (what a restarted controller has). */
  provider(): Provider;
  /** Node kind of the create requests. */
  readonly kind: NodeKind;
  /** Removes everything the test left behind. */
  cleanup(): Promise<void>;
}

function request(h: ProviderHarness, over: Partial<CreateRequest> = {}): CreateRequest {
  return {
    nodeId: `sentries-${shortId()}`,
    pool: 'sentries',
    actionId: `a-${shortId()}`,
    term: 7,
    kind: h.kind,
    launch: { role: 'sentry', upstream: [], options: {} },
    ...over,
  };
}

const identity = (i: Instance) => ({ id: i.id, nodeId: i.nodeId, pool: i.pool, actionId: i.actionId });

async function listed(p: Provider, id: string): Promise<Instance | undefined> {
  return (await p.list()).find((i) => i.id === id);
}

/**
 * `open` gives a harness over an empty backend; `skip` is the cases' skip option when the
 * backend is not installed here (skipUnlessInstalled in test/support/servers.ts). A case of an
 * optional capability the provider lacks is skipped, saying so.
 */
export function providerContract(
  name: string,
  open: () => Promise<ProviderHarness>,
  options: {
    readonly skip?: string | false;
    /**
     * Cases this implementation skips, each with why its coverage is had elsewhere (a mode of a
     * provider whose case runs the very same calls in the other mode's contract).
     */
    readonly covered?: Readonly<Record<string, string>>;
  } = {},
): void {
  describe(`provider contract: ${name}`, { skip: options.skip ?? false }, () => {
    const withHarness = (title: string, body: (h: ProviderHarness, t: TestContext) => Promise<void>) =>
      test(title, async (t) => {
        const covered = options.covered?.[title];
        if (covered) return t.skip(covered);
        const h = await open();
        try {
          await body(h, t);
        } finally {
          await h.cleanup();
        }
      });

    withHarness('create returns a running instance carrying its node, pool and action ids', async (h) => {
      const p = h.provider();
      const req = request(h);
      const made = await p.create(req);
      assert.equal(made.nodeId, req.nodeId);
      assert.equal(made.pool, req.pool);
      assert.equal(made.actionId, req.actionId);
      assert.equal(made.running, true);
      assert.ok(made.id.length > 0, 'the provider names the instance');
      assert.ok(made.createdAt > 0, 'createdAt is set');
      for (const port of h.kind.portNames)
        assert.equal(typeof made.ports[port], 'number', `port ${port} is reported`);
    });

    withHarness('list shows a created instance with the same identity', async (h) => {
      const p = h.provider();
      const made = await p.create(request(h));
      const found = await listed(p, made.id);
      assert.ok(found, `instance ${made.id} is listed`);
      assert.deepEqual(identity(found), identity(made));
      assert.equal(found.running, true);
    });

    withHarness('a fresh provider object (a restart) finds instances by their action ids', async (h) => {
      const reqs = [request(h), request(h)];
      const made = [];
      for (const r of reqs) made.push(await h.provider().create(r));
      assert.notEqual(made[0]!.id, made[1]!.id, 'two requests, two instances');
      const after = await h.provider().list();
      for (const r of reqs) {
        const mine = after.filter((i) => i.actionId === r.actionId);
        assert.equal(mine.length, 1, `exactly one instance carries action ${r.actionId}`);
        assert.equal(mine[0]!.nodeId, r.nodeId);
        assert.equal(mine[0]!.pool, r.pool);
      }
    });

    withHarness('destroy removes the instance from the running listing, and is idempotent', async (h) => {
      const p = h.provider();
      const keep = await p.create(request(h));
      const gone = await p.create(request(h));
      await p.destroy(gone);
      const after = await listed(p, gone.id);
      assert.ok(
        after === undefined || !after.running,
        'a destroyed instance leaves the listing or shows not running',
      );
      assert.equal((await listed(p, keep.id))?.running, true, 'only the chosen instance was destroyed');
      await p.destroy(gone);
      await h.provider().destroy(gone);
      assert.equal((await listed(p, keep.id))?.running, true, 'destroying again touches nothing else');
    });

    withHarness('destroy of an instance that never existed is not an error', async (h) => {
      const p = h.provider();
      const real = await p.create(request(h));
      // Same shape, an id the backend has never seen (local: a pid that is not running).
      const ghost: Instance = {
        ...real,
        id: real.id.replace(/\d/g, '9'),
        nodeId: 'sentries-ghost',
        dataDir: undefined,
      };
      await p.destroy(ghost);
      assert.equal((await listed(p, real.id))?.running, true);
    });

    withHarness('stop and start keep the identity', async (h, t) => {
      const p = h.provider();
      if (!p.stop || !p.start)
        return t.skip(`${name} lacks the optional stop and start (Provider.stop, Provider.start)`);
      const req = request(h);
      const made = await p.create(req);
      await p.stop(made);
      await p.stop(made);
      const stopped = await listed(p, made.id);
      assert.ok(stopped === undefined || !stopped.running, 'a stopped instance is not running');
      const started = await h.provider().start!(stopped ?? made);
      assert.equal(started.nodeId, req.nodeId);
      assert.equal(started.pool, req.pool);
      assert.equal(started.actionId, req.actionId);
      assert.equal(started.running, true);
      const again = (await p.list()).filter((i) => i.actionId === req.actionId && i.running);
      assert.equal(again.length, 1, 'one running instance for the action after the restart');
      assert.equal(again[0]!.id, started.id);
    });
  });
}
