import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type AzureBakedImage, azureImagesToRetire } from './image-retirement.ts';

const img = (name: string, createdAt: number, state = 'Succeeded'): AzureBakedImage => ({
  id: `/subscriptions/s/resourceGroups/RG/providers/Microsoft.Compute/images/${name}`,
  name,
  createdAt,
  state,
});
const idOf = (name: string) => img(name, 0).id.toLowerCase();
const now = 1_000_000;
const stale = { now, afterMs: 60_000 };

const cases: {
  name: string;
  images: AzureBakedImage[];
  keep: number;
  inUse?: string[];
  want: string[];
}[] = [
  { name: 'nothing beyond keep', images: [img('a', 1), img('b', 2)], keep: 2, want: [] },
  {
    name: 'keep 1 of 3: the two older go, newest first',
    images: [img('a', 1), img('c', 3), img('b', 2)],
    keep: 1,
    want: ['b', 'a'],
  },
  {
    name: 'an image a VM boots from stays, even beyond keep',
    images: [img('a', 1), img('b', 2), img('c', 3)],
    keep: 1,
    inUse: ['a'],
    want: ['b'],
  },
  {
    name: 'the newest stays even with keep 0 (never below one)',
    images: [img('a', 1), img('b', 2)],
    keep: 0,
    want: ['a'],
  },
  {
    name: 'an image being made recently is left (its bake may be waiting for it)',
    images: [img('a', now - 1000, 'Creating'), img('b', 2)],
    keep: 1,
    want: [],
  },
  {
    name: 'one a bake gave up on, or Azure failed, goes',
    images: [img('a', now - 200_000, 'Creating'), img('f', now - 10, 'Failed'), img('b', 2)],
    keep: 1,
    want: ['f', 'a'],
  },
  {
    name: 'one being deleted is not deleted again',
    images: [img('a', 1, 'Deleting'), img('b', 2)],
    keep: 1,
    want: [],
  },
];

for (const c of cases)
  test(`azureImagesToRetire: ${c.name}`, () => {
    const inUse = new Set((c.inUse ?? []).map(idOf));
    assert.deepEqual(
      azureImagesToRetire(c.images, c.keep, inUse, stale).map((i) => i.name),
      c.want,
    );
  });
