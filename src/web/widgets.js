// Pieces several dashboard pages share: the size gauge (ready and live nodes against min,
// capacity and max), decision and action entries in plain words, badges, the nodes table.

import { ago, clock, dateTime, h, num, s } from './dom.js';

export const DECISION_WORDS = {
  'scale-up': 'Scaled up',
  'scale-down': 'Scaled down',
  replenish: 'Replenished',
  replace: 'Replaced a node',
  rejoin: 'Restarted a join',
  bootstrap: 'Started',
  hold: 'Holding',
  steady: 'Steady',
};

export function decisionBadge(decision) {
  return h('span', { class: `badge decision decision-${decision}` }, DECISION_WORDS[decision] ?? decision);
}

export function roleBadge(role) {
  return h('span', { class: `badge role role-${role}` }, role);
}

/** The reasons a person wants first: what fired or held, not the quiet rules. */
export function keyReasons(reasons, limit = 3) {
  const quiet = new Set(['rule-quiet']);
  return reasons.filter((r) => !quiet.has(r.code)).slice(0, limit);
}

/** A one-line sentence for a decision: "Scaled up: 3 → 5 nodes". */
export function decisionSentence(d) {
  const words = DECISION_WORDS[d.decision] ?? d.decision;
  if (d.desired !== d.live) return `${words}: ${d.live} → ${d.desired} nodes`;
  return `${words} at ${d.live} node${d.live === 1 ? '' : 's'}`;
}

/**
 * Slots 1..max as cells: ready (solid), joining or leaving (hatched), empty; min and capacity
 * marked below, the size it heads for marked above. A bar instead of cells past 40 slots.
 */
export function sizeGauge(size, status, { compact = false } = {}) {
  const ready = status?.ready ?? 0;
  const live = status?.live ?? 0;
  const desired = status?.desired ?? live;
  const max = Math.max(size.max, live, 1);
  const width = compact ? 320 : 520;
  const height = 58;
  const left = 4;
  const usable = width - 8;
  const cell = usable / max;
  const top = 16;
  const barH = 18;
  const svg = s('svg', {
    class: 'gauge',
    viewBox: `0 0 ${width} ${height}`,
    width: '100%',
    height,
    preserveAspectRatio: 'xMinYMid meet',
    role: 'img',
    'aria-label': `${ready} ready and ${live} live nodes, heading for ${desired}; min ${size.min}, capacity ${size.capacity}, max ${size.max}`,
  });
  if (max <= 40) {
    for (let i = 0; i < max; i++) {
      const cls =
        i < ready ? 'slot ready' : i < live ? 'slot joining' : i < size.max ? 'slot empty' : 'slot over';
      svg.append(
        s('rect', { class: cls, x: left + i * cell + 1.5, y: top, width: cell - 3, height: barH, rx: 3 }),
      );
    }
  } else {
    svg.append(s('rect', { class: 'slot empty', x: left, y: top, width: usable, height: barH, rx: 3 }));
    svg.append(
      s('rect', {
        class: 'slot joining',
        x: left,
        y: top,
        width: (usable * live) / max,
        height: barH,
        rx: 3,
      }),
    );
    svg.append(
      s('rect', { class: 'slot ready', x: left, y: top, width: (usable * ready) / max, height: barH, rx: 3 }),
    );
  }
  // Labels sit below their mark; min leans left and capacity right, so adjacent ones never collide.
  const mark = (n, label, cls, lean) => {
    const x = left + n * cell;
    svg.append(s('line', { class: `gauge-mark ${cls}`, x1: x, x2: x, y1: top - 3, y2: top + barH + 3 }));
    let anchor = lean;
    if (x < 40) anchor = 'start';
    else if (x > width - 40) anchor = 'end';
    const dx = anchor === 'start' ? 2 : anchor === 'end' ? -2 : 0;
    svg.append(
      s('text', { class: `gauge-label ${cls}`, x: x + dx, y: top + barH + 15, 'text-anchor': anchor }, label),
    );
  };
  if (size.min === size.capacity) mark(size.min, `min = capacity ${size.min}`, 'capacity', 'middle');
  else {
    mark(size.min, `min ${size.min}`, 'min', 'end');
    mark(
      size.capacity,
      `capacity ${size.capacity}`,
      'capacity',
      size.max - size.capacity < 3 ? 'end' : 'start',
    );
  }
  mark(size.max, `max ${size.max}`, 'max', 'end');
  if (desired !== live) {
    const x = left + desired * cell;
    svg.append(s('path', { class: 'gauge-desired', d: `M${x - 5},2 L${x + 5},2 L${x},10 Z` }));
    svg.append(
      s(
        'text',
        { class: 'gauge-label desired', x: x + 8, y: 10, 'text-anchor': x > width - 90 ? 'end' : 'start' },
        `→ ${desired}`,
      ),
    );
  }
  return svg;
}

export function sizeFigures(status) {
  if (!status) return h('p', { class: 'figures muted' }, 'not observed yet');
  return h(
    'p',
    { class: 'figures' },
    h('strong', { class: 'big' }, String(status.ready)),
    h('span', {}, ' ready'),
    h('span', { class: 'sep' }, ' · '),
    h('span', {}, `${status.live} live`),
    status.desired !== status.live ? h('span', { class: 'heading' }, ` → ${status.desired}`) : null,
  );
}

export function reasonList(reasons, { all = false } = {}) {
  const shown = all ? reasons : keyReasons(reasons, 6);
  if (shown.length === 0) return null;
  return h(
    'ul',
    { class: 'reasons' },
    shown.map((r) => h('li', { class: `reason reason-${r.code}` }, r.text)),
  );
}

export function decisionItem(d, { showPool = true } = {}) {
  const quiet = d.reasons.filter((r) => r.code === 'rule-quiet');
  return h(
    'li',
    {
      class: `timeline-item decision-item decision-${d.decision}`,
      'data-decision': d.decision,
      'data-pool': d.pool,
    },
    h(
      'div',
      { class: 'timeline-head' },
      h('time', { datetime: new Date(d.at).toISOString(), title: dateTime(d.at) }, clock(d.at)),
      showPool ? h('a', { class: 'pool-link', href: `#/pools/${encodeURIComponent(d.pool)}` }, d.pool) : null,
      decisionBadge(d.decision),
      h('span', { class: 'sentence' }, decisionSentence(d)),
      h('span', { class: 'muted' }, `${d.ready} ready / ${d.live} live`),
    ),
    d.actions.length ? h('p', { class: 'actions-line' }, `Did: ${d.actions.join('; ')}`) : null,
    reasonList(d.reasons),
    quiet.length
      ? h(
          'details',
          { class: 'quiet' },
          h('summary', {}, `${quiet.length} rule${quiet.length === 1 ? '' : 's'} not firing`),
          reasonList(quiet, { all: true }),
        )
      : null,
  );
}

const OUTCOME_CLASS = {
  succeeded: 'ok',
  adopted: 'ok',
  'finished-after-restart': 'ok',
  failed: 'bad',
  abandoned: 'warn',
};

export function actionItem(a, { showPool = true } = {}) {
  const byPerson = a.caller !== 'controller';
  return h(
    'li',
    {
      class: `timeline-item action-item${byPerson ? ' by-person' : ''}`,
      'data-kind': a.kind,
      'data-pool': a.pool,
    },
    h(
      'div',
      { class: 'timeline-head' },
      h(
        'time',
        { datetime: new Date(a.startedAt).toISOString(), title: dateTime(a.startedAt) },
        clock(a.startedAt),
      ),
      showPool ? h('a', { class: 'pool-link', href: `#/pools/${encodeURIComponent(a.pool)}` }, a.pool) : null,
      h('span', { class: 'badge action' }, a.kind),
      h('span', { class: 'sentence' }, `${a.nodeId ? `${a.nodeId} ` : ''}(${a.cause})`),
      h(
        'span',
        { class: `badge outcome ${OUTCOME_CLASS[a.outcome] ?? 'pending'}` },
        a.outcome ?? 'in flight',
      ),
    ),
    a.outcomeDetail || byPerson
      ? h(
          'p',
          { class: 'muted detail' },
          byPerson ? `by ${a.caller}` : null,
          byPerson && a.outcomeDetail ? ' — ' : null,
          a.outcomeDetail ?? null,
        )
      : null,
  );
}

export function eventItem(e) {
  return h(
    'li',
    { class: `timeline-item event-item severity-${e.severity}` },
    h(
      'div',
      { class: 'timeline-head' },
      h('time', { datetime: new Date(e.at).toISOString(), title: dateTime(e.at) }, clock(e.at)),
      e.pool ? h('a', { class: 'pool-link', href: `#/pools/${encodeURIComponent(e.pool)}` }, e.pool) : null,
      h('span', { class: `badge severity ${e.severity}` }, e.severity),
      h('span', { class: 'sentence' }, e.text),
    ),
  );
}

function failBar(n) {
  // A validator is never health-replaced: it has no tolerance to count against.
  if (n.failTolerance === null)
    return h(
      'span',
      { class: 'fail muted', title: 'validators are never health-replaced (failover watches them)' },
      'not counted',
    );
  const share = n.failTolerance > 0 ? Math.min(1, n.failMarker / n.failTolerance) : n.failMarker > 0 ? 1 : 0;
  const cls = share >= 0.75 ? 'bad' : share > 0 ? 'warn' : 'ok';
  const bar = h('span', { class: 'failbar' }, h('span', { class: `failbar-fill ${cls}` }));
  bar.firstChild.style.width = `${Math.round(share * 100)}%`;
  return h(
    'span',
    { class: 'fail', title: `fail marker ${n.failMarker} of tolerance ${n.failTolerance}` },
    bar,
    h('span', { class: 'num' }, `${n.failMarker}/${n.failTolerance}`),
  );
}

function wired(n) {
  if (n.connected === true) return h('span', { class: 'ok' }, 'connected');
  if (n.registered) return h('span', { class: 'warn' }, 'registered');
  if (n.connected === false) return h('span', { class: 'muted' }, 'not yet');
  return h('span', { class: 'muted' }, '–');
}

export function nodesTable(nodes, { showPool = true } = {}) {
  if (nodes.length === 0) return h('p', { class: 'muted empty' }, 'No live nodes.');
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'nodes' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col' }, 'Node'),
          showPool ? h('th', { scope: 'col' }, 'Pool') : null,
          h('th', { scope: 'col' }, 'State'),
          h('th', { scope: 'col', class: 'num' }, 'Height'),
          h('th', { scope: 'col', class: 'num' }, 'Lag'),
          h('th', { scope: 'col', class: 'num' }, 'Peers'),
          h('th', { scope: 'col' }, 'Fail marker'),
          h('th', { scope: 'col' }, 'Wired'),
          h('th', { scope: 'col' }, 'Age'),
          h('th', { scope: 'col' }, 'Detail'),
        ),
      ),
      h(
        'tbody',
        {},
        nodes.map((n) =>
          h(
            'tr',
            { 'data-node': n.id, 'data-state': n.state },
            h('th', { scope: 'row', class: 'mono' }, n.id),
            showPool ? h('td', {}, h('a', { href: `#/pools/${encodeURIComponent(n.pool)}` }, n.pool)) : null,
            h(
              'td',
              {},
              h(
                'span',
                { class: `state state-${n.state}` },
                n.maintenance ? `${n.state} (maintenance)` : n.state,
              ),
            ),
            h('td', { class: 'num' }, num(n.height)),
            h(
              'td',
              { class: `num${n.lag !== null && n.lag > 5 ? ' warn' : ''}` },
              n.lag === null ? '–' : num(n.lag),
            ),
            h('td', { class: 'num' }, num(n.peers)),
            h('td', {}, failBar(n)),
            h('td', {}, wired(n)),
            h('td', { class: 'muted' }, ago(n.createdAt).replace(' ago', '')),
            h('td', { class: 'detail' }, n.maintenance ?? n.detail ?? ''),
          ),
        ),
      ),
    ),
  );
}
