// One pool: charts over any range the store holds (its size against its bounds, each rule's
// metric against its thresholds with each ready node's own line on demand, scale events
// marked; zoom, pan, a link to the view), the controls (pause, resume, size by hand), why it
// holds or moves right now, its nodes and its recent history.

import { ApiError } from '../api-client.js';
import { colour, legend, nodeColour, TimeChart } from '../chart.js';
import { ago, clock, h, num, replace } from '../dom.js';
import { liveStart, parseRange, RangeControls, resolveRange, showRangeInAddress } from '../time-range.js';
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

const WAY_NAME = { snapshot: 'snapshot', 'state-sync': 'state sync', network: 'network' };

/**
 * The pool's last measured join by each way (create to ready) and the way the next one would
 * take: `… · snapshot 13.5 s · state sync > 120.0 s (timed out) · next: snapshot: last 13.5 s against …`.
 */
function joinFigures(joins) {
  const last = new Map(joins.last.map((f) => [f.way, f]));
  const one = (way) => {
    const f = last.get(way);
    if (!f) return h('span', { class: 'join-way', 'data-way': way }, `${WAY_NAME[way]} not measured`);
    const s = `${(f.ms / 1000).toFixed(1)} s`;
    return h(
      'span',
      { class: 'join-way', 'data-way': way, title: `${f.node}, ${ago(f.at)}` },
      `${WAY_NAME[way]} ${f.timedOut ? `> ${s} (timed out)` : s}`,
    );
  };
  const parts = joins.ways.flatMap((w) => [' · ', one(w)]);
  return h(
    'p',
    { class: 'muted small join-figures' },
    'Last join, create to ready',
    ...parts,
    joins.next
      ? h('span', { class: 'join-next', 'data-way': joins.next.way }, ` · next: ${joins.next.why}`)
      : null,
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
    colour: down ? 'down' : up ? 'up' : 'warn',
    title: `${clock(d.at)} ${decisionSentence(d)}\n${why}`,
  };
}

/** A live range longer than this is fetched again every SLOW_REFRESH_MS, not every refresh. */
const FAST_SPAN_MS = 3_600_000;
const SLOW_REFRESH_MS = 30_000;

export function poolPage(app, name, params = new URLSearchParams()) {
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
  let range = parseRange(params);
  let seriesKey = '';
  let seriesAt = 0;
  let series = null;
  let eachNode = params.get('nodes') === '1';
  const controlsOfRange = new RangeControls(range, (next) => {
    range = next;
    showRangeInAddress(range, controlsOfRange.extra);
    seriesKey = '';
    app.refreshNow();
  });
  const eachNodeBox = h('input', { type: 'checkbox', id: 'each-node', checked: eachNode });
  controlsOfRange.extra = eachNode ? 'nodes=1' : '';
  eachNodeBox.addEventListener('change', () => {
    eachNode = eachNodeBox.checked;
    controlsOfRange.extra = eachNode ? 'nodes=1' : '';
    showRangeInAddress(range, controlsOfRange.extra);
    seriesKey = '';
    app.refreshNow();
  });
  const eachNodeLabel = h(
    'label',
    { class: 'each-node', for: 'each-node' },
    eachNodeBox,
    " each ready node's own line (last hour)",
  );
  const charts = h('div', { class: 'charts' });
  const now = h('div', { class: 'card why-now' });
  const nodes = h('div', { class: 'pool-nodes' });
  const history = h('ol', { class: 'timeline' });
  let pool = null;
  const sizeChart = new TimeChart();
  const metricCharts = new Map();
  const trafficCharts = new Map();

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
    h('div', { class: 'section-head' }, h('h3', { class: 'section-title' }, 'Charts'), eachNodeLabel),
    controlsOfRange.el,
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
  sizeInput.addEventListener('input', () => {
    sizeButton.disabled = !pool?.size || sizeInput.value.trim() === '';
  });

  const zoom = (from, to) => controlsOfRange.zoomTo(from, to);

  const renderCharts = () => {
    const to = series.to;
    const from = liveStart(range, series.from, to, series.points[0]?.at);
    const width = Math.max(320, charts.clientWidth || 900);
    const markers = series.events.map(markerOf);
    const pts = series.points;
    const x = pts.map((p) => p.at);
    const figures = [];
    const thinned = series.stepMs > 0 ? ` · one point per ${Math.round(series.stepMs / 1000)} s` : '';
    if (series.size) {
      const b = series.size;
      const last = pts.at(-1);
      sizeChart.update({
        width: width - 2,
        height: 220,
        from,
        to,
        integer: true,
        yMin: 0,
        yMax: Math.max(b.max, ...pts.map((p) => p.live)) + 1,
        label: 'Pool size over the range shown',
        x,
        series: [
          { label: 'live', stroke: colour('live'), dash: [6, 3], step: true, values: pts.map((p) => p.live) },
          {
            label: 'heading for',
            stroke: colour('desired'),
            dash: [2, 3],
            step: true,
            values: pts.map((p) => p.desired),
          },
          {
            label: 'ready',
            stroke: colour('ready'),
            width: 2.8,
            step: true,
            values: pts.map((p) => p.ready),
          },
        ],
        hlines: [
          { y: b.max, label: `max ${b.max}`, stroke: colour('bad') },
          { y: b.capacity, label: `capacity ${b.capacity}`, stroke: colour('ink') },
          ...(b.min !== b.capacity ? [{ y: b.min, label: `min ${b.min}`, stroke: colour('muted') }] : []),
        ],
        markers,
        onZoom: zoom,
      });
      figures.push(
        h(
          'figure',
          { class: 'chart-card wide', id: 'chart-size', 'data-points': String(pts.length) },
          h(
            'figcaption',
            {},
            h('strong', {}, 'Pool size'),
            h(
              'span',
              { class: 'muted' },
              last
                ? ` now ${last.ready} ready, ${last.live} live → ${last.desired}`
                : ' no points in this range',
              thinned,
            ),
          ),
          sizeChart.el,
          legend([
            ['marker-up', 'scale-up'],
            ['marker-down', 'scale-down'],
          ]),
        ),
      );
    }
    const half = width > 900 ? Math.floor((width - 16) / 2) : width;
    for (const [i, t] of (series.traffic ?? []).entries()) {
      const values = pts.map((p) => p.traffic?.[i] ?? null);
      const latest = values.filter((v) => v !== null).at(-1);
      let chart = trafficCharts.get(t.id);
      if (!chart) {
        chart = new TimeChart();
        trafficCharts.set(t.id, chart);
      }
      const unit = t.unit ? ` ${t.unit}` : '';
      chart.update({
        width: half - 2,
        height: 200,
        from,
        to,
        yMin: 0,
        label: `${t.label}, summed over the ready nodes`,
        x,
        series: [{ label: `${t.label}${unit}`, stroke: colour('live'), width: 2.2, values }],
        markers,
        onZoom: zoom,
      });
      figures.push(
        h(
          'figure',
          { class: 'chart-card traffic', 'data-traffic': t.metric },
          h(
            'figcaption',
            {},
            h('strong', {}, `Traffic: ${t.label}`),
            h(
              'span',
              { class: 'muted' },
              latest !== undefined ? ` now ${num(latest)}${unit}` : ' no samples in this range',
            ),
            h('span', { class: 'muted small' }, ` · ${t.rate ? 'rate of ' : ''}${t.metric}, all ready nodes`),
          ),
          chart.el,
        ),
      );
    }
    series.metrics.forEach((m, i) => {
      const values = pts.map((p) => p.values[i] ?? null);
      const latest = values.filter((v) => v !== null).at(-1);
      const lines = series.nodeLines.filter((l) => l.metric === m.id);
      let chart = metricCharts.get(m.id);
      if (!chart) {
        chart = new TimeChart();
        metricCharts.set(m.id, chart);
      }
      chart.update({
        width: half - 2,
        height: 200,
        from,
        to,
        label: `${m.metric} against its thresholds`,
        x,
        series: [
          ...lines.map((l, k) => ({ label: l.node, stroke: nodeColour(k), width: 1.2, values: l.values })),
          { label: `${m.aggregate} (the rule's reading)`, stroke: colour('metric'), width: 2.4, values },
        ],
        hlines: m.rules.map((r) => ({
          y: r.kind === 'target' ? r.target : r.threshold,
          label: r.rule.startsWith('scaleUp')
            ? `up ${r.comparator ?? 'target'} ${num(r.threshold ?? r.target)}`
            : `down ${r.comparator ?? 'target'} ${num(r.threshold ?? r.target)}`,
          stroke: colour(r.rule.startsWith('scaleUp') ? 'up' : 'down'),
        })),
        markers,
        onZoom: zoom,
      });
      const shownNote =
        eachNode && series.nodesTotal > lines.length
          ? ` · ${lines.length} of ${series.nodesTotal} nodes shown, those furthest from the ${m.aggregate}`
          : '';
      figures.push(
        h(
          'figure',
          {
            class: 'chart-card',
            'data-metric': m.metric,
            'data-node-lines': String(lines.length),
          },
          h(
            'figcaption',
            {},
            h('strong', {}, `${m.aggregate}${m.rate ? ' rate of' : ''} ${m.metric}`),
            h(
              'span',
              { class: 'muted' },
              latest !== undefined ? ` now ${num(latest)}` : ' no samples in this range',
            ),
            h('span', { class: 'muted small' }, shownNote),
          ),
          chart.el,
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

  /** The series again when the range moved, or it is live (long live ranges less often). */
  const fetchSeries = async () => {
    const { from, to } = resolveRange(range);
    const key = `${range.live ? `live-${range.spanMs}` : `${from}-${to}`}-${eachNode}`;
    const span = to - from;
    const fresh =
      key === seriesKey && (!range.live || (span > FAST_SPAN_MS && Date.now() - seriesAt < SLOW_REFRESH_MS));
    if (fresh && series) return false;
    series = await app.api.get(
      `/api/v1/pools/${encodeURIComponent(name)}/series?from=${from}&to=${to}${eachNode ? '&nodes=1' : ''}`,
    );
    seriesKey = key;
    seriesAt = Date.now();
    return true;
  };

  return {
    root,
    title: name,
    async refresh() {
      const [p, fetched, { nodes: list }, { decisions }, { actions }] = await Promise.all([
        app.api.get(`/api/v1/pools/${encodeURIComponent(name)}`),
        fetchSeries(),
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
        p.joins ? joinFigures(p.joins) : null,
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
      sizeInput.disabled = !scalable;
      // Nothing to set while the field is empty.
      sizeButton.disabled = !scalable || sizeInput.value.trim() === '';
      autoButton.disabled = !scalable || !p.manualSize;
      if (scalable) {
        sizeInput.min = String(p.size.min);
        sizeInput.max = String(p.size.max);
        sizeInput.placeholder = `${p.size.min}–${p.size.max}`;
      }
      if (fetched || range.live) {
        if (range.live) {
          // A live range slides with the clock between two fetches of a long range.
          const { from, to } = resolveRange(range);
          series = { ...series, from, to };
        }
        renderCharts();
      }
      controlsOfRange.render();
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
