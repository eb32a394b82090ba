// The node kind contract, run by every kind that runs a process of its own: simnode (a
// validator: no upstream), cometbft (a sentry given the chain's genesis file, started alone)
// run by bare CometBFT and by gaiad, a chain daemon, and etcd-member (a pool's first member,
// which starts its cluster).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { parseConfigText } from '../../src/config/load.ts';
import type { NodeKind } from '../../src/nodes/node-kind.ts';
import { createNodeKind } from '../../src/nodes/registry.ts';
import { nodeKindContract } from '../contracts/node-kind.contract.ts';
import { createNetwork, type Network } from '../support/cometbft-net.ts';
import { createGaiaChain, type GaiaChain } from '../support/gaia-chain.ts';
import { skipUnlessInstalled } from '../support/servers.ts';

const root = mkdtempSync(path.join(tmpdir(), 'rampart-node-kinds-'));
const cleanups: (() => unknown)[] = [() => rmSync(root, { recursive: true, force: true })];
after(async () => {
  for (const fn of cleanups.reverse()) await fn();
});
let dirs = 0;
const freshDir = () => mkdtempSync(path.join(root, `${++dirs}-`));

/** The kind of pool `pool` in a config of `pools` (YAML), as the runtime builds it. */
function kindOf(pools: string, pool: string): NodeKind {
  const { config } = parseConfigText(
    `version: 1\nproviders: [ { name: here, kind: local } ]\npools:\n${pools}`,
    path.join(root, 'rampart.yaml'),
  );
  return createNodeKind(config.pools.find((p) => p.name === pool)!, config);
}

/** What the controller hands a new node of `role` with no upstream, siblings or peers. */
const launch = (role: string, kind: string) => ({ role, upstream: [], siblings: [], options: { kind } });

nodeKindContract('simnode', {
  kind: () =>
    kindOf(
      '  - { name: validator, role: validator, provider: here, node: { kind: simnode } }\n',
      'validator',
    ),
  launch: launch('validator', 'simnode'),
  dir: freshDir,
  readyWithinMs: 20_000,
});

let network: Network | undefined;
nodeKindContract('cometbft', {
  kind: () => {
    if (!network) throw new Error('no network');
    const genesis = path.join(network.validators[0]!.home, 'config', 'genesis.json');
    return kindOf(
      `  - { name: validator, role: validator, provider: here, node: { kind: cometbft, home: ${network.validators[0]!.home} } }
  - name: sentries
    role: sentry
    provider: here
    size: { min: 1, capacity: 1, max: 2 }
    node: { kind: cometbft, validatorPool: validator, genesis: ${genesis} }
`,
      'sentries',
    );
  },
  launch: launch('sentry', 'cometbft'),
  dir: freshDir,
  readyWithinMs: 60_000,
  skip: skipUnlessInstalled('cometbft'),
});
if (!skipUnlessInstalled('cometbft'))
  // A chain's genesis and a validator home (never started: the sentry runs alone).
  network = await createNetwork({ validators: 1, fullNodes: 0 }).then((n) => {
    cleanups.push(() => n.cleanup());
    return n;
  });

let gaia: GaiaChain | undefined;
nodeKindContract('cometbft run by gaiad', {
  kind: () => {
    if (!gaia) throw new Error('no gaia chain');
    // The sentry's minimum gas prices come from the validator's own app.toml.
    return kindOf(
      `  - { name: validator, role: validator, provider: here, node: { kind: cometbft, binary: ${gaia.binary}, home: ${gaia.validatorHome} } }
  - name: sentries
    role: sentry
    provider: here
    size: { min: 1, capacity: 1, max: 2 }
    node: { kind: cometbft, binary: ${gaia.binary}, validatorPool: validator, genesis: ${gaia.genesisFile} }
`,
      'sentries',
    );
  },
  launch: launch('sentry', 'cometbft'),
  dir: freshDir,
  readyWithinMs: 90_000,
  skip: skipUnlessInstalled('gaiad'),
  // A chain's genesis made by gaiad's own commands, and its validator home (never started).
  setup: async () => {
    gaia = await createGaiaChain({ fullNodes: 0 });
    cleanups.push(() => gaia?.cleanup());
  },
});

nodeKindContract('etcd-member', {
  kind: () =>
    kindOf(
      '  - { name: members, role: member, provider: here, size: { min: 3, capacity: 3, max: 5 }, node: { kind: etcd-member } }\n',
      'members',
    ),
  launch: launch('member', 'etcd-member'),
  dir: freshDir,
  readyWithinMs: 30_000,
  skip: skipUnlessInstalled('etcd'),
});
