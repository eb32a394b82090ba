// Kubernetes resource quantities (`250m`, `128Mi`, `1e9`) as plain numbers: CPU in cores
// for the metric source, bytes for metrics and for the size of a restored volume claim.

const DECIMAL_SUFFIX: Readonly<Record<string, number>> = {
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};
/** Divisors rather than factors: 12345 / 1e6 is exactly the double nearest 0.012345; 12345 * 1e-6 is not. */
const FRACTION_SUFFIX: Readonly<Record<string, number>> = { n: 1e9, u: 1e6, m: 1e3 };
const BINARY_SUFFIX: Readonly<Record<string, number>> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};
const QUANTITY = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]))?$/;

/**
 * A Kubernetes quantity as a plain number: a decimal with a binary suffix (`128Mi`), a decimal
 * suffix (`250m`, `1500000n`, `1G`) or an exponent (`1e9`). `1E` is 10^18 (the suffix), as in
 * Kubernetes. Throws on anything else, quoting the text.
 */
export function parseQuantity(text: string): number {
  const m = QUANTITY.exec(text);
  if (m === null) throw new Error(`"${text}" is not a Kubernetes quantity`);
  const [, digits = '', exponent, suffix] = m;
  if (exponent !== undefined) return Number(digits + exponent);
  const base = Number(digits);
  if (suffix === undefined) return base;
  const divisor = FRACTION_SUFFIX[suffix];
  if (divisor !== undefined) return base / divisor;
  return base * (BINARY_SUFFIX[suffix] ?? DECIMAL_SUFFIX[suffix]!);
}

/** CPU in cores: `250m` → 0.25, `1500000n` → 0.0015. */
export function parseCpu(text: string): number {
  return parseQuantity(text);
}

/** Memory in bytes; a fraction of a byte is rounded up, as Kubernetes does. */
export function parseBytes(text: string): number {
  return Math.ceil(parseQuantity(text));
}
