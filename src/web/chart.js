// The dashboard's time-series charts, drawn by uPlot (served by the API from node_modules and
// loaded as a classic script before the modules, so `window.uPlot`): lines, stepped lines,
// reference lines (thresholds, bounds) drawn on the canvas, and decision or failover markers as
// elements over it (each with its title on hover, reachable to tests and assistive tools).
// uPlot styles its elements through the CSSOM only, which the strict Content-Security-Policy
// allows (no inline style attribute, no eval).

import { h } from './dom.js';

const uPlot = globalThis.uPlot;

/** A colour of the stylesheet (`--ready`, `--metric`…), read once: canvases need the value. */
const colours = new Map();
export function colour(name) {
  if (!colours.has(name))
    colours.set(
      name,
      getComputedStyle(document.documentElement).getPropertyValue(`--${name}`).trim() || '#555',
    );
  return colours.get(name);
}

/** Distinct colours for per-node lines (cycled). */
const NODE_PALETTE = [
  '#0ea5e9',
  '#f97316',
  '#a855f7',
  '#84cc16',
  '#ec4899',
  '#14b8a6',
  '#eab308',
  '#6366f1',
  '#ef4444',
  '#22c55e',
];
export const nodeColour = (i) => NODE_PALETTE[i % NODE_PALETTE.length];

const pad = (n) => String(n).padStart(2, '0');

/** Axis labels: clock time within a day, the date too over longer ranges. */
function timeLabels(spanMs) {
  return (_u, splits) =>
    splits.map((t) => {
      const d = new Date(t);
      const clock = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
      if (spanMs > 2 * 86_400_000) return `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clock}`;
      return spanMs < 10 * 60_000 ? `${clock}:${pad(d.getSeconds())}` : clock;
    });
}

/**
 * A chart that keeps its uPlot between refreshes (new data is set, not a new chart built)
 * as long as its series stay the same.
 *
 * model: {
 *   from, to (ms), height, label (for screen readers), integer?, yMin?, yMax?,
 *   x: [ms…], series: [{ label, stroke, width?, dash?, step?, values: [v|null…] }],
 *   hlines?: [{ y, label, stroke }], markers?: [{ t, className, symbol: 'up'|'down'|'dot', title }],
 *   compact? (a sparkline: no axes, legend or cursor), legend? (default true),
 *   onZoom?(from, to): a range dragged on the plot,
 * }
 */
export class TimeChart {
  constructor() {
    this.el = h('div', { class: 'chart', role: 'group' });
    this.plot = null;
    this.signature = '';
    this.model = null;
    this.markerLayer = h('div', { class: 'chart-markers' });
    // The chart takes the width its place on the page gives it (a figure in a flex row, the
    // window resized), whatever width the page guessed before the layout.
    this.resizes = new ResizeObserver(() => {
      const w = this.#fitWidth();
      if (this.plot && w && Math.abs(this.plot.width - w) > 2)
        this.plot.setSize({ width: w, height: this.model.height });
    });
    this.resizes.observe(this.el);
  }

  /** The width the element has room for, without its padding; undefined before layout. */
  #fitWidth() {
    const room = this.el.clientWidth;
    if (!room) return undefined;
    return Math.max(160, room - (this.model?.compact ? 0 : 12));
  }

  update(model) {
    this.model = model;
    this.el.setAttribute('aria-label', model.label ?? 'time series chart');
    const signature = JSON.stringify([
      model.series.map((s) => [s.label, s.stroke, s.dash, s.step]),
      model.compact,
      model.height,
      model.legend,
    ]);
    // The element's own padding comes off the width asked for.
    const width = this.#fitWidth() ?? Math.max(160, Math.round(model.width) - (model.compact ? 0 : 14));
    const data = [model.x, ...model.series.map((s) => s.values)];
    if (this.plot && signature === this.signature) {
      if (this.plot.width !== width) this.plot.setSize({ width, height: model.height });
      this.plot.setData(data);
    } else {
      this.plot?.destroy();
      this.signature = signature;
      this.plot = new uPlot(this.#options(model, width), data, this.el);
      this.plot.over.append(this.markerLayer);
    }
    this.#placeMarkers();
    return this;
  }

  #options(model, width) {
    const current = () => this.model;
    const compact = Boolean(model.compact);
    const axisStroke = colour('muted');
    const grid = { stroke: '#edf0f4', width: 1 };
    return {
      width,
      height: model.height,
      ms: 1,
      legend: { show: !compact && model.legend !== false, live: true },
      cursor: compact
        ? { show: false }
        : { drag: { x: true, y: false, setScale: false }, points: { size: 5 } },
      select: { show: !compact },
      padding: compact ? [2, 2, 2, 2] : [12, 26, 0, 0],
      scales: {
        x: { time: true, range: () => [current().from, current().to] },
        y: {
          range: (_u, min, max) => {
            const m = current();
            const ys = (m.hlines ?? []).map((l) => l.y).filter(Number.isFinite);
            let lo = m.yMin ?? Math.min(Number.isFinite(min) ? min : 0, ...ys);
            let hi = m.yMax ?? Math.max(Number.isFinite(max) ? max : 1, ...ys);
            if (m.yMin === undefined && lo > 0 && lo < hi * 0.5) lo = 0;
            if (hi === lo) hi = lo + (m.integer ? 1 : Math.abs(lo) * 0.1 || 1);
            if (m.yMax === undefined) hi += (hi - lo) * 0.08;
            return [lo, hi];
          },
        },
      },
      axes: compact
        ? [{ show: false }, { show: false }]
        : [
            {
              stroke: axisStroke,
              grid,
              ticks: { show: false },
              values: timeLabels(model.to - model.from),
              space: 70,
            },
            {
              stroke: axisStroke,
              grid,
              ticks: { show: false },
              size: 48,
              ...(model.integer ? { incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000] } : {}),
              values: (_u, splits) => splits.map((v) => String(Number(v.toPrecision(4)))),
            },
          ],
      series: [
        {},
        ...model.series.map((s) => ({
          label: s.label,
          stroke: s.stroke,
          width: s.width ?? (compact ? 1.5 : 2),
          dash: s.dash,
          spanGaps: false,
          points: { show: false },
          paths: s.step ? uPlot.paths.stepped({ align: 1 }) : undefined,
        })),
      ],
      hooks: {
        draw: [(u) => drawReferenceLines(u, current())],
        setSize: [() => this.#placeMarkers()],
        setSelect: [
          (u) => {
            const m = current();
            if (u.select.width < 4 || !m.onZoom) return;
            const from = Math.round(u.posToVal(u.select.left, 'x'));
            const to = Math.round(u.posToVal(u.select.left + u.select.width, 'x'));
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            m.onZoom(from, to);
          },
        ],
      },
    };
  }

  #placeMarkers() {
    const u = this.plot;
    const m = this.model;
    if (!u || !m) return;
    const glyph = { up: '▲', down: '▼', dot: '●' };
    this.markerLayer.replaceChildren(
      ...(m.markers ?? [])
        .filter((mk) => mk.t >= m.from && mk.t <= m.to)
        .map((mk) => {
          const el = h(
            'span',
            { class: `chart-marker ${mk.className ?? ''}`, title: mk.title ?? '', 'data-at': String(mk.t) },
            h('span', { class: 'chart-marker-glyph', 'aria-hidden': 'true' }, glyph[mk.symbol] ?? glyph.dot),
          );
          el.style.left = `${u.valToPos(mk.t, 'x')}px`;
          return el;
        }),
    );
  }

  destroy() {
    this.resizes.disconnect();
    this.plot?.destroy();
    this.plot = null;
  }
}

/** Threshold and bound lines with their labels, on the plot's canvas under the series. */
function drawReferenceLines(u, m) {
  const { ctx } = u;
  const { left, top, width, height } = u.bbox;
  const dpr = devicePixelRatio || 1;
  ctx.save();
  ctx.beginPath();
  ctx.rect(left, top, width, height);
  ctx.clip();
  for (const l of m.hlines ?? []) {
    if (!Number.isFinite(l.y)) continue;
    const y = Math.round(u.valToPos(l.y, 'y', true)) + 0.5;
    ctx.strokeStyle = l.stroke;
    ctx.lineWidth = 1.3 * dpr;
    ctx.setLineDash([5 * dpr, 4 * dpr]);
    ctx.beginPath();
    ctx.moveTo(left, y);
    ctx.lineTo(left + width, y);
    ctx.stroke();
    if (l.label && !m.compact) {
      ctx.setLineDash([]);
      ctx.font = `600 ${11 * dpr}px system-ui, sans-serif`;
      ctx.textAlign = 'left';
      ctx.textBaseline = 'alphabetic';
      ctx.lineWidth = 3 * dpr;
      ctx.strokeStyle = '#ffffff';
      ctx.strokeText(l.label, left + 6 * dpr, y - 4 * dpr);
      ctx.fillStyle = l.stroke;
      ctx.fillText(l.label, left + 6 * dpr, y - 4 * dpr);
    }
  }
  for (const mk of m.markers ?? []) {
    if (mk.t < m.from || mk.t > m.to) continue;
    const x = Math.round(u.valToPos(mk.t, 'x', true)) + 0.5;
    ctx.strokeStyle = colour(mk.colour ?? 'warn');
    ctx.lineWidth = 1.2 * dpr;
    ctx.setLineDash([2 * dpr, 2 * dpr]);
    ctx.beginPath();
    ctx.moveTo(x, top);
    ctx.lineTo(x, top + height);
    ctx.stroke();
  }
  ctx.restore();
}

/** Legend entries drawn by the page (for what the chart marks but uPlot does not list). */
export function legend(items) {
  return h(
    'ul',
    { class: 'legend' },
    items.map(([cls, label]) => h('li', {}, h('span', { class: `swatch ${cls}` }), label)),
  );
}
