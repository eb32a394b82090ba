// The contract every Store implementation passes: the same cases for SQLite now and etcd
// later. Each implementation's test file calls storeContract with a factory.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  STATE_FORMAT,
  STATE_VERSION,
  type StateDump,
  StoreNotEmptyError,
} from '../../src/store/state-dump.ts';
import type { Store, StoredNode } from '../../src/store/store.ts';
import { StaleTermError } from '../../src/store/store.ts';

export function storedNode(id: string, over: Partial<StoredNode> = {}): StoredNode {
  return {
    id,
    pool: 'sentries',
    provider: 'laptop',
    state: 'ready',
    createdAt: 1000,
    joinStartedAt: 1000,
    joinAttempts: 0,
    failMarker: 0,
    actionId: 'a-1',
    registered: false,
    updatedAt: 1000,
    ...over,
  };
}

/**
 * A store holding some of every kind of record — pools, live and gone nodes, open and finished
 * actions (a snapshot among them), decisions, events, open and finished requests, pool status,
 * failover records, a series sample and a term with its holder — every name and text starting with `prefix`.
 */
export async function fillStore(s: Store, prefix: string): Promise<void> {
  await s.newTerm(`${prefix} leader 1`);
  const t = await s.newTerm(`${prefix} leader 2`);
  const pool = `${prefix}-pool`;
  await s.putPool(
    {
      name: pool,
      paused: true,
      pausedBy: `${prefix} operator`,
      everHadNode: true,
      clocks: { lastScaleUpAt: 1 },
    },
    t,
  );
  await s.putNode(storedNode(`${prefix}-node`, { pool }), t);
  await s.putNode(storedNode(`${prefix}-gone`, { pool, state: 'gone' }), t);
  const action = (id: string, kind: 'create' | 'snapshot') =>
    s.beginAction({
      id: `${prefix}-${id}`,
      term: t,
      pool,
      kind,
      cause: `${prefix} cause`,
      caller: `${prefix} caller`,
      startedAt: 10,
    });
  await action('open-action', 'create');
  await action('snapshot', 'snapshot');
  await s.finishAction(`${prefix}-snapshot`, 'succeeded', `${prefix} snapshot taken`, t, 11);
  await s.recordDecision({
    pool,
    at: 20,
    term: t,
    decision: `${prefix} hold`,
    ready: 1,
    live: 1,
    desired: 1,
    reasons: [{ code: 'c', text: `${prefix} reason` }],
    actions: [],
  });
  await s.recordEvent(
    { at: 21, pool, node: `${prefix}-node`, severity: 'warning', text: `${prefix} event` },
    t,
  );
  await s.recordEvent({ at: 22, severity: 'info', text: `${prefix} fleet-wide event` }, t);
  await s.addRequest({
    id: `${prefix}-open-request`,
    at: 30,
    kind: 'snapshot-create',
    body: { set: `${prefix}-set` },
    caller: `${prefix} cli`,
  });
  await s.addRequest({
    id: `${prefix}-done-request`,
    at: 31,
    kind: 'pool-pause',
    body: { pool },
    caller: `${prefix} cli`,
  });
  await s.finishRequest(`${prefix}-done-request`, 'done', `${prefix} paused`, t, 32);
  await s.putPoolStatus({ pool, at: 40, term: t, body: { note: `${prefix} status` } });
  await s.putFailover({ pool, at: 41, term: t, body: { status: `${prefix} down` } });
  await s.recordSample({ pool, at: 50, term: t, body: { note: `${prefix} sample` } });
}

/** A dump with one of everything, named `new…`: what an import writes. */
export function newStateDump(): StateDump {
  const pool = 'new-pool';
  return {
    format: STATE_FORMAT,
    version: STATE_VERSION,
    exportedAt: 1,
    from: 'test',
    term: 7,
    termHolder: 'new leader',
    pools: [{ name: pool, paused: false, everHadNode: true, clocks: { lastScaleDownAt: 5 } }],
    nodes: [storedNode('new-node', { pool })],
    actions: [
      {
        id: 'new-done',
        term: 6,
        pool,
        kind: 'remove',
        cause: 'new cause',
        caller: 'controller',
        startedAt: 100,
        outcome: 'succeeded',
        outcomeAt: 101,
        outcomeDetail: 'new removed',
      },
      {
        id: 'new-open',
        term: 7,
        pool,
        kind: 'create',
        nodeId: 'new-node',
        cause: 'new cause',
        caller: 'controller',
        startedAt: 102,
        detail: { k: 1 },
      },
    ],
    decisions: [
      {
        pool,
        at: 200,
        term: 7,
        decision: 'new scale-up',
        ready: 0,
        live: 1,
        desired: 2,
        reasons: [{ code: 'c', text: 'new reason' }],
        actions: ['create 1'],
      },
    ],
    events: [{ at: 300, pool, severity: 'critical', text: 'new event' }],
    requests: [
      {
        id: 'new-request',
        at: 400,
        kind: 'pool-resume',
        body: { pool },
        caller: 'new cli',
        outcome: 'failed',
        outcomeAt: 401,
        detail: 'new refused',
      },
    ],
    poolStatus: [{ pool, at: 500, term: 7, body: { note: 'new status' } }],
    failover: [{ pool, at: 600, term: 7, body: { status: 'new healthy' } }],
    samples: [{ pool, at: 700, term: 7, body: { note: 'new sample' } }],
  };
}

/** A dump as JSON sees it (absent and undefined alike), without when and whence. */
export const comparableDump = ({ exportedAt: _a, from: _f, ...rest }: StateDump): unknown =>
  JSON.parse(JSON.stringify(rest));

/**
 * `open` gives a fresh, opened store; `reopen` (if the store persists) the same data again;
 * `skip` is the cases' skip option when the backend is not installed here
 * (skipUnlessInstalled in test/support/servers.ts).
 */
export function storeContract(
  name: string,
  open: () => Promise<Store>,
  reopen?: (s: Store) => Promise<Store>,
  options: { readonly skip?: string | false } = {},
): void {
  describe(`store contract: ${name}`, { skip: options.skip ?? false }, () => {
    test('terms only go up', async () => {
      const s = await open();
      const t1 = await s.newTerm('a');
      const t2 = await s.newTerm('b');
      assert.ok(t2 > t1);
      assert.equal(await s.currentTerm(), t2);
      await s.close();
    });

    test('a new term can be raised to one handed out elsewhere, never lowered', async () => {
      const s = await open();
      const t1 = await s.newTerm('a');
      const raised = await s.newTerm('b', t1 + 40);
      assert.equal(raised, t1 + 40);
      assert.equal(await s.currentTerm(), t1 + 40);
      // Asking for less than the store has seen still goes up by one.
      assert.equal(await s.newTerm('c', 3), t1 + 41);
      await s.close();
    });

    test('a write under a stale term is refused and changes nothing', async () => {
      const s = await open();
      const old = await s.newTerm('a');
      const current = await s.newTerm('b');
      await s.putNode(storedNode('n1'), current);
      await assert.rejects(s.putNode(storedNode('n1', { state: 'draining' }), old), StaleTermError);
      await assert.rejects(
        s.beginAction({
          id: 'x',
          term: old,
          pool: 'p',
          kind: 'create',
          cause: 'c',
          caller: 'controller',
          startedAt: 1,
        }),
        StaleTermError,
      );
      await assert.rejects(
        s.putPool({ name: 'p', paused: true, everHadNode: true, clocks: {} }, old),
        StaleTermError,
      );
      assert.equal((await s.getNode('n1'))?.state, 'ready');
      assert.equal((await s.openActions()).length, 0);
      assert.equal(await s.getPool('p'), undefined);
      await s.close();
    });

    test('nodes: live listing leaves out gone and failed unless asked', async () => {
      const s = await open();
      const t = await s.newTerm('a');
      await s.putNode(storedNode('n1'), t);
      await s.putNode(storedNode('n2', { state: 'gone' }), t);
      await s.putNode(storedNode('n3', { state: 'failed', pool: 'other' }), t);
      assert.deepEqual(
        (await s.listNodes()).map((n) => n.id),
        ['n1'],
      );
      assert.deepEqual(
        (await s.listNodes({ all: true })).map((n) => n.id),
        ['n1', 'n2', 'n3'],
      );
      assert.deepEqual(
        (await s.listNodes({ pool: 'other', all: true })).map((n) => n.id),
        ['n3'],
      );
      assert.deepEqual(await s.getNode('n1'), storedNode('n1'));
      await s.close();
    });

    test('actions: intent before, outcome after, finished once', async () => {
      const s = await open();
      const t = await s.newTerm('a');
      const intent = {
        id: 'a1',
        term: t,
        pool: 'p',
        kind: 'create' as const,
        nodeId: 'n1',
        cause: 'scale-up',
        caller: 'controller',
        startedAt: 5,
        detail: { k: 1 },
      };
      await s.beginAction(intent);
      assert.deepEqual(
        (await s.openActions()).map((a) => a.id),
        ['a1'],
      );
      assert.equal((await s.getAction('a1'))?.nodeId, 'n1', 'an open action is found by id');
      assert.equal(await s.getAction('a2'), undefined);
      await s.finishAction('a1', 'succeeded', 'instance 1', t, 6);
      assert.equal((await s.getAction('a1'))?.outcome, 'succeeded', 'a finished one too');
      assert.equal((await s.openActions()).length, 0);
      await assert.rejects(s.finishAction('a1', 'failed', undefined, t, 7));
      const [a] = await s.listActions({ pool: 'p' });
      assert.equal(a?.outcome, 'succeeded');
      assert.equal(a?.outcomeDetail, 'instance 1');
      assert.deepEqual(a?.detail, { k: 1 });
      await assert.rejects(s.beginAction(intent), 'the same action id is never recorded twice');
      await s.close();
    });

    test('decisions and events: oldest first, newest kept by limit, filtered by pool', async () => {
      const s = await open();
      const t = await s.newTerm('a');
      for (let i = 0; i < 5; i++)
        await s.recordDecision({
          pool: i % 2 ? 'a' : 'b',
          at: 100 + i,
          term: t,
          decision: 'hold',
          ready: i,
          live: i,
          desired: i,
          reasons: [{ code: 'c', text: `r${i}` }],
          actions: [],
        });
      const last3 = await s.listDecisions({ limit: 3 });
      assert.deepEqual(
        last3.map((d) => d.at),
        [102, 103, 104],
      );
      assert.deepEqual(
        (await s.listDecisions({ pool: 'a' })).map((d) => d.at),
        [101, 103],
      );
      assert.equal(last3[0]?.reasons[0]?.text, 'r2');
      // A past range: at or after since, at or before until, newest `limit` of it.
      assert.deepEqual(
        (await s.listDecisions({ since: 101, until: 103 })).map((d) => d.at),
        [101, 102, 103],
      );
      assert.deepEqual(
        (await s.listDecisions({ pool: 'b', until: 103 })).map((d) => d.at),
        [100, 102],
      );
      assert.deepEqual(
        (await s.listDecisions({ until: 103, limit: 2 })).map((d) => d.at),
        [102, 103],
      );
      await s.recordEvent({ at: 9, pool: 'a', severity: 'critical', text: 'join failed' }, t);
      assert.equal((await s.listEvents({ pool: 'a' }))[0]?.text, 'join failed');
      assert.deepEqual(await s.listEvents({ until: 8 }), []);
      await s.close();
    });

    test('series samples: by pool and range, oldest first, newest kept by limit, fenced', async () => {
      const s = await open();
      const t = await s.newTerm('a');
      for (let i = 0; i < 6; i++)
        await s.recordSample({
          pool: i % 2 ? 'a' : 'b',
          at: 1000 + i * 10,
          term: t,
          body: { ready: i, values: [i / 10, null] },
        });
      assert.deepEqual(
        (await s.listSamples({ pool: 'a' })).map((x) => [x.at, x.body.ready]),
        [
          [1010, 1],
          [1030, 3],
          [1050, 5],
        ],
      );
      const ranged = await s.listSamples({ pool: 'b', since: 1001, until: 1040 });
      assert.deepEqual(
        ranged.map((x) => x.at),
        [1020, 1040],
      );
      assert.deepEqual(ranged[0], { pool: 'b', at: 1020, term: t, body: { ready: 2, values: [0.2, null] } });
      assert.deepEqual(
        (await s.listSamples({ limit: 2 })).map((x) => x.at),
        [1040, 1050],
      );
      await s.newTerm('b');
      await assert.rejects(s.recordSample({ pool: 'a', at: 2000, term: t, body: {} }), StaleTermError);
      assert.equal((await s.listSamples({ since: 2000 })).length, 0, 'a deposed leader records no sample');
      await s.close();
    });

    test('pool state and clocks round-trip', async () => {
      const s = await open();
      const t = await s.newTerm('a');
      const state = {
        name: 'p',
        paused: true,
        everHadNode: true,
        clocks: { lastScaleUpAt: 10, lastScaleDownAt: 20 },
      };
      await s.putPool(state, t);
      assert.deepEqual(await s.getPool('p'), state);
      await s.putPoolStatus({ pool: 'p', at: 3, term: t, body: { ready: 2 } });
      assert.deepEqual((await s.listPoolStatus())[0]?.body, { ready: 2 });
      await s.close();
    });

    test('failover records: one per pool, replaced whole, fenced by term', async () => {
      const s = await open();
      const t = await s.newTerm('a');
      assert.equal(await s.getFailover('validator'), undefined);
      await s.putFailover({ pool: 'validator', at: 1, term: t, body: { status: 'suspect' } });
      await s.putFailover({ pool: 'validator', at: 2, term: t, body: { status: 'down', standby: 'cloud' } });
      await s.putFailover({ pool: 'other', at: 2, term: t, body: { status: 'healthy' } });
      assert.deepEqual((await s.getFailover('validator'))?.body, { status: 'down', standby: 'cloud' });
      assert.deepEqual(
        (await s.listFailover()).map((f) => f.pool),
        ['other', 'validator'],
      );
      const t2 = await s.newTerm('b');
      await assert.rejects(
        s.putFailover({ pool: 'validator', at: 3, term: t, body: { status: 'healthy' } }),
        StaleTermError,
      );
      assert.equal((await s.getFailover('validator'))?.body.status, 'down');
      await s.putFailover({ pool: 'validator', at: 4, term: t2, body: { status: 'recovered' } });
      assert.equal((await s.getFailover('validator'))?.at, 4);
      await s.close();
    });

    test('requests: queued by anyone, finished once by the leader', async () => {
      const s = await open();
      const t = await s.newTerm('a');
      await s.addRequest({ id: 'r1', at: 1, kind: 'snapshot-create', body: { set: 'x' }, caller: 'cli' });
      assert.deepEqual(
        (await s.openRequests()).map((r) => r.id),
        ['r1'],
      );
      await s.finishRequest('r1', 'done', 'snapshot s1', t, 2);
      assert.deepEqual(await s.openRequests(), []);
      assert.equal((await s.getRequest('r1'))?.detail, 'snapshot s1');
      await assert.rejects(s.finishRequest('r1', 'failed', 'again', t, 3));
      await s.close();
    });

    test('pruneHistory removes what ended before the cutoff, keeps open work and newer records, is fenced', async () => {
      const s = await open();
      const t = await s.newTerm('a');
      const action = async (id: string, pool: string, startedAt: number, endedAt?: number) => {
        await s.beginAction({
          id,
          term: t,
          pool,
          kind: 'create',
          cause: 'c',
          caller: 'controller',
          startedAt,
        });
        if (endedAt !== undefined) await s.finishAction(id, 'succeeded', undefined, t, endedAt);
      };
      await action('old', 'p', 1000, 2000);
      await action('old-q', 'q', 1500, 2500);
      await action('still-open', 'p', 1000);
      await action('ended-late', 'p', 1000, 6000);
      await action('new', 'p', 6000, 7000);
      const decision = (pool: string, at: number, name: string) =>
        s.recordDecision({
          pool,
          at,
          term: t,
          decision: name,
          ready: 1,
          live: 1,
          desired: 1,
          reasons: [],
          actions: [],
        });
      // More than one pruning page of decisions, so paging is exercised too.
      for (let i = 0; i < 45; i++) await decision(i % 2 ? 'p' : 'q', 1000 + i, `old-${i}`);
      await decision('p', 4999, 'edge');
      await decision('p', 5000, 'kept');
      await s.recordEvent({ at: 1000, pool: 'p', severity: 'info', text: 'old, of p' }, t);
      await s.recordEvent({ at: 1000, severity: 'warning', text: 'old, of no pool' }, t);
      await s.recordEvent({ at: 6000, pool: 'p', severity: 'info', text: 'new' }, t);
      await s.recordSample({ pool: 'p', at: 1000, term: t, body: { n: 'old' } });
      await s.recordSample({ pool: 'q', at: 4999, term: t, body: { n: 'edge' } });
      await s.recordSample({ pool: 'p', at: 5000, term: t, body: { n: 'kept' } });
      await s.addRequest({ id: 'r-old', at: 1000, kind: 'pool-pause', body: {}, caller: 'cli' });
      await s.finishRequest('r-old', 'done', 'paused', t, 2000);
      await s.addRequest({ id: 'r-open', at: 1000, kind: 'pool-pause', body: {}, caller: 'cli' });
      await s.addRequest({ id: 'r-new', at: 6000, kind: 'pool-pause', body: {}, caller: 'cli' });
      await s.finishRequest('r-new', 'failed', 'no', t, 6500);

      assert.deepEqual(await s.pruneHistory(5000, t), {
        actions: 2,
        decisions: 46,
        events: 2,
        requests: 1,
        samples: 2,
      });
      assert.deepEqual(
        (await s.listSamples()).map((x) => x.body.n),
        ['kept'],
      );
      assert.deepEqual(await s.listSamples({ pool: 'q' }), []);
      assert.deepEqual((await s.listActions()).map((a) => a.id).sort(), ['ended-late', 'new', 'still-open']);
      assert.deepEqual((await s.listActions({ pool: 'p' })).map((a) => a.id).sort(), [
        'ended-late',
        'new',
        'still-open',
      ]);
      assert.deepEqual(await s.listActions({ pool: 'q' }), []);
      assert.deepEqual(
        (await s.openActions()).map((a) => a.id),
        ['still-open'],
      );
      assert.deepEqual(
        (await s.listDecisions()).map((d) => d.decision),
        ['kept'],
      );
      assert.deepEqual(
        (await s.listDecisions({ pool: 'p' })).map((d) => d.decision),
        ['kept'],
      );
      assert.deepEqual(await s.listDecisions({ pool: 'q' }), []);
      assert.deepEqual(
        (await s.listEvents()).map((e) => e.text),
        ['new'],
      );
      assert.deepEqual(
        (await s.listEvents({ pool: 'p' })).map((e) => e.text),
        ['new'],
      );
      assert.equal(await s.getRequest('r-old'), undefined);
      assert.equal((await s.getRequest('r-new'))?.outcome, 'failed');
      assert.deepEqual(
        (await s.openRequests()).map((r) => r.id),
        ['r-open'],
      );
      // The open action can still be finished, and a second prune finds nothing more.
      await s.finishAction('still-open', 'failed', 'reconciled', t, 7000);
      assert.deepEqual(await s.pruneHistory(5000, t), {
        actions: 0,
        decisions: 0,
        events: 0,
        requests: 0,
        samples: 0,
      });

      await s.newTerm('b');
      await assert.rejects(s.pruneHistory(8000, t), StaleTermError);
      assert.equal((await s.listActions()).length, 3, 'a deposed leader prunes nothing');
      await s.close();
    });

    test('export and import: an empty store takes a dump as it is; export gives it back', async () => {
      const s = await open();
      const dump = newStateDump();
      await s.importState(dump, { force: false });
      assert.deepEqual(comparableDump(await s.exportState()), comparableDump(dump));
      assert.equal(await s.currentTerm(), 7);
      assert.equal(await s.newTerm('next leader'), 8, 'a new leader continues above the imported term');
      await s.close();
    });

    test('a forced import replaces everything: nothing of the state before remains', async () => {
      const s = await open();
      await fillStore(s, 'previous');
      const dump = newStateDump();
      await assert.rejects(s.importState(dump, { force: false }), StoreNotEmptyError);
      assert.equal(
        (await s.getNode('previous-node'))?.id,
        'previous-node',
        'a refused import changes nothing',
      );
      assert.equal(
        (await s.getFailover('previous-pool'))?.pool,
        'previous-pool',
        'a refused import changes nothing',
      );

      await s.importState(dump, { force: true });
      const after = await s.exportState();
      assert.doesNotMatch(JSON.stringify(after), /previous/, 'no record of the old state is exported');
      assert.deepEqual(comparableDump(after), comparableDump(dump));
      assert.equal(await s.getPool('previous-pool'), undefined);
      assert.equal(await s.getNode('previous-node'), undefined);
      assert.equal(await s.getNode('previous-gone'), undefined);
      assert.equal(await s.getFailover('previous-pool'), undefined);
      assert.equal(await s.getRequest('previous-open-request'), undefined);
      assert.equal(await s.getRequest('previous-done-request'), undefined);
      assert.deepEqual(
        (await s.openActions()).map((a) => a.id),
        ['new-open'],
      );
      assert.deepEqual(
        (await s.openRequests()).map((r) => r.id),
        [],
      );
      assert.deepEqual(
        (await s.listNodes({ pool: 'previous-pool', all: true })).map((n) => n.id),
        [],
      );
      assert.deepEqual(await s.listActions({ pool: 'previous-pool' }), []);
      assert.deepEqual(await s.listDecisions({ pool: 'previous-pool' }), []);
      assert.deepEqual(await s.listEvents({ pool: 'previous-pool' }), []);
      assert.equal(await s.currentTerm(), 7, 'the term is the dump’s, even below the old one');
      await s.close();
    });

    test('a new store is empty; a term is not a record, any one record is', async () => {
      const fresh = await open();
      assert.equal(await fresh.isEmpty(), true, 'a new store');
      await fresh.newTerm('leader');
      assert.equal(await fresh.isEmpty(), true, 'a store that only handed out a term');
      await fresh.close();
      const oneOf: Record<string, (s: Store, t: number) => Promise<void>> = {
        pool: (s, t) => s.putPool({ name: 'p', paused: false, everHadNode: false, clocks: {} }, t),
        node: (s, t) => s.putNode(storedNode('gone', { state: 'gone' }), t),
        action: (s, t) =>
          s.beginAction({
            id: 'a',
            term: t,
            pool: 'p',
            kind: 'create',
            cause: 'c',
            caller: 'x',
            startedAt: 1,
          }),
        decision: (s, t) =>
          s.recordDecision({
            pool: 'p',
            at: 1,
            term: t,
            decision: 'hold',
            ready: 0,
            live: 0,
            desired: 0,
            reasons: [],
            actions: [],
          }),
        event: (s, t) => s.recordEvent({ at: 1, severity: 'info', text: 'e' }, t),
        request: (s) => s.addRequest({ id: 'r', at: 1, kind: 'pool-pause', body: {}, caller: 'cli' }),
        'pool status': (s, t) => s.putPoolStatus({ pool: 'p', at: 1, term: t, body: {} }),
        failover: (s, t) => s.putFailover({ pool: 'p', at: 1, term: t, body: {} }),
        sample: (s, t) => s.recordSample({ pool: 'p', at: 1, term: t, body: {} }),
      };
      for (const [kind, write] of Object.entries(oneOf)) {
        const s = await open();
        await write(s, await s.newTerm('leader'));
        assert.equal(await s.isEmpty(), false, `a store holding one ${kind} record`);
        await s.close();
      }
    });

    test('clear removes every record of every kind and keeps the term: it never goes back', async () => {
      const s = await open();
      await fillStore(s, 'cleared');
      const term = await s.currentTerm();
      const ids = async () => ({
        decision: (await s.listDecisions()).map((d) => d.id!),
        event: (await s.listEvents()).map((e) => e.id!),
      });
      const idsBefore = await ids();
      assert.equal(await s.isEmpty(), false);

      await s.clear();
      assert.equal(await s.isEmpty(), true, 'nothing is left');
      const { term: keptTerm, termHolder, exportedAt: _a, from: _f, ...records } = await s.exportState();
      for (const [kind, list] of Object.entries(records))
        if (Array.isArray(list)) assert.deepEqual(list, [], `no ${kind} is left`);
      assert.equal(await s.getPool('cleared-pool'), undefined);
      assert.equal(await s.getNode('cleared-gone'), undefined);
      assert.equal(await s.getAction('cleared-snapshot'), undefined);
      assert.equal(await s.getRequest('cleared-done-request'), undefined);
      assert.equal(await s.getFailover('cleared-pool'), undefined);
      assert.deepEqual(await s.openActions(), []);
      assert.deepEqual(await s.openRequests(), []);

      assert.equal(keptTerm, term, 'the term is kept');
      assert.equal(termHolder, 'cleared leader 2', 'and who took it');
      assert.equal(await s.currentTerm(), term);
      await assert.rejects(
        s.putPool({ name: 'p', paused: false, everHadNode: false, clocks: {} }, term - 1),
        StaleTermError,
        'a writer deposed before the clear stays fenced',
      );
      assert.equal(await s.isEmpty(), true, 'the refused write wrote nothing');
      await assert.rejects(
        s.importState(newStateDump(), { force: false }),
        StoreNotEmptyError,
        'an import without force would set the kept term back: refused',
      );
      const next = await s.newTerm('next leader');
      assert.ok(next > term, 'the next leader’s term is above every term before the clear');

      await s.putPool({ name: 'p', paused: false, everHadNode: false, clocks: {} }, next);
      await s.recordDecision({
        pool: 'p',
        at: 1,
        term: next,
        decision: 'after',
        ready: 0,
        live: 0,
        desired: 0,
        reasons: [],
        actions: [],
      });
      await s.recordEvent({ at: 1, severity: 'info', text: 'after' }, next);
      assert.equal(await s.isEmpty(), false, 'the store takes records again');
      const idsAfter = await ids();
      for (const kind of ['decision', 'event'] as const) {
        assert.equal(idsAfter[kind].length, 1);
        for (const id of idsAfter[kind])
          assert.ok(
            idsBefore[kind].every((old) => id > old),
            `${kind} id ${id} is above every one before the clear (${idsBefore[kind].join(', ')}): ids are never reused`,
          );
      }

      await s.clear();
      await s.clear();
      assert.equal(await s.isEmpty(), true, 'clearing an empty store is not an error');
      assert.equal(await s.currentTerm(), next);
      await s.close();
    });

    if (reopen)
      test('everything survives a reopen (a restarted controller continues)', async () => {
        const s = await open();
        const t = await s.newTerm('a');
        await s.putPool({ name: 'p', paused: false, everHadNode: true, clocks: { lastScaleUpAt: 42 } }, t);
        await s.putNode(storedNode('n1'), t);
        await s.beginAction({
          id: 'open',
          term: t,
          pool: 'p',
          kind: 'remove',
          cause: 'c',
          caller: 'controller',
          startedAt: 1,
        });
        const again = await reopen(s);
        assert.equal(await again.currentTerm(), t);
        assert.equal((await again.getPool('p'))?.clocks.lastScaleUpAt, 42);
        assert.equal((await again.getNode('n1'))?.id, 'n1');
        assert.deepEqual(
          (await again.openActions()).map((a) => a.id),
          ['open'],
        );
        await again.close();
      });
  });
}
