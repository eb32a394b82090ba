// Rampart's layer rules (DESIGN.md "Layout"), checked by dependency-cruiser as the "layers"
// step of scripts/test.sh; test/integration/layers.test.ts shows that each rule still fires.
//
// Bottom up: core (pure, imports nothing of Rampart's); config-kit, the field types and the
// plugin shape every config slice is built from; kube, the shared Kubernetes client; the
// adapters, which never import each other except through the few declared interfaces listed
// in ACROSS_ADAPTERS, and each hold their plugins' config slices and registry; config, which
// composes the config schema from those registries and loads a file; runtime, the wiring
// point that builds the adapters; failover, then controller; api and cli on top. sim and web
// stand apart. No folder cycle.
// Test files (*.test.ts) are left out: a test may reach anywhere, and may import test/.
// Nothing else in src may import from test/ or be a test fixture.
//
// Parsed with swc: TypeScript 7's package has no compiler API for dependency-cruiser to use.
// swc keeps type-only imports, so an `import type` counts as a dependency here too.

const ADAPTERS = ['store', 'metrics', 'nodes', 'providers', 'coordination', 'alerts', 'snapshots'];

/**
 * The only imports from one adapter into another: each of a declared interface (the one
 * file that says what that kind of adapter is), each for a reason.
 */
const ACROSS_ADAPTERS = {
  providers: [
    // A provider launches a node of some kind: its interface takes the NodeKind and its launch context.
    'src/nodes/node-kind.ts',
  ],
  snapshots: [
    // Taking a snapshot stops the node through its provider and copies what its node kind
    // names; a restore streams into the node kind's RestoreSource.
    'src/nodes/node-kind.ts',
    'src/providers/provider.ts',
  ],
  coordination: [
    // Leadership terms are the store's fencing terms, taken through the Store interface.
    'src/store/store.ts',
    // Not an interface: etcd coordination takes its term with the etcd store's own CAS on
    // the term key and its election key together, on the store's client.
    'src/store/etcd-store.ts',
  ],
};

/** Imports allowed for a while, from one folder of src into another: one line each. */
const TEMPORARY = [];

const folders = (names) => `^src/(${names.join('|')})/`;
const file = (path) => `^${path.replaceAll('.', '\\.')}$`;
const FIXTURE = '^src/.*[Ff]ixture[^/]*$';

/** A rule that lets `name` import from its own folder and from `allowed` only. */
function layer(name, allowed, comment, alsoAllowed = []) {
  const temporary = TEMPORARY.filter((t) => t.from === name).map((t) => `^src/${t.to}/`);
  return {
    name: `layer-${name}`,
    comment,
    severity: 'error',
    from: { path: folders([name]) },
    to: { path: '^src/', pathNot: [folders([name, ...allowed]), ...alsoAllowed.map(file), ...temporary] },
  };
}

const BELOW_ADAPTERS = ['core', 'config-kit', 'kube'];
const BELOW_RUNTIME = [...BELOW_ADAPTERS, ...ADAPTERS, 'config'];
const LAYERED = [...BELOW_RUNTIME, 'runtime', 'failover', 'controller', 'api', 'cli', 'sim', 'web'];
// A folder cycle through a TEMPORARY import is let pass while the exemption stands.
const exempt = TEMPORARY.length > 0 ? { pathNot: `^src/(${TEMPORARY.map((t) => t.from).join('|')})$` } : {};

module.exports = {
  forbidden: [
    layer('core', [], 'core is pure: it imports nothing of Rampart outside src/core.'),
    layer('config-kit', ['core'], 'config-kit, the building blocks of config slices, imports only core.'),
    layer(
      'kube',
      ['core', 'config-kit'],
      'kube, the shared Kubernetes client, imports only core and config-kit.',
    ),
    ...ADAPTERS.map((adapter) =>
      layer(
        adapter,
        BELOW_ADAPTERS,
        `${adapter} is an adapter: it imports core, config-kit and kube, and another adapter only ` +
          'through an interface listed in ACROSS_ADAPTERS in .dependency-cruiser.cjs.',
        ACROSS_ADAPTERS[adapter],
      ),
    ),
    layer(
      'config',
      [...BELOW_ADAPTERS, ...ADAPTERS],
      "config composes the schema from the adapters' registries: it imports them and what is below them.",
    ),
    layer('runtime', BELOW_RUNTIME, 'runtime wires the adapters: it imports them and what is below them.'),
    layer(
      'failover',
      [...BELOW_RUNTIME, 'runtime'],
      'The controller uses failover, never the other way round: failover imports no controller, api or cli.',
    ),
    layer('controller', [...BELOW_RUNTIME, 'runtime', 'failover'], 'controller imports nothing above it.'),
    layer(
      'api',
      [...BELOW_RUNTIME, 'runtime', 'failover', 'controller'],
      'api imports all but cli, sim and web.',
    ),
    layer('cli', [...LAYERED.filter((f) => f !== 'web')], 'cli is on top: it imports all but the dashboard.'),
    layer(
      'sim',
      ['core', 'config'],
      "sim simulates the core policy: it imports only core and config's types.",
    ),
    layer('web', [], "web is the dashboard's browser code: it imports nothing of the server's."),
    {
      name: 'layer-unplaced',
      comment: 'Each folder of src has a place in the layers: add a new one to .dependency-cruiser.cjs.',
      severity: 'error',
      from: { path: '^src/', pathNot: folders(LAYERED) },
      to: {},
    },
    {
      name: 'no-folder-cycle',
      comment: 'No cycle between folders: the layers only point down.',
      scope: 'folder',
      severity: 'error',
      from: exempt,
      to: { circular: true, ...exempt },
    },
    {
      name: 'no-test-code-in-src',
      comment: 'Only test files may import from test/ (test/support, test/contracts).',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^test/' },
    },
    {
      name: 'no-fixture-in-src',
      comment: 'Test fixtures live in test/support, not in src.',
      severity: 'error',
      from: { path: FIXTURE },
      to: {},
    },
    {
      name: 'no-fixture-in-src',
      comment: 'Test fixtures live in test/support, not in src.',
      severity: 'error',
      from: {},
      to: { path: FIXTURE },
    },
    {
      name: 'no-fixture-in-src',
      comment: 'Test fixtures live in test/support, not in src.',
      severity: 'error',
      from: { path: FIXTURE, orphan: true },
      to: {},
    },
  ],
  options: {
    parser: 'swc',
    exclude: { path: '\\.test\\.ts$' },
    doNotFollow: { path: ['node_modules', '^test/'] },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
