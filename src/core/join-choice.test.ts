import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  chooseJoin,
  chooseRejoin,
  EXPLORE_EVERY,
  type FailedJoin,
  type JoinPossible,
  type JoinTimes,
  planJoin,
  recordJoin,
  type StateSyncMode,
} from './join-choice.ts';

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

test('the way a new node joins under each mode', () => {
  const none = { stateSync: false, snapshot: false };
  const onlySync = { stateSync: true, snapshot: false };
  const onlySnap = { stateSync: false, snapshot: true };
  const rows: [StateSyncMode, JoinPossible, string | undefined, RegExp][] = [
    ['never', both, 'snapshot', /^snapshot \(bootstrap\.snapshots\)$/],
    ['never', onlySync, undefined, /no file snapshot/],
    ['prefer', both, 'state-sync', /^state sync \(stateSync prefer\)$/],
    ['prefer', onlySnap, 'snapshot', /^snapshot \(no state sync source\)$/],
    ['fallback', both, 'snapshot', /^snapshot \(stateSync fallback\)$/],
    ['fallback', onlySync, 'state-sync', /^state sync \(no snapshot yet\)$/],
    ['fallback', none, undefined, /neither a state-sync source nor a file snapshot/],
    ['auto', both, 'snapshot', /neither way measured yet/],
  ];
  for (const [mode, possible, way, why] of rows) {
    const c = planJoin(mode, undefined, possible);
    assert.equal(c.way, way, `${mode} ${JSON.stringify(possible)}`);
    assert.match(c.why, why, `${mode} ${JSON.stringify(possible)}`);
  }
});

test('a join that timed out is tried again the next way its mode allows, the network last', () => {
  const all = { stateSync: true, snapshot: true, newestSnapshotId: 's1' };
  const bySync: FailedJoin = { way: 'state-sync' };
  const bySnap: FailedJoin = { way: 'snapshot', snapshotId: 's1' };
  const byNet: FailedJoin = { way: undefined };
  const fasterSync: JoinTimes = { stateSync: fig(10), snapshot: fig(20), streak: 0 };
  const rows: [
    string,
    StateSyncMode,
    JoinTimes | undefined,
    FailedJoin,
    JoinPossible & { newestSnapshotId?: string },
    string | undefined,
    RegExp,
  ][] = [
    [
      'prefer: a failed state sync falls back to the snapshot',
      'prefer',
      undefined,
      bySync,
      all,
      'snapshot',
      /^snapshot after state sync timed out \(stateSync prefer\)$/,
    ],
    [
      'prefer without a snapshot: the network',
      'prefer',
      undefined,
      bySync,
      { stateSync: true, snapshot: false },
      undefined,
      /^the network after state sync timed out \(only state sync is possible and it just failed\)$/,
    ],
    [
      'fallback: a failed state sync takes the snapshot made since',
      'fallback',
      undefined,
      bySync,
      all,
      'snapshot',
      /after state sync timed out/,
    ],
    [
      'fallback: a failed restore, same snapshot: state sync',
      'fallback',
      undefined,
      bySnap,
      all,
      'state-sync',
      /^state sync after snapshot timed out \(stateSync fallback\)$/,
    ],
    [
      'a failed restore with a newer snapshot: the fresh snapshot',
      'fallback',
      undefined,
      bySnap,
      { ...all, newestSnapshotId: 's2' },
      'snapshot',
      /^snapshot after snapshot timed out \(a newer file snapshot \(s2\) than the one that failed \(s1\)\)$/,
    ],
    [
      'never: a failed restore with no newer snapshot syncs from the network',
      'never',
      undefined,
      bySnap,
      { stateSync: false, snapshot: true, newestSnapshotId: 's1' },
      undefined,
      /^the network after snapshot timed out \(only snapshot is possible/,
    ],
    [
      'never: a fresh snapshot',
      'never',
      undefined,
      bySnap,
      { stateSync: false, snapshot: true, newestSnapshotId: 's2' },
      'snapshot',
      /newer file snapshot/,
    ],
    [
      'auto: the faster failed, the other',
      'auto',
      fasterSync,
      bySync,
      all,
      'snapshot',
      /^snapshot after state sync timed out \(stateSync auto\)$/,
    ],
    [
      'auto: the slower failed, the faster',
      'auto',
      fasterSync,
      bySnap,
      all,
      'state-sync',
      /^state sync after snapshot timed out/,
    ],
    [
      "a failed network sync starts over at the mode's first way",
      'prefer',
      undefined,
      byNet,
      all,
      'state-sync',
      /^state sync after the network timed out \(stateSync prefer\)$/,
    ],
    [
      'nothing else possible: the network',
      'auto',
      fasterSync,
      byNet,
      { stateSync: false, snapshot: false },
      undefined,
      /^the network after the network timed out \(neither/,
    ],
  ];
  for (const [name, mode, times, failed, possible, way, why] of rows) {
    const c = chooseRejoin(mode, times, failed, possible);
    assert.equal(c.way, way, name);
    assert.match(c.why, why, name);
  }
});

test('a timed-out join is its way’s figure, so auto turns from a way that does not get there', () => {
  let times: JoinTimes = { stateSync: fig(10), snapshot: fig(20), streak: 2 };
  times = recordJoin(times, 'state-sync', { ...fig(120), timedOut: true });
  assert.equal(times.stateSync?.timedOut, true);
  assert.equal(chooseJoin(times, both).way, 'snapshot');
  // A network join is kept for the dashboard and changes neither the choice nor the streak.
  const withNet = recordJoin(times, 'network', fig(300));
  assert.deepEqual(withNet.network, fig(300));
  assert.equal(withNet.streak, times.streak);
  assert.deepEqual(recordJoin(withNet, 'snapshot', fig(15)).network, fig(300));
});
