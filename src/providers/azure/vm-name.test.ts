import assert from 'node:assert/strict';
import { test } from 'node:test';
import { vmNameFor } from './azure-provider.ts';

test('a VM is named after its node when Azure accepts the name, else a stable readable hash', () => {
  assert.equal(vmNameFor('workers-1a2b3c'), 'workers-1a2b3c');
  const odd = vmNameFor('Workers_1.A');
  assert.match(odd, /^workers-1-a-[0-9a-f]{10}$/);
  assert.equal(vmNameFor('Workers_1.A'), odd, 'the same node, the same name (a retried create finds it)');
  assert.notEqual(vmNameFor('workers_1'), vmNameFor('workers.1'), 'two nodes never share a name');
  const long = vmNameFor(`w-${'x'.repeat(80)}`);
  assert.ok(long.length <= 64, long);
});
