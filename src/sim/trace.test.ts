import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { formatTraceCsv, loadAt, loadTrace, parseTraceCsv, TraceError } from './trace.ts';
import { generateTrace } from './trace-generator.ts';

const errorOf = (text: string): TraceError => {
  try {
    parseTraceCsv(text, 'sim/traces/x.csv');
  } catch (e) {
    if (e instanceof TraceError) return e;
    throw e;
  }
  assert.fail('expected a TraceError');
};

describe('trace CSV', () => {
  test('rows hold until the next row; the last one as long as the gap before it', () => {
    const t = parseTraceCsv('time_s,load\n0,100\n10,500\n30,200\n', 'a.csv');
    assert.equal(t.name, 'a');
    assert.deepEqual([...t.times], [0, 10, 30]);
    assert.equal(t.end, 50);
    assert.equal(loadAt(t, 0), 100);
    assert.equal(loadAt(t, 9.99), 100);
    assert.equal(loadAt(t, 10), 500);
    assert.equal(loadAt(t, 49), 200);
  });

  test('the header is optional; comments and blank lines are skipped; spaces are allowed', () => {
    const t = parseTraceCsv('# a comment\n\n 0 , 1.5e2\n5,0\n', 'b.csv');
    assert.deepEqual([...t.loads], [150, 0]);
  });

  test('errors name the file, the line and what is wrong', () => {
    assert.equal(errorOf('time_s,load\n0,1\n5,x\n').message, 'sim/traces/x.csv:3: load "x" is not a number');
    assert.equal(errorOf('0,1\nabc,2\n').message, 'sim/traces/x.csv:2: time_s "abc" is not a number');
    assert.equal(
      errorOf('0,1\n10,2\n10,3\n').message,
      "sim/traces/x.csv:3: time_s 10 is not after the previous row's 10 (times must increase)",
    );
    assert.match(
      errorOf('0,1\n5,2,3\n').message,
      /^sim\/traces\/x\.csv:2: expected 2 fields \(time_s,load\), found 3/,
    );
    assert.equal(errorOf('0,1\n5,-2\n').message, 'sim/traces/x.csv:2: load -2 is negative (units/s offered)');
    assert.equal(errorOf('-1,1\n5,2\n').message, 'sim/traces/x.csv:1: time_s -1 is negative');
    assert.match(
      errorOf('time_s,load\n0,1\n').message,
      /^sim\/traces\/x\.csv: a trace needs at least two rows/,
    );
    assert.equal(errorOf('time_s,load\n0,1\n5,Infinity\n').line, 3);
  });

  test('a missing file is named', () => {
    assert.throws(() => loadTrace('/nonexistent/t.csv'), { message: '/nonexistent/t.csv: no such file' });
  });

  test('formatTraceCsv round-trips through a file', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rampart-trace-'));
    const file = path.join(dir, 'g.csv');
    const g = generateTrace('flash-crowd', { duration: 3600, noise: 0.05 });
    writeFileSync(file, formatTraceCsv(g));
    const back = loadTrace(file);
    assert.deepEqual([...back.times], [...g.times]);
    assert.deepEqual([...back.loads], [...g.loads]);
  });
});

describe('trace generator', () => {
  test('a DDoS burst rises tenfold within its rise time, holds, and falls back', () => {
    const t = generateTrace('ddos');
    assert.equal(loadAt(t, 899), 400);
    assert.equal(loadAt(t, 900), 400 + 3600 / 5);
    assert.equal(loadAt(t, 904), 4000);
    assert.equal(loadAt(t, 1204), 4000);
    assert.equal(loadAt(t, 1210), 400);
    assert.equal(t.end, 3600);
  });

  test('a double DDoS starts its second burst `gap` seconds after the first ends', () => {
    const t = generateTrace('ddos', { bursts: 2 });
    assert.equal(loadAt(t, 1689), 400);
    assert.equal(loadAt(t, 1694), 4000);
  });

  test('the diurnal cycle peaks at peakAt and bottoms out half a period later', () => {
    const t = generateTrace('diurnal');
    assert.equal(loadAt(t, 50_400), 3500);
    assert.equal(loadAt(t, 50_400 - 43_200), 500);
  });

  test('noise is reproducible from its seed and differs between seeds', () => {
    const a = generateTrace('noisy-plateau', { seed: 7 });
    const b = generateTrace('noisy-plateau', { seed: 7 });
    const c = generateTrace('noisy-plateau', { seed: 8 });
    assert.deepEqual([...a.loads], [...b.loads]);
    assert.notDeepEqual([...a.loads], [...c.loads]);
  });

  test('an unknown parameter is refused with the allowed ones', () => {
    assert.throws(
      () => generateTrace('ddos', { burts: 2 }),
      /shape ddos has no parameter "burts" \(it has: .*bursts/,
    );
  });
});
