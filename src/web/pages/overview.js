// Fleet overview: every pool's size against min, capacity and max, its size over the last
// hour (a sparkline), what it decided last and why, its health; and the latest decisions that
// changed something.

import { colour, TimeChart } from '../chart.js';
import { ago, h, num, replace } from '../dom.js';
import { decisionBadge, decisionItem, keyReasons, roleBadge, sizeFigures, sizeGauge } from '../widgets.js';

function healthLine(pool) {
  const hl = pool.health;
  if (!pool.status) return h('p', { class: 'health muted' }, 'waiting for the first observation');
  if (hl.nodes === 0) return h('p', { class: 'health muted' }, 'no live nodes');
  if (hl.failing === 0)
    return h(
      'p',
      { class: 'health ok' },
      `✓ ${hl.nodes} node${hl.nodes === 1 ? '' : 's'}, all passing checks`,
    );
  const bad = hl.worstFailMarker > pool.failTolerance * 0.75;
  return h(
    'p',
    { class: `health ${bad ? 'bad' : 'warn'}` },
    `${hl.failing} of ${hl.nodes} failing checks (worst fail marker ${hl.worstFailMarker} of ${pool.failTolerance})`,
  );
}

/** The sparkline's range, and how often it is fetched again. */
const SPARK_SPAN_MS = 3_600_000;
const SPARK_REFRESH_MS = 10_000;

function sparkline(chart, series) {
  if (!series) return h('div', { class: 'sparkline muted small' }, 'size over the last hour: loading');
  const pts = series.points;
  const last = pts.at(-1);
  chart.update({
    width: 360,
    height: 44,
    compact: true,
    // Since the first point when the pool is younger than the hour, so a new fleet fills it.
    from: Math.max(series.from, (pts[0]?.at ?? series.from) - 30_000),
    to: series.to,
    integer: true,
    yMin: 0,
    yMax: Math.max(series.size?.max ?? 1, ...pts.map((p) => p.live)) + 0.5,
    label: `Size over the last hour: ${last ? `now ${last.ready} ready` : 'no points yet'}`,
    x: pts.map((p) => p.at),
    series: [
      {
        label: 'heading for',
        stroke: colour('desired'),
        dash: [2, 3],
        step: true,
        values: pts.map((p) => p.desired),
      },
      { label: 'ready', stroke: colour('ready'), width: 2, step: true, values: pts.map((p) => p.ready) },
    ],
    hlines: series.size ? [{ y: series.size.max, stroke: colour('bad') }] : [],
  });
  return h(
    'div',
    { class: 'sparkline', 'data-points': String(pts.length) },
    h('span', { class: 'muted small' }, 'last hour'),
    chart.el,
  );
}

function poolCard(pool, validatorNodes, spark) {
  const st = pool.status;
  const link = `#/pools/${encodeURIComponent(pool.name)}`;
  return h(
    'article',
    { class: 'card pool-card', 'data-pool': pool.name, 'aria-labelledby': `pool-${pool.name}` },
    h(
      'header',
      { class: 'card-head' },
      h(
        'h3',
        { id: `pool-${pool.name}` },
        h('a', { href: link, 'data-key': `open-${pool.name}` }, pool.name),
      ),
      roleBadge(pool.role),
      pool.paused ? h('span', { class: 'badge paused' }, 'paused') : null,
      pool.manualSize
        ? h('span', { class: 'badge manual' }, `size set by hand: ${pool.manualSize.size}`)
        : null,
      st ? decisionBadge(st.decision) : null,
    ),
    h(
      'p',
      { class: 'muted small' },
      `${pool.nodeKind} on ${pool.provider}${pool.upstream ? ` · sentries of ${pool.upstream}` : ''}`,
    ),
    sizeFigures(st),
    spark,
    pool.size
      ? sizeGauge(pool.size, st, { compact: true })
      : h(
          'p',
          { class: 'validator-line' },
          'Never scaled or replaced. ',
          validatorNodes.length
            ? validatorNodes.map((n) =>
                h(
                  'span',
                  { class: 'mono' },
                  `${n.id}: ${n.state}, height ${num(n.height)}, ${num(n.peers)} peers`,
                ),
              )
            : 'No node yet.',
        ),
    st
      ? h(
          'ul',
          { class: 'reasons compact' },
          keyReasons(st.reasons, 2).map((r) => h('li', {}, r.text)),
        )
      : null,
    healthLine(pool),
    h(
      'footer',
      { class: 'card-foot muted small' },
      st ? `decided ${ago(st.at)}` : '',
      pool.paused && pool.pausedBy ? ` · paused by ${pool.pausedBy}` : '',
    ),
  );
}

export function overviewPage(app) {
  const pools = h('div', { class: 'pool-grid', id: 'pool-grid' });
  const recent = h('ol', { class: 'timeline' });
  const summary = h('p', { class: 'summary' });
  const charts = new Map();
  const sparks = new Map();
  let sparksAt = 0;
  const root = h(
    'section',
    { class: 'page overview' },
    h('div', { class: 'page-head' }, h('h2', {}, 'Fleet overview'), summary),
    pools,
    h('h2', { class: 'section-title' }, 'Latest decisions that changed something'),
    recent,
  );
  return {
    root,
    title: 'Fleet overview',
    async refresh() {
      const [{ pools: list }, { nodes }, { decisions }] = await Promise.all([
        app.api.get('/api/v1/pools'),
        app.api.get('/api/v1/nodes'),
        app.api.get('/api/v1/decisions?limit=200'),
      ]);
      const ready = nodes.filter((n) => n.ready).length;
      replace(
        summary,
        `${list.length} pools · ${ready} of ${nodes.length} nodes ready`,
        list.some((p) => p.paused) ? ` · ${list.filter((p) => p.paused).length} paused` : '',
      );
      const renderCards = () =>
        replace(
          pools,
          list.map((p) =>
            poolCard(
              p,
              nodes.filter((n) => n.pool === p.name),
              sparkline(
                charts.get(p.name) ?? charts.set(p.name, new TimeChart()).get(p.name),
                sparks.get(p.name),
              ),
            ),
          ),
        );
      renderCards();
      const changed = decisions
        .filter((d) => d.actions.length > 0)
        .slice(-8)
        .reverse();
      replace(
        recent,
        changed.length
          ? changed.map((d) => decisionItem(d))
          : h('li', { class: 'muted' }, 'Nothing has changed yet.'),
      );
      // The sparklines last: nothing else waits for them.
      if (Date.now() - sparksAt >= SPARK_REFRESH_MS) {
        const now = Date.now();
        const answers = await Promise.all(
          list.map((p) =>
            app.api.get(
              `/api/v1/pools/${encodeURIComponent(p.name)}/series?from=${now - SPARK_SPAN_MS}&to=${now}&points=120`,
            ),
          ),
        );
        list.forEach((p, i) => {
          sparks.set(p.name, answers[i]);
        });
        sparksAt = now;
        renderCards();
      }
    },
  };
}
