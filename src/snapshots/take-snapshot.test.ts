// What a snapshot set's `leaveOut` keeps out of its snapshots, and how the config says so.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, formatIssue, parseConfigText } from '../config/load.ts';
import { leaveOut } from './take-snapshot.ts';

describe('leaveOut', () => {
  const files = [
    'data/blockstore.db/000001.ldb',
    'data/tx_index.db/000001.ldb',
    'data/tx_index.db/MANIFEST-000002',
    'data/tx_index.dbx/keep',
    'data/state.db/CURRENT',
  ];
  const cases: [string, readonly string[], readonly string[]][] = [
    ['nothing left out', [], files],
    [
      'a folder and all it holds, not a sibling whose name starts the same',
      ['data/tx_index.db'],
      ['data/blockstore.db/000001.ldb', 'data/tx_index.dbx/keep', 'data/state.db/CURRENT'],
    ],
    [
      'a trailing slash is the same folder',
      ['data/tx_index.db/'],
      ['data/blockstore.db/000001.ldb', 'data/tx_index.dbx/keep', 'data/state.db/CURRENT'],
    ],
    ['one file', ['data/state.db/CURRENT'], files.slice(0, 4)],
  ];
  for (const [name, paths, kept] of cases) test(name, () => assert.deepEqual(leaveOut(files, paths), kept));
});

describe('a snapshot set leaveOut in the config', () => {
  const config = (leave: string) => `version: 1
providers:
  - { name: laptop, kind: local }
pools:
  - { name: validator, role: validator, provider: laptop, node: { kind: simnode } }
  - name: sentries
    role: sentry
    provider: laptop
    node: { kind: simnode, validatorPool: validator }
    size: { min: 2, capacity: 3, max: 5 }
snapshots:
  - { name: lite, from: sentries, store: { kind: directory, path: s }, leaveOut: ${leave} }
`;
  test('is read, and defaults to nothing', () => {
    const c = parseConfigText(config('[data/tx_index.db]'), 'rampart.yaml');
    assert.deepEqual(c.config.snapshots[0]!.leaveOut, ['data/tx_index.db']);
    const d = parseConfigText(config('[]'), 'rampart.yaml');
    assert.deepEqual(d.config.snapshots[0]!.leaveOut, []);
  });
  test('a path leaving the data dir is refused, naming the field', () => {
    try {
      parseConfigText(config('[../keys]'), 'rampart.yaml');
      assert.fail('expected a ConfigError');
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      assert.deepEqual(e.issues.map(formatIssue), [
        "rampart.yaml:12:83 snapshots[0].leaveOut[0]: a path relative to the node's data dir, with / separators and no ..",
      ]);
    }
  });
});
