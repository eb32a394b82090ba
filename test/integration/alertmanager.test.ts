// Alert delivery against a real Alertmanager (Debian's package; scripts/testbed/alertmanager.sh):
// what Rampart sends is accepted by Alertmanager's own validation, shows in GET /api/v2/alerts
// with its labels and annotations, moves to its new label set when its severity changes, and
// is resolved (leaves the active alerts) after the resolved state is sent.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Alert } from '../../src/alerts/alert.ts';
import { createAlertDispatcher } from '../../src/alerts/create-alert-dispatcher.ts';
import { parseConfigText } from '../../src/config/load.ts';
import { captureLog } from '../support/alert-fixtures.ts';
import { pollUntil, startAlertmanager } from '../support/servers.ts';

interface GettableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL?: string;
  status: { state: string };
}

test('an alert Rampart sends shows in a real Alertmanager, then is resolved', {
  timeout: 90_000,
}, async (t) => {
  const alertmanager = await startAlertmanager(t);
  if (alertmanager === undefined) return;
  const { config } = parseConfigText(
    `version: 1
providers: [{ name: laptop, kind: local }]
pools:
  - { name: validator, role: validator, provider: laptop, node: { kind: simnode } }
alerts:
  receivers:
    - { kind: alertmanager, name: am, url: "${alertmanager.url}" }
`,
    '/tmp/rampart.yaml',
  );
  const logs = captureLog();
  const dispatcher = createAlertDispatcher(config, logs.log, {
    source: 'rampart-test',
    dashboardUrl: 'http://127.0.0.1:8080/',
    maxAttempts: 3,
  });
  t.after(() => dispatcher.close(2000));

  const ours = async (): Promise<GettableAlert[]> => {
    const url = new URL(`${alertmanager.url}/api/v2/alerts`);
    url.searchParams.append('filter', 'rampart="rampart-test"');
    const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
    assert.equal(response.status, 200, await response.clone().text());
    return (await response.json()) as GettableAlert[];
  };
  const startsAt = Date.parse(new Date(Date.now() - 12_000).toISOString().replace(/\.\d+Z$/, '.000Z'));
  const state = (severity: Alert['severity'], status: Alert['status']): Alert => ({
    key: 'validator-down/validator',
    name: 'RampartValidatorDown',
    severity,
    status,
    pool: 'validator',
    node: 'validator-0',
    summary: status === 'firing' ? 'validator validator-0 is down' : 'validator validator-0 is back',
    description: 'RPC unreachable for 12s',
    evidence: { unreachableFor: '12s', lastHeight: 1234 },
    startsAt,
    ...(status === 'resolved' ? { endsAt: Date.now() } : {}),
  });
  const failure = () => `\nlogs:\n${logs.lines.join('')}\nalertmanager:\n${alertmanager.logTail()}`;

  // Suspect (warning): it appears with Rampart's labels and annotations.
  dispatcher.send(state('warning', 'firing'));
  const first = await pollUntil(ours, (alerts) => alerts.length === 1, 20_000);
  assert.equal(first.length, 1, `the alert did not appear${failure()}`);
  const [suspect] = first;
  assert.deepEqual(suspect!.labels, {
    alertname: 'RampartValidatorDown',
    severity: 'warning',
    rampart: 'rampart-test',
    pool: 'validator',
    node: 'validator-0',
  });
  assert.equal(suspect!.annotations.summary, 'validator validator-0 is down');
  assert.equal(suspect!.annotations.evidence, 'lastHeight=1234\nunreachableFor=12s');
  assert.equal(suspect!.annotations.key, 'validator-down/validator');
  assert.equal(Date.parse(suspect!.startsAt), startsAt);
  assert.equal(suspect!.generatorURL, 'http://127.0.0.1:8080/');
  assert.equal(suspect!.status.state, 'active');
  // Sent without endsAt: Alertmanager gives it now + resolve_timeout, so it must be repeated.
  assert.ok(Date.parse(suspect!.endsAt) > Date.now());

  // Down (critical): the same key with a new severity replaces the warning in Alertmanager.
  dispatcher.send(state('critical', 'firing'));
  const second = await pollUntil(
    ours,
    (alerts) => alerts.length === 1 && alerts[0]!.labels.severity === 'critical',
    20_000,
  );
  assert.deepEqual(
    second.map((a) => a.labels.severity),
    ['critical'],
    `the warning was not replaced by the critical alert${failure()}`,
  );

  // Recovered: the resolved state ends it.
  dispatcher.send(state('critical', 'resolved'));
  const third = await pollUntil(ours, (alerts) => alerts.length === 0, 20_000);
  assert.deepEqual(third, [], `the alert was not resolved${failure()}`);

  assert.deepEqual(await dispatcher.close(2000), []);
  const [stats] = dispatcher.stats();
  assert.equal(stats!.delivered, 3);
  assert.equal(stats!.failed, 0);
  assert.equal(stats!.retries, 0, `Alertmanager refused a delivery${failure()}`);
});

test('an Alertmanager behind basic auth: the user and password written in the URL reach it, and nothing else', {
  timeout: 90_000,
}, async (t) => {
  const user = 'alert-operator';
  const password = 'p@ss w0rd';
  const alertmanager = await startAlertmanager(t, {
    // bcrypt of the password, cost 4: Alertmanager's web config holds only the hash.
    basicAuth: { user, password, bcryptHash: '$2b$04$l5U76xXSDgiRcfg.c8COPu8tXAJdKsCxOR2Igoa5Zc7CbZszPribC' },
  });
  if (alertmanager === undefined) return;
  const basic = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const api = (auth: boolean) =>
    fetch(`${alertmanager.url}/api/v2/alerts?filter=${encodeURIComponent('rampart="rampart-auth-test"')}`, {
      headers: auth ? { authorization: basic } : {},
      signal: AbortSignal.timeout(5000),
    });
  assert.equal((await api(false)).status, 401, 'the Alertmanager refuses requests without credentials');

  const url = alertmanager.url.replace('http://', `http://${user}:${encodeURIComponent(password)}@`);
  const { config } = parseConfigText(
    `version: 1
providers: [{ name: laptop, kind: local }]
pools:
  - { name: validator, role: validator, provider: laptop, node: { kind: simnode } }
alerts:
  receivers:
    - { kind: alertmanager, name: am, url: "${url}" }
`,
    '/tmp/rampart.yaml',
  );
  const logs = captureLog();
  const dispatcher = createAlertDispatcher(config, logs.log, { source: 'rampart-auth-test', maxAttempts: 3 });
  t.after(() => dispatcher.close(2000));
  dispatcher.send({
    key: 'validator-down/validator',
    name: 'RampartValidatorDown',
    severity: 'critical',
    status: 'firing',
    pool: 'validator',
    summary: 'validator validator-0 is down',
    startsAt: Date.now() - 1000,
  });
  const alerts = await pollUntil(
    async () => (await (await api(true)).json()) as GettableAlert[],
    (a) => a.length === 1,
    20_000,
  );
  assert.equal(
    alerts.length,
    1,
    `the alert did not arrive\nlogs:\n${logs.lines.join('')}\n${alertmanager.logTail()}`,
  );
  assert.deepEqual(await dispatcher.close(2000), []);
  assert.equal(dispatcher.stats()[0]!.retries, 0);
  for (const line of logs.lines)
    for (const secret of [user, password, encodeURIComponent(password), basic.slice(6)])
      assert.ok(!line.includes(secret), `a log line holds ${secret}: ${line}`);
});
