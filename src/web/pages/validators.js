// Validators and standbys: each validator's node (height against the network's, peers
// against its sentries' min), its signed and missed blocks (the newest heights as a strip, and
// over any range the store holds as a chart, with failover's transitions on the same
// timeline), the sentries wired to it, standby pools, and each guarded validator's failover:
// its status and evidence, the standby, who signs, and the promote dry-run.

import { colour, TimeChart } from '../chart.js';
import { clock, h, num, replace } from '../dom.js';
import { liveStart, parseRange, RangeControls, resolveRange, showRangeInAddress } from '../time-range.js';
import { nodesTable, roleBadge, sizeFigures } from '../widgets.js';

const TRANSITION_COLOUR = { down: 'bad', suspect: 'warn', recovered: 'ok', healthy: 'ok' };

function transitionMarkers(f) {
  return (f?.transitions ?? []).map((t) => ({
    t: t.at,
    symbol: 'dot',
    className: `marker-${t.to}`,
    colour: TRANSITION_COLOUR[t.to] ?? 'warn',
    title: `${clock(t.at)} ${t.from} → ${t.to}: ${t.summary}`,
  }));
}

/** The newest heights failover read, one cell each: signed (green) or missed (red). */
function blockStrip(blocks) {
  if (!blocks.length)
    return h(
      'p',
      { class: 'muted small' },
      'No commits read yet (failover reads them through the sentries).',
    );
  const missed = blocks.filter((b) => !b.signed).length;
  return h(
    'div',
    { class: 'blocks', 'data-missed': String(missed), 'data-signed': String(blocks.length - missed) },
    h(
      'p',
      { class: 'small' },
      h('strong', {}, `${num(missed)} missed`),
      ` of the newest ${num(blocks.length)} blocks read (${num(blocks[0].height)}–${num(blocks.at(-1).height)})`,
    ),
    h(
      'div',
      {
        class: 'block-strip',
        role: 'img',
        'aria-label': `${missed} of the newest ${blocks.length} blocks missed`,
      },
      blocks.map((b) =>
        h('span', {
          class: `block ${b.signed ? 'signed' : 'missed'}`,
          title: `height ${b.height}: ${b.signed ? 'signed' : 'missed'}`,
        }),
      ),
    ),
  );
}

/** Charts of one validator: signatures, height against the network's, peers against the sentries' min. */
function validatorCharts(charts, val, series, range, width, onZoom) {
  const pts = series.points.filter((p) => p.validator);
  const x = pts.map((p) => p.at);
  const v = (k) => pts.map((p) => p.validator[k]);
  const markers = transitionMarkers(val.failover);
  const minSentries = val.sentryPools.reduce((a, sp) => a + sp.min, 0);
  const last = pts.at(-1)?.validator;
  const w = width > 1000 ? Math.floor((width - 32) / 3) : width;
  const from = liveStart(range, series.from, series.to, pts[0]?.at);
  const base = { width: w - 2, height: 170, from, to: series.to, x, markers, onZoom };
  const chart = (key) => charts.get(key) ?? charts.set(key, new TimeChart()).get(key);
  const figure = (key, title, now, model) =>
    h(
      'figure',
      { class: 'chart-card', 'data-chart': key },
      h('figcaption', {}, h('strong', {}, title), h('span', { class: 'muted' }, now)),
      chart(`${val.pool}/${key}`).update({ ...base, ...model }).el,
    );
  const behind = pts.map((p) =>
    p.validator.height !== null && p.validator.networkHeight !== null
      ? Math.max(0, p.validator.networkHeight - p.validator.height)
      : null,
  );
  const heightFigure = () =>
    figure('height', 'Height', last ? ` now ${num(last.height)}` : '', {
      integer: true,
      label: "The validator's height over time",
      series: [{ label: 'height', stroke: colour('metric'), values: v('height') }],
    });
  const peersFigure = figure(
    'peers',
    'Peers',
    last ? ` now ${num(last.peers)} · sentries' min ${minSentries}` : '',
    {
      integer: true,
      yMin: 0,
      label: "The validator's peers against its sentries' min, over time",
      series: [{ label: 'peers', stroke: colour('live'), step: true, values: v('peers') }],
      hlines: minSentries
        ? [{ y: minSentries, label: `sentries' min ${minSentries}`, stroke: colour('up') }]
        : [],
    },
  );
  // Signatures and the network's height come from failover's polls: only a guarded validator has them.
  if (!val.failover) return h('div', { class: 'charts validator-charts' }, heightFigure(), peersFigure);
  return h(
    'div',
    { class: 'charts validator-charts' },
    figure(
      'signatures',
      'Signed and missed blocks',
      last?.missed != null
        ? ` now ${last.missed} missed of the newest ${last.signed + last.missed}`
        : ' no commits read in this range',
      {
        integer: true,
        yMin: 0,
        label: 'Signed and missed blocks among the newest commits failover read, over time',
        series: [
          { label: 'signed', stroke: colour('ready'), step: true, values: v('signed') },
          { label: 'missed', stroke: colour('bad'), width: 2.6, step: true, values: v('missed') },
        ],
      },
    ),
    figure(
      'behind',
      'Behind the network',
      last
        ? ` now ${num(behind.at(-1))} blocks (height ${num(last.height)}, network ${num(last.networkHeight)})`
        : '',
      {
        integer: true,
        yMin: 0,
        label: "Blocks the validator's height is behind the network's, over time",
        series: [{ label: 'blocks behind', stroke: colour('metric'), values: behind }],
      },
    ),
    peersFigure,
  );
}

function sentryLine(sp) {
  const connected = sp.connected;
  const ok = connected !== null && connected >= sp.min;
  return h(
    'li',
    { class: ok ? 'ok' : 'warn' },
    h('a', { href: `#/pools/${encodeURIComponent(sp.pool)}` }, sp.pool),
    `: ${connected === null ? 'connections unknown' : `${connected} connected`}, ${sp.registered} registered, ${sp.ready} ready — the validator keeps at least min ${sp.min} connected sentries`,
  );
}

export function validatorsPage(app, params = new URLSearchParams()) {
  let range = parseRange(params);
  const charts = new Map();
  const controls = new RangeControls(range, (next) => {
    range = next;
    showRangeInAddress(range);
    app.refreshNow();
  });
  const validators = h('div', { class: 'validators' });
  const standby = h('div', { class: 'standby' });
  const failover = h('div', {});
  const root = h(
    'section',
    { class: 'page validators-page' },
    h('div', { class: 'page-head' }, h('h2', {}, 'Validators and standbys')),
    controls.el,
    validators,
    h('h3', { class: 'section-title' }, 'Standby pools'),
    standby,
    h('h3', { class: 'section-title' }, 'Failover and promote'),
    failover,
  );
  return {
    root,
    title: 'Validators',
    async refresh() {
      const v = await app.api.get('/api/v1/validators');
      const { from, to } = resolveRange(range);
      const seriesOf = new Map(
        await Promise.all(
          v.validators.map(async (val) => [
            val.pool,
            await app.api.get(`/api/v1/pools/${encodeURIComponent(val.pool)}/series?from=${from}&to=${to}`),
          ]),
        ),
      );
      const width = Math.max(320, validators.clientWidth || 1200);
      controls.render();
      replace(
        validators,
        v.validators.length
          ? v.validators.map((val) => {
              const node = val.nodes[0];
              return h(
                'article',
                { class: 'card validator-card', 'data-pool': val.pool },
                h(
                  'header',
                  { class: 'card-head' },
                  h('h3', {}, val.pool),
                  roleBadge('validator'),
                  node
                    ? h('span', { class: `state state-${node.state}` }, node.state)
                    : h('span', { class: 'badge warn' }, 'no node'),
                ),
                node
                  ? h(
                      'p',
                      { class: 'figures' },
                      h('span', {}, 'height '),
                      h('strong', { class: 'big' }, num(node.height)),
                      val.failover?.lastPoll?.networkHeight != null
                        ? h('span', {}, ` of the network's ${num(val.failover.lastPoll.networkHeight)}`)
                        : null,
                      h('span', { class: 'sep' }, ' · '),
                      h('span', {}, `${num(node.peers)} peers`),
                      val.failover
                        ? [
                            h('span', { class: 'sep' }, ' · '),
                            h(
                              'span',
                              { class: `badge ${STATUS_CLASS[val.failover.status] ?? ''}` },
                              `failover: ${val.failover.status}`,
                            ),
                          ]
                        : null,
                    )
                  : null,
                h(
                  'p',
                  { class: 'muted small' },
                  'Never scaled or health-replaced by Rampart (no fail marker: ',
                  val.failover ? 'failover watches it' : 'add failover to the pool to have it watched',
                  '); its signing key is never moved by it.',
                ),
                val.failover ? blockStrip(val.failover.blocks) : null,
                validatorCharts(charts, val, seriesOf.get(val.pool), range, width, (a, b) =>
                  controls.zoomTo(a, b),
                ),
                val.sentryPools.length
                  ? h('ul', { class: 'sentry-lines' }, val.sentryPools.map(sentryLine))
                  : h('p', { class: 'muted' }, 'No sentry pool in front of it.'),
                nodesTable(val.nodes, { showPool: false }),
              );
            })
          : h('p', { class: 'muted' }, 'No validator pool in the config.'),
      );
      replace(
        standby,
        v.standbyPools.length
          ? v.standbyPools.map((p) =>
              h(
                'article',
                { class: 'card' },
                h(
                  'header',
                  { class: 'card-head' },
                  h('h3', {}, h('a', { href: `#/pools/${encodeURIComponent(p.name)}` }, p.name)),
                  roleBadge('standby'),
                ),
                sizeFigures(p.status),
              ),
            )
          : h('p', { class: 'muted' }, 'No standby pool in the config (role: standby).'),
      );
      const guarded = v.validators.filter((val) => val.failover);
      replace(
        failover,
        guarded.length
          ? guarded.map((val) => failoverCard(val.pool, val.failover))
          : h('p', { class: 'muted' }, 'No validator pool has failover in the config.'),
      );
    },
  };
}

const STATUS_CLASS = { healthy: 'ok', suspect: 'warn', down: 'bad' };

function failoverCard(pool, f) {
  const poll = f.lastPoll;
  return h(
    'article',
    { class: 'card failover-card', 'data-pool': pool, 'aria-labelledby': `failover-${pool}` },
    h(
      'header',
      { class: 'card-head' },
      h('h3', { id: `failover-${pool}` }, `Failover of ${pool}`),
      h('span', { class: `badge ${STATUS_CLASS[f.status] ?? ''}`, 'data-status': f.status }, f.status),
    ),
    h(
      'p',
      { class: 'figures' },
      poll
        ? `last poll: ${poll.reachable ? `height ${num(poll.height)}` : 'unreachable'}, network ${num(poll.networkHeight)}`
        : 'not polled yet',
      h('span', { class: 'sep' }, ' · '),
      `last signed ${f.lastSignedSeen === null ? '—' : num(f.lastSignedSeen)}`,
      h('span', { class: 'sep' }, ' · '),
      `address ${f.address ?? 'not seen yet'}`,
    ),
    h(
      'p',
      {},
      f.signer
        ? `Signs now: ${f.signer.node} (promoted into ${f.signer.pool}).`
        : `Standby pool: ${f.standbyPool ?? 'none configured'}.`,
      f.fenced.length ? ` Fenced, never started again: ${f.fenced.join(', ')}.` : '',
    ),
    f.transitions.length
      ? h(
          'ol',
          { class: 'transitions' },
          f.transitions
            .slice(-5)
            .reverse()
            .map((t) =>
              h(
                'li',
                {},
                h('time', {}, new Date(t.at).toLocaleTimeString()),
                ` ${t.from} → ${t.to}: ${t.summary}`,
              ),
            ),
        )
      : h('p', { class: 'muted' }, 'No transition yet.'),
    h(
      'section',
      { class: 'dry-run', 'aria-label': 'Promote dry-run' },
      h('h4', {}, 'Promote dry-run'),
      f.dryRun
        ? [
            h(
              'p',
              {},
              `rampart validator promote --pool ${pool} --to ${f.dryRun.to} --key-dir DIR `,
              h('strong', {}, f.dryRun.ok ? 'would pass' : 'would be refused'),
              ' (the key is checked by the command).',
            ),
            h(
              'ul',
              { class: 'checks' },
              f.dryRun.checks.map((c) =>
                h(
                  'li',
                  { class: c.ok ? 'ok' : c.name === 'key' ? 'muted' : 'warn' },
                  `${c.ok ? '✓' : '✗'} ${c.name}: ${c.detail}`,
                ),
              ),
            ),
          ]
        : h(
            'p',
            { class: 'muted' },
            f.signer ? 'Promoted: nothing to check.' : 'No standby node to promote yet.',
          ),
    ),
  );
}
