// Snapshot sets: where they are kept, how often, the complete snapshots new nodes restore
// from, and a button that asks the controller for one now. Beside them, the machine images
// baked from pools whose provider bakes them (a GCE image family, AWS AMIs).

import { ApiError } from '../api-client.js';
import { ago, bytes, dateTime, duration, h, num, replace } from '../dom.js';

function setCard(app, set) {
  const message = h('p', { class: 'message', role: 'status', 'aria-live': 'polite' });
  const button = h(
    'button',
    { type: 'button', class: 'button', 'data-key': `take-${set.name}` },
    'Take a snapshot now',
  );
  button.addEventListener('click', async () => {
    button.disabled = true;
    message.className = 'message info';
    message.textContent =
      'Asked the controller; a copy takes a while (the source node is stopped meanwhile)…';
    try {
      const r = await app.api.post('/api/v1/snapshots', { set: set.name });
      message.className = `message ${r.status === 200 ? 'ok' : r.status === 202 ? 'warn' : 'bad'}`;
      message.textContent =
        r.status === 200
          ? r.body.message
          : r.status === 202
            ? 'Recorded: the controller is on it (this page updates when it is done).'
            : `Not taken: ${r.body.error}`;
    } catch (e) {
      message.className = 'message bad';
      message.textContent = e instanceof ApiError ? e.message : String(e);
    }
    button.disabled = false;
  });
  return h(
    'article',
    { class: 'card snapshot-set', 'data-set': set.name },
    h(
      'header',
      { class: 'card-head' },
      h('h3', {}, set.name),
      h(
        'span',
        { class: 'muted' },
        `from pool ${set.from} · ${set.everyMs ? `every ${duration(set.everyMs)}` : 'on demand only'} · keeps ${set.keep}`,
      ),
      h('span', { class: 'spacer' }),
      button,
    ),
    h('p', { class: 'muted small mono' }, set.location),
    message,
    set.error ? h('p', { class: 'message bad' }, `The store cannot be listed: ${set.error}`) : null,
    set.snapshots.length
      ? h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            {},
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                ['Snapshot', 'Taken', 'Height', 'Size', 'Files', 'From node'].map((t, i) =>
                  h('th', { scope: 'col', class: i >= 2 && i <= 4 ? 'num' : null }, t),
                ),
              ),
            ),
            h(
              'tbody',
              {},
              set.snapshots.map((sn, i) =>
                h(
                  'tr',
                  {},
                  h(
                    'th',
                    { scope: 'row', class: 'mono' },
                    sn.id,
                    i === 0 ? h('span', { class: 'badge ok' }, 'newest: new nodes restore it') : null,
                  ),
                  h('td', { title: dateTime(sn.createdAt) }, ago(sn.createdAt)),
                  h('td', { class: 'num' }, num(sn.height)),
                  h('td', { class: 'num' }, bytes(sn.totalBytes)),
                  h('td', { class: 'num' }, num(sn.files)),
                  h('td', { class: 'mono' }, sn.sourceNode),
                ),
              ),
            ),
          ),
        )
      : h('p', { class: 'muted' }, 'No complete snapshot yet: new nodes sync from the chain.'),
    set.incomplete.length
      ? h(
          'p',
          { class: 'muted small' },
          `Incomplete (no manifest, never restored): ${set.incomplete.join(', ')}`,
        )
      : null,
  );
}

function imagesCard(baked) {
  return h(
    'article',
    { class: 'card snapshot-set', 'data-images': baked.pool },
    h(
      'header',
      { class: 'card-head' },
      h('h3', {}, `Images of ${baked.pool}`),
      h(
        'span',
        { class: 'muted' },
        `baked by ${baked.provider} (${baked.providerKind}) · ${baked.everyMs ? `every ${duration(baked.everyMs)}` : 'on demand only'} · keeps ${baked.keep}`,
      ),
    ),
    baked.error ? h('p', { class: 'message bad' }, `The images cannot be listed: ${baked.error}`) : null,
    baked.images.length
      ? h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            {},
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                ['Image', 'Made', 'Id'].map((t) => h('th', { scope: 'col' }, t)),
              ),
            ),
            h(
              'tbody',
              {},
              baked.images.map((image, i) =>
                h(
                  'tr',
                  {},
                  h(
                    'th',
                    { scope: 'row', class: 'mono' },
                    image.name,
                    i === 0 ? h('span', { class: 'badge ok' }, 'newest: new nodes boot it') : null,
                  ),
                  h('td', { title: dateTime(image.createdAt) }, ago(image.createdAt)),
                  h('td', { class: 'mono' }, image.id ?? ''),
                ),
              ),
            ),
          ),
        )
      : h('p', { class: 'muted' }, 'No image baked yet: new nodes boot the template’s own image.'),
  );
}

export function snapshotsPage(app) {
  const sets = h('div', { class: 'sets' });
  const root = h(
    'section',
    { class: 'page snapshots-page' },
    h(
      'div',
      { class: 'page-head' },
      h('h2', {}, 'Snapshots'),
      h(
        'p',
        { class: 'summary' },
        'Taken from a node the validator does not need, stopped for the copy; never the validator, never keys.',
      ),
    ),
    sets,
  );
  let shown = '';
  return {
    root,
    title: 'Snapshots',
    async refresh() {
      const answer = await app.api.get('/api/v1/snapshots');
      // Rebuilt only when something changed, so a message under a button stays readable.
      const images = answer.images ?? [];
      const signature = JSON.stringify([
        answer.sets.map((s) => [s.name, s.snapshots.map((x) => x.id), s.incomplete, s.error]),
        images.map((b) => [b.pool, b.images.map((x) => x.name), b.error]),
      ]);
      if (signature === shown) return;
      shown = signature;
      replace(sets, [
        ...(answer.sets.length
          ? answer.sets.map((s) => setCard(app, s))
          : images.length
            ? []
            : [h('p', { class: 'muted' }, 'No snapshot sets in the config (snapshots: in rampart.yaml).')]),
        ...images.map(imagesCard),
      ]);
    },
  };
}
