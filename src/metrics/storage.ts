import type { OperationEvent } from '../storage/driver/base.js';
import { isPathNotFound } from '../storage/driver/errors.js';
import type { CounterCell, HistogramCell } from './cells.js';
import { counterFamily, histogramFamily, LATENCY_BUCKETS } from './registry.js';

/**
 * The storage driver's operation hook (base wrapper's onOperation): latency per driver and
 * action, and errors other than "path not found" (which is an answer, not a failure).
 */
export function driverMetricsHook(): (event: OperationEvent) => void {
  const seconds = histogramFamily('registry_storage_action_seconds', 'Storage driver operation latency, in seconds', ['driver', 'action'], LATENCY_BUCKETS);
  const errors = counterFamily('registry_storage_errors_total', 'Storage driver operations that failed (not counting path-not-found)', ['driver', 'action']);
  const cells = new Map<string, { seconds: HistogramCell; errors: CounterCell }>();
  return (event) => {
    const key = `${event.driver}:${event.operation}`;
    let cell = cells.get(key);
    if (!cell) cells.set(key, (cell = { seconds: seconds.cell(event.driver, event.operation), errors: errors.cell(event.driver, event.operation) }));
    seconds.observe(cell.seconds, event.durationMs / 1000);
    if (event.error !== undefined && !isPathNotFound(event.error)) cell.errors.value++;
  };
}
