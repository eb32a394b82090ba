// The decisions timeline: every decision with its reasons in plain words, every action with
// its caller and outcome, every alert, newest first.

import { h, replace } from '../dom.js';
import { actionItem, decisionItem, eventItem } from '../widgets.js';

export function decisionsPage(app) {
  const select = h('select', { id: 'timeline-pool', 'aria-label': 'Show the history of' });
  const onlyChanges = h('input', { type: 'checkbox', id: 'only-changes' });
  const list = h('ol', { class: 'timeline', id: 'timeline' });
  let pool = '';
  let pools = [];
  select.addEventListener('change', () => {
    pool = select.value;
    app.refreshNow();
  });
  onlyChanges.addEventListener('change', () => app.refreshNow());
  const root = h(
    'section',
    { class: 'page decisions-page' },
    h(
      'div',
      { class: 'page-head' },
      h('h2', {}, 'Decisions'),
      h('label', { class: 'filter' }, 'Pool ', select),
      h('label', { class: 'filter' }, onlyChanges, ' only decisions that changed something'),
    ),
    list,
  );
  return {
    root,
    title: 'Decisions',
    async refresh() {
      const q = pool ? `pool=${encodeURIComponent(pool)}&` : '';
      const [{ pools: all }, { decisions }, { actions }, { events }] = await Promise.all([
        app.api.get('/api/v1/pools'),
        app.api.get(`/api/v1/decisions?${q}limit=150`),
        app.api.get(`/api/v1/actions?${q}limit=150`),
        app.api.get(`/api/v1/events?${q}limit=100`),
      ]);
      const names = all.map((p) => p.name);
      if (names.join() !== pools.join()) {
        pools = names;
        replace(
          select,
          h('option', { value: '' }, 'all pools'),
          names.map((n) => h('option', { value: n }, n)),
        );
        select.value = pool;
      }
      const changes = onlyChanges.checked;
      const items = [
        ...decisions
          .filter((d) => !changes || d.actions.length > 0)
          .map((d) => ({ at: d.at, el: () => decisionItem(d) })),
        ...(changes ? [] : actions.map((a) => ({ at: a.startedAt, el: () => actionItem(a) }))),
        ...events.map((e) => ({ at: e.at, el: () => eventItem(e) })),
      ]
        .sort((a, b) => b.at - a.at)
        .slice(0, 150);
      replace(
        list,
        items.length ? items.map((i) => i.el()) : h('li', { class: 'muted' }, 'No decisions yet.'),
      );
    },
  };
}
