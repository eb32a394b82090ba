// Files no snapshot, image or restore may ever carry: node keys and signing state
// (invariant 7). Here, in the pure core, so the snapshot code, the node kinds and the
// providers' boot scripts all check one list without importing each other.

/** Names a snapshot must never contain, wherever they sit: keys and signing state. */
export const FORBIDDEN_FILES = ['priv_validator_key.json', 'node_key.json', 'priv_validator_state.json'];

/** Whether `relPath` (with / separators) names one of the FORBIDDEN_FILES, in any folder. */
export function isForbidden(relPath: string): boolean {
  const base = relPath.split('/').pop() ?? relPath;
  return FORBIDDEN_FILES.includes(base);
}
