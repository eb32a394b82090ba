// `rampart simulate` end to end: flags, the JSON contract, the chart files, usage errors.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { UsageError } from '../cli/args.ts';
import { buildProgram } from '../cli/program.ts';
import { formatTraceCsv } from './trace.ts';
import { generateTrace } from './trace-generator.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'rampart-simulate-'));
const traceFile = path.join(dir, 'short-ddos.csv');
writeFileSync(traceFile, formatTraceCsv(generateTrace('ddos', { duration: 1800 })));
const base = ['-c', 'examples/simulate.yaml', '--pool', 'sentries', '--trace', traceFile];

async function run(argv: string[]): Promise<{ code: number; out: string }> {
  const chunks: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string) => {
    chunks.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
  try {
    // Through the command tree, as `rampart simulate …` parses them.
    const outcome = { code: -1 };
    await buildProgram(outcome).parseAsync(['simulate', ...argv], { from: 'user' });
    return { code: outcome.code, out: chunks.join('') };
  } finally {
    process.stdout.write = write;
  }
}

describe('rampart simulate', () => {
  test('--json prints one document, a score per policy with the contract fields', async () => {
    const { code, out } = await run([...base, '--baseline', 'hpa,gce', '--json']);
    assert.equal(code, 0);
    const lines: {
      policy: string;
      trace: string;
      unservedWork: number;
      unservedVsOracle: number | null;
      nodeHoursVsOracle: number | null;
    }[] = JSON.parse(out).scores;
    assert.deepEqual(
      lines.map((l) => l.policy),
      ['rampart', 'hpa', 'gce', 'oracle'],
    );
    for (const l of lines) {
      assert.deepEqual(Object.keys(l).slice(0, 7), [
        'trace',
        'policy',
        'unservedWork',
        'nodeHours',
        'actions',
        'unservedVsOracle',
        'nodeHoursVsOracle',
      ]);
      assert.equal(l.trace, 'short-ddos');
      assert.equal(typeof l.unservedWork, 'number');
    }
    const oracle = lines.at(-1)!;
    assert.equal(oracle.unservedVsOracle, 1);
    assert.equal(oracle.nodeHoursVsOracle, 1);
    assert.ok(lines[1]!.unservedWork > lines[0]!.unservedWork, 'HPA loses more of a DDoS than Rampart');
  });

  test('the table names every policy and the ratios', async () => {
    const { out } = await run([...base, '--baseline', 'all']);
    for (const p of ['rampart', 'hpa', 'heat', 'gce', 'aws', 'oracle'])
      assert.match(out, new RegExp(`\\n  ${p} `));
    assert.match(out, /× oracle/);
  });

  test('--chart writes a standalone SVG, or an HTML page with the SVG inline and no scripts', async () => {
    const svg = path.join(dir, 'c.svg');
    const html = path.join(dir, 'c.html');
    await run([...base, '--baseline', 'hpa', '--chart', svg]);
    await run([...base, '--baseline', 'hpa', '--chart', html]);
    const s = readFileSync(svg, 'utf8');
    assert.match(s, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.match(s, /stroke="#d62728"/, "Rampart's capacity line");
    const h = readFileSync(html, 'utf8');
    assert.match(h, /^<!doctype html>/);
    assert.match(h, /<svg role="img"/);
    assert.match(h, /<table>/);
    assert.doesNotMatch(h, /<script|<link|src=|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
  });

  test('model flags change the world: a warm pool makes new nodes serve sooner', async () => {
    const cold = JSON.parse((await run([...base, '--json'])).out).scores[0];
    const warm = JSON.parse((await run([...base, '--json', '--warm-pool', '40', '--warm-cost', '0'])).out)
      .scores[0];
    assert.ok(warm.unservedWork < cold.unservedWork / 3, `${warm.unservedWork} vs ${cold.unservedWork}`);
  });

  test('bad flags are usage errors that say what is allowed', async () => {
    await assert.rejects(
      run([...base, '--baseline', 'k8s']),
      (e: unknown) =>
        e instanceof UsageError && /not one of hpa, heat, gce, aws, oracle, all/.test((e as Error).message),
    );
    await assert.rejects(
      run(['-c', 'examples/simulate.yaml', '--trace', traceFile]),
      /--pool POOL is required/,
    );
    await assert.rejects(run([...base, '--chart', 'x.png']), /must end in \.svg or \.html/);
    await assert.rejects(run([...base, '--provision', 'soon']), /--provision "soon" is not a duration/);
    const bad = path.join(dir, 'bad.csv');
    writeFileSync(bad, 'time_s,load\n0,10\n10,ten\n');
    await assert.rejects(
      run(['-c', 'examples/simulate.yaml', '--pool', 'sentries', '--trace', bad]),
      (e: unknown) =>
        e instanceof UsageError && (e as Error).message.includes(`${bad}:3: load "ten" is not a number`),
    );
  });
});
