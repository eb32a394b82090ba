// Unit tests of the Prometheus text exposition parser.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  findDuplicateSeries,
  type ParsedSample,
  PrometheusTextParser,
  parsePrometheusText,
  seriesName,
} from './prom-text-parser.ts';

const plain = (samples: readonly ParsedSample[]) =>
  samples.map((s) => ({ name: s.name, labels: { ...s.labels }, value: s.value, timestampMs: s.timestampMs }));

test('reads names, labels, values and skips comments, HELP, TYPE and blank lines', () => {
  const text = [
    '# HELP cometbft_consensus_height Height of the chain.',
    '# TYPE cometbft_consensus_height gauge',
    'cometbft_consensus_height{chain_id="test-1"} 1234',
    '',
    '# a free comment',
    '#',
    'node_load1 0.25',
    '   ',
    'up{job="node",instance="10.0.0.1:9100"} 1',
    '',
  ].join('\n');
  const result = parsePrometheusText(text);
  assert.deepEqual(result.errors, []);
  assert.equal(result.errorCount, 0);
  assert.deepEqual(plain(result.samples), [
    {
      name: 'cometbft_consensus_height',
      labels: { chain_id: 'test-1' },
      value: 1234,
      timestampMs: undefined,
    },
    { name: 'node_load1', labels: {}, value: 0.25, timestampMs: undefined },
    { name: 'up', labels: { job: 'node', instance: '10.0.0.1:9100' }, value: 1, timestampMs: undefined },
  ]);
  assert.equal(result.types.get('cometbft_consensus_height'), 'gauge');
  assert.equal(result.help.get('cometbft_consensus_height'), 'Height of the chain.');
});

test('unescapes \\\\, \\" and \\n in label values, and in HELP text', () => {
  const text = [
    '# HELP x A "quoted" help\\nwith a newline and a \\\\ backslash',
    'x{path="C:\\\\dir",msg="say \\"hi\\"",multi="a\\nb"} 1',
  ].join('\n');
  const result = parsePrometheusText(text);
  assert.deepEqual(result.errors, []);
  assert.deepEqual(result.samples[0]!.labels, { path: 'C:\\dir', msg: 'say "hi"', multi: 'a\nb' });
  assert.equal(result.help.get('x'), 'A "quoted" help\nwith a newline and a \\ backslash');
});

test('label values may hold }, comma, = and # inside the quotes', () => {
  const result = parsePrometheusText('x{a="}",b=",",c="=",d="# not a comment",e="{}"} 7\n');
  assert.deepEqual(result.errors, []);
  assert.deepEqual(result.samples[0]!.labels, { a: '}', b: ',', c: '=', d: '# not a comment', e: '{}' });
  assert.equal(result.samples[0]!.value, 7);
});

test('an empty label set, a trailing comma and blanks around label tokens are allowed', () => {
  const result = parsePrometheusText('x{} 1\ny{a="1",} 2\nz { a = "1" , b="2" } 3\n');
  assert.deepEqual(result.errors, []);
  assert.deepEqual(plain(result.samples), [
    { name: 'x', labels: {}, value: 1, timestampMs: undefined },
    { name: 'y', labels: { a: '1' }, value: 2, timestampMs: undefined },
    { name: 'z', labels: { a: '1', b: '2' }, value: 3, timestampMs: undefined },
  ]);
});

test('reads NaN, ±Inf in their spellings, scientific notation, signs and huge integers', () => {
  const text = [
    'a NaN',
    'b +Inf',
    'c -Inf',
    'd Inf',
    'e 1.5e+3',
    'f -2.5E-2',
    'g .5',
    'h -0',
    'i 12345678901234567890',
    'j 1e308',
    'k 007',
  ].join('\n');
  const result = parsePrometheusText(text);
  assert.deepEqual(result.errors, []);
  const values = Object.fromEntries(result.samples.map((s) => [s.name, s.value]));
  assert.ok(Number.isNaN(values.a));
  assert.equal(values.b, Number.POSITIVE_INFINITY);
  assert.equal(values.c, Number.NEGATIVE_INFINITY);
  assert.equal(values.d, Number.POSITIVE_INFINITY);
  assert.equal(values.e, 1500);
  assert.equal(values.f, -0.025);
  assert.equal(values.g, 0.5);
  assert.ok(Object.is(values.h, -0));
  assert.equal(values.i, 12345678901234567000, 'beyond 2^53 a value is the nearest double');
  assert.equal(values.j, 1e308);
  assert.equal(values.k, 7);
});

test('reads optional integer millisecond timestamps, negative ones too', () => {
  const result = parsePrometheusText('x 1 1700000000123\ny{a="b"} 2 -5\nz 3   \n');
  assert.deepEqual(result.errors, []);
  assert.deepEqual(
    result.samples.map((s) => s.timestampMs),
    [1700000000123, -5, undefined],
  );
});

test('histogram and summary series, le="+Inf" included, are plain samples', () => {
  const text = [
    '# HELP rpc_duration_seconds RPC latency.',
    '# TYPE rpc_duration_seconds histogram',
    'rpc_duration_seconds_bucket{le="0.1"} 3',
    'rpc_duration_seconds_bucket{le="1"} 8',
    'rpc_duration_seconds_bucket{le="+Inf"} 10',
    'rpc_duration_seconds_sum 4.2',
    'rpc_duration_seconds_count 10',
    '# TYPE gc_seconds summary',
    'gc_seconds{quantile="0.5"} 0.001',
    'gc_seconds{quantile="0.99"} NaN',
    'gc_seconds_sum 1.5',
    'gc_seconds_count 42',
  ].join('\n');
  const result = parsePrometheusText(text);
  assert.deepEqual(result.errors, []);
  assert.equal(result.samples.length, 9);
  assert.deepEqual(result.samples[2]!.labels, { le: '+Inf' });
  assert.equal(result.samples[2]!.value, 10);
  assert.equal(result.types.get('rpc_duration_seconds'), 'histogram');
  assert.equal(result.types.get('gc_seconds'), 'summary');
});

test('CRLF line endings are read like LF', () => {
  const text = '# TYPE x gauge\r\nx{a="1"} 1\r\ny 2 1000\r\n\r\nz 3';
  const result = parsePrometheusText(text);
  assert.deepEqual(result.errors, []);
  assert.deepEqual(plain(result.samples), [
    { name: 'x', labels: { a: '1' }, value: 1, timestampMs: undefined },
    { name: 'y', labels: {}, value: 2, timestampMs: 1000 },
    { name: 'z', labels: {}, value: 3, timestampMs: undefined },
  ]);
  assert.equal(result.types.get('x'), 'gauge');
});

test('malformed lines are reported with their line numbers and the rest is still read', () => {
  const lines = [
    'good_one 1', // 1
    'no_value', // 2
    'bad_value abc', // 3
    'x{a="unterminated} 1', // 4
    'x{a=unquoted} 1', // 5
    '9starts_with_digit 1', // 6
    'x{a="1"}2', // 7
    'x 1 12.5', // 8
    'x 1 2 3', // 9
    'x{a="1",a="2"} 1', // 10
    'x{a="bad \\t escape"} 1', // 11
    '# TYPE x nonsense', // 12
    'x{a="1" b="2"} 1', // 13
    'x-y 1', // 14
    'x{1a="v"} 1', // 15
    'good_two{l="v"} 2', // 16
    'x 0x1A', // 17
  ];
  const result = parsePrometheusText(lines.join('\n'));
  assert.deepEqual(
    result.samples.map((s) => s.name),
    ['good_one', 'good_two'],
  );
  assert.deepEqual(
    result.errors.map((e) => e.line),
    [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 17],
  );
  assert.equal(result.errorCount, 15);
  const message = (line: number) => result.errors.find((e) => e.line === line)!.message;
  assert.match(message(2), /no_value: no value/);
  assert.match(message(3), /"abc" is not a number/);
  assert.match(message(4), /unterminated value for label a/);
  assert.match(message(5), /label a must be in double quotes/);
  assert.match(message(6), /expected a metric name/);
  assert.match(message(8), /timestamp "12.5"/);
  assert.match(message(10), /label a appears twice/);
  assert.match(message(11), /invalid escape \\t/);
  assert.match(message(12), /not one of counter, gauge/);
});

test('maxErrors bounds the recorded errors, errorCount still counts all', () => {
  const body = Array.from({ length: 50 }, () => '<html>').join('\n');
  const result = parsePrometheusText(body, { maxErrors: 3 });
  assert.equal(result.errors.length, 3);
  assert.equal(result.errorCount, 50);
  assert.deepEqual(result.samples, []);
});

test('names keeps only the wanted samples and skips the rest without checking them', () => {
  const text = [
    '# HELP lat Latency.',
    '# TYPE lat histogram',
    'lat_bucket{le="1"} 1',
    'lat_bucket{le="+Inf"} 2',
    'lat_count 2',
    '# TYPE other gauge',
    'other{this is not even valid',
    'peers{chain="a"} 3',
    'other 5',
    'peers{chain="b"} 4',
  ].join('\n');
  const result = parsePrometheusText(text, { names: ['peers', 'lat_bucket'] });
  assert.deepEqual(result.errors, []);
  assert.deepEqual(
    result.samples.map((s) => [s.name, s.value]),
    [
      ['lat_bucket', 1],
      ['lat_bucket', 2],
      ['peers', 3],
      ['peers', 4],
    ],
  );
  assert.equal(result.types.get('lat'), 'histogram');
  assert.equal(result.types.has('other'), false);
});

test('the same name on consecutive lines is reused, and a different name is not confused with it', () => {
  const result = parsePrometheusText('abc 1\nabc 2\nabd 3\nab 4\nabcd 5\nabc 6\n', { names: ['abc', 'ab'] });
  assert.deepEqual(
    result.samples.map((s) => [s.name, s.value]),
    [
      ['abc', 1],
      ['abc', 2],
      ['ab', 4],
      ['abc', 6],
    ],
  );
});

test('label names are reused across lines but each line keeps its own labels', () => {
  const result = parsePrometheusText('m{aa="1",b="2"} 1\nm{ab="3",b="4"} 2\nm{aa="5"} 3\n');
  assert.deepEqual(
    result.samples.map((s) => ({ ...s.labels })),
    [{ aa: '1', b: '2' }, { ab: '3', b: '4' }, { aa: '5' }],
  );
});

test('a label called __proto__ is an ordinary label', () => {
  const result = parsePrometheusText('x{__proto__="v"} 1\n');
  assert.deepEqual(result.errors, []);
  assert.equal(Object.getOwnPropertyDescriptor(result.samples[0]!.labels, '__proto__')?.value, 'v');
  assert.equal(Object.getPrototypeOf(result.samples[0]!.labels), Object.prototype);
});

test('chunks split anywhere give the same result as one piece', () => {
  const text = [
    '# HELP x Doc with \\\\ escape.',
    '# TYPE x counter',
    'x{path="a\\"b",le="+Inf"} 1.5e3 1700000000000',
    'y 2',
    'bad line here',
    'z{a="1"} NaN',
  ].join('\r\n');
  const whole = parsePrometheusText(text);
  for (let size = 1; size <= 9; size++) {
    const parser = new PrometheusTextParser();
    for (let k = 0; k < text.length; k += size) parser.push(text.slice(k, k + size));
    const pieces = parser.end();
    assert.deepEqual(plain(pieces.samples), plain(whole.samples), `chunk size ${size}`);
    assert.deepEqual(pieces.errors, whole.errors, `chunk size ${size}`);
    assert.deepEqual(pieces.help, whole.help);
  }
  assert.equal(whole.samples.length, 3);
  assert.deepEqual(
    whole.errors.map((e) => e.line),
    [5],
  );
});

test('duplicate HELP or TYPE for one family is reported', () => {
  const result = parsePrometheusText('# TYPE x gauge\n# TYPE x counter\n# HELP x a\n# HELP x b\nx 1\n');
  assert.deepEqual(
    result.errors.map((e) => e.line),
    [2, 4],
  );
  assert.equal(result.types.get('x'), 'gauge');
  assert.equal(result.samples.length, 1);
});

test('any well-formed exposition reads back what was written, whole or in chunks', async () => {
  const fc = (await import('fast-check')).default;
  const nameArb = fc.stringMatching(/^[a-zA-Z_:][a-zA-Z0-9_:]{0,12}$/);
  const labelNameArb = fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,8}$/).filter((n) => n !== '__proto__');
  const valueArb = fc.oneof(
    fc.double({ noNaN: true }),
    fc.integer(),
    fc.constant(Number.NaN),
    fc.constant(Number.POSITIVE_INFINITY),
  );
  const sampleArb = fc.record({
    name: nameArb,
    labels: fc.dictionary(labelNameArb, fc.string({ unit: 'binary' }), { maxKeys: 4 }),
    value: valueArb,
    timestampMs: fc.option(fc.integer({ min: -1e12, max: 1e13 }), { nil: undefined }),
  });
  const escapeValue = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
  const format = (v: number) =>
    Number.isNaN(v) ? 'NaN' : v === Number.POSITIVE_INFINITY ? '+Inf' : Object.is(v, -0) ? '-0' : String(v);
  fc.assert(
    fc.property(fc.array(sampleArb, { maxLength: 20 }), fc.integer({ min: 1, max: 50 }), (samples, chunk) => {
      const text = samples
        .map((s) => {
          const labels = Object.entries(s.labels)
            .map(([k, v]) => `${k}="${escapeValue(v)}"`)
            .join(',');
          const ts = s.timestampMs === undefined ? '' : ` ${s.timestampMs}`;
          return `${s.name}{${labels}} ${format(s.value)}${ts}\n`;
        })
        .join('');
      const expected = samples.map((s) => ({ ...s, labels: { ...s.labels } }));
      assert.deepEqual(plain(parsePrometheusText(text).samples), expected);
      const parser = new PrometheusTextParser();
      for (let k = 0; k < text.length; k += chunk) parser.push(text.slice(k, k + chunk));
      const chunked = parser.end();
      assert.deepEqual(chunked.errors, []);
      assert.deepEqual(plain(chunked.samples), expected);
    }),
    { numRuns: 300 },
  );
});

test('findDuplicateSeries names each repeated series once, whatever its label order', () => {
  const text = [
    'up 1',
    'peers{a="1",b="2"} 3',
    'peers{b="2", a="1"} 4',
    'peers{a="1",b="3"} 5',
    'peers{a="1",b="2"} 6',
    'up 0',
    'x{v="q\\"uote\\nline"} 1',
    'x{v="q\\"uote\\nline"} 2',
    'y{a="1"} 1',
    'y{b="1"} 1',
    'z{a="1",e=""} 1',
    'z{a="1"} 2',
    'w{a="1"} 1',
    'w{a="1",b="1"} 1',
  ].join('\n');
  const { samples, errors } = parsePrometheusText(text);
  assert.deepEqual(errors, []);
  assert.equal(samples.length, 14, "the parser keeps every sample: refusing is the caller's to do");
  assert.deepEqual(findDuplicateSeries(samples), [
    'peers{a="1",b="2"}',
    'up',
    'x{v="q\\"uote\\nline"}',
    'z{a="1"}',
  ]);
  assert.deepEqual(findDuplicateSeries(samples, 2), ['peers{a="1",b="2"}', 'up'], 'at most limit');
  assert.deepEqual(findDuplicateSeries(parsePrometheusText('a 1\nb 1\na{x="1"} 2\n').samples), []);
});

test('seriesName sorts labels, escapes values as the format does, and leaves out empty ones', () => {
  assert.equal(seriesName({ name: 'up', labels: {} }), 'up');
  assert.equal(
    seriesName({ name: 'm', labels: { z: '1', a: 'x"y\\z\n', e: '' } }),
    'm{a="x\\"y\\\\z\\n",z="1"}',
  );
});

test('any set of distinct series has no duplicate, and repeating one (labels shuffled) is found', async () => {
  const fc = (await import('fast-check')).default;
  const seriesArb = fc.record({
    name: fc.constantFrom('a', 'b', 'a_total'),
    labels: fc.dictionary(fc.constantFrom('x', 'y', 'z', 'le'), fc.string({ maxLength: 3 }), { maxKeys: 3 }),
  });
  fc.assert(
    fc.property(fc.array(seriesArb, { maxLength: 40 }), fc.nat(), (drawn, pick) => {
      const distinct = [...new Map(drawn.map((s) => [seriesName(s), s])).values()];
      const samples = distinct.map((s) => ({ ...s, value: 1 }));
      assert.deepEqual(findDuplicateSeries(samples), []);
      if (samples.length === 0) return;
      const again = samples[pick % samples.length]!;
      const shuffled = Object.fromEntries(Object.entries(again.labels).reverse());
      const repeated = [...samples, { ...again, labels: shuffled, value: 2 }];
      assert.deepEqual(findDuplicateSeries(repeated), [seriesName(again)]);
    }),
    { numRuns: 300 },
  );
});
