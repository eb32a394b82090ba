import assert from 'node:assert/strict';
import { test } from 'node:test';
import { amisToRetire, type BakedAmi, floatingVersion, snapshotsToDelete } from './ami-retirement.ts';

const ami = (id: string, createdAt: number, over: Partial<BakedAmi> = {}): BakedAmi => ({
  id,
  name: `f-${id}`,
  createdAt,
  available: true,
  snapshots: [`snap-${id}`],
  ...over,
});

const retireCases: { name: string; amis: BakedAmi[]; keep: number; inUse?: string[]; want: string[] }[] = [
  { name: 'nothing beyond keep', amis: [ami('a', 1), ami('b', 2)], keep: 2, want: [] },
  {
    name: 'keep 1 of 3: the two older go, newest first',
    amis: [ami('a', 1), ami('c', 3), ami('b', 2)],
    keep: 1,
    want: ['b', 'a'],
  },
  {
    name: 'a pending AMI is neither kept nor retired',
    amis: [ami('a', 1), ami('b', 2, { available: false })],
    keep: 1,
    want: [],
  },
  {
    name: 'the AMI a template version boots stays',
    amis: [ami('a', 1), ami('b', 2), ami('c', 3)],
    keep: 1,
    inUse: ['a'],
    want: ['b'],
  },
  { name: 'keep 0 still keeps the newest', amis: [ami('a', 1), ami('b', 2)], keep: 0, want: ['a'] },
  { name: 'equal times: by name', amis: [ami('a', 5), ami('b', 5)], keep: 1, want: ['a'] },
];

for (const c of retireCases)
  test(`amisToRetire: ${c.name}`, () => {
    assert.deepEqual(
      amisToRetire(c.amis, c.keep, new Set(c.inUse ?? [])).map((a) => a.id),
      c.want,
    );
  });

test('snapshotsToDelete: those no remaining AMI uses, completed ones only', () => {
  const snaps = [
    { id: 'snap-a', completed: true },
    { id: 'snap-b', completed: true },
    { id: 'snap-stray', completed: true },
    { id: 'snap-pending', completed: false },
  ];
  assert.deepEqual(snapshotsToDelete(snaps, [ami('b', 2)]), ['snap-a', 'snap-stray']);
  assert.deepEqual(snapshotsToDelete(snaps, [ami('a', 1), ami('b', 2)]), ['snap-stray']);
});

test('floatingVersion: $Default and $Latest float, a number is pinned', () => {
  assert.equal(floatingVersion('$Default'), true);
  assert.equal(floatingVersion('$Latest'), true);
  assert.equal(floatingVersion('3'), false);
});
