// `rampart state export -c FILE > state.json` and `rampart state import -c FILE < state.json`:
// moves Rampart's whole state — every pool state, node, action, decision, event, request,
// pool status, failover record and the term — between stores (SQLite ⇄ etcd) without loss.
// Each store reads and writes its own state (Store.exportState, Store.importState): this
// command checks the input and that no controller runs on the target.

import { readFileSync } from 'node:fs';
import type { Config } from '../../config/schema.ts';
import { createStore } from '../../runtime/runtime.ts';
import { STATE_FORMAT, STATE_VERSION, type StateDump, StoreNotEmptyError } from '../../store/state-dump.ts';
import { loadConfigFrom, UsageError } from '../args.ts';
import { runningControllers } from '../running.ts';

export type StateVerb = 'export' | 'import';

export interface StateFlags {
  readonly config?: string | undefined;
  /** import: read the export from this file. Default stdin. */
  readonly input?: string | undefined;
  /** import: replace whatever the target store holds. */
  readonly force?: boolean | undefined;
}

export async function state(verb: StateVerb, flags: StateFlags): Promise<number> {
  const { config } = loadConfigFrom(flags);
  return verb === 'export' ? exportState(config) : importState(config, flags.input, flags.force === true);
}

async function exportState(config: Config): Promise<number> {
  const running = await runningControllers(config);
  if (running.length > 0)
    process.stderr.write(
      `note: a controller is running (${running.map((r) => r.who).join(', ')}): records it writes meanwhile may be missing\n`,
    );
  const store = createStore(config);
  await store.open();
  try {
    process.stdout.write(`${JSON.stringify(await store.exportState())}\n`);
  } finally {
    await store.close();
  }
  return 0;
}

async function importState(config: Config, input: string | undefined, force: boolean): Promise<number> {
  const text = readFileSync(input ?? 0, 'utf8');
  let dump: StateDump;
  try {
    dump = JSON.parse(text) as StateDump;
  } catch (e) {
    throw new UsageError(`rampart state import: the input is not JSON: ${(e as Error).message}`);
  }
  if (dump?.format !== STATE_FORMAT || dump.version !== STATE_VERSION)
    throw new UsageError(
      `rampart state import: the input is not a ${STATE_FORMAT} version ${STATE_VERSION} export (from rampart state export)`,
    );
  const running = await runningControllers(config);
  if (running.length > 0)
    throw new Error(
      `a controller is running on the target store (${running.map((r) => r.who).join(', ')}): stop it before importing`,
    );
  const store = createStore(config);
  await store.open();
  try {
    await store.importState(dump, { force });
  } catch (e) {
    if (e instanceof StoreNotEmptyError) throw new Error(`the target ${e.message}`);
    throw e;
  } finally {
    await store.close();
  }
  process.stderr.write(
    `imported term ${dump.term}, ${dump.pools.length} pool(s), ${dump.nodes.length} node(s), ${dump.actions.length} action(s), ${dump.decisions.length} decision(s), ${dump.events.length} event(s), ${dump.requests.length} request(s), ${dump.failover?.length ?? 0} failover record(s)\n`,
  );
  return 0;
}
