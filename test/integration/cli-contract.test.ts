// The command line as kubectl, helm and nomad users expect it: every command and subcommand
// answers --help (and `help CMD`) with its flags, a typo gets the nearest name and exit 2,
// every --json output is one JSON document, --version names the version and the commit, the
// config is named however they are used to (-c=FILE too), completion scripts cover the tree,
// and the README's command table lists every command `rampart --help` does.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildProgram, walkCommands } from '../../src/cli/program.ts';
import { formatTraceCsv } from '../../src/sim/trace.ts';
import { generateTrace } from '../../src/sim/trace-generator.ts';
import { CLI, type Fleet, fastFleetConfig, makeFleet, runUntil, waitFor } from '../support/fleet.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(path.join(tmpdir(), 'rampart-cli-contract-'));
const fleets: Fleet[] = [];
after(async () => {
  for (const f of fleets) await f.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const rampart = (...args: string[]) =>
  spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    cwd: dir,
    env: { ...process.env, RAMPART_LOG_FORMAT: 'json', RAMPART_CONFIG: '' },
  });

/** Every command path of the tree (`snapshot create`), and each one's long flags. */
const tree = walkCommands(buildProgram({ code: 0 })).map(({ path: p, command }) => ({
  path: p,
  flags: command.options.map((o) => o.long ?? o.short!),
  subcommands: command.commands.map((c) => c.name()),
}));

test('the tree has every command the issue names', () => {
  const paths = tree.map((t) => t.path.join(' '));
  for (const p of [
    'init',
    'validate',
    'plan',
    'up',
    'down',
    'status',
    'history',
    'pool pause',
    'pool resume',
    'pool size',
    'load',
    'snapshot create',
    'snapshot list',
    'snapshot verify',
    'snapshot prune',
    'validator status',
    'validator promote',
    'state export',
    'state import',
    'simulate',
    'schema',
    'demo',
    'completion',
  ])
    assert.ok(paths.includes(p), `${p} is a command (have: ${paths.join(', ')})`);
});

describe('--help on every command and subcommand', () => {
  for (const { path: p, flags, subcommands } of tree)
    test(`rampart ${p.join(' ')} --help, and rampart help ${p.join(' ')}`, () => {
      const r = rampart(...p, '--help');
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr, '');
      assert.match(r.stdout, new RegExp(`^Usage: rampart ${p.join(' ')} `));
      for (const flag of [...flags, '--help']) assert.ok(r.stdout.includes(flag), `${flag} in:\n${r.stdout}`);
      for (const sub of subcommands) assert.match(r.stdout, new RegExp(`\\n  ${sub} `), `${sub} listed`);
      if (subcommands.length === 0 && p[0] !== 'help')
        assert.match(r.stdout, /\nExamples:\n {2}\$ \S/, 'an example');
      for (const line of r.stdout.split('\n'))
        assert.ok(line.length <= 120, `a help line longer than 120 characters: ${line}`);
      const viaHelp = rampart('help', ...p);
      assert.equal(viaHelp.status, 0, viaHelp.stderr);
      assert.equal(viaHelp.stdout, r.stdout, `rampart help ${p.join(' ')} says what --help says`);
    });

  test('rampart --help and rampart help list every command; flags show their defaults', () => {
    const r = rampart('--help');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(rampart('help').stdout, r.stdout);
    for (const { path: p } of tree.filter((t) => t.path.length === 1))
      assert.match(r.stdout, new RegExp(`\\n  ${p[0]}\\b`), `${p[0]} listed`);
    assert.match(
      rampart('history', '--help').stdout,
      /--limit <n> +the newest this many records \(default: 50\)/,
    );
    assert.match(rampart('down', '--help').stdout, /--wait <duration> [^-]*\(default:\s+2m\)/);
    assert.match(rampart('plan', '--help').stdout, /\$RAMPART_CONFIG, else\s+\.\/rampart\.yaml/);
  });
});

describe('typos: the nearest name, exit 2', () => {
  /** A typo of `name` its nearest neighbour can be told from: the last two letters swapped, or a letter doubled. */
  const typo = (name: string) =>
    name.length > 3 ? `${name.slice(0, -2)}${name.at(-1)}${name.at(-2)}` : `${name}${name.at(-1)}`;
  const groups = [[], ...tree.filter((t) => t.subcommands.length > 0).map((t) => t.path)];
  for (const parent of groups)
    for (const { path: p } of tree.filter(
      (t) => t.path.length === parent.length + 1 && parent.every((n, i) => t.path[i] === n),
    )) {
      const name = p.at(-1)!;
      if (name === 'help') continue;
      test(`rampart ${[...parent, typo(name)].join(' ')}`, () => {
        const r = rampart(...parent, typo(name));
        assert.equal(r.status, 2, r.stderr);
        assert.equal(r.stdout, '');
        assert.match(r.stderr, new RegExp(`unknown command "${typo(name)}"`));
        assert.ok(
          r.stderr.includes(`did you mean ${['rampart', ...parent, name].join(' ')}?`),
          `suggests ${name}:\n${r.stderr}`,
        );
      });
    }

  test('a mistyped flag: its nearest flag, exit 2; a flag of no command: exit 2', () => {
    const r = rampart('status', '--jsno');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /rampart status: Unknown option '--jsno'\ndid you mean --json\?/);
    const none = rampart('snapshot', 'list', '--frobnicate');
    assert.equal(none.status, 2);
    assert.match(none.stderr, /rampart snapshot list: Unknown option '--frobnicate'/);
    assert.match(none.stderr, /run rampart snapshot list --help/);
  });

  test('a group without its subcommand shows its help on stderr, exit 2; an extra argument, exit 2', () => {
    const r = rampart('snapshot');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /Usage: rampart snapshot/);
    const extra = rampart('plan', 'now');
    assert.equal(extra.status, 2);
    assert.match(extra.stderr, /rampart plan: Too many arguments/);
  });
});

test('--version: the version from package.json and the commit of this checkout', () => {
  const r = rampart('--version');
  assert.equal(r.status, 0, r.stderr);
  const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
    version: string;
  };
  const git = spawnSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' });
  const commit = git.status === 0 ? git.stdout.trim() : 'unknown';
  assert.match(
    r.stdout,
    new RegExp(`^rampart ${version.replace(/\./g, '\\.')} \\(commit ${commit}, node v24\\.`),
  );
  assert.equal(rampart('-V').stdout, r.stdout);
});

test('the config: -c FILE, -c=FILE, -cFILE, --config FILE, --config=FILE, $RAMPART_CONFIG; a missing one says how to name it', () => {
  const file = path.join(root, 'examples/local.yaml');
  for (const args of [
    ['-c', file],
    [`-c=${file}`],
    [`-c${file}`],
    ['--config', file],
    [`--config=${file}`],
  ]) {
    const r = rampart('validate', ...args);
    assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stdout, /local\.yaml: valid/);
  }
  const env = spawnSync(process.execPath, [CLI, 'validate'], {
    encoding: 'utf8',
    cwd: dir,
    env: { ...process.env, RAMPART_CONFIG: file },
  });
  assert.equal(env.status, 0, env.stderr);

  const none = rampart('validate');
  assert.equal(none.status, 2);
  assert.match(none.stderr, /rampart\.yaml: no such file/);
  assert.match(none.stderr, /no -c FILE given and \$RAMPART_CONFIG is not set.*pass -c FILE .*rampart init/);
  const wrong = rampart('plan', '-c', 'nope.yaml');
  assert.equal(wrong.status, 2);
  assert.match(wrong.stderr, /nope\.yaml: no such file\ncheck the path given with -c/);
});

describe('completion scripts, from the command tree', () => {
  const every = [...new Set(tree.flatMap((t) => t.path))];

  test('bash: mentions every command and subcommand, and bash -n accepts it', () => {
    const r = rampart('completion', 'bash');
    assert.equal(r.status, 0, r.stderr);
    for (const name of every) assert.ok(r.stdout.includes(name), `${name} in the bash script`);
    for (const p of tree)
      assert.ok(r.stdout.includes(`'${p.path.join(' ')}')`), `a case for ${p.path.join(' ')}`);
    assert.match(r.stdout, /complete -F _rampart_completion rampart/);
    const file = path.join(dir, 'rampart.bash');
    writeFileSync(file, r.stdout);
    const check = spawnSync('bash', ['-n', file], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);
  });

  test('bash: completes commands, subcommands, flags, templates and files as a shell would', () => {
    const file = path.join(dir, 'rampart.bash');
    writeFileSync(file, rampart('completion', 'bash').stdout);
    const complete = (line: string) => {
      const words = line.split(' ');
      const script = `source ${file}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _rampart_completion; printf '%s\\n' "\${COMPREPLY[@]}"`;
      return spawnSync('bash', ['-c', script], { encoding: 'utf8', cwd: dir }).stdout.trim().split('\n');
    };
    assert.deepEqual(complete('rampart sta'), ['status', 'state']);
    assert.deepEqual(complete('rampart snapshot cr'), ['create']);
    assert.deepEqual(complete('rampart -c x.yaml snapshot cr'), ['create'], 'a flag value is not a command');
    assert.ok(complete('rampart plan --').includes('--json'));
    assert.deepEqual(complete('rampart init --template kube'), ['kubernetes-sentries', 'kubernetes-workers']);
    assert.deepEqual(complete('rampart completion f'), ['fish']);
    assert.ok(complete('rampart validate -c rampart.b').includes('rampart.bash'), 'files after -c');
  });

  test('zsh and fish: every command and subcommand, and the shell accepts it where it is installed', (t) => {
    for (const shell of ['zsh', 'fish']) {
      const r = rampart('completion', shell);
      assert.equal(r.status, 0, r.stderr);
      for (const name of every) assert.ok(r.stdout.includes(name), `${name} in the ${shell} script`);
      const file = path.join(dir, `rampart.${shell}`);
      writeFileSync(file, r.stdout);
      const check = spawnSync(shell, ['-n', file], { encoding: 'utf8' });
      if (check.error) t.diagnostic(`${shell} is not installed: its script's syntax is not checked`);
      else assert.equal(check.status, 0, `${shell} -n: ${check.stderr}`);
    }
    const bad = rampart('completion', 'powershell');
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /Allowed choices are bash, zsh, fish/);
  });
});

test("the README's command table lists every command rampart --help lists, and each group's subcommands", () => {
  const help = rampart('--help').stdout;
  const commands = [...help.split('\nCommands:\n')[1]!.matchAll(/^ {2}([a-z]+)\b/gm)].map((m) => m[1]!);
  assert.ok(commands.length >= 17, commands.join(', '));
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
  const table = readme.split('## Commands\n')[1]!.split('\n## ')[0]!;
  const rows = table.split('\n').filter((l) => l.startsWith('| `rampart '));
  for (const name of commands) {
    const row = rows.find((r) => r.startsWith(`| \`rampart ${name}`));
    assert.ok(row, `a README row for rampart ${name}`);
    for (const sub of tree.filter((t) => t.path.length === 2 && t.path[0] === name).map((t) => t.path[1]!))
      assert.ok(
        rows.some(
          (r) => r.startsWith(`| \`rampart ${name}`) && new RegExp(`\\b${sub}\\b`).test(r.split('` |')[0]!),
        ),
        `README names rampart ${name} ${sub}`,
      );
  }
  assert.ok(
    rows.some((r) => r.startsWith('| `rampart --version`')),
    'a README row for --version',
  );
});

describe('every --json output is one JSON document', () => {
  const run = (args: string[]) => {
    const r = spawnSync(process.execPath, [CLI, ...args], {
      encoding: 'utf8',
      cwd: dir,
      env: { ...process.env, RAMPART_LOG_FORMAT: 'json' },
      timeout: 120_000,
    });
    assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  /** The whole of stdout parses as one JSON value: two documents, or text around one, do not. */
  const one = (args: string[]) => JSON.parse(run(args)) as Record<string, unknown>;

  test('plan, status, history, snapshot list, pool, state export, schema on a small fleet', async () => {
    const fleet = makeFleet(
      fastFleetConfig(
        { min: 1, capacity: 2, max: 2 },
        {
          storeYaml: '  store: { kind: sqlite, path: state.db }\n  api: { listen: "127.0.0.1:0" }',
          extra:
            'snapshots:\n  - { name: chain, from: sentries, every: 1s, keep: 2, store: { kind: directory, path: snaps } }\n',
        },
      ),
    );
    fleets.push(fleet);
    const c = ['-c', fleet.configFile];
    await runUntil(fleet.configFile, 'two ready sentries and a snapshot', async () => {
      const rt = await fleet.inspect();
      const ready = (await rt.store.listNodes({ pool: 'sentries' })).filter((n) => n.state === 'ready');
      return ready.length === 2 && (await rt.snapshotStores.get('chain')!.list('chain')).length > 0;
    });

    const plan = one(['plan', ...c, '--json']);
    assert.deepEqual(
      (plan.pools as { pool: string }[]).map((p) => p.pool),
      ['validator', 'sentries'],
    );
    assert.ok(Array.isArray(plan.metricErrors));
    const status = one(['status', ...c, '--json']);
    assert.equal((status.controller as { running: boolean }).running, false);
    assert.equal((status.pools as unknown[]).length, 2);
    const history = one(['history', ...c, '--json']);
    assert.ok((history.history as { type: string }[]).some((h) => h.type === 'decision'));
    const snapshots = one(['snapshot', 'list', ...c, '--json']);
    assert.ok((snapshots.sets as { snapshots: unknown[] }[])[0]!.snapshots.length > 0);
    const pool = one(['pool', 'size', 'sentries', 'auto', ...c, '--json']);
    assert.equal((pool.request as { kind: string }).kind, 'pool-size');
    assert.equal((one(['state', 'export', ...c]) as { format: string }).format, 'rampart-state');
    assert.equal(one(['schema']).type, 'object');

    // --watch --json: one document per refresh, each on its own line.
    const watch = spawn(process.execPath, [CLI, 'status', ...c, '--json', '--watch'], { cwd: dir });
    let out = '';
    watch.stdout.on('data', (d) => (out += d));
    const exited = new Promise((r) => watch.on('exit', r));
    await waitFor('three refreshes', () => out.split('\n').length > 3, 30_000);
    watch.kill('SIGINT');
    await exited;
    const lines = out.trim().split('\n');
    for (const line of lines) assert.ok(Array.isArray((JSON.parse(line) as { pools: unknown[] }).pools));
  });

  test('simulate --json: every policy of every trace in one document; validator status --json', () => {
    const trace = path.join(dir, 'short.csv');
    writeFileSync(trace, formatTraceCsv(generateTrace('ddos', { duration: 900 })));
    const doc = one([
      'simulate',
      '-c',
      path.join(root, 'examples/simulate.yaml'),
      '--pool',
      'sentries',
      '--trace',
      trace,
      '--trace',
      trace,
      '--baseline',
      'hpa',
      '--json',
    ]);
    assert.deepEqual(
      (doc.scores as { policy: string }[]).map((s) => s.policy),
      ['rampart', 'hpa', 'oracle', 'rampart', 'hpa', 'oracle'],
    );

    const config = path.join(dir, 'failover.yaml');
    writeFileSync(
      config,
      `version: 1
controller: { store: { kind: sqlite, path: failover.db } }
providers: [{ name: here, kind: local, dataDir: failover-nodes }]
pools:
  - { name: validator, role: validator, provider: here, node: { kind: cometbft, home: home }, failover: { standbyPool: standby } }
  - { name: sentries, role: sentry, provider: here, node: { kind: cometbft, validatorPool: validator }, size: { min: 0, capacity: 0, max: 1 } }
  - { name: standby, role: standby, provider: here, node: { kind: cometbft, peerPool: sentries }, size: { min: 0, capacity: 0, max: 1 } }
`,
    );
    const validators = one(['validator', 'status', '-c', config, '--json']);
    assert.deepEqual(
      (validators.validators as { pool: string }[]).map((v) => v.pool),
      ['validator'],
    );
  });
});
