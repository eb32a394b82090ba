// Every live node: lifecycle state, height and lag behind its validator, peers, fail marker
// against the tolerance, whether it is wired to its validator.

import { h, replace } from '../dom.js';
import { nodesTable } from '../widgets.js';

export function nodesPage(app) {
  const select = h(
    'select',
    { id: 'nodes-pool', 'aria-label': 'Show the nodes of' },
    h('option', { value: '' }, 'all pools'),
  );
  const summary = h('p', { class: 'summary' });
  const table = h('div', {});
  let filter = '';
  let pools = [];
  select.addEventListener('change', () => {
    filter = select.value;
    app.refreshNow();
  });
  const root = h(
    'section',
    { class: 'page nodes-page' },
    h(
      'div',
      { class: 'page-head' },
      h('h2', {}, 'Nodes'),
      summary,
      h('label', { class: 'filter' }, 'Pool ', select),
    ),
    table,
    h(
      'p',
      { class: 'muted small' },
      'Only ready nodes count as capacity. Lag is blocks behind the validator. A failed health check adds 5 to the fail marker, a passed one takes 1 off; past the tolerance the node is replaced.',
    ),
  );
  return {
    root,
    title: 'Nodes',
    async refresh() {
      const [{ nodes }, { pools: list }] = await Promise.all([
        app.api.get('/api/v1/nodes'),
        app.api.get('/api/v1/pools'),
      ]);
      const names = list.map((p) => p.name);
      if (names.join() !== pools.join()) {
        pools = names;
        replace(
          select,
          h('option', { value: '' }, 'all pools'),
          names.map((n) => h('option', { value: n }, n)),
        );
        select.value = filter;
      }
      const shown = filter ? nodes.filter((n) => n.pool === filter) : nodes;
      const byState = {};
      for (const n of shown) byState[n.state] = (byState[n.state] ?? 0) + 1;
      replace(
        summary,
        `${shown.length} live node${shown.length === 1 ? '' : 's'}: `,
        Object.entries(byState)
          .map(([state, count]) => `${count} ${state}`)
          .join(', ') || 'none',
      );
      replace(table, nodesTable(shown));
    },
  };
}
