// simnode: a simulated chain node run as a real process for Rampart's zero-setup demo. It
// imitates the subset of CometBFT's RPC and metrics Rampart uses, so the controller treats it
// like the real thing.
//
// Model, kept deliberately small:
// - Chain. Only `--role validator` produces blocks (one per --block-time-ms). Every other role
//   follows: it polls the tip from --chain-source and from its registered peers (highest
//   answer wins) and applies blocks toward it at --sync-rate blocks/s. Without any answer for
//   TIP_STALE_MS it reports catching_up, as a real node that lost its peers would.
// - Peers. A peer address is `id@host:port`, where port is the peer's RPC port (simnode has no
//   separate p2p port). Registered peers are persisted in peers.json; /net_info lists only the
//   registered peers that answered a recent /status poll with the expected id ("connected",
//   like CometBFT, which lists live connections, not its address book).
// - Links are owned by the validator. When a validator is asked to dial a peer, it dials back:
//   it calls the peer's /dial_peers with its own address (retried on every poll until the peer
//   accepts), so both sides list each other. Removing a peer on the validator also asks the
//   peer to remove the validator. Non-validators never dial back, so a removal cannot be undone
//   by the other side.
// - Load. Each /broadcast_tx_* call is one transaction of offered load (on a sentry it is
//   "relayed", i.e. only counted). utilization = min(1, rate over a 5 s window / --tx-capacity)
//   drives node_cpu_idle_percent. Accepted txs sit in a mempool drained at --tx-capacity per
//   second; a full mempool rejects txs as CometBFT does.

import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const ROLES = ['validator', 'sentry', 'standby', 'full'] as const;
type Role = (typeof ROLES)[number];

const TX_WINDOW_MS = 5_000;
const TX_BUCKET_MS = 250;
const TX_BUCKETS = TX_WINDOW_MS / TX_BUCKET_MS;
const SYNC_TICK_MS = 100;
const FOLLOWER_POLL_MS = 500;
// A validator only polls its peers to know which are connected; that need not be frequent.
const VALIDATOR_POLL_MS = 2_000;
const POLL_TIMEOUT_MS = 1_000;
const TIP_STALE_MS = 3_000;
const PEER_STALE_MS = 5_000;
const HOUSEKEEPING_MS = 1_000;
const MEMPOOL_MAX_TXS = 5_000;
const BYTES_PER_TX = 250;
const BYTES_PER_SYNCED_BLOCK = 512;
const BASELINE_BYTES_PER_SECOND = 64;
const GOSSIP_BYTES_PER_PEER_SECOND = 100;
// Simulated inbound (public) peers: one per this many tx/s of offered load.
const TX_RATE_PER_INBOUND_PEER = 5;

interface Config {
  readonly id: string;
  readonly role: Role;
  readonly host: string;
  readonly rpcPort: number;
  readonly metricsPort: number;
  readonly dataDir: string;
  readonly chainId: string;
  readonly blockTimeMs: number;
  readonly syncRate: number;
  readonly chainSource: string | undefined;
  readonly txCapacity: number;
  readonly startHeight: number | undefined;
}

interface Peer {
  readonly id: string;
  host: string;
  port: number;
  persistent: boolean;
  unconditional: boolean;
  private: boolean;
  /** ms since the epoch of the last /status answer carrying the expected id, 0 if none. */
  lastSeenAt: number;
  /** Validator only: the peer has accepted our dial-back since it was (re)registered. */
  dialedBack: boolean;
}

interface PersistedPeer {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly persistent: boolean;
  readonly unconditional: boolean;
  readonly private: boolean;
}

class UsageError extends Error {}

/** A JSON-RPC error answered to the caller; anything else thrown in a handler is an internal error. */
class RpcError extends Error {
  readonly httpStatus: number;
  readonly code: number;
  readonly data: string;
  constructor(httpStatus: number, code: number, message: string, data: string) {
    super(message);
    this.httpStatus = httpStatus;
    this.code = code;
    this.data = data;
  }
}

const invalidParams = (data: string) => new RpcError(400, -32602, 'Invalid params', data);

const FLAGS = {
  id: { type: 'string' },
  role: { type: 'string' },
  host: { type: 'string', default: '127.0.0.1' },
  'rpc-port': { type: 'string' },
  'metrics-port': { type: 'string' },
  'data-dir': { type: 'string' },
  'chain-id': { type: 'string', default: 'rampart-sim' },
  'block-time-ms': { type: 'string', default: '1000' },
  'sync-rate': { type: 'string', default: '200' },
  'chain-source': { type: 'string' },
  'tx-capacity': { type: 'string', default: '50' },
  'start-height': { type: 'string' },
} as const;

function parseConfig(argv: readonly string[]): Config {
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({ args: [...argv], options: FLAGS, strict: true, allowPositionals: false }));
  } catch (err) {
    const known = Object.keys(FLAGS)
      .map((f) => `--${f}`)
      .join(', ');
    throw new UsageError(`${(err as Error).message}. Known flags: ${known}`);
  }
  const required = (flag: string): string => {
    const v = values[flag];
    if (v === undefined || v === '') throw new UsageError(`--${flag} is required`);
    return v;
  };
  const number = (flag: string, min: number, integer: boolean, raw = required(flag)): number => {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
      throw new UsageError(
        `--${flag} must be ${integer ? 'an integer' : 'a number'} >= ${min}, got "${raw}"`,
      );
    }
    return n;
  };
  const port = (flag: string): number => {
    const n = number(flag, 0, true);
    if (n > 65_535) throw new UsageError(`--${flag} must be a port (0-65535), got ${n}`);
    return n;
  };
  const role = required('role');
  if (!(ROLES as readonly string[]).includes(role)) {
    throw new UsageError(`--role must be one of ${ROLES.join(', ')}, got "${role}"`);
  }
  const chainSource = values['chain-source'];
  if (chainSource !== undefined) {
    let url: URL;
    try {
      url = new URL(chainSource);
    } catch {
      throw new UsageError(`--chain-source must be an http URL, got "${chainSource}"`);
    }
    if (url.protocol !== 'http:')
      throw new UsageError(`--chain-source must be an http URL, got "${chainSource}"`);
  }
  const startHeight = values['start-height'];
  return {
    id: required('id'),
    role: role as Role,
    host: required('host'),
    rpcPort: port('rpc-port'),
    metricsPort: port('metrics-port'),
    dataDir: required('data-dir'),
    chainId: required('chain-id'),
    blockTimeMs: number('block-time-ms', 1, false),
    syncRate: number('sync-rate', 0, false),
    chainSource: chainSource?.replace(/\/+$/, ''),
    txCapacity: number('tx-capacity', 0, false),
    startHeight: startHeight === undefined ? undefined : number('start-height', 0, true, startHeight),
  };
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex').toUpperCase();
}

function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/** Writes through a temporary file so a crash never leaves a half-written file behind. */
function writeJsonAtomic(path: string, value: unknown): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(value) + '\n');
  renameSync(tmp, path);
}

function readJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${path} is not valid JSON: ${(err as Error).message}`);
  }
}

/** Parses `id@host:port`; the port is the peer's RPC port. */
function parsePeerAddress(address: unknown): { id: string; host: string; port: number } {
  if (typeof address !== 'string') throw invalidParams(`peer ${JSON.stringify(address)} is not a string`);
  const at = address.indexOf('@');
  const colon = address.lastIndexOf(':');
  const id = address.slice(0, at);
  let host = address.slice(at + 1, colon);
  const port = Number(address.slice(colon + 1));
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (at <= 0 || colon < at + 2 || host === '' || !Number.isInteger(port) || port < 1 || port > 65_535) {
    throw invalidParams(`peer "${address}" is not of the form id@host:port`);
  }
  return { id, host, port };
}

function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** Reads a CometBFT-style GET parameter that may be given bare or JSON-quoted (`"value"`). */
function stringParam(query: URLSearchParams, name: string): string | undefined {
  const raw = query.get(name);
  if (raw === null) return undefined;
  if (raw.startsWith('"')) {
    try {
      const parsed: unknown = JSON.parse(raw);
      if (typeof parsed === 'string') return parsed;
    } catch {
      // Not JSON after all: the raw text is the value.
    }
  }
  return raw;
}

function boolParam(query: URLSearchParams, name: string): boolean {
  const raw = stringParam(query, name);
  if (raw === undefined || raw === 'false') return false;
  if (raw === 'true') return true;
  throw invalidParams(`${name} must be true or false, got "${raw}"`);
}

class SimNode {
  readonly cfg: Config;
  readonly startedAt = Date.now();
  readonly advertisedHost: string;
  rpcUrl = '';
  /** The RPC port actually bound (the flag may say 0). */
  rpcPort = 0;
  height: number;
  latestBlockTime = Date.now();
  tipHeight: number | undefined;
  tipBlockTime: number | undefined;
  tipSeenAt = 0;
  private syncCredit = 0;
  private chainDirty = false;
  readonly peers = new Map<string, Peer>();
  private pollInFlight = false;
  private readonly txCounts = new Float64Array(TX_BUCKETS);
  private readonly txBucketIds = new Float64Array(TX_BUCKETS).fill(-1);
  txReceivedTotal = 0;
  receiveBytesTotal = 0;
  private mempool = 0;
  private mempoolDrainedAt = Date.now();
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(cfg: Config) {
    this.cfg = cfg;
    this.advertisedHost = cfg.host === '0.0.0.0' || cfg.host === '::' ? '127.0.0.1' : cfg.host;
    mkdirSync(cfg.dataDir, { recursive: true });
    this.height = this.loadHeight();
    this.loadPeers();
  }

  private get chainFile(): string {
    return join(this.cfg.dataDir, 'chain.json');
  }

  private get peersFile(): string {
    return join(this.cfg.dataDir, 'peers.json');
  }

  /** Heights never go backwards: a snapshot older than the node's own data does not rewind it. */
  private loadHeight(): number {
    const saved = readJson(this.chainFile);
    let savedHeight = 0;
    if (saved !== undefined) {
      const record = saved as { height?: unknown; chainId?: unknown };
      if (typeof record.chainId === 'string' && record.chainId !== this.cfg.chainId) {
        throw new Error(
          `${this.chainFile} holds chain "${record.chainId}" but --chain-id is "${this.cfg.chainId}"`,
        );
      }
      if (typeof record.height === 'number' && Number.isInteger(record.height) && record.height >= 0) {
        savedHeight = record.height;
      }
    }
    return Math.max(savedHeight, this.cfg.startHeight ?? 0);
  }

  private loadPeers(): void {
    const saved = readJson(this.peersFile) as { peers?: unknown } | undefined;
    if (!Array.isArray(saved?.peers)) return;
    for (const p of saved.peers as PersistedPeer[]) {
      if (typeof p?.id !== 'string' || typeof p.host !== 'string' || typeof p.port !== 'number') continue;
      this.peers.set(p.id, {
        id: p.id,
        host: p.host,
        port: p.port,
        persistent: p.persistent === true,
        unconditional: p.unconditional === true,
        private: p.private === true,
        lastSeenAt: 0,
        dialedBack: false,
      });
    }
  }

  persistChain(): void {
    writeJsonAtomic(this.chainFile, {
      height: this.height,
      chainId: this.cfg.chainId,
      appHash: this.appHash(this.height),
    });
    this.chainDirty = false;
  }

  private persistPeers(): void {
    const peers: PersistedPeer[] = [...this.peers.values()].map((p) => ({
      id: p.id,
      host: p.host,
      port: p.port,
      persistent: p.persistent,
      unconditional: p.unconditional,
      private: p.private,
    }));
    writeJsonAtomic(this.peersFile, { peers });
  }

  appHash(height: number): string {
    return sha256Hex(`${this.cfg.chainId}/app/${height}`);
  }

  blockHash(height: number): string {
    return sha256Hex(`${this.cfg.chainId}/block/${height}`);
  }

  get isValidator(): boolean {
    return this.cfg.role === 'validator';
  }

  get tipKnown(): boolean {
    return this.tipHeight !== undefined && Date.now() - this.tipSeenAt <= TIP_STALE_MS;
  }

  get catchingUp(): boolean {
    if (this.isValidator) return false;
    if (!this.tipKnown || this.tipHeight === undefined) return true;
    return this.height < this.tipHeight - 1;
  }

  /** Header time of the latest block; a follower's is estimated back from the tip's. */
  get latestBlockTimeMs(): number {
    if (this.isValidator || this.tipHeight === undefined || this.tipBlockTime === undefined) {
      return this.latestBlockTime;
    }
    return this.tipBlockTime - Math.max(0, this.tipHeight - this.height) * this.cfg.blockTimeMs;
  }

  connectedPeers(): Peer[] {
    const now = Date.now();
    return [...this.peers.values()].filter((p) => p.lastSeenAt > 0 && now - p.lastSeenAt <= PEER_STALE_MS);
  }

  start(): void {
    if (this.isValidator) {
      this.timers.push(
        setInterval(() => {
          this.height += 1;
          this.latestBlockTime = Date.now();
          this.chainDirty = true;
        }, this.cfg.blockTimeMs),
      );
    } else {
      this.timers.push(setInterval(() => this.applySyncTick(), SYNC_TICK_MS));
    }
    this.timers.push(
      setInterval(() => this.pollRound(), this.isValidator ? VALIDATOR_POLL_MS : FOLLOWER_POLL_MS),
    );
    this.timers.push(
      setInterval(() => {
        const peers = this.connectedPeers().length;
        this.receiveBytesTotal += BASELINE_BYTES_PER_SECOND + GOSSIP_BYTES_PER_PEER_SECOND * peers;
        if (this.chainDirty) this.tryPersistChain();
      }, HOUSEKEEPING_MS),
    );
    this.pollRound();
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
  }

  private tryPersistChain(): void {
    try {
      this.persistChain();
    } catch (err) {
      console.error(`simnode ${this.cfg.id}: cannot persist ${this.chainFile}: ${(err as Error).message}`);
    }
  }

  private applySyncTick(): void {
    if (this.tipHeight === undefined || this.height >= this.tipHeight) {
      this.syncCredit = 0;
      return;
    }
    this.syncCredit += (this.cfg.syncRate * SYNC_TICK_MS) / 1000;
    const blocks = Math.min(Math.floor(this.syncCredit), this.tipHeight - this.height);
    if (blocks <= 0) return;
    this.syncCredit -= blocks;
    this.height += blocks;
    this.receiveBytesTotal += blocks * BYTES_PER_SYNCED_BLOCK;
    this.chainDirty = true;
  }

  /** One poll of every registered peer (connectedness, tip) and, for a follower, the chain source. */
  private pollRound(): void {
    if (this.pollInFlight) return;
    this.pollInFlight = true;
    const polls: Promise<TipAnswer | undefined>[] = [...this.peers.values()].map((p) => this.pollPeer(p));
    const peerUrls = new Set([...this.peers.values()].map((p) => peerUrl(p)));
    if (!this.isValidator && this.cfg.chainSource !== undefined && !peerUrls.has(this.cfg.chainSource)) {
      polls.push(
        fetchStatus(this.cfg.chainSource).then((s) => s && { height: s.height, blockTime: s.blockTime }),
      );
    }
    void Promise.all(polls).then((answers) => {
      this.pollInFlight = false;
      if (this.isValidator) return;
      let best: TipAnswer | undefined;
      for (const a of answers) {
        if (a !== undefined && (best === undefined || a.height > best.height)) best = a;
      }
      if (best === undefined) return;
      this.tipHeight = best.height;
      this.tipBlockTime = best.blockTime;
      this.tipSeenAt = Date.now();
    });
  }

  private async pollPeer(peer: Peer): Promise<TipAnswer | undefined> {
    const status = await fetchStatus(peerUrl(peer));
    if (this.peers.get(peer.id) !== peer) return undefined;
    if (status === undefined || status.id !== peer.id) {
      peer.dialedBack = false;
      return undefined;
    }
    peer.lastSeenAt = Date.now();
    if (this.isValidator && !peer.dialedBack) await this.dialBack(peer);
    return { height: status.height, blockTime: status.blockTime };
  }

  private async dialBack(peer: Peer): Promise<void> {
    const self = JSON.stringify([`${this.cfg.id}@${hostForUrl(this.advertisedHost)}:${this.rpcPort}`]);
    const url = `${peerUrl(peer)}/dial_peers?persistent=true&unconditional=true&peers=${encodeURIComponent(self)}`;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(POLL_TIMEOUT_MS) });
      await res.arrayBuffer();
      if (res.ok) peer.dialedBack = true;
      else
        console.error(
          `simnode ${this.cfg.id}: dial-back to ${peer.id} at ${url} answered HTTP ${res.status}`,
        );
    } catch (err) {
      console.error(`simnode ${this.cfg.id}: dial-back to ${peer.id} at ${url} failed: ${errorText(err)}`);
    }
  }

  private async removeBack(peer: Peer): Promise<void> {
    const url = `${peerUrl(peer)}/unsafe_remove_peer?id=${encodeURIComponent(this.cfg.id)}`;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(POLL_TIMEOUT_MS) });
      await res.arrayBuffer();
    } catch {
      // Best effort: a peer that is gone has nothing to remove.
    }
  }

  dialPeers(query: URLSearchParams, remoteAddress: string | undefined): unknown {
    if (this.isValidator && !isLoopback(remoteAddress)) {
      throw new RpcError(
        403,
        -32603,
        'Internal error',
        `a validator accepts dial_peers only from loopback, not from ${remoteAddress}`,
      );
    }
    const raw = query.get('peers');
    if (raw === null) throw invalidParams('missing peers: expected peers=["id@host:port",...]');
    let list: unknown;
    try {
      list = JSON.parse(raw);
    } catch {
      throw invalidParams(`peers must be a JSON array of "id@host:port" strings, got ${raw}`);
    }
    if (!Array.isArray(list)) throw invalidParams(`peers must be a JSON array, got ${raw}`);
    if (list.length === 0) throw invalidParams('no peers provided');
    const persistent = boolParam(query, 'persistent');
    const unconditional = boolParam(query, 'unconditional');
    const isPrivate = boolParam(query, 'private');
    const addresses = list.map(parsePeerAddress);
    for (const a of addresses) {
      if (a.id === this.cfg.id) throw invalidParams(`cannot dial self (${a.id})`);
    }
    const added: Peer[] = [];
    for (const a of addresses) {
      const existing = this.peers.get(a.id);
      if (existing !== undefined && existing.host === a.host && existing.port === a.port) {
        existing.persistent ||= persistent;
        existing.unconditional ||= unconditional;
        existing.private ||= isPrivate;
        continue;
      }
      const peer: Peer = {
        ...a,
        persistent,
        unconditional,
        private: isPrivate,
        lastSeenAt: 0,
        dialedBack: false,
      };
      this.peers.set(a.id, peer);
      added.push(peer);
    }
    this.persistPeers();
    for (const p of added) void this.pollPeer(p);
    return { log: 'Dialing peers in progress. See /net_info for details' };
  }

  removePeer(query: URLSearchParams): unknown {
    const id = stringParam(query, 'id');
    if (id === undefined || id === '') throw invalidParams('missing id: expected id=<peer id>');
    const peer = this.peers.get(id);
    if (peer !== undefined) {
      this.peers.delete(id);
      this.persistPeers();
      if (this.isValidator) void this.removeBack(peer);
    }
    return { removed: peer !== undefined };
  }

  broadcastTx(query: URLSearchParams): unknown {
    const tx = query.get('tx');
    if (tx === null || tx === '') throw invalidParams('missing tx');
    this.recordTx();
    const hash = sha256Hex(tx);
    this.drainMempool();
    if (this.mempool >= MEMPOOL_MAX_TXS) {
      throw new RpcError(
        500,
        -32603,
        'Internal error',
        `mempool is full: number of txs ${Math.floor(this.mempool)} (max: ${MEMPOOL_MAX_TXS})`,
      );
    }
    this.mempool += 1;
    return { code: 0, data: '', log: '', codespace: '', hash };
  }

  private recordTx(): void {
    const bucket = Math.floor(Date.now() / TX_BUCKET_MS);
    const slot = bucket % TX_BUCKETS;
    if (this.txBucketIds[slot] !== bucket) {
      this.txBucketIds[slot] = bucket;
      this.txCounts[slot] = 0;
    }
    this.txCounts[slot] = (this.txCounts[slot] ?? 0) + 1;
    this.txReceivedTotal += 1;
    this.receiveBytesTotal += BYTES_PER_TX;
  }

  /** Offered load in tx/s over the sliding window (or the uptime, while shorter). */
  txRate(): number {
    const now = Date.now();
    const current = Math.floor(now / TX_BUCKET_MS);
    let sum = 0;
    for (let i = 0; i < TX_BUCKETS; i++) {
      const id = this.txBucketIds[i] ?? -1;
      if (id > current - TX_BUCKETS) sum += this.txCounts[i] ?? 0;
    }
    const windowMs = Math.min(TX_WINDOW_MS, Math.max(1_000, now - this.startedAt));
    return (sum * 1000) / windowMs;
  }

  utilization(): number {
    if (this.cfg.txCapacity <= 0) return this.txRate() > 0 ? 1 : 0;
    return Math.min(1, this.txRate() / this.cfg.txCapacity);
  }

  mempoolSize(): number {
    this.drainMempool();
    return Math.floor(this.mempool);
  }

  private drainMempool(): void {
    const now = Date.now();
    this.mempool = Math.max(0, this.mempool - ((now - this.mempoolDrainedAt) / 1000) * this.cfg.txCapacity);
    this.mempoolDrainedAt = now;
  }

  nodeInfo(): Record<string, unknown> {
    return {
      protocol_version: { p2p: '8', block: '11', app: '0' },
      id: this.cfg.id,
      listen_addr: `tcp://${hostForUrl(this.advertisedHost)}:${this.rpcPort}`,
      network: this.cfg.chainId,
      version: '0.38.0-simnode',
      channels: '40202122233038606100',
      moniker: this.cfg.id,
      other: { tx_index: 'off', rpc_address: this.rpcUrl },
    };
  }

  status(): unknown {
    return {
      node_info: this.nodeInfo(),
      sync_info: {
        latest_block_hash: this.blockHash(this.height),
        latest_app_hash: this.appHash(this.height),
        latest_block_height: String(this.height),
        latest_block_time: new Date(this.latestBlockTimeMs).toISOString(),
        catching_up: this.catchingUp,
      },
      validator_info: {
        address: sha256Hex(`address/${this.cfg.id}`).slice(0, 40),
        pub_key: {
          type: 'tendermint/PubKeyEd25519',
          value: createHash('sha256').update(`pubkey/${this.cfg.id}`).digest('base64'),
        },
        voting_power: this.isValidator ? '10' : '0',
      },
    };
  }

  netInfo(): unknown {
    const peers = this.connectedPeers();
    return {
      listening: true,
      listeners: [`Listener(@${hostForUrl(this.advertisedHost)}:${this.rpcPort})`],
      n_peers: String(peers.length),
      peers: peers.map((p) => ({
        node_info: {
          id: p.id,
          listen_addr: `tcp://${hostForUrl(p.host)}:${p.port}`,
          network: this.cfg.chainId,
          moniker: p.id,
        },
        is_outbound: !this.isValidator,
        remote_ip: p.host,
      })),
    };
  }

  metrics(): string {
    const rate = this.txRate();
    const utilization = this.utilization();
    const noise = (Math.random() - 0.5) * 1.0;
    const idle = Math.min(100, Math.max(0, 100 * (1 - utilization) + noise));
    const chain = `{chain_id="${this.cfg.chainId}"}`;
    const inbound = Math.floor(rate / TX_RATE_PER_INBOUND_PEER);
    const series: [name: string, type: string, help: string, labels: string, value: number][] = [
      ['cometbft_consensus_height', 'gauge', 'Height of the chain.', chain, this.height],
      [
        'cometbft_p2p_peers',
        'gauge',
        'Number of peers (registered and simulated inbound).',
        chain,
        this.connectedPeers().length + inbound,
      ],
      [
        'cometbft_p2p_peer_receive_bytes_total',
        'counter',
        'Number of bytes received from peers.',
        chain,
        this.receiveBytesTotal,
      ],
      [
        'cometbft_blocksync_syncing',
        'gauge',
        'Whether or not a node is block syncing.',
        chain,
        this.catchingUp ? 1 : 0,
      ],
      ['cometbft_mempool_size', 'gauge', 'Number of uncommitted transactions.', chain, this.mempoolSize()],
      ['node_cpu_idle_percent', 'gauge', 'Simulated CPU idle percent: 100 x (1 - utilization).', '', idle],
      [
        'simnode_offered_load_tx_per_second',
        'gauge',
        'Transactions received per second (5 s window).',
        '',
        rate,
      ],
      [
        'simnode_utilization_ratio',
        'gauge',
        'Offered load divided by tx capacity, at most 1.',
        '',
        utilization,
      ],
      ['simnode_tx_received_total', 'counter', 'Transactions received.', '', this.txReceivedTotal],
    ];
    let out = '';
    for (const [name, type, help, labels, value] of series) {
      out += `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name}${labels} ${formatValue(value)}\n`;
    }
    return out;
  }
}

interface TipAnswer {
  readonly height: number;
  readonly blockTime: number | undefined;
}

interface StatusAnswer extends TipAnswer {
  readonly id: string | undefined;
}

function peerUrl(peer: { host: string; port: number }): string {
  return `http://${hostForUrl(peer.host)}:${peer.port}`;
}

function formatValue(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(4);
}

function errorText(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown } }).cause;
  if (typeof cause?.code === 'string') return cause.code;
  return err instanceof Error ? err.message : String(err);
}

/** A node's /status as far as following it needs; undefined when it did not answer sensibly. */
async function fetchStatus(baseUrl: string): Promise<StatusAnswer | undefined> {
  try {
    const res = await fetch(`${baseUrl}/status`, { signal: AbortSignal.timeout(POLL_TIMEOUT_MS) });
    const body = (await res.json()) as {
      result?: {
        node_info?: { id?: unknown };
        sync_info?: { latest_block_height?: unknown; latest_block_time?: unknown };
      };
    };
    const height = Number(body.result?.sync_info?.latest_block_height);
    if (!res.ok || !Number.isInteger(height)) return undefined;
    const time = Date.parse(String(body.result?.sync_info?.latest_block_time));
    const id = body.result?.node_info?.id;
    return {
      height,
      blockTime: Number.isNaN(time) ? undefined : time,
      id: typeof id === 'string' ? id : undefined,
    };
  } catch {
    return undefined;
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function handleRpc(node: SimNode, req: IncomingMessage, res: ServerResponse): void {
  try {
    const url = new URL(req.url ?? '/', 'http://simnode.invalid');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      throw new RpcError(405, -32600, 'Invalid Request', `only GET is supported, not ${req.method}`);
    }
    let result: unknown;
    switch (url.pathname) {
      case '/health':
        result = {};
        break;
      case '/status':
        result = node.status();
        break;
      case '/net_info':
        result = node.netInfo();
        break;
      case '/dial_peers':
        result = node.dialPeers(url.searchParams, req.socket.remoteAddress);
        break;
      // simnode-only extension: CometBFT has no RPC to remove a peer. It stands in for what an
      // operator does by editing persistent_peers and restarting (or the validator banning it).
      case '/unsafe_remove_peer':
        result = node.removePeer(url.searchParams);
        break;
      case '/broadcast_tx_async':
      case '/broadcast_tx_sync':
        result = node.broadcastTx(url.searchParams);
        break;
      default:
        throw new RpcError(404, -32601, 'Method not found', `no such method: ${url.pathname}`);
    }
    sendJson(res, 200, { jsonrpc: '2.0', id: -1, result });
  } catch (err) {
    const e =
      err instanceof RpcError
        ? err
        : new RpcError(500, -32603, 'Internal error', err instanceof Error ? err.message : String(err));
    if (!(err instanceof RpcError)) console.error(`simnode ${node.cfg.id}: ${req.url}: ${e.data}`);
    sendJson(res, e.httpStatus, {
      jsonrpc: '2.0',
      id: -1,
      error: { code: e.code, message: e.message, data: e.data },
    });
  }
}

function handleMetrics(node: SimNode, req: IncomingMessage, res: ServerResponse): void {
  try {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found: metrics are at /metrics\n');
      return;
    }
    const text = node.metrics();
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
    res.end(text);
  } catch (err) {
    console.error(`simnode ${node.cfg.id}: metrics: ${(err as Error).message}`);
    res.writeHead(500, { 'content-type': 'text/plain' });
    res.end('internal error\n');
  }
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

async function main(): Promise<void> {
  let cfg: Config;
  try {
    cfg = parseConfig(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`simnode: ${err.message}`);
    process.exit(2);
  }
  const node = new SimNode(cfg);
  const rpcServer = createServer((req, res) => handleRpc(node, req, res));
  const metricsServer = createServer((req, res) => handleMetrics(node, req, res));
  for (const s of [rpcServer, metricsServer]) {
    s.on('clientError', (_err, socket) => socket.destroy());
  }
  const host = hostForUrl(node.advertisedHost);
  try {
    const rpcPort = await listen(rpcServer, cfg.host, cfg.rpcPort);
    node.rpcPort = rpcPort;
    node.rpcUrl = `http://${host}:${rpcPort}`;
  } catch (err) {
    throw new Error(`cannot listen for RPC on ${cfg.host}:${cfg.rpcPort}: ${(err as Error).message}`);
  }
  let metricsPort: number;
  try {
    metricsPort = await listen(metricsServer, cfg.host, cfg.metricsPort);
  } catch (err) {
    throw new Error(`cannot listen for metrics on ${cfg.host}:${cfg.metricsPort}: ${(err as Error).message}`);
  }
  const shutdown = () => {
    node.stop();
    try {
      node.persistChain();
    } catch (err) {
      console.error(`simnode ${cfg.id}: cannot persist state on exit: ${(err as Error).message}`);
      process.exit(1);
    }
    process.exit(0);
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  node.start();
  process.stdout.write(
    `simnode ${cfg.id} role=${cfg.role} rpc=${node.rpcUrl} metrics=http://${host}:${metricsPort}/metrics height=${node.height}\n`,
  );
}

main().catch((err: unknown) => {
  console.error(`simnode: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
