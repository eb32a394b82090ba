// Tests of `rampart load`'s periodic mode: the profile it offers, and flags it refuses.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UsageError } from '../args.ts';
import { burstProfile, load } from './load.ts';

test('a burst profile: the base rate, then the burst at the end of each period, repeating', () => {
  const p = burstProfile(40, 330, 180_000, 40_000);
  assert.equal(p.period, 180);
  assert.equal(p.rateAt(0), 40);
  assert.equal(p.rateAt(139.9), 40);
  assert.equal(p.rateAt(140), 330);
  assert.equal(p.rateAt(179.9), 330);
  assert.equal(p.rateAt(180), 40);
  assert.equal(p.rateAt(180 + 150), 330);
  assert.equal(p.rateAt(10 * 180 + 5), 40);
});

test('periodic flags come together, with a burst shorter than its period', async () => {
  const refused = async (flags: Record<string, string>, why: RegExp) =>
    await assert.rejects(
      load({ config: 'examples/local.yaml', rate: '40', ...flags }),
      (e: unknown) => e instanceof UsageError && why.test(e.message),
    );
  await refused({ burst: '300' }, /takes all of --burst \(tx\/s\), --every \(the period\) and --burst-for/);
  await refused({ burst: '300', every: '3m' }, /takes all of/);
  await refused({ burst: 'lots', every: '3m', burstFor: '40s' }, /--burst "lots" is not a rate/);
  await refused({ burst: '300', every: 'often', burstFor: '40s' }, /--every "often" is not a duration/);
  await refused(
    { burst: '300', every: '3m', burstFor: '3m' },
    /--burst-for "3m" must be .* less than --every/,
  );
});
