// Every alert receiver kind: the slice of `alerts.receivers[]` each reads and how each is
// built from it. A new receiver is a file beside this one and one line here.

import type { z } from 'zod';
import { createFrom, type KindSchema, type Plugin, unionOf } from '../config-kit/plugin.ts';
import type { AlertReceiver } from './alert-receiver.ts';
import { AlertmanagerReceiver } from './alertmanager-receiver.ts';
import { alertmanagerReceiverConfig, webhookReceiverConfig } from './config.ts';
import { WebhookReceiver } from './webhook-receiver.ts';

/** What a receiver is built with besides its entry. */
export interface AlertReceiverDeps {
  /** Which Rampart sends: Alertmanager's `rampart` label and the webhook body's `source`. */
  readonly source?: string | undefined;
  /** A link back to Rampart's dashboard: Alertmanager's generatorURL, the webhook body's url. */
  readonly dashboardUrl?: string | undefined;
  readonly now?: (() => number) | undefined;
}

/** An alert receiver kind, as the config and the wiring point see it. */
export type AlertReceiverPlugin<S extends KindSchema = KindSchema> = Plugin<
  S,
  AlertReceiverDeps,
  AlertReceiver
>;

const receiver = <S extends KindSchema>(p: AlertReceiverPlugin<S>) => p;

/** Every entry has its name by the time it is built (the schema names unnamed ones). */
const named = (r: { readonly name?: string | undefined; readonly kind: string }) => r.name ?? r.kind;

export const ALERT_RECEIVERS = [
  receiver({
    config: alertmanagerReceiverConfig,
    create: (r, deps) =>
      new AlertmanagerReceiver({
        name: named(r),
        url: r.url,
        timeoutMs: r.timeout,
        source: deps.source,
        generatorURL: deps.dashboardUrl,
        now: deps.now,
      }),
  }),
  receiver({
    config: webhookReceiverConfig,
    create: (r, deps) =>
      new WebhookReceiver({
        name: named(r),
        url: r.url,
        timeoutMs: r.timeout,
        headers: r.headers,
        tokenFile: r.tokenFile,
        source: deps.source,
        dashboardUrl: deps.dashboardUrl,
        now: deps.now,
      }),
  }),
] as const;

/** An `alerts.receivers[]` entry: one of the registered slices. */
export const alertReceiverConfig = unionOf(ALERT_RECEIVERS);
export type AlertReceiverConfig = z.output<typeof alertReceiverConfig> & { readonly name: string };

/** Builds the receiver an entry names. */
export function createAlertReceiver(r: AlertReceiverConfig, deps: AlertReceiverDeps): AlertReceiver {
  return createFrom(ALERT_RECEIVERS, r, deps, 'alert receiver');
}
