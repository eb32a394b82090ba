// Validators and standbys: each validator's node (height, peers), the sentries wired to it,
// standby pools; failover and its promote dry-run have a place here, marked as not built yet.

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
      replace(
        failover,
        h(
          'article',
          { class: 'card not-built', 'aria-labelledby': 'failover-title' },
          h(
            'header',
            { class: 'card-head' },
            h('h3', { id: 'failover-title' }, 'Failover'),
            h('span', { class: 'badge later' }, 'not built yet'),
          ),
          h('p', {}, v.failover.note),
          h(
            'p',
            { class: 'muted' },
            'When it is built, this panel shows the outage detection per validator (unreachable, height stalled, missed blocks), the standby catching up elsewhere, and the promote dry-run: every double-sign guard and its state, before the operator runs rampart validator promote.',
          ),
          h(
            'section',
            { class: 'dry-run', 'aria-label': 'Promote dry-run' },
            h('h4', {}, 'Promote dry-run'),
            h(
              'p',
              { class: 'muted' },
              'Not available yet: there is nothing to show, and nothing here is made up.',
            ),
          ),
        ),
      );
    },
  };
}
