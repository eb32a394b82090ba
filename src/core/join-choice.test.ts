import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chooseJoin, EXPLORE_EVERY, type JoinTimes, recordJoin } from './join-choice.ts';

const fig = (s: number, node = 'n') => ({ ms: s * 1000, at: 0, node });
const both = { stateSync: true, snapshot: true };

test('the way a new node joins, by what is possible and what was measured', () => {
  const measured: JoinTimes = { stateSync: fig(41), snapshot: fig(63), streak: 0 };
  const rows: [
    string,
    JoinTimes | undefined,
    { stateSync: boolean; snapshot: boolean },
    string | undefined,
    RegExp,
  ][] = [
    ['nothing possible', measured, { stateSync: false, snapshot: false }, undefined, /neither/],
    [
      'only a snapshot',
      measured,
      { stateSync: false, snapshot: true },
      'snapshot',
      /only way \(no state-sync source/,
    ],
    [
      'only state sync',
      measured,
      { stateSync: true, snapshot: false },
      'state-sync',
      /only way \(no file snapshot yet\)/,
    ],
    ['no figure yet: the snapshot first', undefined, both, 'snapshot', /neither way measured yet/],
    [
      'state sync unmeasured: tried next',
      { snapshot: fig(13.5), streak: 1 },
      both,
      'state-sync',
      /^state sync: not measured yet \(snapshot last 13\.5 s\)$/,
    ],
    [
      'snapshot unmeasured: tried next',
      { stateSync: fig(26), streak: 3 },
      both,
      'snapshot',
      /^snapshot: not measured yet \(state sync last 26\.0 s\)$/,
    ],
    [
      'the faster measured',
      measured,
      both,
      'state-sync',
      /^state sync: last 41\.0 s against 63\.0 s by snapshot$/,
    ],
    [
      'the faster, the other way round',
      { stateSync: fig(26), snapshot: fig(13.5), streak: 2 },
      both,
      'snapshot',
      /^snapshot: last 13\.5 s against 26\.0 s by state sync$/,
    ],
    [
      'a tie goes to the snapshot',
      { stateSync: fig(20), snapshot: fig(20), streak: 0 },
      both,
      'snapshot',
      /^snapshot: last 20\.0 s/,
    ],
    [
      'the slower tried again once the faster had its run',
      { ...measured, streak: EXPLORE_EVERY - 1 },
      both,
      'snapshot',
      /^snapshot, tried again after 4 joins by state sync \(every 5th join\): last 63\.0 s against 41\.0 s by state sync$/,
    ],
    ['not before', { ...measured, streak: EXPLORE_EVERY - 2 }, both, 'state-sync', /^state sync: last/],
  ];
  for (const [name, times, possible, way, why] of rows) {
    const c = chooseJoin(times, possible);
    assert.equal(c.way, way, name);
    assert.match(c.why, why, name);
  }
});

test('figures follow the joins; every fifth join measures the slower way again', () => {
  // Joins as the pool would see them: the choice, then its measured time.
  const took = { 'state-sync': 26_000, snapshot: 13_500 };
  let times: JoinTimes | undefined;
  const ways: string[] = [];
  for (let i = 0; i < 12; i++) {
    const way = chooseJoin(times, both).way!;
    ways.push(way);
    times = recordJoin(times, way, { ms: took[way], at: i, node: `n${i}` });
  }
  // Snapshot first, state sync measured second, then the faster with one in five the slower.
  assert.deepEqual(ways, [
    'snapshot',
    'state-sync',
    'snapshot',
    'snapshot',
    'snapshot',
    'snapshot',
    'state-sync',
    'snapshot',
    'snapshot',
    'snapshot',
    'snapshot',
    'state-sync',
  ]);
  assert.deepEqual(times?.stateSync, { ms: 26_000, at: 11, node: 'n11' });
  assert.equal(times?.streak, 0);
});

test('a stale figure is corrected: the slower way, measured again faster, takes over', () => {
  let times: JoinTimes = { stateSync: fig(26), snapshot: fig(13.5), streak: EXPLORE_EVERY - 1 };
  assert.equal(chooseJoin(times, both).way, 'state-sync');
  // The chain grew: a state sync now beats a restore.
  times = recordJoin(times, 'state-sync', fig(9));
  assert.equal(times.streak, 0);
  assert.equal(chooseJoin(times, both).way, 'state-sync');
  times = recordJoin(times, 'state-sync', fig(10));
  assert.equal(times.streak, 1);
  assert.match(chooseJoin(times, both).why, /^state sync: last 10\.0 s against 13\.5 s by snapshot$/);
});
