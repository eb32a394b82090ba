import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type GlanceImage, imagesToPrune } from './image-pruning.ts';

const img = (id: string, createdAt: number, status = 'active'): GlanceImage => ({
  id,
  name: `fam-${id}`,
  status,
  createdAt,
});

test('imagesToPrune', () => {
  const cases: {
    name: string;
    images: GlanceImage[];
    keep: number;
    inUse?: string[];
    want: string[];
  }[] = [
    { name: 'none beyond keep', images: [img('a', 1), img('b', 2)], keep: 2, want: [] },
    {
      name: 'the oldest beyond keep go, oldest last',
      images: [img('a', 1), img('c', 3), img('b', 2), img('d', 4)],
      keep: 2,
      want: ['b', 'a'],
    },
    {
      name: 'an image being baked neither counts nor goes',
      images: [img('a', 1), img('b', 2), img('q', 903, 'queued'), img('s', 904, 'saving')],
      keep: 1,
      want: ['a'],
    },
    {
      name: 'one a server boots from stays',
      images: [img('a', 1), img('b', 2), img('c', 3)],
      keep: 1,
      inUse: ['a'],
      want: ['b'],
    },
    { name: 'keep below 1 keeps the newest', images: [img('a', 1), img('b', 2)], keep: 0, want: ['a'] },
    {
      name: 'a bake given up on (in progress past twice its timeout) goes, a recent one stays',
      images: [img('a', 1), img('q', 50, 'queued'), img('s', 60, 'saving'), img('r', 900, 'queued')],
      keep: 1,
      want: ['s', 'q'],
    },
    {
      name: 'a killed image goes at once, unless a server holds it',
      images: [img('a', 1), img('k', 990, 'killed'), img('h', 995, 'killed')],
      keep: 1,
      inUse: ['h'],
      want: ['k'],
    },
  ];
  for (const c of cases)
    assert.deepEqual(
      imagesToPrune(c.images, c.keep, new Set(c.inUse ?? []), { now: 1000, afterMs: 500 }).map((i) => i.id),
      c.want,
      c.name,
    );
});
