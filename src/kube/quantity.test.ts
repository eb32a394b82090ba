import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseBytes, parseCpu, parseQuantity } from './quantity.ts';

describe('Kubernetes quantities', () => {
  test('cpu in cores from every suffix metrics-server writes', () => {
    assert.equal(parseCpu('250m'), 0.25);
    assert.equal(parseCpu('1'), 1);
    assert.equal(parseCpu('1500000n'), 0.0015);
    assert.equal(parseCpu('12345u'), 0.012345);
    assert.equal(parseCpu('2.5'), 2.5);
    assert.equal(parseCpu('.5'), 0.5);
    assert.equal(parseCpu('0'), 0);
  });
  test('memory in bytes: binary and decimal suffixes, exponents, a fraction rounded up', () => {
    assert.equal(parseBytes('128Mi'), 128 * 2 ** 20);
    assert.equal(parseBytes('1Gi'), 2 ** 30);
    assert.equal(parseBytes('500Ki'), 512_000);
    assert.equal(parseBytes('1.5Ki'), 1536);
    assert.equal(parseBytes('1e9'), 1e9);
    assert.equal(parseBytes('1E3'), 1000);
    assert.equal(parseBytes('1G'), 1e9);
    assert.equal(parseBytes('123456'), 123456);
    assert.equal(parseBytes('1.5'), 2);
    assert.equal(parseQuantity('1.5k'), 1500);
    assert.equal(parseQuantity('1E'), 1e18, 'a bare E is the exa suffix, not an exponent');
  });
  test('anything else is refused, quoting the text', () => {
    for (const bad of ['', 'abc', '1Xi', '1 Mi', ' 1', '--1', '1mi', '1e', 'e3', '1KiB', '0x10'])
      assert.throws(() => parseQuantity(bad), { message: `"${bad}" is not a Kubernetes quantity` });
  });
});
