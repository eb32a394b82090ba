// Real transaction load on a Cosmos SDK chain (gaiad): bank sends from one account, signed here
// (cosmos-tx.ts) and broadcast over CometBFT's RPC (`broadcast_tx_sync`, in JSON-RPC batches) at
// a steady rate. Sequences are the sender's own count; a node that expected another one says
// which, and the load goes on from there. `rampart load --bank-send` and the tests use it.

import { setTimeout as sleep } from 'node:timers/promises';
import { type Account, accountState, type Coin, randomAddress, signedBankSend } from './cosmos-tx.ts';

export interface BankSendLoadOptions {
  /** The node the transactions go to. */
  readonly rpcUrl: string;
  readonly chainId: string;
  readonly from: Account;
  /** Fee denomination (and of the coins sent). */
  readonly denom: string;
  /** Transactions per second. */
  readonly rate: number;
  /** MsgSends in each transaction, each to a new account. Default 1. */
  readonly sendsPerTx?: number;
  /**
   * Fee per unit of gas, in `denom`. Default 10: gaiad's fee market starts at 1 stake/gas and
   * raises it when blocks run more than half full, which a heavy load does.
   */
  readonly gasPrice?: number;
}

export interface BroadcastStats {
  /** Accepted into the node's mempool (CheckTx passed). */
  accepted: number;
  rejected: number;
  /** The node's last reason for turning one down. */
  lastRejection: string;
}

export interface BankSendLoad {
  readonly sender: BankSender;
  readonly stats: BroadcastStats;
  /** Stops sending (waits for the batch in flight). */
  stop(): Promise<BroadcastStats>;
}

/** A bank send to a new account costs about 100,000 gas on gaiad v25 (new account, balance). */
const GAS_PER_SEND = 150_000;
/** How often the load sends what is due. */
const TICK_MS = 100;

/** A signer that numbers its transactions itself, from the chain's count when it starts. */
export class BankSender {
  private sequence = 0n;
  private accountNumber = 0n;
  readonly stats: BroadcastStats = { accepted: 0, rejected: 0, lastRejection: '' };

  private readonly o: Omit<BankSendLoadOptions, 'rate'>;
  /** The node the transactions go to (rpcUrl at first); one node, so its mempool sees them in order. */
  target: string;

  constructor(o: Omit<BankSendLoadOptions, 'rate'>) {
    this.o = o;
    this.target = o.rpcUrl;
  }

  /** Reads the account's number and sequence from the chain (waits until it knows the account). */
  async sync(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await accountState(this.target, this.o.from.address).catch(() => undefined);
      if (s) {
        this.accountNumber = s.accountNumber;
        this.sequence = s.sequence;
        return;
      }
      if (Date.now() > deadline)
        throw new Error(`${this.target} does not know the account ${this.o.from.address}`);
      await sleep(500);
    }
  }

  /** `count` signed transactions, numbered on from the last. */
  sign(count: number): Buffer[] {
    const sends = this.o.sendsPerTx ?? 1;
    const gas = GAS_PER_SEND * sends;
    const fee: Coin = { denom: this.o.denom, amount: String(Math.ceil(gas * (this.o.gasPrice ?? 10))) };
    return Array.from({ length: count }, () =>
      signedBankSend(
        this.o.from,
        Array.from({ length: sends }, () => ({
          to: randomAddress(),
          amount: { denom: this.o.denom, amount: '1' },
        })),
        { chainId: this.o.chainId, accountNumber: this.accountNumber, sequence: this.sequence++ },
        { gas, fee },
      ),
    );
  }

  /**
   * Broadcasts transactions in order, in JSON-RPC batches of `batch` (CometBFT runs a batch's
   * calls one after the other, and takes 10 per batch unless its rpc.max_request_batch_size
   * says more). Returns how many the node accepted.
   */
  async broadcast(txs: readonly Buffer[], signal?: AbortSignal, batch = 10): Promise<number> {
    let accepted = 0;
    for (let i = 0; i < txs.length && !signal?.aborted; i += batch)
      accepted += await this.broadcastBatch(txs.slice(i, i + batch), signal);
    return accepted;
  }

  private async broadcastBatch(txs: readonly Buffer[], signal?: AbortSignal): Promise<number> {
    if (txs.length === 0) return 0;
    const body = JSON.stringify(
      txs.map((tx, id) => ({
        jsonrpc: '2.0',
        id,
        method: 'broadcast_tx_sync',
        params: { tx: tx.toString('base64') },
      })),
    );
    type Answer = { id: number; result?: { code: number; log?: string }; error?: { data?: string } };
    let answers: Answer[];
    try {
      const res = await fetch(this.target, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        signal: AbortSignal.any([AbortSignal.timeout(30_000), ...(signal ? [signal] : [])]),
      });
      const out = (await res.json()) as Answer | Answer[];
      answers = Array.isArray(out) ? out : [out];
    } catch (e) {
      if (signal?.aborted) return 0;
      this.stats.rejected += txs.length;
      this.stats.lastRejection = (e as Error).message;
      // Whether the node took any is unknown: ask the chain where the account is.
      await this.sync(5000).catch(() => undefined);
      return 0;
    }
    let accepted = 0;
    let expected: bigint | undefined;
    for (const a of answers) {
      if (a.result?.code === 0) accepted++;
      else {
        const why = a.error?.data ?? a.result?.log ?? 'no answer';
        this.stats.lastRejection = why;
        // "account sequence mismatch, expected 41, got 43": the node's count wins.
        const m = /expected (\d+), got/.exec(why);
        if (m) expected = BigInt(m[1]!);
      }
    }
    this.stats.accepted += accepted;
    this.stats.rejected += txs.length - accepted;
    if (expected !== undefined) this.sequence = expected;
    else if (accepted < txs.length) await this.sync(5000).catch(() => undefined);
    return accepted;
  }
}

/** Sends `rate` transactions per second until stopped. */
export async function startBankSendLoad(o: BankSendLoadOptions): Promise<BankSendLoad> {
  const sender = new BankSender(o);
  await sender.sync();
  const stop = new AbortController();
  const running = (async () => {
    const t0 = performance.now();
    let sent = 0;
    while (!stop.signal.aborted) {
      const due = Math.floor((o.rate * (performance.now() - t0)) / 1000) - sent;
      // After a stall, catch up by at most a second's worth rather than in one burst.
      const n = Math.min(due, Math.ceil(o.rate));
      sent += due;
      await sender.broadcast(sender.sign(n), stop.signal);
      await sleep(TICK_MS);
    }
  })();
  return {
    sender,
    stats: sender.stats,
    async stop() {
      stop.abort();
      await running;
      return sender.stats;
    },
  };
}
