import { collectDefaultMetrics, Registry } from 'prom-client';
import { CallbackGaugeFamily, CounterFamily, GaugeFamily, HistogramFamily, SampledGaugeFamily, type Aggregator } from './cells.js';

/**
 * The process's one Prometheus registry, served on the debug server at http.debug.prometheus.path.
 * Families named `registry_*` are Distribution's, with its types, labels, label values and
 * buckets, so dashboards built for Distribution keep working; Berth's own are named `berth_*`
 * (docs/operations.md lists both). Other parts add their own metrics through the getters
 * below, which are idempotent by name (a second server in the same process, as in tests, gets
 * the same family): for example garbage collection with
 * `counterFamily('registry_gc_runs_total', 'Garbage collection runs', ['result']).cell('ok').value++`,
 * or any prom-client metric with `metricsRegistry().registerMetric(metric)`.
 */

let registry: Registry | undefined;
let defaultsCollected = false;

export function metricsRegistry(): Registry {
  return (registry ??= new Registry());
}

/** Adds Node's process metrics (CPU, memory, event loop lag, GC); called when metrics are served. */
export function collectProcessMetrics(): void {
  if (defaultsCollected) return;
  defaultsCollected = true;
  collectDefaultMetrics({ register: metricsRegistry() });
}

function family<T extends { name: string }>(name: string, make: () => T, is: (m: unknown) => m is T): T {
  const existing = metricsRegistry().getSingleMetric(name);
  if (existing !== undefined) {
    if (!is(existing)) throw new Error(`metric ${name} is already registered with another type`);
    return existing;
  }
  const created = make();
  metricsRegistry().registerMetric(created as never);
  return created;
}

export function counterFamily(name: string, help: string, labelNames: readonly string[]): CounterFamily {
  return family(name, () => new CounterFamily(name, help, labelNames), (m): m is CounterFamily => m instanceof CounterFamily);
}

export function histogramFamily(name: string, help: string, labelNames: readonly string[], bounds: readonly number[]): HistogramFamily {
  return family(name, () => new HistogramFamily(name, help, labelNames, bounds), (m): m is HistogramFamily => m instanceof HistogramFamily);
}

export function gaugeFamily(name: string, help: string, labelNames: readonly string[]): GaugeFamily {
  return family(name, () => new GaugeFamily(name, help, labelNames), (m): m is GaugeFamily => m instanceof GaugeFamily);
}

export function callbackGaugeFamily(name: string, help: string, labelNames: readonly string[]): CallbackGaugeFamily {
  return family(name, () => new CallbackGaugeFamily(name, help, labelNames), (m): m is CallbackGaugeFamily => m instanceof CallbackGaugeFamily);
}

/** A gauge read whole from its sources at scrape time; `aggregator` says how the primary merges the workers' copies. */
export function sampledGaugeFamily(name: string, help: string, labelNames: readonly string[], aggregator: Aggregator): SampledGaugeFamily {
  return family(name, () => new SampledGaugeFamily(name, help, labelNames, aggregator), (m): m is SampledGaugeFamily => m instanceof SampledGaugeFamily);
}

/** Distribution's buckets for registry_http_request_duration_seconds, in seconds. */
export const HTTP_LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 60] as const;

/** Prometheus's default buckets, which Distribution's registry_storage_action_seconds uses. */
export const DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/** Distribution's request and response size buckets: 1 KiB doubling to 2 GiB. */
export const SIZE_BUCKETS = Array.from({ length: 22 }, (_, i) => 1024 * 2 ** i);

/** Berth's own latency buckets (berth_* families): finer below 5 ms, where most registry requests end. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 60] as const;
