// Scores as people read them (a table per trace) and as programs read them (one JSON object
// per policy and trace, gathered by `rampart simulate --json` into one document).

import { dominates, type Score } from './scoring.ts';
import type { TraceOutcome } from './simulate.ts';
import { peakLoad } from './trace.ts';

/** The JSON line of one score: the contract's fields, then absorbSeconds. */
export function scoreJson(s: Score): string {
  return JSON.stringify({
    trace: s.trace,
    policy: s.policy,
    unservedWork: round(s.unservedWork, 3),
    nodeHours: round(s.nodeHours, 4),
    actions: s.actions,
    unservedVsOracle: s.unservedVsOracle === null ? null : round(s.unservedVsOracle, 4),
    nodeHoursVsOracle: s.nodeHoursVsOracle === null ? null : round(s.nodeHoursVsOracle, 4),
    absorbSeconds: s.absorbSeconds.map((a) => (a === null ? null : round(a, 3))),
  });
}

/** Baselines (not the oracle) better than Rampart's policy on both unserved work and node-hours. */
export function dominatingBaselines(outcome: TraceOutcome): string[] {
  const rampart = outcome.scores.find((s) => s.policy === 'rampart');
  if (!rampart) return [];
  return outcome.scores
    .filter((s) => s.policy !== 'rampart' && s.policy !== 'oracle' && dominates(s, rampart))
    .map((s) => s.policy);
}

/** A plain-text table of one trace's scores. */
export function scoreTable(outcome: TraceOutcome): string {
  const { trace } = outcome;
  const duration = trace.end - trace.times[0]!;
  const header = `${trace.name}: ${formatSeconds(duration)}, peak ${formatInt(peakLoad(trace))} units/s, ${outcome.steps.length} step${outcome.steps.length === 1 ? '' : 's'}${outcome.steps.length > 0 ? ` (at ${outcome.steps.map((s) => `${s}s`).join(', ')})` : ''}`;
  const rows = [
    ['policy', 'unserved work', '× oracle', 'node-hours', '× oracle', 'actions', 'absorb (s)'],
    ...outcome.scores.map((s) => [
      s.policy,
      formatInt(s.unservedWork),
      formatRatio(s.unservedVsOracle),
      s.nodeHours.toFixed(2),
      formatRatio(s.nodeHoursVsOracle),
      String(s.actions),
      s.absorbSeconds.length === 0
        ? '-'
        : s.absorbSeconds.map((a) => (a === null ? 'never' : String(Math.round(a)))).join(' '),
    ]),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const lines = rows.map((r) =>
    r
      .map((cell, c) => (c === 0 || c === r.length - 1 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)))
      .join('  ')
      .trimEnd(),
  );
  const dominated = dominatingBaselines(outcome);
  const footer =
    dominated.length > 0
      ? `  rampart is dominated by: ${dominated.join(', ')} (better on both unserved work and node-hours)`
      : undefined;
  return `${[header, ...lines.map((l) => `  ${l}`), ...(footer ? [footer] : [])].join('\n')}\n`;
}

export function formatRatio(r: number | null): string {
  if (r === null) return '∞';
  return r.toFixed(2);
}

function formatInt(v: number): string {
  return Math.round(v).toLocaleString('en-US');
}

function formatSeconds(s: number): string {
  if (s >= 86_400 && s % 3600 === 0) return `${s / 3600} h`;
  if (s >= 3600) return `${Number((s / 3600).toFixed(2))} h`;
  return `${s} s`;
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
