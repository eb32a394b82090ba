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

test('a # inside a quoted string is text; a comment after a value is kept', () => {
  const text = `moniker = "node #1"  # the name peers see
alias = 'literal #2 with \\ and "quotes"'
escaped = "tab\\there, quote \\" and hash \\"#\\" \\u00e9 \\U0001F600" # comment with "quotes"
[p2p]
persistent_peers = "" # none yet
seeds = "id@seed.example.com:26656" # # twice
cors_allowed_methods = ["HEAD", "GET#x", ] # an array
max_num_inbound_peers = 40 # with a comment
pex = true#no space
`;
  assert.equal(getTomlValue(text, '', 'moniker'), 'node #1');
  assert.equal(getTomlValue(text, '', 'alias'), 'literal #2 with \\ and "quotes"');
  assert.equal(getTomlValue(text, '', 'escaped'), 'tab\there, quote " and hash "#" é 😀');
  assert.equal(getTomlValue(text, 'p2p', 'persistent_peers'), '');
  assert.equal(getTomlValue(text, 'p2p', 'seeds'), 'id@seed.example.com:26656');
  assert.equal(getTomlValue(text, 'p2p', 'cors_allowed_methods'), '["HEAD", "GET#x", ]');
  assert.equal(getTomlValue(text, 'p2p', 'max_num_inbound_peers'), 40);
  assert.equal(getTomlValue(text, 'p2p', 'pex'), true);

  const out = setTomlValues(text, {
    '': { moniker: 'node #2 "quoted"', alias: 'plain' },
    p2p: { persistent_peers: 'a@b:1', pex: false },
  });
  const lines = out.split('\n');
  assert.equal(lines[0], 'moniker = "node #2 \\"quoted\\""  # the name peers see');
  assert.equal(lines[1], 'alias = "plain"');
  assert.equal(lines[4], 'persistent_peers = "a@b:1" # none yet');
  assert.equal(lines[8], 'pex = false#no space');
  assert.equal(getTomlValue(out, '', 'moniker'), 'node #2 "quoted"');
  assert.equal(
    getTomlValue(out, '', 'escaped'),
    'tab\there, quote " and hash "#" é 😀',
    'other lines untouched',
  );
  assert.equal(getTomlValue(out, 'p2p', 'cors_allowed_methods'), '["HEAD", "GET#x", ]');
});
