import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getTomlValue, setTomlValues, splitList } from './config-toml.ts';

const SAMPLE = `# top comment
proxy_app = "tcp://127.0.0.1:26658"
moniker = "x"

[rpc]
laddr = "tcp://127.0.0.1:26657" # listen
unsafe = false

[p2p]
laddr = "tcp://0.0.0.0:26656"
persistent_peers = ""
pex = true

[consensus]
timeout_commit = "1s"
`;

test('reads values by section', () => {
  assert.equal(getTomlValue(SAMPLE, '', 'moniker'), 'x');
  assert.equal(getTomlValue(SAMPLE, 'rpc', 'unsafe'), false);
  assert.equal(getTomlValue(SAMPLE, 'p2p', 'laddr'), 'tcp://0.0.0.0:26656');
  assert.equal(getTomlValue(SAMPLE, 'p2p', 'missing'), undefined);
});

test('sets existing keys in place, keeps comments, adds missing keys and sections', () => {
  const out = setTomlValues(SAMPLE, {
    rpc: { laddr: 'tcp://127.0.0.1:1', cors: 'a' },
    p2p: { pex: false, persistent_peers: 'a@b:1,c@d:2' },
    '': { proxy_app: 'persistent_kvstore' },
    instrumentation: { prometheus: true },
  });
  assert.match(out, /laddr = "tcp:\/\/127\.0\.0\.1:1" # listen/);
  assert.equal(getTomlValue(out, 'rpc', 'cors'), 'a');
  assert.equal(getTomlValue(out, 'p2p', 'pex'), false);
  assert.equal(getTomlValue(out, 'p2p', 'laddr'), 'tcp://0.0.0.0:26656', 'other sections untouched');
  assert.equal(getTomlValue(out, '', 'proxy_app'), 'persistent_kvstore');
  assert.equal(getTomlValue(out, 'instrumentation', 'prometheus'), true);
  assert.equal(getTomlValue(out, 'consensus', 'timeout_commit'), '1s');
  assert.match(out, /^# top comment/);
  assert.deepEqual(splitList(getTomlValue(out, 'p2p', 'persistent_peers')), ['a@b:1', 'c@d:2']);
});
