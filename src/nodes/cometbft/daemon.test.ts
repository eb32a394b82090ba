// Which daemon a `cometbft` node's binary is, and how a config names an unknown one.

import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { ConfigError, formatIssue, parseConfigText } from '../../config/load.ts';
import { resolveDaemon } from './daemon.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'rampart-daemon-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('resolveDaemon', () => {
  test('cometbft: its own init, start, and CMT_ variables', () => {
    const d = resolveDaemon('/opt/bin/cometbft', {});
    assert.equal(d.appToml, false);
    assert.deepEqual(d.initArgs('s-1', 'chain', '/h'), ['init', '--home', '/h']);
    assert.deepEqual(d.startArgs('/h'), ['start', '--home', '/h']);
    assert.equal(d.envPrefix, 'CMT');
  });

  test('gaiad, known by name: the Cosmos SDK init and start, variables under its own name', () => {
    const d = resolveDaemon('/opt/bin/gaiad', {});
    assert.equal(d.appToml, true);
    assert.deepEqual(d.initArgs('s-1', 'cosmoshub-4', '/h'), [
      'init',
      's-1',
      '--chain-id',
      'cosmoshub-4',
      '--home',
      '/h',
    ]);
    assert.deepEqual(d.startArgs('/h'), ['start', '--home', '/h']);
    assert.equal(d.envPrefix, 'GAIAD');
  });

  test('a symlink is known by the file it points at, as the SDK names its variables', () => {
    const real = path.join(dir, 'gaiad');
    writeFileSync(real, '#!/bin/sh\n');
    chmodSync(real, 0o755);
    const link = path.join(dir, 'hub');
    symlinkSync(real, link);
    const d = resolveDaemon(link, {});
    assert.equal(d.name, 'gaiad');
    assert.equal(d.envPrefix, 'GAIAD');
  });

  test("a daemon block: its own arguments, placeholders filled, the executable's name as prefix", () => {
    const d = resolveDaemon('/opt/bin/osmosisd', {
      daemon: {
        init: ['init', '{moniker}', '--chain-id={chainId}', '--home={home}'],
        start: ['start', '--home={home}', '--x'],
        appToml: true,
      },
    });
    assert.deepEqual(d.initArgs('m', 'osmosis-1', '/h'), ['init', 'm', '--chain-id=osmosis-1', '--home=/h']);
    assert.deepEqual(d.startArgs('/h'), ['start', '--home=/h', '--x']);
    assert.equal(d.envPrefix, 'OSMOSISD');
  });
});

describe('config: a daemon Rampart does not know', () => {
  const config = (node: string) => `version: 1
providers:
  - { name: here, kind: local }
pools:
  - name: validator
    role: validator
    provider: here
    node: ${node}
`;
  test('is refused with where, what and what is allowed', () => {
    let error: unknown;
    try {
      parseConfigText(config('{ kind: cometbft, binary: /opt/bin/osmosisd, home: /h }'), 'rampart.yaml');
    } catch (e) {
      error = e;
    }
    assert.ok(error instanceof ConfigError);
    assert.deepEqual(error.issues.map(formatIssue), [
      'rampart.yaml:8:37 pools[0].node.binary: osmosisd is not a daemon Rampart knows (cometbft, gaiad, simd): add daemon: {} for a Cosmos SDK daemon, or daemon: { init: [...], start: [...] }',
    ]);
  });

  test('is taken with a daemon block; `{}` means the Cosmos SDK defaults', () => {
    const { config: c } = parseConfigText(
      config('{ kind: cometbft, binary: /opt/bin/osmosisd, home: /h, daemon: {} }'),
      'rampart.yaml',
    );
    const node = c.pools[0]!.node;
    assert.equal(node.kind, 'cometbft');
    if (node.kind !== 'cometbft') return;
    assert.deepEqual(node.daemon, {
      init: ['init', '{moniker}', '--chain-id', '{chainId}', '--home', '{home}'],
      start: ['start', '--home', '{home}'],
      appToml: true,
    });
  });

  test('known daemons need only binary', () => {
    for (const binary of ['/opt/bin/gaiad', 'cometbft', 'simd'])
      assert.doesNotThrow(() =>
        parseConfigText(config(`{ kind: cometbft, binary: ${binary}, home: /h }`), 'rampart.yaml'),
      );
  });

  test('state sync without nodes that take snapshots is refused', () => {
    let error: unknown;
    try {
      parseConfigText(
        config('{ kind: cometbft, binary: gaiad, home: /h, stateSync: prefer }'),
        'rampart.yaml',
      );
    } catch (e) {
      error = e;
    }
    assert.ok(error instanceof ConfigError);
    assert.deepEqual(error.issues.map(formatIssue), [
      'rampart.yaml:8:65 pools[0].node.stateSync: state sync needs nodes that serve snapshots: set app.snapshotInterval (blocks between snapshots) above 0',
    ]);
    assert.doesNotThrow(() =>
      parseConfigText(
        config(
          '{ kind: cometbft, binary: gaiad, home: /h, stateSync: fallback, app: { snapshotInterval: 500 } }',
        ),
        'rampart.yaml',
      ),
    );
  });

  test('state sync picked by measure (auto) needs a file snapshot set to measure against', () => {
    const sentries = (bootstrap: string) => `version: 1
providers:
  - { name: here, kind: local }
snapshots:
  - { name: snaps, from: sentries, store: { kind: directory, path: /s } }
pools:
  - name: sentries
    role: sentry
    provider: here
    size: { min: 1, capacity: 1, max: 2 }
    node: { kind: cometbft, binary: gaiad, stateSync: auto, app: { snapshotInterval: 500 } }
${bootstrap}`;
    let error: unknown;
    try {
      parseConfigText(sentries(''), 'rampart.yaml');
    } catch (e) {
      error = e;
    }
    assert.ok(error instanceof ConfigError);
    assert.deepEqual(error.issues.map(formatIssue), [
      'rampart.yaml:11:55 pools[0].node.stateSync: auto picks between state sync and a file snapshot by their measured times: set bootstrap.snapshots, or stateSync: prefer',
    ]);
    assert.doesNotThrow(() =>
      parseConfigText(sentries('    bootstrap: { snapshots: snaps }\n'), 'rampart.yaml'),
    );
  });

  test('the shipped gaiad example is valid', () => {
    const f = 'examples/gaiad-sentries.yaml';
    assert.doesNotThrow(() => parseConfigText(readFileSync(f, 'utf8'), f));
  });
});
