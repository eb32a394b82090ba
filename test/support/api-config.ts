// The small fleet config the API tests serve (a simnode validator, a sentry pool, a snapshot
// set), with the `controller.api` block each test varies.

/** Config text whose `controller.api` is `api` (a YAML flow mapping). */
export function apiTestConfig(api: string): string {
  return `version: 1
controller:
  evaluationInterval: 300ms
  store: { kind: sqlite, path: state.db }
  api: ${api}
providers: [ { name: here, kind: local, dataDir: nodes } ]
pools:
  - { name: validator, role: validator, provider: here, node: { kind: simnode } }
  - name: sentries
    role: sentry
    provider: here
    node: { kind: simnode, validatorPool: validator }
    size: { min: 1, capacity: 2, max: 3 }
snapshots:
  - { name: snaps, from: sentries, keep: 2, store: { kind: directory, path: snaps } }
`;
}
