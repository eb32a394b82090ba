// The keeper of a shared OpenStack bed (openstack-shared-bed.ts), run detached:
// `node openstack-bed-keeper.ts DIR OPTIONS_JSON`. Starts the bed, writes DIR/state.json, and
// stops the bed once no live client has been registered in DIR/clients for LINGER_MS.

import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type OpenStackOptions, startBedCore } from './openstack.ts';
import {
  alive,
  clientsDir,
  LINGER_MS,
  readState,
  statePath,
  withLock,
  writeState,
} from './openstack-shared-bed.ts';

const [dir, options] = process.argv.slice(2) as [string, string];
const o = JSON.parse(options) as OpenStackOptions;
const stops: (() => Promise<void>)[] = [];
const stopBed = async () => {
  for (const stop of stops.splice(0).reverse()) await stop().catch((e) => console.error(e));
};
// servers.ts waits on unref'd timers and children: without this the keeper would exit while
// the bed starts.
setInterval(() => undefined, 60_000);
const log = (m: string) => console.log(`${new Date().toISOString()} keeper ${process.pid}: ${m}`);

/** Live clients; the files of dead ones (a test process killed) are removed. */
function liveClients(): number {
  let n = 0;
  for (const f of readdirSync(clientsDir(dir))) {
    const pid = Number(readFileSync(path.join(clientsDir(dir), f), 'utf8') || 0);
    if (alive(pid)) n++;
    else rmSync(path.join(clientsDir(dir), f), { force: true });
  }
  return n;
}

process.once('SIGTERM', () => {
  log('SIGTERM: stopping the bed');
  void stopBed().finally(() => process.exit(0));
});

try {
  log(`starting a bed (${options})`);
  const core = await startBedCore(
    { skip: () => undefined, after: (fn: () => Promise<void>) => stops.push(fn) },
    o,
  );
  if (core === undefined) throw new Error('not installed: run scripts/testbed/openstack.sh');
  writeState(dir, { pid: process.pid, status: 'ready', core });
  log(`ready: ${core.dir}`);
} catch (e) {
  log(`failed: ${(e as Error).message}`);
  writeState(dir, { pid: process.pid, status: 'failed', error: (e as Error).message.slice(0, 4000) });
  await stopBed();
  process.exit(1);
}
let idleSince = Date.now();
for (;;) {
  await sleep(1000);
  const done = await withLock(dir, () => {
    if (liveClients() > 0) {
      idleSince = Date.now();
      return false;
    }
    if (Date.now() - idleSince < LINGER_MS) return false;
    // Under the lock: a client arriving from now on starts a new bed.
    if (readState(dir)?.pid === process.pid) rmSync(statePath(dir), { force: true });
    return true;
  });
  if (done) break;
}
log('no client for a while: stopping the bed');
await stopBed();
log('stopped');
process.exit(0);
