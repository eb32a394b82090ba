// Validators and standbys: each validator's node (height, peers), the sentries wired to it,
// standby pools, and each guarded validator's failover: its status and evidence, the
// standby, who signs, recent transitions, and the promote dry-run (every guard as it stands).

import { h, num, replace } from '../dom.js';
import { nodesTable, roleBadge, sizeFigures } from '../widgets.js';

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

export function validatorsPage(app) {
  const validators = h('div', { class: 'validators' });
  const standby = h('div', { class: 'standby' });
  const failover = h('div', {});
  const root = h(
    'section',
    { class: 'page validators-page' },
    h('div', { class: 'page-head' }, h('h2', {}, 'Validators and standbys')),
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
                      h('span', { class: 'sep' }, ' · '),
                      h('span', {}, `${num(node.peers)} peers`),
                      h('span', { class: 'sep' }, ' · '),
                      h('span', {}, `fail marker ${node.failMarker}`),
                    )
                  : null,
                h(
                  'p',
                  { class: 'muted small' },
                  'Never scaled or replaced by Rampart; its signing key is never moved by it.',
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
