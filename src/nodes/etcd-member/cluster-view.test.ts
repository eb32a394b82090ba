// Tables for the pure readings of an etcd member list: matching entries to nodes, stale
// entries, the initial-cluster flag, and when a removal is quorum-safe.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { entryOf, initialClusterFor, removalRefusal, unaccountedEntries } from './cluster-view.ts';
import type { Member } from './members-api.ts';

const started = (id: string, name: string, peer: number, isLearner = false): Member => ({
  id,
  name,
  peerURLs: [`http://127.0.0.1:${peer}`],
  clientURLs: [`http://127.0.0.1:${peer + 1}`],
  isLearner,
});
const unstarted = (id: string, peer: number): Member => ({
  id,
  name: '',
  peerURLs: [`http://127.0.0.1:${peer}`],
  clientURLs: [],
  isLearner: true,
});
const ref = (id: string, peer: number) => ({ id, peerUrl: `http://127.0.0.1:${peer}` });

describe('etcd member list against the pool', () => {
  const members = [started('1', 'm-a', 100), started('2', 'm-b', 200), unstarted('3', 300)];

  test('a started member is found by name, an unstarted one by its peer URL', () => {
    assert.equal(entryOf(members, ref('m-b', 999))?.id, '2');
    assert.equal(entryOf(members, ref('m-new', 300))?.id, '3');
    assert.equal(entryOf(members, ref('m-gone', 400)), undefined);
  });

  test('entries no running node accounts for', () => {
    assert.deepEqual(
      unaccountedEntries(members, [ref('m-a', 100)]).map((m) => m.id),
      ['2', '3'],
    );
    assert.deepEqual(unaccountedEntries(members, [ref('m-a', 100), ref('m-b', 200), ref('x', 300)]), []);
  });

  test('initial cluster: started members by name, the new one under its name, other unstarted left out', () => {
    const added = unstarted('4', 400);
    assert.equal(
      initialClusterFor([...members, added], added, 'm-d'),
      'm-a=http://127.0.0.1:100,m-b=http://127.0.0.1:200,m-d=http://127.0.0.1:400',
    );
  });
});

describe('quorum-safe removal', () => {
  const check = { pool: 'members', nodeId: 'm-e', minMembers: 3, unhealthyOthers: [] };

  test('5 → 4 and 4 → 3 voters, all healthy: allowed', () => {
    assert.equal(removalRefusal({ ...check, voters: 5 }), undefined);
    assert.equal(removalRefusal({ ...check, voters: 4 }), undefined);
  });

  test('below the minimum: refused, naming pool, member and sizes', () => {
    assert.equal(
      removalRefusal({ ...check, voters: 3 }),
      'pool members: removing member m-e would leave 2 voting member(s) of 3, below the quorum-safe minimum of 3 (node.minMembers): kept it',
    );
  });

  test('another voter not healthy: refused', () => {
    assert.match(
      removalRefusal({ ...check, voters: 5, unhealthyOthers: ['"m-b" (id 2)'] }) ?? '',
      /while "m-b" \(id 2\) is not healthy could cost the cluster its quorum \(5 voting members, 4 healthy\)/,
    );
  });
});
