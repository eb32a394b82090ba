// Rampart's own alert rules (deploy/prometheus/rampart-rules.yaml) checked by Prometheus's own
// tools: `promtool check rules` for syntax, `promtool test rules` for alerts that fire on the
// series Rampart exports; and every metric they name is one Rampart's /metrics serves.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ControllerTelemetry } from '../../src/api/controller-telemetry.ts';
import { parseConfigText } from '../../src/config/load.ts';
import { requireBinary } from '../support/servers.ts';

const RULES = fileURLToPath(new URL('../../deploy/prometheus/rampart-rules.yaml', import.meta.url));
const dir = mkdtempSync(path.join(tmpdir(), 'rampart-rules-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('promtool check rules accepts the alert rules', (t) => {
  const promtool = requireBinary(t, 'promtool');
  if (!promtool) return;
  const r = spawnSync(promtool, ['check', 'rules', RULES], { encoding: 'utf8' });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /SUCCESS: \d+ rules found/);
});

test('every metric the rules name is one Rampart serves', async () => {
  const { config } = parseConfigText(
    `version: 1
providers: [ { name: here, kind: local } ]
pools: [ { name: w, role: worker, provider: here, node: { kind: simnode }, size: { min: 0, capacity: 0, max: 1 } } ]
`,
    path.join(dir, 'c.yaml'),
  );
  const served = new Set(
    (await new ControllerTelemetry(config).registry.metrics())
      .split('\n')
      .filter((l) => l.startsWith('# TYPE '))
      .map((l) => l.split(' ')[2]),
  );
  const named = new Set(readFileSync(RULES, 'utf8').match(/\brampart_[a-z_]+\b/g) ?? []);
  assert.ok(named.size >= 10);
  for (const name of named) assert.ok(served.has(name), `${name} is served by /metrics`);
});

test('promtool test rules: stuck, flapping and an unreachable provider fire', (t) => {
  const promtool = requireBinary(t, 'promtool');
  if (!promtool) return;
  const tests = path.join(dir, 'rampart-rules.test.yaml');
  writeFileSync(
    tests,
    `rule_files: [${JSON.stringify(RULES)}]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'rampart_leader{instance="r1", job="rampart"}'
        values: '1x20'
      # The last successful pass ended at t=60s and never again.
      - series: 'rampart_last_tick_timestamp_seconds{instance="r1", job="rampart"}'
        values: '60x20'
      - series: 'rampart_provider_up{instance="r1", job="rampart", provider="cloud"}'
        values: '1 1 0x18'
      - series: 'rampart_scale_events_total{instance="r1", job="rampart", pool="sentries", direction="up"}'
        values: '0+1x20'
      - series: 'rampart_scale_events_total{instance="r1", job="rampart", pool="sentries", direction="down"}'
        values: '0+1x20'
    alert_rule_test:
      - eval_time: 10m
        alertname: RampartStuck
        exp_alerts:
          - exp_labels: { severity: critical, instance: r1, job: rampart }
            exp_annotations:
              summary: Rampart leads but has not finished a reconcile pass for over 2 minutes
              description: r1 leads yet its last successful pass ended 9m 0s ago. A provider call or the store may hang.
      - eval_time: 2m
        alertname: RampartStuck
        exp_alerts: []
      - eval_time: 10m
        alertname: RampartProviderUnreachable
        exp_alerts:
          - exp_labels: { severity: critical, instance: r1, job: rampart, provider: cloud }
            exp_annotations:
              summary: Rampart cannot list provider cloud
              description: Its pools hold (no scaling, no replacement) until the provider answers again.
      - eval_time: 18m
        alertname: RampartFlapping
        exp_alerts:
          - exp_labels: { severity: warning, instance: r1, job: rampart, pool: sentries, direction: up }
            exp_annotations:
              summary: Pool sentries keeps growing and shrinking
              description: >-
                More than 3 scale-ups and 3 scale-downs within an hour. Widen the gap between the
                scale-up and scale-down thresholds, or lengthen scaleUp.cooldown and scaleDown.period.
      - eval_time: 10m
        alertname: RampartNoLeader
        exp_alerts: []
`,
  );
  const r = spawnSync(promtool, ['test', 'rules', tests], { encoding: 'utf8' });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /SUCCESS/);
});
