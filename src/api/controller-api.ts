// A controller with its own metrics, and the HTTP API beside it: what `rampart up` and
// `rampart demo` run (and the dashboard tests, in-process).

import type { Logger } from 'pino';
import { createAlertDispatcher } from '../alerts/create-alert-dispatcher.ts';
import type { Config } from '../config/schema.ts';
import { Controller } from '../controller/controller.ts';
import { createRuntime, type Runtime } from '../runtime/runtime.ts';
import type { Store } from '../store/store.ts';
import { ApiStartError } from './auth.ts';
import { ControllerTelemetry } from './controller-telemetry.ts';
import { type ApiServer, startApiServer } from './server.ts';

export interface ObservedController {
  readonly controller: Controller;
  /** The controller's runtime (its store instrumented for Rampart's own metrics). */
  readonly runtime: Runtime;
  readonly telemetry: ControllerTelemetry;
  /** The same store, not instrumented: the API's reads are not the controller's. */
  readonly plainStore: Store;
}

/** A controller whose ticks and store calls feed Rampart's own metrics and the dashboard's series. */
export function observedController(
  config: Config,
  log: Logger,
  opts: { holder?: string | undefined; runtime?: Runtime | undefined; adopt?: boolean | undefined } = {},
): ObservedController {
  const telemetry = new ControllerTelemetry(config);
  const plain = opts.runtime ?? createRuntime(config, { log });
  const runtime = telemetry.instrument(plain);
  const alerts = createAlertDispatcher(config, log, { onOutcome: telemetry.onAlertOutcome });
  const controller = new Controller({
    runtime,
    log,
    holder: opts.holder,
    onTick: telemetry.onTick,
    alerts,
    adopt: opts.adopt,
  });
  return { controller, runtime, telemetry, plainStore: plain.store };
}

/**
 * Serves the API, the dashboard and /metrics beside the controller, on the controller's store.
 * Refuses (throws) a configuration it must not serve; a taken port is logged and the
 * controller runs on without its API (scaling matters more than the dashboard), unless
 * `portFallbacks` finds a free one.
 */
export async function serveApi(
  o: ObservedController,
  config: Config,
  log: Logger,
  opts: { portFallbacks?: number; listen?: string | undefined } = {},
): Promise<ApiServer | undefined> {
  try {
    return await startApiServer({
      config,
      log,
      controller: o.controller,
      telemetry: o.telemetry,
      runtime: {
        store: o.plainStore,
        providers: o.runtime.providers,
        snapshotStores: o.runtime.snapshotStores,
      },
      portFallbacks: opts.portFallbacks,
      listen: opts.listen,
    });
  } catch (e) {
    if (!(e instanceof ApiStartError) || !e.addressInUse) throw e;
    log.error(`${e.message}: the controller runs without its API, dashboard and /metrics`);
    return undefined;
  }
}
