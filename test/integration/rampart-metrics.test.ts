// Rampart's own /metrics as Prometheus meets it: every counter with known label values is at 0
// before anything happened (so an alert on its increase fires at the first error), the series
// that counts is that same one, rampart_build_info names the build, `promtool check metrics`
// accepts the text, and a real Prometheus scrapes it.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { ControllerTelemetry } from '../../src/api/controller-telemetry.ts';
import { startApiServer } from '../../src/api/server.ts';
import { parseConfigText } from '../../src/config/load.ts';
import type { Observation } from '../../src/controller/observe.ts';
import type { TickReport } from '../../src/controller/tick-report.ts';
import { findDuplicateSeries, parsePrometheusText, seriesName } from '../../src/metrics/prom-text-parser.ts';
import { createRuntime, createStore } from '../../src/runtime/runtime.ts';
import { pollUntil, requireBinary, startPrometheus } from '../support/servers.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'rampart-metrics-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const { config } = parseConfigText(
  `version: 1
controller:
  store: { kind: sqlite, path: state.db }
  api: { listen: "127.0.0.1:0" }
metrics:
  - { name: prom, kind: prometheus, url: "http://127.0.0.1:9", timeout: 500ms }
providers: [ { name: here, kind: local, dataDir: nodes } ]
pools:
  - { name: validator, role: validator, provider: here, node: { kind: simnode } }
  - name: sentries
    role: sentry
    provider: here
    node: { kind: simnode, validatorPool: validator }
    size: { min: 1, capacity: 2, max: 3 }
    scaleUp: { rules: [ { metric: "prom:sum(rate(x[1m]))", comparator: ">", threshold: 1 } ] }
alerts:
  receivers:
    - { kind: alertmanager, name: am, url: "http://127.0.0.1:9" }
`,
  path.join(dir, 'rampart.yaml'),
);

/** An API server beside a telemetry that has seen nothing yet, on an opened store. */
async function serveMetrics(t: TestContext) {
  const runtime = createRuntime(config);
  await runtime.store.open();
  t.after(() => runtime.store.close());
  const telemetry = new ControllerTelemetry(config);
  const api = await startApiServer({ config, log: pino({ level: 'silent' }), runtime, telemetry });
  t.after(() => api.close());
  const scrape = async () => {
    const r = await fetch(`${api.url}/metrics`);
    assert.equal(r.status, 200);
    return r.text();
  };
  return { api, runtime, telemetry, scrape };
}

/** Every sample by its series name, after checking the text parses and names no series twice. */
function samplesOf(text: string): Map<string, number> {
  const parsed = parsePrometheusText(text);
  assert.deepEqual(parsed.errors, []);
  assert.deepEqual(findDuplicateSeries(parsed.samples), [], 'no series is written twice');
  return new Map(parsed.samples.map((s) => [seriesName(s), s.value]));
}

/** The families `# TYPE name counter` declares, Rampart's own (not the process's). */
function rampartCounters(text: string): string[] {
  return [...text.matchAll(/^# TYPE (rampart_\w+) counter$/gm)]
    .map((m) => m[1]!)
    .filter((name) => !name.startsWith('rampart_process_') && !name.startsWith('rampart_nodejs_'));
}

/** A pass that observed no sample, with provider `here` failing and source `prom` down. */
function tickWithErrors(): TickReport {
  const observation: Observation = {
    at: Date.now(),
    pools: new Map(),
    instances: new Map(),
    samples: [],
    metricErrors: [{ source: 'prom', message: 'connection refused' }],
    providerErrors: new Map([['here', 'listing failed']]),
  };
  return { term: 1, startedAt: Date.now() - 20, durationMs: 20, observation };
}

test('before anything happened every counter with known label values is at 0; build_info names the build', async (t) => {
  const { runtime, telemetry, scrape } = await serveMetrics(t);
  const text = await scrape();
  const samples = samplesOf(text);

  const counters = rampartCounters(text);
  assert.ok(counters.length >= 10, `counters: ${counters.join(', ')}`);
  for (const family of counters) {
    const values = [...samples].filter(([name]) => name === family || name.startsWith(`${family}{`));
    assert.ok(values.length > 0, `${family} has a sample before its first increase`);
    for (const [name, value] of values) assert.equal(value, 0, name);
  }
  for (const series of [
    'rampart_ticks_total{result="failed"}',
    'rampart_ticks_total{result="ok"}',
    'rampart_scale_events_total{direction="up",pool="sentries"}',
    'rampart_scale_events_total{direction="down",pool="sentries"}',
    'rampart_decisions_total{decision="scale-up",pool="validator"}',
    'rampart_actions_started_total{kind="create",pool="sentries"}',
    'rampart_actions_total{kind="create",outcome="failed",pool="sentries"}',
    'rampart_actions_total{kind="promote",outcome="failed",pool="validator"}',
    'rampart_scale_down_lock_busy_total{pool="sentries"}',
    'rampart_metric_source_errors_total{source="prom"}',
    'rampart_provider_errors_total{provider="here"}',
    'rampart_store_errors_total{operation="putPool"}',
    'rampart_store_errors_total{operation="recordDecision"}',
    'rampart_alert_deliveries_total{outcome="failed",receiver="am"}',
  ])
    assert.equal(samples.get(series), 0, series);

  const builds = parsePrometheusText(text, { names: ['rampart_build_info'] }).samples;
  assert.equal(builds.length, 1);
  // In a checkout (CI's clone) the commit git names; in an unpacked copy, unknown.
  const git = spawnSync('git', ['rev-parse', '--short', 'HEAD'], {
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    encoding: 'utf8',
  });
  const gitCommit = git.status === 0 ? git.stdout.trim() : 'unknown';
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  assert.deepEqual(builds[0]!.labels, {
    version: pkg.version,
    commit: gitCommit,
    node_version: process.version,
  });
  assert.equal(builds[0]!.value, 1);

  // The process's own metrics, with Rampart's prefix.
  assert.ok(samples.has('rampart_process_resident_memory_bytes'));
  assert.ok(samples.has('rampart_nodejs_eventloop_lag_seconds'));

  // The series at 0 is the one that counts: one sample each, now at 1.
  telemetry.onTick(tickWithErrors());
  const closed = createStore(config);
  const instrumented = telemetry.instrument({ ...runtime, store: closed });
  await assert.rejects(instrumented.store.getPool('sentries'), /is not open/);
  telemetry.onAlertOutcome('am', 'failed');
  const afterErrors = samplesOf(await scrape());
  for (const series of [
    'rampart_ticks_total{result="ok"}',
    'rampart_provider_errors_total{provider="here"}',
    'rampart_metric_source_errors_total{source="prom"}',
    'rampart_store_errors_total{operation="getPool"}',
    'rampart_alert_deliveries_total{outcome="failed",receiver="am"}',
  ])
    assert.equal(afterErrors.get(series), 1, series);
  assert.equal(afterErrors.get('rampart_store_errors_total{operation="putPool"}'), 0);
  assert.equal(afterErrors.get('rampart_provider_up{provider="here"}'), 0);
});

test('promtool check metrics accepts the exposition: build info, process metrics, ticks, errors, NaN', async (t) => {
  const promtool = requireBinary(t, 'promtool');
  if (!promtool) return;
  const { telemetry, scrape } = await serveMetrics(t);
  telemetry.onTick(tickWithErrors());
  telemetry.onTick({ ...tickWithErrors(), error: new Error('store unreachable') });
  const text = await scrape();
  // What is checked: the build, the process's metrics, and a source without samples (NaN).
  assert.match(text, /^rampart_build_info\{.*\} 1$/m);
  assert.match(text, /^rampart_process_cpu_seconds_total \d/m);
  assert.match(text, /^rampart_metric_source_staleness_seconds\{source="prom"\} NaN$/im);
  const r = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  assert.equal(`${r.stdout}${r.stderr}`.trim(), '', 'no lint problem');
});

test('a real Prometheus scrapes /metrics: the target is up and the zero counters are stored', {
  timeout: 60_000,
}, async (t) => {
  const { api } = await serveMetrics(t);
  const target = new URL(api.url).host;
  const prometheus = await startPrometheus(t, { scrapeTargets: [target] });
  if (prometheus === undefined) return;
  const query = async (expr: string) => {
    const r = await fetch(`${prometheus.url}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await r.json()) as {
      data: { result: { metric: Record<string, string>; value: [number, string] }[] };
    };
    return body.data.result;
  };
  const up = await pollUntil(
    () => query(`up{instance="${target}"}`),
    (r) => r[0]?.value[1] === '1',
    30_000,
  );
  assert.equal(up[0]?.value[1], '1', `the scrape works; Prometheus log:\n${prometheus.logTail()}`);
  const errors = await query('rampart_store_errors_total{operation="putPool"}');
  assert.equal(errors[0]?.value[1], '0');
  const builds = await query('rampart_build_info');
  assert.equal(builds.length, 1);
  assert.equal(builds[0]!.metric.node_version, process.version);
  const scraped = await query('scrape_samples_scraped');
  assert.ok(Number(scraped[0]?.value[1]) > 100, `${scraped[0]?.value[1]} samples taken in`);
});
