// The netdata source against a real netdata agent (Debian's package) on a loopback port.
// Install it with scripts/testbed/netdata.sh.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MetricTarget } from '../../src/metrics/metric-source.ts';
import { NetdataSource } from '../../src/metrics/netdata.ts';
import { pollUntil, startNetdata } from '../support/servers.ts';

test('netdata source reads a real netdata agent', { timeout: 60_000 }, async (t) => {
  const agent = await startNetdata(t);
  if (agent === undefined) return;
  const source = new NetdataSource({
    name: 'nd',
    urlTemplate: `http://{host}:${agent.port}`,
    timeoutMs: 2000,
  });
  const targets: MetricTarget[] = [{ nodeId: 'host-a', host: '127.0.0.1' }];

  // The agent answers before its first collection; CPU idle needs two /proc/stat readings.
  const result = await pollUntil(
    () => source.collect(['nd:NETDATA_SYSTEM_CPU_IDLE', 'nd:NETDATA_SYSTEM_CPU_VISIBLETOTAL'], targets),
    (r) => r.samples.length === 2,
    30_000,
  );
  assert.deepEqual(result.errors, [], `netdata log:\n${agent.logTail()}`);
  const idle = result.samples.find((s) => s.ref === 'nd:NETDATA_SYSTEM_CPU_IDLE');
  assert.ok(idle !== undefined);
  assert.equal(idle.node, 'host-a');
  assert.ok(
    Number.isInteger(idle.value) && idle.value >= 0 && idle.value <= 100,
    `CPU idle ${idle.value} is a percentage`,
  );
  const busy = result.samples.find((s) => s.ref === 'nd:NETDATA_SYSTEM_CPU_VISIBLETOTAL');
  assert.ok(
    busy !== undefined && busy.value >= 0 && busy.value <= 100,
    `CPU busy ${busy?.value} is a percentage`,
  );

  await t.test('a variable the agent does not have is an error entry for the node', async () => {
    const missing = await source.collect(['nd:NETDATA_NO_SUCH_CHART_VALUE'], targets);
    assert.deepEqual(missing.samples, []);
    assert.deepEqual(missing.errors, [
      {
        target: 'host-a',
        message: `${agent.url}/api/v1/allmetrics?format=shell has no variable NETDATA_NO_SUCH_CHART_VALUE (yet)`,
      },
    ]);
  });
});
