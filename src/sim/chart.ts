// Charts of offered load against each policy's ready capacity: SVG, or a self-contained HTML
// page with the SVG inline and the score table (no scripts, nothing fetched).

import type { RunResult } from './engine.ts';
import { formatRatio } from './report.ts';
import type { TraceOutcome } from './simulate.ts';

const WIDTH = 960;
const PANEL = 340;
const M = { left: 64, right: 24, top: 52, bottom: 40 };

export const POLICY_COLORS: Readonly<Record<string, string>> = {
  rampart: '#d62728',
  oracle: '#2ca02c',
  hpa: '#1f77b4',
  heat: '#9467bd',
  gce: '#ff7f0e',
  aws: '#8c564b',
};

/** One SVG with a panel per trace. */
export function chartSvg(outcomes: readonly TraceOutcome[], nodeCapacity: number): string {
  const height = PANEL * outcomes.length;
  const panels = outcomes.map((o, i) => panel(o, nodeCapacity, i * PANEL)).join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, sans-serif" font-size="12">
<rect width="${WIDTH}" height="${height}" fill="#fff"/>
${panels}
</svg>
`;
}

/** A self-contained HTML page: per trace, the chart and the score table. */
export function chartHtml(outcomes: readonly TraceOutcome[], nodeCapacity: number, title: string): string {
  const sections = outcomes
    .map((o) => {
      const rows = o.scores
        .map(
          (s) =>
            `<tr><td><span class="swatch" style="background:${POLICY_COLORS[s.policy] ?? '#000'}"></span>${escapeXml(s.policy)}</td><td>${Math.round(s.unservedWork).toLocaleString('en-US')}</td><td>${formatRatio(s.unservedVsOracle)}</td><td>${s.nodeHours.toFixed(2)}</td><td>${formatRatio(s.nodeHoursVsOracle)}</td><td>${s.actions}</td><td>${s.absorbSeconds.map((a) => (a === null ? 'never' : Math.round(a))).join(', ') || '–'}</td></tr>`,
        )
        .join('\n');
      return `<section>
<h2>${escapeXml(o.trace.name)}</h2>
${chartSvg([o], nodeCapacity).replace(/^<svg /, '<svg role="img" ')}
<table>
<thead><tr><th>policy</th><th>unserved work</th><th>× oracle</th><th>node-hours</th><th>× oracle</th><th>actions</th><th>absorb (s)</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
</section>`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeXml(title)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 2em; }
th, td { padding: 0.25em 0.75em; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.swatch { display: inline-block; width: 0.8em; height: 0.8em; margin-right: 0.4em; vertical-align: baseline; }
</style>
</head>
<body>
<h1>${escapeXml(title)}</h1>
<p>Offered load (grey) against each policy's ready capacity (ready nodes × capacity per node).</p>
${sections}
</body>
</html>
`;
}

function panel(outcome: TraceOutcome, nodeCapacity: number, top: number): string {
  const { trace, runs } = outcome;
  const start = trace.times[0]!;
  const end = trace.end;
  const plotW = WIDTH - M.left - M.right;
  const plotH = PANEL - M.top - M.bottom;
  let yMax = 0;
  for (const v of trace.loads) yMax = Math.max(yMax, v);
  for (const run of runs) for (const r of run.series.ready) yMax = Math.max(yMax, r * nodeCapacity);
  yMax = niceCeil(yMax * 1.05);
  const x = (t: number) => M.left + ((t - start) / (end - start)) * plotW;
  const y = (v: number) => top + M.top + plotH - (v / yMax) * plotH;

  const loadCols = envelope(trace.times, trace.loads, end, start, plotW);
  const loadPath = columnsPath(loadCols, x, y, start, end, plotW, true);
  const lines = [...runs]
    .sort((a, b) => (a.policy === 'rampart' ? 1 : b.policy === 'rampart' ? -1 : 0))
    .map((run) => capacityPath(run, nodeCapacity, x, y, start, end, plotW));

  const xTicks = timeTicks(start, end)
    .map(
      (t) =>
        `<line x1="${f(x(t))}" x2="${f(x(t))}" y1="${f(top + M.top + plotH)}" y2="${f(top + M.top + plotH + 4)}" stroke="#555"/><text x="${f(x(t))}" y="${f(top + M.top + plotH + 17)}" text-anchor="middle" fill="#444">${formatTime(t - start, end - start)}</text>`,
    )
    .join('');
  const yTicks = valueTicks(yMax)
    .map(
      (v) =>
        `<line x1="${M.left}" x2="${M.left + plotW}" y1="${f(y(v))}" y2="${f(y(v))}" stroke="#eee"/><text x="${M.left - 6}" y="${f(y(v) + 4)}" text-anchor="end" fill="#444">${v.toLocaleString('en-US')}</text>`,
    )
    .join('');
  const legendItems = [
    { name: 'offered load', color: '#9a9a9a' },
    ...runs.map((r) => ({ name: r.policy, color: POLICY_COLORS[r.policy] ?? '#000' })),
  ];
  let lx = M.left;
  const legend = legendItems
    .map((item) => {
      const s = `<rect x="${lx}" y="${top + 26}" width="12" height="12" fill="${item.color}"/><text x="${lx + 16}" y="${top + 36}" fill="#222">${escapeXml(item.name)}</text>`;
      lx += 30 + item.name.length * 7;
      return s;
    })
    .join('');
  return `<g>
<text x="${M.left}" y="${top + 16}" fill="#222" font-weight="bold" font-size="14">${escapeXml(trace.name)}</text>
<text x="${M.left + plotW}" y="${top + 16}" fill="#444" text-anchor="end">ready capacity (ready nodes × ${nodeCapacity} units/s) against offered load</text>
${legend}
${yTicks}
<path d="${loadPath}" fill="#d9d9d9" stroke="#9a9a9a" stroke-width="0.8"/>
${lines.join('\n')}
<line x1="${M.left}" x2="${M.left + plotW}" y1="${f(top + M.top + plotH)}" y2="${f(top + M.top + plotH)}" stroke="#555"/>
<line x1="${M.left}" x2="${M.left}" y1="${top + M.top}" y2="${f(top + M.top + plotH)}" stroke="#555"/>
${xTicks}
<text x="14" y="${f(top + M.top + plotH / 2)}" transform="rotate(-90 14 ${f(top + M.top + plotH / 2)})" text-anchor="middle" fill="#444">units/s</text>
</g>`;
}

function capacityPath(
  run: RunResult,
  nodeCapacity: number,
  x: (t: number) => number,
  y: (v: number) => number,
  start: number,
  end: number,
  cols: number,
): string {
  const color = POLICY_COLORS[run.policy] ?? '#000';
  const values = run.series.ready.map((r) => r * nodeCapacity);
  const d = columnsPath(envelope(run.series.t, values, end, start, cols), x, y, start, end, cols, false);
  const width = run.policy === 'rampart' ? 2 : 1.3;
  const dash = run.policy === 'oracle' ? ' stroke-dasharray="5 3"' : '';
  return `<path d="${d}" fill="none" stroke="${color}" stroke-width="${width}"${dash}/>`;
}

/**
 * The highest value of a step series in each of `cols` equal columns of [start, end); NaN where
 * the series has not started. A step series holds values[i] from times[i] until times[i + 1].
 */
export function envelope(
  times: ArrayLike<number>,
  values: ArrayLike<number>,
  end: number,
  start: number,
  cols: number,
): Float64Array {
  const out = new Float64Array(cols).fill(Number.NaN);
  const width = (end - start) / cols;
  for (let i = 0; i < times.length; i++) {
    const from = times[i]!;
    const to = i + 1 < times.length ? times[i + 1]! : end;
    if (to <= from) continue;
    const c0 = Math.max(0, Math.floor((from - start) / width));
    const c1 = Math.min(cols - 1, Math.ceil((to - start) / width) - 1);
    const v = values[i]!;
    for (let c = c0; c <= c1; c++) if (!(out[c]! >= v)) out[c] = v;
  }
  return out;
}

function columnsPath(
  cols: Float64Array,
  x: (t: number) => number,
  y: (v: number) => number,
  start: number,
  end: number,
  n: number,
  closed: boolean,
): string {
  const width = (end - start) / n;
  const parts: string[] = [];
  let first: number | undefined;
  let last: number | undefined;
  let lastX = 0;
  for (let c = 0; c < n; c++) {
    const v = cols[c]!;
    if (Number.isNaN(v)) continue;
    const x0 = x(start + c * width);
    lastX = x(start + (c + 1) * width);
    if (first === undefined) {
      first = x0;
      parts.push(closed ? `M${f(x0)},${f(y(0))}V${f(y(v))}` : `M${f(x0)},${f(y(v))}`);
    } else if (v !== last) parts.push(`H${f(x0)}V${f(y(v))}`);
    last = v;
  }
  if (first !== undefined) parts.push(`H${f(lastX)}`);
  if (closed && first !== undefined) parts.push(`V${f(y(0))}H${f(first)}Z`);
  return parts.join('');
}

function timeTicks(start: number, end: number): number[] {
  const span = end - start;
  const steps = [60, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400];
  const step = steps.find((s) => span / s <= 12) ?? 86_400 * Math.ceil(span / 86_400 / 12);
  const out: number[] = [];
  for (let t = start; t <= end + 1e-9; t += step) out.push(t);
  return out;
}

function formatTime(s: number, span: number): string {
  if (span >= 2 * 86_400) return `${(s / 86_400).toFixed(s % 86_400 === 0 ? 0 : 1)} d`;
  if (span >= 3 * 3600) return `${(s / 3600).toFixed(s % 3600 === 0 ? 0 : 1)} h`;
  return `${Math.round(s / 60)} min`;
}

function valueTicks(max: number): number[] {
  const raw = max / 5;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * p >= raw) ?? 10) * p;
  const out: number[] = [];
  for (let v = 0; v <= max + 1e-9; v += step) out.push(v);
  return out;
}

function niceCeil(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function f(v: number): string {
  return String(Math.round(v * 10) / 10);
}

function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
