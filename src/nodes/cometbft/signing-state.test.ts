import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { getTomlValue } from './config-toml.ts';
import { comparePoints, highestPoint, installSigner, keyAddress, readSigningState } from './signing-state.ts';

const ADDRESS = 'C49DFA4CE72F575722415FA8ADF64544A1C15EA1';
const SECRET = 'c2VjcmV0LXByaXZhdGUta2V5LWJ5dGVzLW5vdC1mb3ItbG9ncw==';

function dir(): string {
  return mkdtempSync(path.join(tmpdir(), 'rampart-signing-'));
}

test('points order by height, then round, then step; the highest wins', () => {
  assert.ok(comparePoints({ height: 10, round: 0, step: 1 }, { height: 9, round: 5, step: 3 }) > 0);
  assert.ok(comparePoints({ height: 10, round: 1, step: 1 }, { height: 10, round: 0, step: 3 }) > 0);
  assert.ok(comparePoints({ height: 10, round: 1, step: 3 }, { height: 10, round: 1, step: 2 }) > 0);
  assert.deepEqual(
    highestPoint([
      { height: 27, round: 0, step: 3 },
      { height: 27, round: 1, step: 2 },
      { height: 20, round: 4, step: 3 },
    ]),
    { height: 27, round: 1, step: 2 },
  );
  assert.deepEqual(highestPoint([]), { height: 0, round: 0, step: 0 });
});

test('a signing state file is read as numbers; a missing one is undefined; a bad one is refused', async () => {
  const d = dir();
  writeFileSync(path.join(d, 'ok.json'), JSON.stringify({ height: '42', round: 1, step: 3 }));
  assert.deepEqual(await readSigningState(path.join(d, 'ok.json')), { height: 42, round: 1, step: 3 });
  assert.equal(await readSigningState(path.join(d, 'absent.json')), undefined);
  writeFileSync(path.join(d, 'bad.json'), JSON.stringify({ height: '-1', round: 0, step: 0 }));
  await assert.rejects(readSigningState(path.join(d, 'bad.json')), /non-negative integers/);
});

test('the key file gives its address; a broken one never echoes its contents', async () => {
  const d = dir();
  const key = path.join(d, 'priv_validator_key.json');
  writeFileSync(key, JSON.stringify({ address: ADDRESS.toLowerCase(), priv_key: { value: SECRET } }));
  assert.equal(await keyAddress(key), ADDRESS);
  writeFileSync(key, `{"priv_key": {"value": "${SECRET}"} oops`);
  await assert.rejects(
    keyAddress(key),
    (e: Error) => !e.message.includes(SECRET) && /not valid JSON/.test(e.message),
  );
  await assert.rejects(keyAddress(path.join(d, 'none.json')), /ENOENT/);
});

test('installSigner: key and state 0600, wiring of a validator, double-sign check on', async () => {
  const home = dir();
  mkdirSync(path.join(home, 'config'));
  mkdirSync(path.join(home, 'data'));
  writeFileSync(
    path.join(home, 'config', 'config.toml'),
    '[p2p]\npex = true\npersistent_peers = ""\n\n[consensus]\n',
  );
  const keys = dir();
  writeFileSync(path.join(keys, 'priv_validator_key.json'), JSON.stringify({ address: ADDRESS }));
  const sentry = `${'a'.repeat(40)}@127.0.0.1:26656`;
  await installSigner({
    home,
    keyFile: path.join(keys, 'priv_validator_key.json'),
    state: { height: 27, round: 0, step: 3 },
    sentries: [sentry],
    doubleSignCheckHeight: 10,
  });
  const state = JSON.parse(readFileSync(path.join(home, 'data', 'priv_validator_state.json'), 'utf8'));
  assert.deepEqual(state, { height: '27', round: 0, step: 3 });
  for (const f of ['config/priv_validator_key.json', 'data/priv_validator_state.json'])
    assert.equal(statSync(path.join(home, f)).mode & 0o777, 0o600, f);
  const toml = readFileSync(path.join(home, 'config', 'config.toml'), 'utf8');
  assert.equal(getTomlValue(toml, 'p2p', 'pex'), false);
  assert.equal(getTomlValue(toml, 'p2p', 'max_num_inbound_peers'), 0);
  assert.equal(getTomlValue(toml, 'p2p', 'persistent_peers'), sentry);
  assert.equal(getTomlValue(toml, 'p2p', 'unconditional_peer_ids'), 'a'.repeat(40));
  assert.equal(getTomlValue(toml, 'consensus', 'double_sign_check_height'), 10);
  await assert.rejects(
    installSigner({
      home,
      keyFile: path.join(keys, 'priv_validator_key.json'),
      state: { height: 1, round: 0, step: 0 },
      sentries: [sentry],
      doubleSignCheckHeight: 0,
    }),
    /double_sign_check_height/,
  );
});
