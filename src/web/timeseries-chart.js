// Rampart's time-series charts: a small, dependency-free SVG renderer for the dashboard.
// Lines (straight or stepped), horizontal reference lines (thresholds, bounds) and event
// markers on a time axis. Chosen over a charting library to keep the page dependency-free
// and its Content-Security-Policy strict (no inline styles, no eval).

const SVG = 'http://www.w3.org/2000/svg';

function el(name, attrs = {}, children = []) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs))
    if (v !== undefined && v !== null) node.setAttribute(k, String(v));
  for (const c of children) node.append(c);
  return node;
}

function text(x, y, content, attrs = {}) {
  const t = el('text', { x, y, ...attrs });
  t.textContent = content;
  return t;
}

/** Round, readable tick values between lo and hi (about `count` of them). */
export function niceTicks(lo, hi, count = 4, integer = false) {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (hi === lo) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const multiples = integer ? [1, 2, 5, 10] : [1, 2, 2.5, 5, 10];
  let step = multiples.map((m) => m * mag).find((x) => x >= raw) ?? raw;
  if (integer) step = Math.max(1, Math.round(step));
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    out.push(Number(v.toPrecision(12)));
  return out;
}

const TIME_STEPS = [10e3, 15e3, 30e3, 60e3, 120e3, 300e3, 600e3, 900e3, 1800e3, 3600e3];

function timeTicks(from, to, width) {
  const wanted = Math.max(2, Math.floor(width / 110));
  const step = TIME_STEPS.find((s) => (to - from) / s <= wanted) ?? TIME_STEPS.at(-1);
  const out = [];
  for (let t = Math.ceil(from / step) * step; t <= to; t += step) out.push(t);
  return out;
}

function clock(t) {
  const d = new Date(t);
  const pad = (n) => String(n).padStart(2, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}${d.getSeconds() ? `:${pad(d.getSeconds())}` : ''}`;
}

/**
 * Draws a chart and returns its <svg>.
 *
 * options: {
 *   width, height, from, to (ms), label (for screen readers),
 *   yMin?, yMax?, integer? (whole-number axis), format?(v),
 *   series: [{ name, className, points: [[t, v|null]], step? }],
 *   hlines: [{ y, label, className }],
 *   markers: [{ t, className, symbol: 'up'|'down'|'dot', title }],
 * }
 */
export function timeSeriesChart(o) {
  const width = Math.max(240, Math.round(o.width));
  const height = Math.round(o.height ?? 200);
  const pad = { left: 48, right: 14, top: 16, bottom: 26 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const format = o.format ?? ((v) => String(Number(v.toPrecision(3))));

  const values = [];
  for (const s of o.series)
    for (const [, v] of s.points) if (v !== null && Number.isFinite(v)) values.push(v);
  for (const h of o.hlines ?? []) if (Number.isFinite(h.y)) values.push(h.y);
  let lo = o.yMin ?? (values.length ? Math.min(...values) : 0);
  let hi = o.yMax ?? (values.length ? Math.max(...values) : 1);
  if (o.yMin === undefined && lo > 0 && lo < hi * 0.5) lo = 0;
  if (hi === lo) {
    hi = lo + (o.integer ? 1 : Math.abs(lo) * 0.1 || 1);
    if (o.yMin === undefined) lo = Math.max(0, lo - (hi - lo));
  }
  const span = hi - lo;
  if (o.yMax === undefined) hi += span * 0.08;
  const ticks = niceTicks(lo, hi, Math.max(2, Math.floor(plotH / (o.integer ? 30 : 40))), o.integer);

  const x = (t) => pad.left + ((t - o.from) / Math.max(1, o.to - o.from)) * plotW;
  const y = (v) => pad.top + plotH - ((v - lo) / (hi - lo)) * plotH;

  const svg = el('svg', {
    class: 'chart',
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: 'img',
    'aria-label': o.label ?? 'time series chart',
  });

  const grid = el('g', { class: 'chart-grid' });
  for (const v of ticks) {
    const yy = y(v);
    if (yy < pad.top - 1 || yy > pad.top + plotH + 1) continue;
    grid.append(el('line', { x1: pad.left, x2: pad.left + plotW, y1: yy, y2: yy }));
    grid.append(text(pad.left - 6, yy + 4, format(v), { class: 'chart-tick', 'text-anchor': 'end' }));
  }
  for (const t of timeTicks(o.from, o.to, plotW)) {
    const xx = x(t);
    grid.append(el('line', { x1: xx, x2: xx, y1: pad.top, y2: pad.top + plotH, class: 'chart-vgrid' }));
    grid.append(text(xx, height - 8, clock(t), { class: 'chart-tick', 'text-anchor': 'middle' }));
  }
  svg.append(grid);

  const clipId = `clip-${Math.random().toString(36).slice(2, 9)}`;
  svg.append(
    el('defs', {}, [
      el('clipPath', { id: clipId }, [
        el('rect', { x: pad.left, y: pad.top - 4, width: plotW, height: plotH + 8 }),
      ]),
    ]),
  );
  const plot = el('g', { 'clip-path': `url(#${clipId})` });

  for (const h of o.hlines ?? []) {
    if (!Number.isFinite(h.y)) continue;
    const yy = y(h.y);
    plot.append(
      el('line', {
        x1: pad.left,
        x2: pad.left + plotW,
        y1: yy,
        y2: yy,
        class: `chart-hline ${h.className ?? ''}`,
      }),
    );
    if (h.label)
      plot.append(text(pad.left + 6, yy - 4, h.label, { class: `chart-hlabel ${h.className ?? ''}` }));
  }

  for (const m of o.markers ?? []) {
    if (m.t < o.from || m.t > o.to) continue;
    const xx = x(m.t);
    const g = el('g', { class: `chart-marker ${m.className ?? ''}` });
    g.append(el('line', { x1: xx, x2: xx, y1: pad.top, y2: pad.top + plotH }));
    const tipY = pad.top + 1;
    const shape =
      m.symbol === 'down'
        ? `M${xx - 5},${tipY} L${xx + 5},${tipY} L${xx},${tipY + 8} Z`
        : m.symbol === 'up'
          ? `M${xx - 5},${tipY + 8} L${xx + 5},${tipY + 8} L${xx},${tipY} Z`
          : `M${xx - 4},${tipY + 4} a4,4 0 1,0 8,0 a4,4 0 1,0 -8,0`;
    g.append(el('path', { d: shape }));
    if (m.title) {
      const title = el('title');
      title.textContent = m.title;
      g.append(title);
    }
    plot.append(g);
  }

  for (const s of o.series) {
    let d = '';
    let prev = null;
    for (const [t, v] of s.points) {
      if (v === null || !Number.isFinite(v)) {
        prev = null;
        continue;
      }
      const xx = x(t).toFixed(1);
      const yy = y(v).toFixed(1);
      if (prev === null) d += `M${xx},${yy}`;
      else if (s.step) d += `H${xx}V${yy}`;
      else d += `L${xx},${yy}`;
      prev = [xx, yy];
    }
    // A stepped line holds its last value up to the right edge (the value is still current).
    if (s.step && prev !== null && s.points.length) d += `H${Math.min(x(o.to), pad.left + plotW).toFixed(1)}`;
    if (d) plot.append(el('path', { d, class: `chart-line ${s.className ?? ''}` }));
  }
  svg.append(plot);
  svg.append(el('rect', { x: pad.left, y: pad.top, width: plotW, height: plotH, class: 'chart-frame' }));
  return svg;
}
