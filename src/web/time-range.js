// The charts' time range, kept in the page's address (so a link opens the same view): either
// live, the last N minutes up to now (`?last=15m`), or a fixed past range
// (`?from=2026-12-06T17:00:00Z&to=2026-12-06T18:00:00Z`). Presets, pan, zoom out and back to
// live; a range dragged on any chart zooms into it.

import { dateTime, h, replace } from './dom.js';

export const PRESETS = [
  { key: '5m', label: '5 min', ms: 5 * 60_000 },
  { key: '15m', label: '15 min', ms: 15 * 60_000 },
  { key: '1h', label: '1 hour', ms: 3_600_000 },
  { key: '6h', label: '6 hours', ms: 6 * 3_600_000 },
  { key: '24h', label: '24 hours', ms: 86_400_000 },
  { key: '7d', label: '7 days', ms: 7 * 86_400_000 },
];

const DEFAULT = { live: true, spanMs: 15 * 60_000 };
/** The shortest range a zoom goes down to. */
const MIN_SPAN_MS = 5_000;

function spanKey(ms) {
  const preset = PRESETS.find((p) => p.ms === ms);
  if (preset) return preset.key;
  return ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : `${Math.max(1, Math.round(ms / 60_000))}m`;
}

function parseSpan(text) {
  const m = /^(\d+)(m|h|d)$/.exec(text ?? '');
  if (!m) return undefined;
  return Number(m[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2]];
}

function parseTime(text) {
  if (!text) return undefined;
  const t = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  return Number.isFinite(t) ? t : undefined;
}

const iso = (t) => new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The range a page's address names (URLSearchParams of the hash's query), or the default. */
export function parseRange(params) {
  const from = parseTime(params.get('from'));
  const to = parseTime(params.get('to'));
  if (from !== undefined && to !== undefined && to > from) return { live: false, from, to };
  const spanMs = parseSpan(params.get('last'));
  return spanMs ? { live: true, spanMs } : DEFAULT;
}

/** The query that names a range: `last=15m` or `from=…&to=…`. */
export function rangeQuery(range) {
  return range.live ? `last=${spanKey(range.spanMs)}` : `from=${iso(range.from)}&to=${iso(range.to)}`;
}

/** [from, to] now. */
export function resolveRange(range, now = Date.now()) {
  return range.live ? { from: now - range.spanMs, to: now } : { from: range.from, to: range.to };
}

/**
 * The controls: presets (live), pan back and forth, zoom out, back to live, and a link to the
 * range shown (fixed, so it opens the same view later). `onChange(range)` gets every new range.
 */
export class RangeControls {
  constructor(range, onChange) {
    this.range = range;
    /** The page's other view settings, kept in the link (`nodes=1`). */
    this.extra = '';
    this.onChange = onChange;
    this.el = h('div', { class: 'range-controls', role: 'group', 'aria-label': 'Time range' });
    this.render();
  }

  set(range) {
    // Whole milliseconds: the API takes nothing else.
    this.range = range.live
      ? { live: true, spanMs: Math.round(range.spanMs) }
      : { live: false, from: Math.round(range.from), to: Math.round(range.to) };
    range = this.range;
    this.render();
    this.onChange(range);
  }

  zoomTo(from, to) {
    const mid = (from + to) / 2;
    const span = Math.max(MIN_SPAN_MS, to - from);
    this.set({ live: false, from: Math.round(mid - span / 2), to: Math.round(mid + span / 2) });
  }

  #shift(direction) {
    const { from, to } = resolveRange(this.range);
    const step = (to - from) / 2;
    const now = Date.now();
    if (direction > 0 && to + step >= now) {
      this.set({ live: true, spanMs: to - from });
      return;
    }
    this.set({ live: false, from: from + direction * step, to: to + direction * step });
  }

  #zoomOut() {
    const { from, to } = resolveRange(this.range);
    const span = (to - from) * 2;
    if (this.range.live) this.set({ live: true, spanMs: span });
    else this.zoomTo(from - (to - from) / 2, from - (to - from) / 2 + span);
  }

  render() {
    const r = this.range;
    const { from, to } = resolveRange(r);
    const button = (label, attrs, action) => {
      const b = h(
        'button',
        { type: 'button', class: 'chip', 'data-key': `range-${attrs['data-range']}`, ...attrs },
        label,
      );
      b.addEventListener('click', action);
      return b;
    };
    const presets = PRESETS.map((p) =>
      button(p.label, { 'aria-pressed': String(r.live && r.spanMs === p.ms), 'data-range': p.key }, () =>
        this.set({ live: true, spanMs: p.ms }),
      ),
    );
    const fixed = `#${location.hash.slice(1).split('?')[0] || '/'}?${rangeQuery({ live: false, from, to })}${this.extra ? `&${this.extra}` : ''}`;
    replace(
      this.el,
      h('span', { class: 'range-presets' }, presets),
      button(
        '◀',
        { 'aria-label': 'Earlier', title: 'Earlier (pan back half the range)', 'data-range': 'back' },
        () => this.#shift(-1),
      ),
      button(
        '▶',
        { 'aria-label': 'Later', title: 'Later (pan forward half the range)', 'data-range': 'forward' },
        () => this.#shift(1),
      ),
      button('Zoom out', { 'data-range': 'zoom-out' }, () => this.#zoomOut()),
      r.live
        ? h('span', { class: 'badge live', 'data-range-state': 'live' }, 'live')
        : button('Back to live', { 'data-range': 'live' }, () =>
            this.set({ live: true, spanMs: DEFAULT.spanMs }),
          ),
      h(
        'span',
        { class: 'range-shown muted small', 'data-range-state': r.live ? 'live' : 'fixed' },
        r.live
          ? `last ${PRESETS.find((p) => p.ms === r.spanMs)?.label ?? spanKey(r.spanMs)}`
          : `${dateTime(from)} – ${dateTime(to)}`,
      ),
      h(
        'a',
        {
          class: 'permalink small',
          href: fixed,
          title: 'A link to this range: it opens the same view later',
        },
        'link',
      ),
      h('span', { class: 'muted small hint' }, 'drag on a chart to zoom'),
    );
  }
}

/** The hash's route and its query: `#/pools/x?last=15m` → ['/pools/x', URLSearchParams]. */
export function splitHash(hash) {
  const [path, query = ''] = hash.replace(/^#/, '').split('?');
  return [path || '/', new URLSearchParams(query)];
}

/**
 * Writes a range (and the page's other view settings, `extra`: `nodes=1`) into the address
 * without a new page, so a link copied now opens this view.
 */
export function showRangeInAddress(range, extra = '') {
  const [path] = splitHash(location.hash);
  history.replaceState(null, '', `#${path}?${rangeQuery(range)}${extra ? `&${extra}` : ''}`);
}

/**
 * Where a live chart starts: the range's start, or later while the series is younger than the
 * range (a fresh fleet fills the chart instead of a sliver at its right edge).
 */
export function liveStart(range, from, to, firstAt) {
  if (!range.live || firstAt === undefined) return from;
  return Math.max(from, Math.min(firstAt - 5_000, to - 60_000));
}
