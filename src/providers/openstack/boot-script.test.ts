import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  dataDirOf,
  METADATA_VALUE_MAX,
  renderBootScript,
  specFromMetadata,
  specMetadata,
} from './boot-script.ts';

test('a process too long for one metadata value travels in chunks and comes back whole', () => {
  const spec = {
    command: '/usr/bin/etcd',
    args: Array.from({ length: 12 }, (_, i) => `--initial-cluster=m${i}=http://127.0.0.${i}:12380`),
    env: { ETCD_UNSUPPORTED_ARCH: 'x' },
  };
  const meta = specMetadata(spec);
  assert.ok(Object.keys(meta).length > 1, 'more than one chunk');
  for (const v of Object.values(meta)) assert.ok(v.length <= METADATA_VALUE_MAX);
  assert.deepEqual(specFromMetadata(meta), { v: 1, ...spec });
  // A chunk missing (written but not yet all visible) is no process yet.
  const partial = { ...meta };
  delete partial[Object.keys(meta).at(-1)!];
  assert.equal(specFromMetadata(partial), undefined);
  assert.equal(specFromMetadata({ 'rampart:node': 'x' }), undefined);
});

test('the boot script names its data dir, quoted, and records the identity', () => {
  const script = renderBootScript({
    nodeId: 'etcd-1',
    pool: 'etcd',
    actionId: 'a-1',
    dataDir: "/var/lib/it's",
  });
  assert.equal(dataDirOf(script), "/var/lib/it's");
  assert.match(script, /^RAMPART_NODE_ID='etcd-1'$/m);
  assert.equal(dataDirOf('#!/bin/sh\necho hi\n'), undefined);
});

test("a Heat member's boot script has no identity of its own, only the data dir", () => {
  const script = renderBootScript({ dataDir: '/var/lib/rampart/node' });
  assert.equal(dataDirOf(script), '/var/lib/rampart/node');
  assert.doesNotMatch(script, /RAMPART_NODE_ID|RAMPART_ACTION_ID/);
  assert.match(script, /rampart:spec-%d/, 'it waits for the process in the metadata all the same');
});
