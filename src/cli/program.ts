// The command tree in one place: every command and subcommand, its flags with their defaults,
// a description and an example, wired to its file under commands/. Parsing, help, suggestions
// and completion all read this tree (commander). A command's file is loaded only when it runs,
// so --help and completion do not load the runtime.

import { Argument, Command, CommanderError, Option } from 'commander';
import type { Shell } from './commands/completion.ts';
import type { DemoFlags } from './commands/demo.ts';
import type { DownFlags } from './commands/down.ts';
import type { HistoryFlags } from './commands/history.ts';
import type { InitFlags } from './commands/init.ts';
import type { LoadFlags } from './commands/load.ts';
import type { PlanFlags } from './commands/plan.ts';
import type { PoolFlags } from './commands/pool.ts';
import type { SimulateFlags } from './commands/simulate.ts';
import type { SnapshotFlags } from './commands/snapshot.ts';
import type { StateFlags } from './commands/state.ts';
import type { StatusFlags } from './commands/status.ts';
import type { UpFlags } from './commands/up.ts';
import type { ValidateFlags } from './commands/validate.ts';
import type { ValidatorFlags } from './commands/validator.ts';
import {
  DEFAULT_CONFIG,
  DEFAULT_HISTORY_LIMIT,
  DEFAULT_REQUEST_WAIT,
  DEFAULT_STOP_WAIT,
  DEFAULT_TEMPLATE,
} from './defaults.ts';
import { templates } from './templates.ts';
import { versionLine } from './version.ts';

/** The program's exit code, set by the command that ran. */
export interface Outcome {
  code: number;
}

const configOption = () =>
  new Option('-c, --config <file>', `the config file (default: $RAMPART_CONFIG, else ./${DEFAULT_CONFIG})`);
const jsonOption = () => new Option('--json', 'print one JSON document instead of text');
const poolOption = (what: string) => new Option('-p, --pool <pool>', what);
const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

/** Help text after the flags: the examples, each a command line a person can run. */
function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;
}

export function buildProgram(outcome: Outcome): Command {
  /** The command's run decides the exit code. */
  const run = async (code: Promise<number>) => {
    outcome.code = await code;
  };

  const program = new Command('rampart')
    .description(
      'Rampart keeps fleets of stateful nodes (sentries, validators, workers, etcd members) at the right size and alive.',
    )
    .usage('<command> [flags]')
    .option('-V, --version', 'print the version and the commit, then exit')
    .addHelpText(
      'after',
      `\nEvery command answers --help; rampart help COMMAND [SUBCOMMAND] says the same.
The config comes from -c FILE, else $RAMPART_CONFIG, else ./${DEFAULT_CONFIG}. Exit codes: 0 done,
2 usage or config error (nothing changed), 1 anything else. --json prints one JSON document
(status --watch --json: one per refresh, JSON lines).
${examples('rampart init', 'rampart validate -c rampart.yaml', 'rampart up -c rampart.yaml', 'rampart status -c rampart.yaml --watch')}`,
    );
  program.on('option:version', () => {
    process.stdout.write(`${versionLine()}\n`);
    throw new CommanderError(0, 'commander.version', 'version printed');
  });

  const known = templates();
  const names = known.map((t) => t.name);
  const nameWidth = Math.max(...names.map((n) => n.length));
  program
    .command('init')
    .description('write a commented starting config for one of the setups Rampart serves')
    .addOption(
      new Option('-t, --template <name>', 'the setup')
        .choices(names)
        .default(DEFAULT_TEMPLATE, DEFAULT_TEMPLATE),
    )
    .addOption(
      new Option('-o, --output <file>', 'where to write it; - prints it').default(
        DEFAULT_CONFIG,
        DEFAULT_CONFIG,
      ),
    )
    .option('--force', 'overwrite the file if it exists')
    .option('--list', 'list the templates, write nothing')
    .addHelpText(
      'after',
      `\nTemplates:\n${known.map((t) => `  ${t.name.padEnd(nameWidth)}  ${t.summary}`).join('\n')}\n${examples('rampart init', 'rampart init --template aws-sentries -o sentries.yaml', 'rampart init --list')}`,
    )
    .action((flags: InitFlags) => run(import('./commands/init.ts').then((c) => c.init(flags))));

  program
    .command('validate')
    .description('check a config: exit 0, or 2 with every error (file:line:col field: what is allowed)')
    .addOption(configOption())
    .addHelpText('after', examples('rampart validate -c rampart.yaml'))
    .action((flags: ValidateFlags) => run(import('./commands/validate.ts').then((c) => c.validate(flags))));

  program
    .command('plan')
    .description('what the controller would do now and why, per pool; changes nothing')
    .addOption(configOption())
    .addOption(jsonOption())
    .addHelpText('after', examples('rampart plan -c rampart.yaml', 'rampart plan -c rampart.yaml --json'))
    .action((flags: PlanFlags) => run(import('./commands/plan.ts').then((c) => c.plan(flags))));

  program
    .command('up')
    .description('run the controller until SIGINT/SIGTERM; the nodes keep running when it stops')
    .addOption(configOption())
    .option('--adopt', "record the platform's running instances this store does not know as its nodes")
    .addHelpText('after', examples('rampart up -c rampart.yaml', 'rampart up -c rampart.yaml --adopt'))
    .action((flags: UpFlags) => run(import('./commands/up.ts').then((c) => c.up(flags))));

  program
    .command('down')
    .description('stop a running controller on this store, then remove every node')
    .addOption(configOption())
    .addOption(
      new Option('--wait <duration>', 'longest wait for a running controller to stop').default(
        DEFAULT_STOP_WAIT,
        DEFAULT_STOP_WAIT,
      ),
    )
    .addHelpText('after', examples('rampart down -c rampart.yaml', 'rampart down -c rampart.yaml --wait 10m'))
    .action((flags: DownFlags) => run(import('./commands/down.ts').then((c) => c.down(flags))));

  program
    .command('status')
    .description('whether a controller runs; each pool against its bounds, its nodes, the last decision')
    .addOption(configOption())
    .addOption(jsonOption())
    .option('-w, --watch', 'refresh every second until Ctrl-C (with --json: one document per line)')
    .addHelpText(
      'after',
      examples('rampart status -c rampart.yaml', 'rampart status -c rampart.yaml --watch'),
    )
    .action((flags: StatusFlags) => run(import('./commands/status.ts').then((c) => c.status(flags))));

  program
    .command('history')
    .description('decisions with their reasons, actions with their outcomes, alerts; oldest first')
    .addOption(configOption())
    .addOption(poolOption('only this pool'))
    .addOption(jsonOption())
    .addOption(
      new Option('-n, --limit <n>', 'the newest this many records').default(
        DEFAULT_HISTORY_LIMIT,
        DEFAULT_HISTORY_LIMIT,
      ),
    )
    .addHelpText(
      'after',
      examples('rampart history -c rampart.yaml', 'rampart history -c rampart.yaml -p sentries -n 10'),
    )
    .action((flags: HistoryFlags) => run(import('./commands/history.ts').then((c) => c.history(flags))));

  const poolCommand = program
    .command('pool')
    .description('pause, resume or size a pool by hand, through the running controller')
    .addHelpText(
      'after',
      `\nEach is asked of the controller running on this store, recorded with the caller (cli user@host),
and waited for; with none running, the request waits for the next rampart up.
${examples('rampart pool pause sentries', 'rampart pool size sentries 5', 'rampart pool size sentries auto', 'rampart pool resume sentries')}`,
    );
  const poolFlags = (c: Command) =>
    c
      .addOption(configOption())
      .addOption(
        new Option('--wait <duration>', 'longest wait for the controller to take the request').default(
          DEFAULT_REQUEST_WAIT,
          DEFAULT_REQUEST_WAIT,
        ),
      )
      .addOption(jsonOption());
  poolFlags(
    poolCommand
      .command('pause')
      .description('the controller keeps observing the pool and acts on nothing until resumed')
      .argument('<pool>', 'the pool')
      .addHelpText('after', examples('rampart pool pause sentries -c rampart.yaml')),
  ).action((name: string, flags: PoolFlags) =>
    run(import('./commands/pool.ts').then((c) => c.pool('pause', name, undefined, flags))),
  );
  poolFlags(
    poolCommand
      .command('resume')
      .description('resume a paused pool')
      .argument('<pool>', 'the pool')
      .addHelpText('after', examples('rampart pool resume sentries -c rampart.yaml')),
  ).action((name: string, flags: PoolFlags) =>
    run(import('./commands/pool.ts').then((c) => c.pool('resume', name, undefined, flags))),
  );
  poolFlags(
    poolCommand
      .command('size')
      .description('set the size by hand, within min and max (scale rules pause), or back to auto')
      .argument('<pool>', 'the pool')
      .argument('<size>', 'a number of nodes, or auto for automatic sizing')
      .addHelpText(
        'after',
        examples(
          'rampart pool size sentries 5 -c rampart.yaml',
          'rampart pool size sentries auto -c rampart.yaml',
        ),
      ),
  ).action((name: string, size: string, flags: PoolFlags) =>
    run(import('./commands/pool.ts').then((c) => c.pool('size', name, size, flags))),
  );

  program
    .command('load')
    .description("offer load to a pool's ready nodes, following the pool as it changes")
    .addOption(configOption())
    .addOption(
      new Option('-r, --rate <tx/s>', 'offered load over the whole pool, transactions per second (required)'),
    )
    .addOption(poolOption('the pool to load (default: the first sentry pool)'))
    .addOption(new Option('-d, --duration <duration>', 'stop after this long, e.g. 60s (default: at Ctrl-C)'))
    .addOption(
      new Option(
        '--burst <tx/s>',
        'periodic mode: offered load during each burst (with --every, --burst-for)',
      ),
    )
    .addOption(new Option('--every <duration>', 'periodic mode: from one burst to the next, e.g. 3m'))
    .addOption(new Option('--burst-for <duration>', 'periodic mode: how long each burst lasts, e.g. 40s'))
    .addOption(
      new Option(
        '--bank-send',
        'a Cosmos SDK chain (gaiad): signed bank sends (with --key-file, --gas-price)',
      ),
    )
    .addOption(new Option('--key-file <file>', "bank sends: the sending account's secret, 64 hex digits"))
    .addOption(new Option('--gas-price <price>', 'bank sends: fee per unit of gas, e.g. 0.005uatom'))
    .addOption(new Option('--prefix <hrp>', "bank sends: the chain's address prefix (default cosmos)"))
    .addHelpText(
      'after',
      examples(
        'rampart load -c rampart.yaml --rate 400 --duration 60s',
        'rampart load -c rampart.yaml --rate 40 --burst 330 --every 3m --burst-for 40s',
        'rampart load -c gaiad.yaml --rate 20 --bank-send --key-file load.key --gas-price 0.005uatom',
      ),
    )
    .action((flags: LoadFlags) => run(import('./commands/load.ts').then((c) => c.load(flags))));

  const snapshotCommand = program
    .command('snapshot')
    .description('take, list, verify and prune snapshots of a set')
    .addHelpText(
      'after',
      examples(
        'rampart snapshot list -c rampart.yaml',
        'rampart snapshot create -c rampart.yaml --set chain',
      ),
    );
  const setOption = () =>
    new Option('-s, --set <name>', 'the snapshot set (default: the only one the config defines)');
  const imagesOption = (what: string) =>
    new Option('--images <pool>', `${what} of the machine images baked from the pool (providers[].images)`);
  snapshotCommand
    .command('create')
    .description('take a snapshot now, or bake an image (asked of the running controller when one runs)')
    .addOption(configOption())
    .addOption(setOption())
    .addOption(imagesOption('bake one'))
    .addHelpText(
      'after',
      examples(
        'rampart snapshot create -c rampart.yaml --set chain',
        'rampart snapshot create -c rampart.yaml --images sentries',
      ),
    )
    .action((flags: SnapshotFlags) =>
      run(import('./commands/snapshot.ts').then((c) => c.snapshot('create', flags))),
    );
  snapshotCommand
    .command('list')
    .description("a set's complete and incomplete snapshots, and the pools' baked images")
    .addOption(configOption())
    .addOption(
      new Option('-s, --set <name>', 'the snapshot set (default: every set and every pool with images)'),
    )
    .addOption(imagesOption('only the list'))
    .addOption(jsonOption())
    .addHelpText(
      'after',
      examples('rampart snapshot list -c rampart.yaml', 'rampart snapshot list -c rampart.yaml --json'),
    )
    .action((flags: SnapshotFlags) =>
      run(import('./commands/snapshot.ts').then((c) => c.snapshot('list', flags))),
    );
  snapshotCommand
    .command('verify')
    .description("check every file of a snapshot against its manifest's checksums")
    .addOption(configOption())
    .addOption(setOption())
    .addOption(new Option('--id <id>', 'the snapshot (default: the newest complete one)'))
    .addHelpText('after', examples('rampart snapshot verify -c rampart.yaml --set chain'))
    .action((flags: SnapshotFlags) =>
      run(import('./commands/snapshot.ts').then((c) => c.snapshot('verify', flags))),
    );
  snapshotCommand
    .command('prune')
    .description("remove complete snapshots beyond the set's keep")
    .addOption(configOption())
    .addOption(setOption())
    .addHelpText('after', examples('rampart snapshot prune -c rampart.yaml --set chain'))
    .action((flags: SnapshotFlags) =>
      run(import('./commands/snapshot.ts').then((c) => c.snapshot('prune', flags))),
    );

  const validatorCommand = program
    .command('validator')
    .description('failover: the guarded validator and its standby; the guarded promotion')
    .addHelpText(
      'after',
      `\nRunbook: docs/failover-runbook.md${examples('rampart validator status -c rampart.yaml', 'rampart validator promote -c rampart.yaml --pool validator --to cloud-standby-1 --key-dir ./keys')}`,
    );
  validatorCommand
    .command('status')
    .description('detection state, signer, last signed height, standby, and what promote would check now')
    .addOption(configOption())
    .addOption(poolOption('the validator pool (default: every pool with failover)'))
    .addOption(
      new Option('--key-dir <dir>', "the operator's folder with priv_validator_key.json, for the key check"),
    )
    .addOption(jsonOption())
    .addHelpText('after', examples('rampart validator status -c rampart.yaml'))
    .action((flags: ValidatorFlags) =>
      run(import('./commands/validator.ts').then((c) => c.validator('status', flags))),
    );
  validatorCommand
    .command('promote')
    .description('move signing to a synced standby, only when every double-sign guard passes')
    .addOption(configOption())
    .addOption(poolOption('the validator pool (required)'))
    .addOption(new Option('--to <node>', 'the standby node to promote (required)'))
    .addOption(new Option('--key-dir <dir>', "the operator's folder with priv_validator_key.json (required)"))
    .option('--old-powered-off', "the old validator's machine is confirmed powered off")
    .option('--dry-run', 'run every check, change nothing')
    .addHelpText(
      'after',
      examples(
        'rampart validator promote -c rampart.yaml --pool validator --to cloud-standby-1 --key-dir ./keys --dry-run',
      ),
    )
    .action((flags: ValidatorFlags) =>
      run(import('./commands/validator.ts').then((c) => c.validator('promote', flags))),
    );

  const stateCommand = program
    .command('state')
    .description("move Rampart's whole state between stores (SQLite ⇄ etcd)")
    .addHelpText(
      'after',
      examples(
        'rampart state export -c old.yaml > state.json',
        'rampart state import -c new.yaml --input state.json',
      ),
    );
  stateCommand
    .command('export')
    .description('the whole state as one JSON document on stdout')
    .addOption(configOption())
    .addHelpText('after', examples('rampart state export -c rampart.yaml > state.json'))
    .action((flags: StateFlags) => run(import('./commands/state.ts').then((c) => c.state('export', flags))));
  stateCommand
    .command('import')
    .description('write an export into an empty store (no controller may run on it)')
    .addOption(configOption())
    .addOption(new Option('-i, --input <file>', 'the export to read (default: stdin)'))
    .option('--force', 'replace whatever the target store holds')
    .addHelpText('after', examples('rampart state import -c etcd.yaml --input state.json'))
    .action((flags: StateFlags) => run(import('./commands/state.ts').then((c) => c.state('import', flags))));

  program
    .command('simulate')
    .description("score a pool's policy against the established autoscalers on recorded load")
    .addOption(configOption())
    .addOption(new Option('--pool <pool>', 'the pool whose policy is simulated (required)'))
    .addOption(
      new Option('--trace <csv>', 'load trace, CSV time_s,load; repeatable (required)').argParser(collect),
    )
    .addOption(
      new Option(
        '--baseline <name>',
        'hpa, heat, gce, aws, oracle or all; repeatable or comma-separated',
      ).argParser(collect),
    )
    .addOption(jsonOption())
    .addOption(new Option('--chart <file>', 'write load against capacity, .svg or .html'))
    .addOption(new Option('--node-capacity <units/s>', 'what a ready node serves (default: 100)'))
    .addOption(new Option('--provision <duration>', 'from request to a booted node (default: 30s)'))
    .addOption(new Option('--restore <duration>', 'snapshot restore (default: 60s)'))
    .addOption(new Option('--bootstrap <how>', 'snapshot or genesis (default: snapshot)'))
    .addOption(new Option('--genesis-sync <duration>', 'sync from genesis (default: 6h)'))
    .addOption(
      new Option(
        '--scrape-interval <duration>',
        "between samples (default: the config's evaluationInterval)",
      ),
    )
    .addOption(new Option('--failure-rate <n>', 'failures per node-hour (default: 0)'))
    .addOption(new Option('--replace-after <duration>', "the platform's own replacement (default: 60s)"))
    .addOption(new Option('--seed <n>', 'random seed (default: 1)'))
    .addOption(new Option('--initial <n>', 'nodes at the start (default: enough for the first load)'))
    .addOption(new Option('--warm-pool <n>', 'pre-booted nodes (default: 0)'))
    .addOption(new Option('--warm-start <duration>', 'a warm node to ready (default: 10s)'))
    .addOption(new Option('--warm-cost <n>', "a warm node's cost against a running one (default: 1)"))
    .addHelpText(
      'after',
      `\nThe model and every flag: docs/simulator.md${examples('rampart simulate -c examples/simulate.yaml --pool sentries --trace sim/traces/double-ddos.csv --baseline all')}`,
    )
    .action((flags: SimulateFlags) => run(import('./commands/simulate.ts').then((c) => c.simulate(flags))));

  program
    .command('schema')
    .description("the config's JSON Schema, for editors")
    .addHelpText('after', examples('rampart schema > rampart.schema.json'))
    .action(() => run(import('./commands/schema.ts').then((c) => c.schema())));

  program
    .command('demo')
    .description('the local demo with a rising and falling load (what npm start runs)')
    .addOption(
      new Option('-c, --config <file>', 'the config file (default: the built-in examples/local.yaml)'),
    )
    .addOption(poolOption('the pool the load goes to (default: the first sentry pool)'))
    .option('--open', 'open the dashboard even without a terminal or a display')
    .addHelpText('after', examples('rampart demo', 'npm start'))
    .action((flags: DemoFlags) => run(import('./commands/demo.ts').then((c) => c.demo(flags))));

  program
    .command('completion')
    .description('print a shell completion script')
    .addArgument(new Argument('<shell>', 'the shell').choices(['bash', 'zsh', 'fish']))
    .addHelpText(
      'after',
      examples(
        'source <(rampart completion bash)    # bash, this shell',
        'rampart completion zsh > ~/.zfunc/_rampart    # zsh, with ~/.zfunc in $fpath',
        'rampart completion fish > ~/.config/fish/completions/rampart.fish',
      ),
    )
    .action((shell: Shell) =>
      run(import('./commands/completion.ts').then((c) => c.completion(shell, program))),
    );

  // `help COMMAND [SUBCOMMAND]` for any depth (commander's own takes one name).
  program.helpCommand(false);
  program
    .command('help')
    .description('the help of a command or subcommand')
    .argument('[command...]', 'the command, e.g. snapshot create')
    .addHelpText('after', examples('rampart help status', 'rampart help snapshot create'))
    .action(async (path: string[]) => {
      let target: Command = program;
      for (const name of path) {
        const next = target.commands.find((c) => c.name() === name);
        if (!next)
          throw new (await import('./args.ts')).UsageError(
            `rampart help: no command "${[...commandPath(target).slice(1), name].join(' ')}" (commands: ${target.commands.map((c) => c.name()).join(', ')})`,
          );
        target = next;
      }
      target.outputHelp();
      outcome.code = 0;
    });
  return program;
}

/** `rampart snapshot create` as its names: the command's own and its parents'. */
export function commandPath(command: Command): string[] {
  const names: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) names.unshift(c.name());
  return names;
}

/** Every command of the tree, depth first, with its path (`snapshot create`). */
export function walkCommands(root: Command): { path: string[]; command: Command }[] {
  const out: { path: string[]; command: Command }[] = [];
  const visit = (c: Command, path: string[]) => {
    for (const sub of c.commands) {
      out.push({ path: [...path, sub.name()], command: sub });
      visit(sub, [...path, sub.name()]);
    }
  };
  visit(root, []);
  return out;
}
