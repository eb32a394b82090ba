// Cosmos SDK bank sends signed without the chain's CLI: a secp256k1 account, its bech32
// address, and MsgSend transactions encoded as protobuf TxRaw and signed in SIGN_MODE_DIRECT.
// `gaiad tx` costs about a second of CPU per transaction (the CLI's start-up); this costs well
// under a millisecond, which is what lets `rampart load` (and the tests) drive a chain at tens
// or hundreds of tx/s. The account's secret never leaves the KeyObject made from it.

import {
  createECDH,
  createHash,
  createPrivateKey,
  type KeyObject,
  randomBytes,
  sign as signWith,
} from 'node:crypto';

// --- protobuf, the few wire shapes a transaction needs (fields in order, zero values omitted,
// as the SDK's ADR-027 check on TxRaw wants) ---------------------------------------------------

function varint(n: bigint | number): Buffer {
  let v = BigInt(n);
  const out: number[] = [];
  while (v > 0x7fn) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Buffer.from(out);
}

const bytesField = (no: number, value: Uint8Array | string): Buffer => {
  const b = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
  return b.length === 0 ? Buffer.alloc(0) : Buffer.concat([varint((no << 3) | 2), varint(b.length), b]);
};
const uintField = (no: number, value: bigint | number): Buffer =>
  BigInt(value) === 0n ? Buffer.alloc(0) : Buffer.concat([varint(no << 3), varint(value)]);
const any = (typeUrl: string, value: Buffer) => Buffer.concat([bytesField(1, typeUrl), bytesField(2, value)]);
const coin = (c: Coin) => Buffer.concat([bytesField(1, c.denom), bytesField(2, c.amount)]);

/** Reads the fields of one protobuf message: field number → raw values (bytes or varint). */
function readFields(buf: Buffer): Map<number, (Buffer | bigint)[]> {
  const out = new Map<number, (Buffer | bigint)[]>();
  let i = 0;
  const readVarint = () => {
    let v = 0n;
    let shift = 0n;
    for (;;) {
      const b = buf[i++];
      if (b === undefined) throw new Error('protobuf: truncated varint');
      v |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
      shift += 7n;
    }
  };
  while (i < buf.length) {
    const tag = Number(readVarint());
    const no = tag >> 3;
    let value: Buffer | bigint;
    if ((tag & 7) === 0) value = readVarint();
    else if ((tag & 7) === 2) {
      const len = Number(readVarint());
      value = buf.subarray(i, i + len);
      i += len;
    } else throw new Error(`protobuf: wire type ${tag & 7} not expected here`);
    out.set(no, [...(out.get(no) ?? []), value]);
  }
  return out;
}

// --- bech32 (BIP-173), for the account's address -----------------------------------------------

const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';

function polymod(values: number[]): number {
  const gen = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= gen[i]!;
  }
  return chk >>> 0;
}

export function bech32(prefix: string, data: Uint8Array): string {
  const words: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const b of data) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      words.push((acc >>> bits) & 31);
    }
  }
  if (bits > 0) words.push((acc << (5 - bits)) & 31);
  const expanded = [
    ...[...prefix].map((c) => c.charCodeAt(0) >> 5),
    0,
    ...[...prefix].map((c) => c.charCodeAt(0) & 31),
  ];
  const mod = polymod([...expanded, ...words, 0, 0, 0, 0, 0, 0]) ^ 1;
  const checksum = Array.from({ length: 6 }, (_, i) => (mod >>> (5 * (5 - i))) & 31);
  return `${prefix}1${[...words, ...checksum].map((w) => CHARSET[w]).join('')}`;
}

// --- the account --------------------------------------------------------------------------------

export interface Coin {
  readonly denom: string;
  /** An integer, as a string (the SDK's Int). */
  readonly amount: string;
}

export interface Account {
  /** cosmos1… */
  readonly address: string;
  /** The 33-byte compressed public key. */
  readonly publicKey: Buffer;
  readonly privateKey: KeyObject;
}

/** The secp256k1 group order, for low-S signatures (the SDK rejects high S). */
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

const addressOf = (publicKey: Buffer, prefix: string) =>
  bech32(prefix, createHash('ripemd160').update(createHash('sha256').update(publicKey).digest()).digest());

/** A fresh account (or the one a 32-byte secret gives): what an SDK chain's address is made of. */
export function newAccount(secret: Buffer = randomBytes(32), prefix = 'cosmos'): Account {
  const ecdh = createECDH('secp256k1');
  ecdh.setPrivateKey(secret);
  const uncompressed = ecdh.getPublicKey();
  const publicKey = Buffer.from(ecdh.getPublicKey(null, 'compressed') as unknown as Buffer);
  const privateKey = createPrivateKey({
    key: {
      kty: 'EC',
      crv: 'secp256k1',
      d: secret.toString('base64url'),
      x: uncompressed.subarray(1, 33).toString('base64url'),
      y: uncompressed.subarray(33, 65).toString('base64url'),
    },
    format: 'jwk',
  });
  return { address: addressOf(publicKey, prefix), publicKey, privateKey };
}

/**
 * The account of a secp256k1 secret given as 64 hex digits (what `gaiad keys export NAME
 * --unarmored-hex --unsafe` prints). The error never repeats the text it was given.
 */
export function accountFromHex(text: string, prefix = 'cosmos'): Account {
  const hex = text.trim().replace(/^0x/, '');
  if (!/^[0-9a-fA-F]{64}$/.test(hex))
    throw new Error(
      `not a secp256k1 secret: 64 hex digits wanted (gaiad keys export NAME --unarmored-hex --unsafe), got ${hex.length} characters`,
    );
  return newAccount(Buffer.from(hex, 'hex'), prefix);
}

/** A random address of the same chain (a recipient that is a new account). */
export const randomAddress = (prefix = 'cosmos') => bech32(prefix, randomBytes(20));

// --- the transaction ----------------------------------------------------------------------------

export interface BankSend {
  readonly to: string;
  readonly amount: Coin;
}

export interface SignerState {
  readonly chainId: string;
  readonly accountNumber: bigint;
  readonly sequence: bigint;
}

export interface TxOptions {
  /** Gas limit. */
  readonly gas: number;
  readonly fee: Coin;
  readonly memo?: string;
}

/**
 * A signed transaction of one or more MsgSend from `from`, as the bytes broadcast_tx_sync takes
 * (protobuf TxRaw), signed in SIGN_MODE_DIRECT over the body and auth info as encoded here.
 */
export function signedBankSend(
  from: Account,
  sends: readonly BankSend[],
  signer: SignerState,
  opts: TxOptions,
): Buffer {
  const messages = sends.map((s) =>
    bytesField(
      1,
      any(
        '/cosmos.bank.v1beta1.MsgSend',
        Buffer.concat([bytesField(1, from.address), bytesField(2, s.to), bytesField(3, coin(s.amount))]),
      ),
    ),
  );
  const body = Buffer.concat([...messages, bytesField(2, opts.memo ?? '')]);
  const publicKey = any('/cosmos.crypto.secp256k1.PubKey', bytesField(1, from.publicKey));
  // mode_info { single { mode: SIGN_MODE_DIRECT (1) } }
  const modeInfo = bytesField(1, uintField(1, 1));
  const signerInfo = Buffer.concat([
    bytesField(1, publicKey),
    bytesField(2, modeInfo),
    uintField(3, signer.sequence),
  ]);
  const fee = Buffer.concat([bytesField(1, coin(opts.fee)), uintField(2, opts.gas)]);
  const authInfo = Buffer.concat([bytesField(1, signerInfo), bytesField(2, fee)]);
  const signDoc = Buffer.concat([
    bytesField(1, body),
    bytesField(2, authInfo),
    bytesField(3, signer.chainId),
    uintField(4, signer.accountNumber),
  ]);
  const der = signWith('sha256', signDoc, { key: from.privateKey, dsaEncoding: 'ieee-p1363' });
  let s = BigInt(`0x${der.subarray(32).toString('hex')}`);
  if (s > N / 2n) s = N - s;
  const signature = Buffer.concat([
    der.subarray(0, 32),
    Buffer.from(s.toString(16).padStart(64, '0'), 'hex'),
  ]);
  return Buffer.concat([bytesField(1, body), bytesField(2, authInfo), bytesField(3, signature)]);
}

/**
 * The account's number and next sequence, read through CometBFT's RPC (`abci_query` of the
 * auth module's gRPC method): undefined while the chain does not know the account.
 */
export async function accountState(
  rpcUrl: string,
  address: string,
): Promise<{ accountNumber: bigint; sequence: bigint } | undefined> {
  const data = bytesField(1, address).toString('hex');
  const res = await fetch(
    `${rpcUrl}/abci_query?path=${encodeURIComponent('"/cosmos.auth.v1beta1.Query/Account"')}&data=0x${data}`,
    { signal: AbortSignal.timeout(5000) },
  );
  const body = (await res.json()) as {
    result?: { response: { code?: number; value?: string; log?: string } };
  };
  const r = body.result?.response;
  if (!r) throw new Error(`abci_query ${address}: ${JSON.stringify(body).slice(0, 200)}`);
  if (r.code || !r.value) return undefined;
  const anyMsg = readFields(Buffer.from(r.value, 'base64')).get(1)?.[0];
  const value = anyMsg instanceof Buffer ? readFields(anyMsg).get(2)?.[0] : undefined;
  if (!(value instanceof Buffer)) throw new Error(`abci_query ${address}: no account in the answer`);
  const base = readFields(value);
  const n = (f: number) => (base.get(f)?.[0] as bigint | undefined) ?? 0n;
  return { accountNumber: n(3), sequence: n(4) };
}
