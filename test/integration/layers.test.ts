// The layer rules in .dependency-cruiser.cjs, run by dependency-cruiser as scripts/test.sh
// does: each rule still fires on a small tree that breaks it, what the rules allow passes,
// and the real src keeps to them.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const CONFIG = path.join(root, '.dependency-cruiser.cjs');
const DEPCRUISE = path.join(root, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');
const require = createRequire(import.meta.url);
const dir = mkdtempSync(path.join(tmpdir(), 'rampart-layers-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Violation {
  readonly rule: string;
  readonly from: string;
  readonly to: string;
}

/** Runs dependency-cruiser on `cwd`/src as scripts/test.sh does: it exits with the number of errors. */
function depcruise(cwd: string, config: string, ...args: string[]) {
  return spawnSync(process.execPath, [DEPCRUISE, 'src', '--config', config, ...args], {
    cwd,
    encoding: 'utf8',
  });
}

/** The violations dependency-cruiser finds, from its JSON report (which always exits 0). */
function violations(cwd: string, config: string): Violation[] {
  const r = depcruise(cwd, config, '--output-type', 'json');
  assert.equal(r.status, 0, r.stderr);
  const result = JSON.parse(r.stdout) as {
    summary: { violations: { rule: { name: string }; from: string; to: string }[] };
  };
  return result.summary.violations.map((v) => ({ rule: v.rule.name, from: v.from, to: v.to }));
}

/** Writes each file of `tree` under `base`; a file's text is its imports, one path each. */
function writeTree(base: string, tree: Record<string, string[]>): void {
  for (const [file, imports] of Object.entries(tree)) {
    const at = path.join(base, file);
    mkdirSync(path.dirname(at), { recursive: true });
    const lines = imports.map((target, i) => {
      let relative = path.relative(path.dirname(file), target);
      if (!relative.startsWith('.')) relative = `./${relative}`;
      return `import * as m${i} from '${relative}';\nexport const use${i} = m${i};`;
    });
    writeFileSync(at, `${lines.join('\n')}\nexport const here = '${file}';\n`);
  }
}

// What the rules allow: one import of each kind they let through.
const ALLOWED: Record<string, string[]> = {
  'src/core/types.ts': [],
  'src/core/forbidden-files.ts': [],
  'src/config-kit/fields.ts': ['src/core/types.ts'],
  'src/kube/kube-client.ts': ['src/config-kit/fields.ts'],
  // config composes the schema from the adapters' registries.
  'src/config/schema.ts': ['src/providers/registry.ts', 'src/config-kit/fields.ts'],
  'src/providers/registry.ts': ['src/providers/aws/config.ts', 'src/providers/provider.ts'],
  'src/providers/aws/config.ts': ['src/config-kit/fields.ts'],
  'src/store/store.ts': ['src/core/types.ts'],
  'src/store/etcd-store.ts': ['src/store/store.ts'],
  'src/nodes/node-kind.ts': ['src/core/types.ts'],
  'src/nodes/cometbft/cometbft-kind.ts': ['src/nodes/node-kind.ts', 'src/core/forbidden-files.ts'],
  'src/providers/provider.ts': ['src/nodes/node-kind.ts'],
  'src/providers/aws/user-data.ts': ['src/core/forbidden-files.ts'],
  'src/providers/kubernetes/provider.ts': ['src/kube/kube-client.ts', 'src/providers/provider.ts'],
  'src/snapshots/manifest.ts': ['src/core/forbidden-files.ts'],
  'src/snapshots/take-snapshot.ts': ['src/nodes/node-kind.ts', 'src/providers/provider.ts'],
  'src/coordination/embedded.ts': ['src/store/store.ts'],
  'src/coordination/etcd.ts': ['src/store/etcd-store.ts'],
  'src/metrics/kubernetes.ts': ['src/kube/kube-client.ts'],
  'src/alerts/alert.ts': ['src/core/types.ts'],
  'src/runtime/runtime.ts': [
    'src/config/schema.ts',
    'src/providers/aws/user-data.ts',
    'src/store/etcd-store.ts',
    'src/alerts/alert.ts',
  ],
  'src/failover/monitor.ts': ['src/runtime/runtime.ts', 'src/nodes/cometbft/cometbft-kind.ts'],
  'src/controller/controller.ts': ['src/failover/monitor.ts', 'src/runtime/runtime.ts'],
  'src/api/server.ts': ['src/controller/controller.ts'],
  'src/sim/simulate.ts': ['src/config/schema.ts'],
  'src/cli/log.ts': [],
  'src/cli/main.ts': ['src/api/server.ts', 'src/sim/simulate.ts', 'src/cli/log.ts'],
  'src/web/app.js': ['src/web/dom.js'],
  'src/web/dom.js': [],
  // A test may reach anywhere, test/support included.
  'src/core/types.test.ts': ['src/cli/main.ts', 'test/support/fleet.ts'],
  'test/support/fleet.ts': ['src/cli/main.ts'],
};

// Each rule broken once; the breakage the layers were made to stop comes first.
const BROKEN: Record<string, string[]> = {
  'src/providers/aws/boot.ts': ['src/snapshots/manifest.ts'],
  'src/nodes/cometbft/restore.ts': ['src/snapshots/manifest.ts'],
  'src/alerts/test-fixtures.ts': ['src/cli/log.ts'],
  'src/failover/promote.ts': ['src/controller/controller.ts'],
  'src/core/decide.ts': ['src/config/schema.ts'],
  'src/config/load.ts': ['src/runtime/runtime.ts'],
  'src/config-kit/plugin.ts': ['src/providers/provider.ts'],
  'src/kube/quantity.ts': ['src/metrics/kubernetes.ts'],
  'src/store/sqlite-store.ts': ['src/nodes/node-kind.ts'],
  'src/metrics/scrape.ts': ['src/runtime/runtime.ts'],
  'src/coordination/kubernetes.ts': ['src/store/sqlite-store.ts'],
  'src/snapshots/s3-store.ts': ['src/alerts/alert.ts'],
  'src/runtime/wiring.ts': ['src/controller/controller.ts'],
  'src/controller/observe.ts': ['src/api/server.ts'],
  'src/api/routes.ts': ['src/cli/log.ts'],
  'src/cli/commands/serve.ts': ['src/web/app.js'],
  'src/sim/policy.ts': ['src/controller/controller.ts'],
  'src/web/pages/nodes.js': ['src/api/server.ts'],
  'src/plugins/registry.ts': ['src/core/types.ts'],
  'src/snapshots/cache.ts': ['test/support/fleet.ts'],
  'src/nodes/simnode/fixture.ts': [],
  // A cycle no layer rule sees: two folders of one layer.
  'src/nodes/a/one.ts': ['src/nodes/b/two.ts'],
  'src/nodes/b/two.ts': ['src/nodes/a/three.ts'],
  'src/nodes/a/three.ts': [],
};

// Every import that breaks a layer closes a folder cycle too (the layer above imports the one
// below): those are left out here, and only the cycles named are looked for.
const EXPECTED: Violation[] = [
  { rule: 'layer-providers', from: 'src/providers/aws/boot.ts', to: 'src/snapshots/manifest.ts' },
  { rule: 'layer-nodes', from: 'src/nodes/cometbft/restore.ts', to: 'src/snapshots/manifest.ts' },
  { rule: 'layer-alerts', from: 'src/alerts/test-fixtures.ts', to: 'src/cli/log.ts' },
  { rule: 'no-fixture-in-src', from: 'src/alerts/test-fixtures.ts', to: 'src/cli/log.ts' },
  { rule: 'layer-failover', from: 'src/failover/promote.ts', to: 'src/controller/controller.ts' },
  { rule: 'no-folder-cycle', from: 'src/failover', to: 'src/controller' },
  { rule: 'no-folder-cycle', from: 'src/controller', to: 'src/failover' },
  { rule: 'layer-core', from: 'src/core/decide.ts', to: 'src/config/schema.ts' },
  { rule: 'layer-config', from: 'src/config/load.ts', to: 'src/runtime/runtime.ts' },
  { rule: 'layer-config-kit', from: 'src/config-kit/plugin.ts', to: 'src/providers/provider.ts' },
  { rule: 'layer-kube', from: 'src/kube/quantity.ts', to: 'src/metrics/kubernetes.ts' },
  { rule: 'layer-store', from: 'src/store/sqlite-store.ts', to: 'src/nodes/node-kind.ts' },
  { rule: 'layer-metrics', from: 'src/metrics/scrape.ts', to: 'src/runtime/runtime.ts' },
  { rule: 'layer-coordination', from: 'src/coordination/kubernetes.ts', to: 'src/store/sqlite-store.ts' },
  { rule: 'layer-snapshots', from: 'src/snapshots/s3-store.ts', to: 'src/alerts/alert.ts' },
  { rule: 'layer-runtime', from: 'src/runtime/wiring.ts', to: 'src/controller/controller.ts' },
  { rule: 'layer-controller', from: 'src/controller/observe.ts', to: 'src/api/server.ts' },
  { rule: 'layer-api', from: 'src/api/routes.ts', to: 'src/cli/log.ts' },
  { rule: 'layer-cli', from: 'src/cli/commands/serve.ts', to: 'src/web/app.js' },
  { rule: 'layer-sim', from: 'src/sim/policy.ts', to: 'src/controller/controller.ts' },
  { rule: 'layer-web', from: 'src/web/pages/nodes.js', to: 'src/api/server.ts' },
  { rule: 'layer-unplaced', from: 'src/plugins/registry.ts', to: 'src/core/types.ts' },
  { rule: 'no-test-code-in-src', from: 'src/snapshots/cache.ts', to: 'test/support/fleet.ts' },
  { rule: 'no-fixture-in-src', from: 'src/nodes/simnode/fixture.ts', to: 'src/nodes/simnode/fixture.ts' },
  { rule: 'no-folder-cycle', from: 'src/nodes/a', to: 'src/nodes/b' },
  { rule: 'no-folder-cycle', from: 'src/nodes/b', to: 'src/nodes/a' },
];

const key = (v: Violation) => `${v.rule}: ${v.from} -> ${v.to}`;

test('what the layers allow passes: adapters through declared interfaces, the wiring, tests reaching anywhere', () => {
  const base = path.join(dir, 'allowed');
  writeTree(base, ALLOWED);
  const r = depcruise(base, CONFIG);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  // Every file but the test and what only the test imports: none skipped as unparsable.
  assert.match(r.stdout, /no dependency violations found \(29 modules/);
});

test('every rule fires on an import that breaks it, and the run fails', () => {
  const rules = new Set((require(CONFIG) as { forbidden: { name: string }[] }).forbidden.map((r) => r.name));
  const base = path.join(dir, 'broken');
  writeTree(base, { ...ALLOWED, ...BROKEN });
  // The rules at full strength: without the lines that exempt something for a while.
  const config = path.join(base, '.dependency-cruiser.cjs');
  const lines = readFileSync(CONFIG, 'utf8').split('\n');
  writeFileSync(config, lines.filter((l) => !l.includes('TEMPORARY exemption')).join('\n'));
  const found = violations(base, config);
  const cycle = (v: Violation) => v.rule === 'no-folder-cycle';
  assert.deepEqual(
    found
      .filter((v) => !cycle(v))
      .map(key)
      .sort(),
    EXPECTED.filter((v) => !cycle(v))
      .map(key)
      .sort(),
  );
  const cycles = found.filter(cycle).map(key);
  for (const v of EXPECTED.filter(cycle)) assert.ok(cycles.includes(key(v)), `not found: ${key(v)}`);
  assert.deepEqual(
    new Set(found.map((v) => v.rule)),
    rules,
    'a rule with no case here, or one that never fires',
  );
  const run = depcruise(base, config);
  assert.equal(run.status, found.length, run.stderr);
  assert.match(run.stdout, /error layer-core: src\/core\/decide\.ts → src\/config\/schema\.ts/);
});

test('the real src keeps to the layers', () => {
  const r = depcruise(root, CONFIG);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /no dependency violations found/);
});
