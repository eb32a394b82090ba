// Builds the alert dispatcher from the config's `alerts` section: one receiver per entry, in
// order. An unknown kind is refused, never guessed at.

import type { AlertReceiverConfig, AlertsConfig } from '../config/schema.ts';
import { AlertDispatcher, type AlertDispatcherOptions, type AlertLog } from './alert-dispatcher.ts';
import type { AlertReceiver } from './alert-receiver.ts';
import { AlertmanagerReceiver } from './alertmanager-receiver.ts';
import { WebhookReceiver } from './webhook-receiver.ts';

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
  config: { readonly alerts: AlertsConfig },
  log: AlertLog,
  options: CreateAlertDispatcherOptions = {},
): AlertDispatcher {
  const receivers = config.alerts.receivers.map((r) => createReceiver(r, options));
  return new AlertDispatcher(receivers, { ...options, log, repeatIntervalMs: config.alerts.repeatInterval });
}

function createReceiver(r: AlertReceiverConfig, options: CreateAlertDispatcherOptions): AlertReceiver {
  const now = options.clock ? () => options.clock!.now() : undefined;
  switch (r.kind) {
    case 'alertmanager':
      return new AlertmanagerReceiver({
        name: r.name,
        url: r.url,
        timeoutMs: r.timeout,
        source: options.source,
        generatorURL: options.dashboardUrl,
        now,
      });
    case 'webhook':
      return new WebhookReceiver({
        name: r.name,
        url: r.url,
        timeoutMs: r.timeout,
        headers: r.headers,
        tokenFile: r.tokenFile,
        source: options.source,
        dashboardUrl: options.dashboardUrl,
        now,
      });
    default: {
      const unknown: never = r;
      throw new Error(`alert receiver kind ${(unknown as { kind: string }).kind} is not known`);
    }
  }
}
