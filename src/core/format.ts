// Numbers as decision reasons show them: short, and exact when they are whole.

export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  const abs = Math.abs(v);
  // Three significant digits at most, trailing zeros dropped: 0.8, 0.913, 12.5, 1234.6
  return String(abs >= 1000 ? Math.round(v * 10) / 10 : Number(v.toPrecision(3)));
}
