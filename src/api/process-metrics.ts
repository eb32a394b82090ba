// The Node process's own metrics (CPU, memory, file descriptors, event-loop lag, GC, heap), as
// prom-client's default metrics with the prefix rampart_: rampart_process_cpu_seconds_total,
// rampart_process_resident_memory_bytes, rampart_nodejs_eventloop_lag_seconds…

import { Counter, collectDefaultMetrics, Registry } from 'prom-client';

let registry: Registry | undefined;

/**
 * The process's registry, made on first use and shared by every controller of the process:
 * the figures are the process's, and each registration starts a GC observer and an
 * event-loop monitor that are never stopped, so there is one of each per process.
 */
export function processMetrics(): Registry {
  if (!registry) {
    registry = new Registry();
    collectDefaultMetrics({ register: registry, prefix: 'rampart_' });
    // Gauges named like counters (nodejs_active_handles_total…), which `promtool check
    // metrics` refuses; the gauges beside them (nodejs_active_handles{type}) hold the same counts.
    for (const metric of registry.getMetricsAsArray())
      if (metric.name.endsWith('_total') && !(metric instanceof Counter))
        registry.removeSingleMetric(metric.name);
  }
  return registry;
}
