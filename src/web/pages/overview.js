// Fleet overview: every pool's size against min, capacity and max, what it decided last and
// why, its health; and the latest decisions that changed something.

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

function poolCard(pool, validatorNodes) {
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
      replace(
        pools,
        list.map((p) =>
          poolCard(
            p,
            nodes.filter((n) => n.pool === p.name),
          ),
        ),
      );
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
    },
  };
}
