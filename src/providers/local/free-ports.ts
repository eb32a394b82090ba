// Ports for the nodes the local provider starts (and the servers the tests start): drawn at
// random below the kernel's ephemeral range and checked free. Port 0 would give one from
// inside that range, which every outgoing connection also draws from (clients, a node's own
// peers), so the port could be taken between the check and the node binding it, or while a
// node restarts on its recorded ports. Falls back to port 0 when there is no room below.

import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** Lowest port drawn from. */
const LOWEST = 10_000;
/** Ports handed out lately by this process, not handed out again (bounded: the oldest go). */
const recent = new Set<number>();
const RECENT_MAX = 1024;

/** A port free on `host` a moment ago, not in `taken` and not handed out lately. */
export async function freePort(host = '127.0.0.1', taken: ReadonlySet<number> = new Set()): Promise<number> {
  const highest = ephemeralPortsFrom() - 1;
  for (let tries = 0; tries < 100 && highest - LOWEST >= 1000; tries++) {
    const port = LOWEST + Math.floor(Math.random() * (highest - LOWEST + 1));
    if (taken.has(port) || recent.has(port)) continue;
    if ((await bindOnce(host, port)) !== undefined) return handOut(port);
  }
  for (let tries = 0; tries < 20; tries++) {
    const port = await bindOnce(host, 0);
    if (port === undefined) break;
    if (!taken.has(port)) return handOut(port);
  }
  throw new Error(`no free port on ${host}`);
}

/** One free port per name, all different. */
export async function freePorts(
  host: string,
  names: readonly string[],
  taken: ReadonlySet<number>,
): Promise<Record<string, number>> {
  const ports: Record<string, number> = {};
  const avoid = new Set(taken);
  for (const name of names) {
    ports[name] = await freePort(host, avoid);
    avoid.add(ports[name]);
  }
  return ports;
}

function handOut(port: number): number {
  recent.add(port);
  if (recent.size > RECENT_MAX) recent.delete(recent.values().next().value!);
  return port;
}

/** The first port of the kernel's ephemeral range (Linux; 32768 where it cannot be read). */
function ephemeralPortsFrom(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 1024 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

/** Binds `port` on `host` and lets it go: the port bound, or undefined when it was taken. */
async function bindOnce(host: string, port: number): Promise<number | undefined> {
  const server = createServer();
  const bound = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, host, () => resolve(true));
  });
  if (!bound) return undefined;
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return address !== null && typeof address !== 'string' ? address.port : undefined;
}
