// Tests of `rampart load`: the periodic mode's profile, the bank-send mode's key and price, and
// flags it refuses.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { accountFromHex, newAccount } from '../../nodes/cometbft/cosmos-tx.ts';
import { UsageError } from '../args.ts';
import { burstProfile, load, parseGasPrice } from './load.ts';

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

test('bank sends need a key file holding a secret, and a gas price; the secret is never echoed', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'rampart-load-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const refused = async (flags: Record<string, string | boolean>, why: RegExp) =>
    await assert.rejects(
      load({ config: 'examples/local.yaml', rate: '10', bankSend: true, ...flags }),
      (e: unknown) => e instanceof UsageError && why.test(e.message),
    );
  await refused(
    { keyFile: '/nonexistent' },
    /--bank-send needs --gas-price, .* e\.g\. --gas-price 0\.005uatom/,
  );
  await refused({ gasPrice: 'cheap' }, /--gas-price .*\(got "cheap"\)/);
  await refused({ gasPrice: '0.005uatom' }, /--bank-send needs --key-file/);
  await refused({ gasPrice: '0.005uatom', keyFile: path.join(dir, 'none') }, /--key-file .*none: ENOENT/);
  const wrong = path.join(dir, 'wrong.key');
  writeFileSync(wrong, 'my very secret words\n');
  await assert.rejects(
    load({ config: 'examples/local.yaml', rate: '10', bankSend: true, gasPrice: '1stake', keyFile: wrong }),
    (e: unknown) =>
      e instanceof UsageError &&
      /64 hex digits wanted/.test(e.message) &&
      !e.message.includes('secret words'),
  );
  await refused(
    { gasPrice: '1stake', keyFile: wrong, burst: '30', every: '1m', burstFor: '10s' },
    /--bank-send offers a steady --rate/,
  );
  assert.deepEqual(parseGasPrice('0.005uatom'), { price: 0.005, denom: 'uatom' });
  assert.deepEqual(parseGasPrice('10stake'), { price: 10, denom: 'stake' });
  assert.deepEqual(parseGasPrice('1ibc/27394FB092D2ECCD56123C74F36E4C1F926001CEADA9CA97EA622B25F41E5EB2'), {
    price: 1,
    denom: 'ibc/27394FB092D2ECCD56123C74F36E4C1F926001CEADA9CA97EA622B25F41E5EB2',
  });
});

test('an account from its hex secret: the same address as the key it names', () => {
  const secret = Buffer.alloc(32, 7);
  const a = accountFromHex(` 0x${secret.toString('hex')}\n`);
  assert.equal(a.address, newAccount(secret).address);
  assert.match(a.address, /^cosmos1[02-9ac-hj-np-z]{38}$/);
  assert.match(accountFromHex(secret.toString('hex'), 'osmo').address, /^osmo1/);
});
