// The dashboard: a hash router over its pages, a live refresh every two seconds (polling, so
// the bearer token goes in a header), the controller's status in the header, and the token
// prompt when the API asks for one. Keys 1–6 switch pages.

import { ApiClient } from './api-client.js';
import { ago, h, replace } from './dom.js';
import { decisionsPage } from './pages/decisions.js';
import { nodesPage } from './pages/nodes.js';
import { overviewPage } from './pages/overview.js';
import { poolPage } from './pages/pool.js';
import { snapshotsPage } from './pages/snapshots.js';
import { validatorsPage } from './pages/validators.js';
import { splitHash } from './time-range.js';

const REFRESH_MS = 2000;

const NAV = [
  { hash: '#/', label: 'Overview', key: '1' },
  { hash: '#/pools', label: 'Pools', key: '2' },
  { hash: '#/nodes', label: 'Nodes', key: '3' },
  { hash: '#/decisions', label: 'Decisions', key: '4' },
  { hash: '#/snapshots', label: 'Snapshots', key: '5' },
  { hash: '#/validators', label: 'Validators', key: '6' },
];

const main = document.getElementById('main');
const status = document.getElementById('controller-status');
const updated = document.getElementById('updated');
const banner = document.getElementById('banner');
const nav = document.getElementById('nav');
const tokenDialog = document.getElementById('token-dialog');
const tokenForm = document.getElementById('token-form');
const tokenInput = document.getElementById('token-input');
const tokenReason = document.getElementById('token-reason');

const api = new ApiClient((reason) => {
  tokenReason.textContent = reason;
  if (!tokenDialog.open) tokenDialog.showModal();
});

tokenForm.addEventListener('submit', (event) => {
  event.preventDefault();
  api.token = tokenInput.value.trim();
  tokenInput.value = '';
  tokenDialog.close();
  app.refreshNow();
});

let page = null;
let lastOk = 0;
let timer = null;
let inFlight = null;
let poolNames = [];

const app = {
  api,
  /** Refreshes the current page now (after a write, a filter change). */
  refreshNow: () => refresh(),
};

/** The page a hash names, with its query (a chart range: `#/pools/sentries?last=1h`). */
function routeOf(hash) {
  const [path, params] = splitHash(hash);
  const m = /^\/pools\/(.+)$/.exec(path);
  if (m) return { name: 'pool', pool: decodeURIComponent(m[1]), params };
  if (path === '/pools')
    return { name: 'pool', pool: poolNames.find((p) => p !== 'validator') ?? poolNames[0], params };
  const known = {
    '/nodes': 'nodes',
    '/decisions': 'decisions',
    '/snapshots': 'snapshots',
    '/validators': 'validators',
  };
  return { name: known[path] ?? 'overview', params };
}

function makePage(route) {
  switch (route.name) {
    case 'pool':
      return route.pool ? poolPage(app, route.pool, route.params) : overviewPage(app);
    case 'nodes':
      return nodesPage(app);
    case 'decisions':
      return decisionsPage(app);
    case 'snapshots':
      return snapshotsPage(app);
    case 'validators':
      return validatorsPage(app, route.params);
    default:
      return overviewPage(app);
  }
}

function renderNav(route) {
  replace(
    nav,
    NAV.map((item) => {
      const current =
        (item.hash === '#/' && route.name === 'overview') ||
        (item.hash === '#/pools' && route.name === 'pool') ||
        item.hash === `#/${route.name}`;
      return h(
        'a',
        {
          class: 'nav-link',
          href: item.hash,
          'aria-current': current ? 'page' : null,
          'aria-keyshortcuts': item.key,
          'data-key': `nav-${item.key}`,
        },
        item.label,
        h('kbd', { 'aria-hidden': 'true' }, item.key),
      );
    }),
  );
}

async function refreshHeader() {
  const c = await api.get('/api/v1/controller');
  replace(
    status,
    h('span', { class: `dot ${c.leading ? 'leading' : 'standby'}`, 'aria-hidden': 'true' }),
    c.leading ? `leading · term ${c.term}` : 'standing by (another replica acts)',
    h('span', { class: 'muted' }, ` · ${c.store} · ${c.coordination}`),
  );
  const { pools } = await api.get('/api/v1/pools');
  poolNames = pools.filter((p) => p.size !== null).map((p) => p.name);
}

async function refresh() {
  if (inFlight) return inFlight;
  inFlight = (async () => {
    try {
      await refreshHeader();
      await page?.refresh();
      lastOk = Date.now();
      banner.hidden = true;
      main.setAttribute('aria-busy', 'false');
    } catch (e) {
      if (e.status !== 401) {
        banner.hidden = false;
        banner.textContent = `${e.message}${lastOk ? ` · last update ${ago(lastOk)}` : ''}`;
      }
    } finally {
      inFlight = null;
      updated.textContent = lastOk ? `updated ${ago(lastOk)}` : 'connecting…';
    }
  })();
  return inFlight;
}

function show() {
  const route = routeOf(location.hash || '#/');
  page = makePage(route);
  document.title = `${page.title} · Rampart`;
  renderNav(route);
  main.setAttribute('aria-busy', 'true');
  replace(main, page.root);
  refresh();
}

function schedule() {
  clearTimeout(timer);
  timer = setTimeout(async () => {
    if (document.visibilityState === 'visible') await refresh();
    schedule();
  }, REFRESH_MS);
}

window.addEventListener('hashchange', () => {
  show();
  main.focus({ preventScroll: true });
});

document.addEventListener('keydown', (event) => {
  const target = event.target;
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (target instanceof HTMLElement && target.closest('input, select, textarea, dialog')) return;
  const item = NAV.find((n) => n.key === event.key);
  if (item) {
    location.hash = item.hash;
    event.preventDefault();
  }
});

document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') refresh();
});

await refreshHeader().catch(() => undefined);
show();
schedule();
