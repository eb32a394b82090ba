// `host:port` listen addresses: split, and whether only this machine can reach them.

import { isIPv4, isIPv6 } from 'node:net';

/** `127.0.0.1:8080` → { host: '127.0.0.1', port: 8080 }; `[::1]:8080` → { host: '::1', … }. */
export function splitListen(listen: string): { host: string; port: number } {
  const colon = listen.lastIndexOf(':');
  const host = listen.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(listen.slice(colon + 1)) };
}

/** Loopback: 127.0.0.0/8, ::1 (and its IPv4-mapped form) or `localhost`. Anything else is reachable from outside. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost') return true;
  if (isIPv4(h)) return h.startsWith('127.');
  if (isIPv6(h)) return h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(h);
  return false;
}

export function isLoopbackListen(listen: string): boolean {
  return isLoopbackHost(splitListen(listen).host);
}
