// The contract every Coordination passes — embedded (a lock file beside the SQLite store),
// etcd (an election on leases) and kubernetes (a Lease): one leader at a time, terms that only
// go up across handovers, a Leadership that ends at once on resign and on close, exclusive
// named locks, and (where a coordination fences by itself) a deposed term refused. Each
// implementation's test file calls coordinationContract with a factory of replicas.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Coordination, Leadership } from '../../src/coordination/coordination.ts';
import { StaleTermError } from '../../src/store/store.ts';

export interface CoordinationReplicas {
  /**
   * A new replica (its own store, its own client) on the shared state named `group`: replicas
   * of one group compete, those of different groups never meet. The caller cleans them up.
   */
  replica(group: string): Promise<Coordination>;
  /**
   * What a second candidate's campaign does while another leads: waits until it may lead
   * (etcd, kubernetes), or is refused at once, naming the holder (embedded: one controller
   * per store file).
   */
  readonly whileAnotherLeads: 'waits' | 'is-refused';
  /** Whether named locks exclude each other across replicas, or only within one replica. */
  readonly locksAcrossReplicas: boolean;
  /** How long a waiting candidate is watched to prove it still waits, ms (a few renewals). */
  readonly standByMs: number;
  readonly skip?: string | false;
}

/** Whether `p` has settled once `ms` have passed (a pending campaign must still be pending). */
export async function settledWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let settled = false;
  void p.then(
    () => (settled = true),
    () => (settled = true),
  );
  await sleep(ms);
  return settled;
}

let groups = 0;
const newGroup = () => `contract-${process.pid}-${++groups}`;

export function coordinationContract(name: string, r: CoordinationReplicas): void {
  const skip = r.skip ?? false;
  describe(`coordination contract: ${name}`, { skip }, () => {
    test('one leads at a time; the other leads after it resigns, with a higher term', async () => {
      const group = newGroup();
      const a = await r.replica(group);
      const b = await r.replica(group);
      const la = await a.campaign('alpha');
      assert.equal(la.holder, 'alpha');
      assert.equal(la.lost.aborted, false);
      let lb: Leadership;
      if (r.whileAnotherLeads === 'waits') {
        const pb = b.campaign('beta');
        assert.equal(await settledWithin(pb, r.standByMs), false, 'b waits while a leads');
        assert.equal(la.lost.aborted, false, 'a still leads');
        await la.resign();
        lb = await pb;
      } else {
        await assert.rejects(
          b.campaign('beta'),
          (e: Error) => e.message.includes('alpha'),
          'refused, naming alpha',
        );
        assert.equal(la.lost.aborted, false, 'a refused rival changes nothing for a');
        await la.resign();
        lb = await b.campaign('beta');
      }
      assert.ok(la.lost.aborted, 'resign ends the leadership at once');
      assert.equal(lb.holder, 'beta');
      assert.ok(lb.term > la.term, `term ${lb.term} follows ${la.term}`);
      await lb.resign();
    });

    test('terms strictly increase across handovers among three replicas', async () => {
      const group = newGroup();
      const replicas = [await r.replica(group), await r.replica(group), await r.replica(group)];
      const terms: number[] = [];
      for (let round = 0; round < 6; round++) {
        const l = await replicas[round % 3]!.campaign(`r${round % 3}`);
        terms.push(l.term);
        await l.resign();
      }
      for (let i = 1; i < terms.length; i++)
        assert.ok(terms[i]! > terms[i - 1]!, `terms ${terms.join(', ')}`);
    });

    test('close ends the leadership it holds, and frees the way for another replica', async () => {
      const group = newGroup();
      const a = await r.replica(group);
      const la = await a.campaign('alpha');
      await a.close();
      assert.ok(la.lost.aborted, 'close aborts lost');
      const b = await r.replica(group);
      const lb = await b.campaign('beta');
      assert.ok(lb.term > la.term, `term ${lb.term} follows ${la.term}`);
      await lb.resign();
    });

    test('a named lock is exclusive and not re-entrant until released; names are independent', async () => {
      const group = newGroup();
      const a = await r.replica(group);
      const b = await r.replica(group);
      const lock = await a.tryLock('scale-down/sentries', 'a');
      assert.ok(lock, 'a free lock is taken');
      assert.equal(lock.name, 'scale-down/sentries');
      assert.equal(lock.lost.aborted, false, 'held, not lost');
      assert.equal(await a.tryLock('scale-down/sentries', 'a'), undefined, 'not re-entrant');
      assert.equal(await a.tryLock('scale-down/sentries', 'other'), undefined, 'not for another holder');
      if (r.locksAcrossReplicas)
        assert.equal(await b.tryLock('scale-down/sentries', 'b'), undefined, 'not for another replica');
      const other = await a.tryLock('scale-down/validators', 'a');
      assert.ok(other, 'locks of other names are independent');
      await lock.release();
      assert.equal(lock.lost.aborted, false, 'a release is not a loss');
      const again = await (r.locksAcrossReplicas ? b : a).tryLock('scale-down/sentries', 'b');
      assert.ok(again, 'free again once released');
      await again.release();
      await other.release();
    });

    test('fence, where a coordination offers it, refuses a deposed term and accepts the current one', async (t) => {
      const group = newGroup();
      const a = await r.replica(group);
      const b = await r.replica(group);
      if (!a.fence || !b.fence) return t.skip(`${name} fences through its store's terms, not by itself`);
      const la = await a.campaign('alpha');
      await a.fence(la.term);
      await la.resign();
      const lb = await b.campaign('beta');
      await b.fence(lb.term);
      await assert.rejects(a.fence(la.term), StaleTermError);
      await assert.rejects(b.fence(la.term), StaleTermError);
      await lb.resign();
    });

    test('a waiting campaign ends when its signal aborts, and leaves the leader be', async (t) => {
      if (r.whileAnotherLeads !== 'waits') return t.skip(`${name} never waits: a rival is refused at once`);
      const group = newGroup();
      const a = await r.replica(group);
      const b = await r.replica(group);
      const la = await a.campaign('alpha');
      const stop = new AbortController();
      const pb = b.campaign('beta', stop.signal);
      assert.equal(await settledWithin(pb, r.standByMs / 2), false, 'b waits');
      stop.abort(new Error('shutting down'));
      await assert.rejects(pb);
      assert.equal(la.lost.aborted, false, 'a still leads');
      await la.resign();
      // b gave up: a third replica leads next, after a.
      const c = await r.replica(group);
      const lc = await c.campaign('gamma');
      assert.ok(lc.term > la.term);
      await lc.resign();
    });
  });
}
