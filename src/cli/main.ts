// Rampart's command line: one file per command under commands/.

import { reportFailure } from './args.ts';
import { demo } from './commands/demo.ts';
import { down } from './commands/down.ts';
import { history } from './commands/history.ts';
import { load } from './commands/load.ts';
import { plan } from './commands/plan.ts';
import { schema } from './commands/schema.ts';
import { simulate } from './commands/simulate.ts';
import { snapshot } from './commands/snapshot.ts';
import { state } from './commands/state.ts';
import { status } from './commands/status.ts';
import { up } from './commands/up.ts';
import { validate } from './commands/validate.ts';
import { validator } from './commands/validator.ts';

const COMMANDS: Record<string, { run: (argv: string[]) => Promise<number>; help: string }> = {
  validate: {
    run: validate,
    help: 'validate -c FILE             check a config: exit 0, or 2 with every error',
  },
  plan: { run: plan, help: 'plan -c FILE [--json]         what would happen now and why; changes nothing' },
  up: {
    run: up,
    help: 'up -c FILE [--adopt]          run the controller (nodes stay up when it stops)',
  },
  down: { run: down, help: 'down -c FILE                  stop the controller and remove every node' },
  status: { run: status, help: 'status -c FILE [--json] [-w]  pools, nodes and the last decision' },
  history: { run: history, help: 'history -c FILE [--pool P] [--json] [-n N]  decisions, actions, alerts' },
  load: { run: load, help: 'load -c FILE --rate N [--pool P] [--duration D]  offer load to a pool' },
  snapshot: {
    run: snapshot,
    help: 'snapshot create|list|verify|prune -c FILE [--set S]  take, list, check, prune snapshots',
  },
  validator: {
    run: validator,
    help: 'validator status|promote -c FILE [--pool P] [--to NODE --key-dir DIR] [--old-powered-off] [--dry-run]  failover state; the guarded promotion',
  },
  state: {
    run: state,
    help: 'state export|import -c FILE [--force]  move the whole state between stores (stdout / stdin)',
  },
  simulate: {
    run: simulate,
    help: 'simulate -c FILE --pool P --trace CSV [--baseline hpa|heat|gce|aws|oracle|all] [--json] [--chart OUT]  score a policy against the established autoscalers',
  },
  schema: { run: schema, help: 'schema                        the config JSON Schema' },
  demo: { run: demo, help: 'demo [-c FILE]                the local demo with a load cycle (npm start)' },
};

function usage(): string {
  return `usage: rampart <command> [flags]\n\n${Object.values(COMMANDS)
    .map((c) => `  rampart ${c.help}`)
    .join('\n')}\n`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`rampart: unknown command "${name}"\n${usage()}`);
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (e) {
    return reportFailure(e);
  }
}

// Output piped into `head` and the like: a closed pipe ends the command quietly.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

process.exitCode = await main(process.argv.slice(2));
