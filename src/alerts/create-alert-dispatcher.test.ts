// Tests of the config's `alerts` section and the factory built on it: defaults, names, paths
// resolved beside the config file, refusals, and one alert reaching both kinds of receiver.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { captureLog, startReceiverServer, until, validatorDown } from '../../test/support/alert-fixtures.ts';
import { ConfigError, parseConfigText } from '../config/load.ts';
import { createAlertDispatcher } from './create-alert-dispatcher.ts';

const BASE = `version: 1
providers: [{ name: laptop, kind: local }]
pools:
  - { name: validator, role: validator, provider: laptop, node: { kind: simnode } }
`;

const errorsOf = (text: string): string[] => {
  try {
    parseConfigText(BASE + text, '/srv/rampart/rampart.yaml');
  } catch (e) {
    if (e instanceof ConfigError) return e.message.split('\n');
    throw e;
  }
  return [];
};

test('no alerts section: no receivers, repeat interval 60s', () => {
  const { config } = parseConfigText(BASE, '/srv/rampart/rampart.yaml');
  assert.deepEqual(config.alerts, { receivers: [], repeatInterval: 60_000 });
  const dispatcher = createAlertDispatcher(config, captureLog().log);
  assert.deepEqual(dispatcher.receivers, []);
  dispatcher.send(validatorDown());
});

test('receivers: defaults, names by kind, tokenFile beside the config file', () => {
  const { config } = parseConfigText(
    `${BASE}alerts:
  repeatInterval: 30s
  receivers:
    - { kind: alertmanager, url: "http://127.0.0.1:9093" }
    - { kind: webhook, url: "https://hooks.example/a", tokenFile: secrets/hook-token, timeout: 2s }
    - { kind: webhook, url: "https://hooks.example/b", headers: { X-Team: validators } }
    - { kind: webhook, name: pager, url: "https://hooks.example/c", tokenFile: /etc/rampart/pager-token }
`,
    '/srv/rampart/rampart.yaml',
  );
  assert.equal(config.alerts.repeatInterval, 30_000);
  assert.deepEqual(
    config.alerts.receivers.map((r) => [
      r.name,
      r.kind,
      r.timeout,
      r.kind === 'webhook' ? r.tokenFile : undefined,
      r.kind === 'webhook' ? r.headers : undefined,
    ]),
    [
      ['alertmanager', 'alertmanager', 5000, undefined, undefined],
      ['webhook', 'webhook', 2000, '/srv/rampart/secrets/hook-token', {}],
      ['webhook-2', 'webhook', 5000, undefined, { 'X-Team': 'validators' }],
      ['pager', 'webhook', 5000, '/etc/rampart/pager-token', {}],
    ],
  );
});

test('refused: an unknown kind, tokenFile with an Authorization header, two receivers of one name, repeatInterval under 1s', () => {
  assert.match(
    errorsOf('alerts: { receivers: [ { kind: pagerduty, url: "http://a.example" } ] }\n').join('\n'),
    /alerts\.receivers\[0\]\.kind: "pagerduty" is not known: one of alertmanager, webhook/,
  );
  assert.match(
    errorsOf(
      'alerts: { receivers: [ { kind: webhook, url: "http://a.example", tokenFile: t, headers: { Authorization: "Bearer x" } } ] }\n',
    ).join('\n'),
    /alerts\.receivers\[0\]\.headers\.Authorization: set either tokenFile or an Authorization header, not both/,
  );
  assert.match(
    errorsOf(
      'alerts: { receivers: [ { kind: webhook, url: "http://a.example" }, { kind: alertmanager, name: webhook, url: "http://b.example" } ] }\n',
    ).join('\n'),
    /alerts\.receivers\[1\]\.name: "webhook" names another receiver too/,
  );
  assert.match(
    errorsOf('alerts: { repeatInterval: 500ms }\n').join('\n'),
    /alerts\.repeatInterval: at least 1s/,
  );
  assert.match(
    errorsOf('alerts: { receivers: [ { kind: webhook, url: "ftp://a.example" } ] }\n').join('\n'),
    /alerts\.receivers\[0\]\.url/,
  );
});

test('the factory builds every receiver, and one alert reaches Alertmanager and the webhook', async (t) => {
  const am = await startReceiverServer();
  const hook = await startReceiverServer();
  const dir = mkdtempSync(join(tmpdir(), 'rampart-alerts-'));
  t.after(async () => {
    await am.close();
    await hook.close();
    rmSync(dir, { recursive: true, force: true });
  });
  writeFileSync(join(dir, 'hook-token'), 'factory-token-123\n');
  const { config } = parseConfigText(
    `${BASE}alerts:
  receivers:
    - { kind: alertmanager, url: "${am.url}" }
    - { kind: webhook, url: "${hook.url}/rampart", tokenFile: hook-token }
`,
    join(dir, 'rampart.yaml'),
  );
  const dispatcher = createAlertDispatcher(config, captureLog().log, { source: 'test-rampart' });
  assert.deepEqual(dispatcher.receivers, ['alertmanager', 'webhook']);
  dispatcher.send(validatorDown());
  await until(() => am.requests.length === 1 && hook.requests.length === 1, 'both delivered');
  await dispatcher.close();
  assert.equal(am.requests[0]!.url, '/api/v2/alerts');
  assert.equal(
    (am.requests[0]!.body as { labels: { rampart: string } }[])[0]!.labels.rampart,
    'test-rampart',
  );
  assert.equal(hook.requests[0]!.headers.authorization, 'Bearer factory-token-123');
  assert.equal((hook.requests[0]!.body as { source: string }).source, 'test-rampart');
});

test('the factory refuses a webhook whose token file cannot be read', () => {
  const { config } = parseConfigText(
    `${BASE}alerts: { receivers: [ { kind: webhook, url: "http://127.0.0.1:9/x", tokenFile: missing-token } ] }\n`,
    '/nonexistent-dir/rampart.yaml',
  );
  assert.throws(
    () => createAlertDispatcher(config, captureLog().log),
    /alert receiver webhook: tokenFile \/nonexistent-dir\/missing-token cannot be read \(no such file\)/,
  );
});
