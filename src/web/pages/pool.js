// One pool: live charts (its size over time against its bounds, each rule's metric against
// its threshold, scale events marked), the controls (pause, resume, size by hand), why it
// holds or moves right now, its nodes and its recent history.

import { ApiError } from '../api-client.js';
import { ago, clock, h, num, replace } from '../dom.js';
import { timeSeriesChart } from '../timeseries-chart.js';
import {
  actionItem,
  decisionBadge,
  decisionItem,
  decisionSentence,
  nodesTable,
  reasonList,
  roleBadge,
  sizeFigures,
  sizeGauge,
} from '../widgets.js';

const WINDOWS = [
  { label: '5 min', ms: 5 * 60_000 },
  { label: '15 min', ms: 15 * 60_000 },
  { label: '1 hour', ms: 60 * 60_000 },
];

function legend(items) {
  return h(
    'ul',
    { class: 'legend' },
    items.map(([cls, label]) => h('li', {}, h('span', { class: `swatch ${cls}` }), label)),
  );
}

function markerOf(d) {
  const up = d.decision === 'scale-up';
  const down = d.decision === 'scale-down';
  const why = d.reasons
    .filter((r) => r.code !== 'rule-quiet')
    .map((r) => r.text)
    .join('\n');
  return {
    t: d.at,
    symbol: down ? 'down' : up ? 'up' : 'dot',
    className: down ? 'marker-down' : up ? 'marker-up' : 'marker-other',
    title: `${clock(d.at)} ${decisionSentence(d)}\n${why}`,
  };
}

export function poolPage(app, name) {
  const title = h('h2', {}, name);
  const badges = h('span', { class: 'badges' });
  const figures = h('div', { class: 'pool-figures' });
  const gauge = h('div', { class: 'pool-gauge' });
  const message = h('p', { class: 'message', role: 'status', 'aria-live': 'polite' });
  const pauseButton = h(
    'button',
    { type: 'button', class: 'button', id: 'pause-toggle', 'data-key': 'pause-toggle' },
    'Pause',
  );
  const sizeInput = h('input', {
    type: 'number',
    id: 'size-input',
    name: 'size',
    inputmode: 'numeric',
    step: '1',
    required: true,
  });
  const sizeButton = h('button', { type: 'submit', class: 'button' }, 'Set size');
  const autoButton = h(
    'button',
    { type: 'button', class: 'button secondary', id: 'size-auto' },
    'Back to automatic',
  );
  const sizeForm = h(
    'form',
    { class: 'size-form', 'aria-label': 'Set the size by hand' },
    h('label', { for: 'size-input' }, 'Size by hand'),
    sizeInput,
    sizeButton,
    autoButton,
  );
  const controls = h('div', { class: 'controls' }, pauseButton, sizeForm);
  const windowButtons = h('div', {
    class: 'window-buttons',
    role: 'group',
    'aria-label': 'Chart time window',
  });
  const charts = h('div', { class: 'charts' });
  const now = h('div', { class: 'card why-now' });
  const nodes = h('div', { class: 'pool-nodes' });
  const history = h('ol', { class: 'timeline' });
  let windowMs = WINDOWS[1].ms;
  let pool = null;

  const root = h(
    'section',
    { class: 'page pool-page', 'data-pool': name },
    h(
      'div',
      { class: 'page-head pool-head' },
      h('p', { class: 'crumbs' }, h('a', { href: '#/' }, 'Fleet'), ' / '),
      title,
      badges,
    ),
    h(
      'div',
      { class: 'pool-top' },
      h('div', { class: 'card pool-size' }, figures, gauge),
      h('div', { class: 'card pool-controls' }, h('h3', {}, 'Controls'), controls, message),
    ),
    h('div', { class: 'section-head' }, h('h3', { class: 'section-title' }, 'Live charts'), windowButtons),
    charts,
    h('h3', { class: 'section-title' }, 'Why, right now'),
    now,
    h('h3', { class: 'section-title' }, 'Nodes'),
    nodes,
    h('h3', { class: 'section-title' }, 'Recent history'),
    history,
  );

  const say = (text, kind = 'info') => {
    message.className = `message ${kind}`;
    message.textContent = text;
  };

  const write = async (path, body, pending) => {
    say(pending, 'info');
    try {
      const r = await app.api.post(path, body);
      if (r.status === 200) say(r.body.message, 'ok');
      else if (r.status === 202)
        say(`Asked the controller; it has not taken the request yet (${r.body.request?.id}).`, 'warn');
      else say(`Refused: ${r.body.error}`, 'bad');
    } catch (e) {
      say(e instanceof ApiError ? e.message : String(e), 'bad');
    }
    await app.refreshNow();
  };

  pauseButton.addEventListener('click', () => {
    if (!pool) return;
    const verb = pool.paused ? 'resume' : 'pause';
    write(
      `/api/v1/pools/${encodeURIComponent(name)}/${verb}`,
      undefined,
      verb === 'pause' ? 'Pausing…' : 'Resuming…',
    );
  });
  sizeForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const size = Number(sizeInput.value);
    if (sizeInput.value.trim() === '' || !Number.isInteger(size)) {
      say('Enter a whole number of nodes.', 'bad');
      return;
    }
    write(`/api/v1/pools/${encodeURIComponent(name)}/size`, { size }, `Setting the size to ${size}…`);
  });
  autoButton.addEventListener('click', () =>
    write(`/api/v1/pools/${encodeURIComponent(name)}/size`, { size: null }, 'Returning to automatic sizing…'),
  );
  for (const w of WINDOWS) {
    const b = h(
      'button',
      { type: 'button', class: 'chip', 'aria-pressed': String(w.ms === windowMs) },
      w.label,
    );
    b.addEventListener('click', () => {
      windowMs = w.ms;
      for (const other of windowButtons.children) other.setAttribute('aria-pressed', String(other === b));
      app.refreshNow();
    });
    windowButtons.append(b);
  }

  const renderCharts = (series) => {
    // The window, or less while the series is younger than it: a fresh fleet fills the chart.
    const to = Date.now();
    const first = series.points[0]?.at ?? to;
    const from = Math.max(to - windowMs, Math.min(first - 5_000, to - 60_000));
    const width = Math.max(320, charts.clientWidth || 900);
    const markers = series.events.map(markerOf);
    const pts = series.points;
    const figures = [];
    if (series.size) {
      const b = series.size;
      const last = pts.at(-1);
      figures.push(
        h(
          'figure',
          { class: 'chart-card wide', id: 'chart-size' },
          h(
            'figcaption',
            {},
            h('strong', {}, 'Pool size'),
            h(
              'span',
              { class: 'muted' },
              last ? ` now ${last.ready} ready, ${last.live} live → ${last.desired}` : ' no points yet',
            ),
          ),
          timeSeriesChart({
            width: width - 2,
            height: 220,
            from,
            to,
            integer: true,
            yMin: 0,
            yMax: b.max + 1,
            label: `Pool size over the last ${Math.round(windowMs / 60000)} minutes`,
            series: [
              { name: 'live', className: 's-live', step: true, points: pts.map((p) => [p.at, p.live]) },
              {
                name: 'desired',
                className: 's-desired',
                step: true,
                points: pts.map((p) => [p.at, p.desired]),
              },
              { name: 'ready', className: 's-ready', step: true, points: pts.map((p) => [p.at, p.ready]) },
            ],
            hlines: [
              { y: b.max, label: `max ${b.max}`, className: 'h-max' },
              { y: b.capacity, label: `capacity ${b.capacity}`, className: 'h-capacity' },
              ...(b.min !== b.capacity ? [{ y: b.min, label: `min ${b.min}`, className: 'h-min' }] : []),
            ],
            markers,
          }),
          legend([
            ['s-ready', 'ready'],
            ['s-live', 'live (joining and leaving too)'],
            ['s-desired', 'heading for'],
            ['marker-up', 'scale-up'],
            ['marker-down', 'scale-down'],
          ]),
        ),
      );
    }
    const half = width > 900 ? Math.floor((width - 16) / 2) : width;
    series.metrics.forEach((m, i) => {
      const values = pts.map((p) => [p.at, p.values[i] ?? null]);
      const latest = values.filter(([, v]) => v !== null).at(-1);
      figures.push(
        h(
          'figure',
          { class: 'chart-card', 'data-metric': m.metric },
          h(
            'figcaption',
            {},
            h('strong', {}, `${m.aggregate}${m.rate ? ' rate of' : ''} ${m.metric}`),
            h('span', { class: 'muted' }, latest ? ` now ${num(latest[1])}` : ' no samples yet'),
          ),
          timeSeriesChart({
            width: half - 2,
            height: 190,
            from,
            to,
            label: `${m.metric} against its thresholds`,
            series: [{ name: m.metric, className: 's-metric', points: values }],
            hlines: m.rules.map((r) => ({
              y: r.kind === 'target' ? r.target : r.threshold,
              label: r.rule.startsWith('scaleUp')
                ? `up ${r.comparator ?? 'target'} ${num(r.threshold ?? r.target)}`
                : `down ${r.comparator ?? 'target'} ${num(r.threshold ?? r.target)}`,
              className: r.rule.startsWith('scaleUp') ? 'h-up' : 'h-down',
            })),
            markers,
          }),
          h(
            'ul',
            { class: 'rule-texts' },
            m.rules.map((r) => h('li', { class: r.rule.startsWith('scaleUp') ? 'up' : 'down' }, r.text)),
          ),
        ),
      );
    });
    if (figures.length === 0)
      figures.push(
        h('p', { class: 'muted' }, 'A validator pool is never scaled: it has no size or rules to chart.'),
      );
    replace(charts, figures);
  };

  return {
    root,
    title: name,
    async refresh() {
      const since = Date.now() - windowMs;
      const [p, series, { nodes: list }, { decisions }, { actions }] = await Promise.all([
        app.api.get(`/api/v1/pools/${encodeURIComponent(name)}`),
        app.api.get(`/api/v1/pools/${encodeURIComponent(name)}/series?since=${since}`),
        app.api.get(`/api/v1/nodes?pool=${encodeURIComponent(name)}`),
        app.api.get(`/api/v1/decisions?pool=${encodeURIComponent(name)}&limit=30`),
        app.api.get(`/api/v1/actions?pool=${encodeURIComponent(name)}&limit=30`),
      ]);
      pool = p;
      const st = p.status;
      replace(
        badges,
        roleBadge(p.role),
        p.paused ? h('span', { class: 'badge paused' }, `paused by ${p.pausedBy ?? 'the operator'}`) : null,
        p.manualSize
          ? h(
              'span',
              { class: 'badge manual' },
              `size set by hand: ${p.manualSize.size} (by ${p.manualSize.by})`,
            )
          : null,
        st ? decisionBadge(st.decision) : null,
      );
      replace(
        figures,
        sizeFigures(st),
        h(
          'p',
          { class: 'muted small' },
          `${p.nodeKind} on ${p.provider}${p.upstream ? ` · sentries of ${p.upstream}` : ''}${st ? ` · decided ${ago(st.at)}` : ''}`,
        ),
      );
      replace(
        gauge,
        p.size
          ? sizeGauge(p.size, st)
          : h(
              'p',
              { class: 'muted' },
              'A validator pool: never scaled, never replaced (failures go to failover).',
            ),
      );
      const scalable = p.size !== null;
      pauseButton.textContent = p.paused ? 'Resume' : 'Pause';
      pauseButton.setAttribute('aria-pressed', String(p.paused));
      pauseButton.disabled = !scalable;
      for (const c of [sizeInput, sizeButton, autoButton]) c.disabled = !scalable;
      autoButton.disabled = !scalable || !p.manualSize;
      if (scalable) {
        sizeInput.min = String(p.size.min);
        sizeInput.max = String(p.size.max);
        sizeInput.placeholder = `${p.size.min}–${p.size.max}`;
      }
      renderCharts(series);
      replace(
        now,
        st
          ? [
              h(
                'p',
                { class: 'sentence-line' },
                decisionBadge(st.decision),
                ' ',
                decisionSentence(st),
                h('span', { class: 'muted' }, ` · ${ago(st.at)}`),
              ),
              reasonList(st.reasons, { all: true }),
              p.rules.length
                ? h(
                    'p',
                    { class: 'muted small' },
                    `Scale-up cooldown ${Math.round(p.scaleUpCooldownMs / 1000)}s · scale-down period ${Math.round(p.scaleDownPeriodMs / 1000)}s, one node at a time`,
                  )
                : null,
            ]
          : h('p', { class: 'muted' }, 'Not observed yet.'),
      );
      replace(nodes, nodesTable(list, { showPool: false }));
      const items = [
        ...decisions.map((d) => ({ at: d.at, el: () => decisionItem(d, { showPool: false }) })),
        ...actions.map((a) => ({ at: a.startedAt, el: () => actionItem(a, { showPool: false }) })),
      ]
        .sort((a, b) => b.at - a.at)
        .slice(0, 25);
      replace(
        history,
        items.length ? items.map((i) => i.el()) : h('li', { class: 'muted' }, 'No history yet.'),
      );
    },
  };
}
