// Builds the alert dispatcher from the config's `alerts` section: one receiver per entry, in
// order. An unknown kind is refused, never guessed at.

import { AlertDispatcher, type AlertDispatcherOptions, type AlertLog } from './alert-dispatcher.ts';
import type { AlertReceiver } from './alert-receiver.ts';
import { type AlertReceiverConfig, createAlertReceiver } from './registry.ts';

export interface CreateAlertDispatcherOptions
  extends Omit<AlertDispatcherOptions, 'log' | 'repeatIntervalMs'> {
  /**
   * Which Rampart sends: Alertmanager's `rampart` label and the webhook body's `source`. Keep it
   * the same on every replica, so a resolve from a new leader ends the old leader's alert. Default rampart.
   */
  readonly source?: string | undefined;
  /** A link back to Rampart's dashboard: Alertmanager's generatorURL, the webhook body's url. */
  readonly dashboardUrl?: string | undefined;
}

/**
 * The dispatcher for `config.alerts` (the whole Config fits). Throws when a webhook's tokenFile
 * cannot be read: naming the receiver and the file, never the token.
 */
export function createAlertDispatcher(
  config: {
    readonly alerts: { readonly receivers: readonly AlertReceiverConfig[]; readonly repeatInterval: number };
  },
  log: AlertLog,
  options: CreateAlertDispatcherOptions = {},
): AlertDispatcher {
  const receivers = config.alerts.receivers.map((r) => createReceiver(r, options));
  return new AlertDispatcher(receivers, { ...options, log, repeatIntervalMs: config.alerts.repeatInterval });
}

function createReceiver(r: AlertReceiverConfig, options: CreateAlertDispatcherOptions): AlertReceiver {
  const now = options.clock ? () => options.clock!.now() : undefined;
  return createAlertReceiver(r, { source: options.source, dashboardUrl: options.dashboardUrl, now });
}
