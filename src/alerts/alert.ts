// What Rampart tells an operator: one state of one condition (firing or resolved), as plain
// data. Receivers turn it into their own wire format; the dispatcher delivers it.

import type { Alert as PlanAlert } from '../core/decide.ts';

export type AlertSeverity = 'critical' | 'warning' | 'info';
export type AlertStatus = 'firing' | 'resolved';

/** A value of evidence: what was measured or seen when the state was entered. */
export type EvidenceValue = string | number | boolean;

export interface Alert {
  /**
   * Stable identity of the condition across its states, e.g. `validator-down/validator`: a newer
   * state of the same key supersedes an older one still waiting to be delivered, and a resolved
   * state ends the firing one.
   */
  readonly key: string;
  /** The alert's name (Alertmanager's `alertname`), e.g. `RampartValidatorDown`. */
  readonly name: string;
  readonly severity: AlertSeverity;
  readonly status: AlertStatus;
  readonly pool?: string | undefined;
  readonly node?: string | undefined;
  /** One line: what is wrong (or that it no longer is). */
  readonly summary: string;
  /** More words: what Rampart did and what the operator may do. */
  readonly description?: string | undefined;
  /** Extra labels (identity in Alertmanager): keep them the same for every state of a key. */
  readonly labels?: Readonly<Record<string, string>> | undefined;
  /** What the transition was based on, e.g. `{ height: 1234, unreachableFor: '12s' }`. */
  readonly evidence?: Readonly<Record<string, EvidenceValue>> | undefined;
  /** When the condition began (ms since the epoch); the same for every state of one episode. */
  readonly startsAt: number;
  /**
   * Resolved: when the condition ended (ms since the epoch; default: when it is sent).
   * Firing: optional expiry of a one-off event (it stops firing then, unless sent again);
   * absent for a condition that fires until it is resolved.
   */
  readonly endsAt?: number | undefined;
}

/** How long a one-off event alert (no resolved state will follow) stays firing. Default 1h. */
export const EVENT_ALERT_TTL_MS = 60 * 60 * 1000;

/**
 * The alert for an alert a pool's plan yields (today: a node deleted after `joinRetries`
 * failed joins). It is a one-off event: firing until `at + ttlMs`, never resolved by Rampart.
 */
export function planAlertToAlert(
  pool: string,
  alert: PlanAlert,
  at: number,
  ttlMs = EVENT_ALERT_TTL_MS,
): Alert {
  return {
    key: `pool-alert/${pool}/${alert.node ?? '-'}`,
    name: 'RampartPoolAlert',
    severity: alert.severity,
    status: 'firing',
    pool,
    node: alert.node,
    summary: alert.text,
    startsAt: at,
    endsAt: at + ttlMs,
  };
}

/** `key=value` lines, keys sorted: evidence as one readable text. */
export function formatEvidence(evidence: Readonly<Record<string, EvidenceValue>>): string {
  return Object.keys(evidence)
    .sort()
    .map((k) => `${k}=${String(evidence[k])}`)
    .join('\n');
}
