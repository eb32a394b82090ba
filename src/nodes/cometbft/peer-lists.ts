// The three peer lists of a CometBFT node's config.toml (persistent, private, unconditional),
// edited in place and written atomically: sentry registration, and rewiring after a promotion.

import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { getTomlValue, setTomlValues, splitList } from './config-toml.ts';

/** Rewrites the three peer lists of a node's config.toml with `edit`. */
export async function editPeerLists(
  home: string,
  edit: (lists: { persistent: string[]; privateIds: string[]; unconditional: string[] }) => void,
): Promise<void> {
  const file = path.join(home, 'config', 'config.toml');
  const text = await readFile(file, 'utf8');
  const lists = {
    persistent: splitList(getTomlValue(text, 'p2p', 'persistent_peers')),
    privateIds: splitList(getTomlValue(text, 'p2p', 'private_peer_ids')),
    unconditional: splitList(getTomlValue(text, 'p2p', 'unconditional_peer_ids')),
  };
  edit(lists);
  const next = setTomlValues(text, {
    p2p: {
      persistent_peers: lists.persistent.join(','),
      private_peer_ids: lists.privateIds.join(','),
      unconditional_peer_ids: lists.unconditional.join(','),
    },
  });
  if (next !== text) {
    // Written whole to a temp name and renamed: a crash never leaves half a config.
    await writeFile(`${file}.rampart-tmp`, next);
    await rename(`${file}.rampart-tmp`, file);
  }
}

export const addUnique = (list: string[], item: string) => {
  if (!list.includes(item)) list.push(item);
};
