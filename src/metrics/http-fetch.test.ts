// Unit tests of the capped body reader every metric source's body goes through.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BodyLimitError, formatBytes, readCappedBody } from './http-fetch.ts';

const bytes = (text: string) => new TextEncoder().encode(text);

/** Yields the chunks one by one and records how many were taken and whether the reader left. */
function source(chunks: readonly Uint8Array[]) {
  const seen = { taken: 0, ended: false };
  async function* generate(): AsyncGenerator<Uint8Array> {
    try {
      for (const chunk of chunks) {
        seen.taken++;
        yield chunk;
      }
    } finally {
      seen.ended = true;
    }
  }
  return { chunks: generate(), seen };
}

test('reads the body whole, a character split across chunks included', async () => {
  const euro = bytes('€'); // three bytes
  const { chunks } = source([bytes('a 1\nb '), euro.subarray(0, 1), euro.subarray(1), bytes('\n')]);
  assert.equal(await readCappedBody(chunks, { maxBytes: 100, maxLineBytes: 10 }), 'a 1\nb €\n');
});

test('a body or a line exactly at its cap is read; one byte more is refused', async () => {
  assert.equal(
    await readCappedBody(source([bytes('12345')]).chunks, { maxBytes: 5, maxLineBytes: 5 }),
    '12345',
  );
  await assert.rejects(
    readCappedBody(source([bytes('123'), bytes('456')]).chunks, { maxBytes: 5 }),
    new BodyLimitError('body exceeds 5 bytes; refused'),
  );
  await assert.rejects(
    readCappedBody(source([bytes('12345\n1234'), bytes('56\n')]).chunks, { maxBytes: 100, maxLineBytes: 5 }),
    new BodyLimitError('line 2 exceeds 5 bytes; refused'),
  );
});

test('a long line is counted across chunks and lines are numbered across chunks', async () => {
  const { chunks, seen } = source([bytes('a\nb\nc'), bytes('cc'), bytes('ccc'), bytes('never read')]);
  await assert.rejects(
    readCappedBody(chunks, { maxBytes: 1024, maxLineBytes: 5 }),
    /^BodyLimitError: line 3 exceeds 5 bytes; refused$/,
  );
  assert.equal(seen.taken, 3, 'no chunk is taken after the cap is passed');
  assert.equal(seen.ended, true, 'the stream is ended, not left hanging');
});

test('without a line cap one long line is fine up to the body cap', async () => {
  const line = 'x'.repeat(4096);
  assert.equal(await readCappedBody(source([bytes(line)]).chunks, { maxBytes: 4096 }), line);
});

test('with onText the text goes there as it arrives and nothing is kept', async () => {
  const pieces: string[] = [];
  const body = await readCappedBody(source([bytes('a 1\n'), bytes('b 2\n')]).chunks, { maxBytes: 100 }, (t) =>
    pieces.push(t),
  );
  assert.equal(body, '');
  assert.deepEqual(pieces, ['a 1\n', 'b 2\n']);
});

test('limits read as people write them', () => {
  assert.equal(formatBytes(16 * 1024 * 1024), '16 MiB');
  assert.equal(formatBytes(64 * 1024), '64 KiB');
  assert.equal(formatBytes(1500), '1500 bytes');
});
