import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type BakedImage, imagesToRetire } from './image-retirement.ts';

const img = (name: string, createdAt: number, over: Partial<BakedImage> = {}): BakedImage => ({
  name,
  createdAt,
  deprecated: false,
  ready: true,
  ...over,
});

const cases: {
  name: string;
  images: BakedImage[];
  keep: number;
  retire: 'delete' | 'deprecate';
  want: string[];
}[] = [
  { name: 'nothing beyond keep', images: [img('a', 1), img('b', 2)], keep: 2, retire: 'delete', want: [] },
  {
    name: 'keep 1 of 3: the two older go, newest first',
    images: [img('a', 1), img('c', 3), img('b', 2)],
    keep: 1,
    retire: 'delete',
    want: ['b', 'a'],
  },
  {
    name: 'an image still being made is never touched',
    images: [img('a', 1), img('b', 2, { ready: false })],
    keep: 1,
    retire: 'delete',
    want: [],
  },
  {
    name: 'deprecate skips the already deprecated',
    images: [img('a', 1, { deprecated: true }), img('b', 2), img('c', 3)],
    keep: 1,
    retire: 'deprecate',
    want: ['b'],
  },
  {
    name: 'delete also removes what an earlier deprecate left',
    images: [img('a', 1, { deprecated: true }), img('b', 2)],
    keep: 1,
    retire: 'delete',
    want: ['a'],
  },
  {
    name: 'keep 0 still keeps the newest: the template must boot something',
    images: [img('a', 1), img('b', 2)],
    keep: 0,
    retire: 'delete',
    want: ['a'],
  },
  {
    name: 'same time: the name decides, so two controllers agree',
    images: [img('x-1', 5), img('x-2', 5)],
    keep: 1,
    retire: 'delete',
    want: ['x-1'],
  },
];

for (const c of cases)
  test(`imagesToRetire: ${c.name}`, () => {
    assert.deepEqual(
      imagesToRetire(c.images, c.keep, c.retire).map((i) => i.name),
      c.want,
    );
  });
